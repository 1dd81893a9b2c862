// End-to-end tests of the chat page (www/) in a real browser: Debian's
// chromium driven by playwright-core.  tests/e2e/test_browser.py starts
// wschatd and runs this with
//
//   node chat.test.mjs HTTP_PORT LINE_PORT ARTIFACT_DIR IDLE_HTTP_PORT \
//     GAP_HTTP_PORT GAP_LINE_PORT
//
// and PLAYWRIGHT_MODULES naming the node_modules that hold playwright-core.
// Two browser pages (one phone-sized) and one line-protocol user chat with
// each other; IDLE_HTTP_PORT is a second daemon with a short ws_idle_timeout,
// GAP_* a third that keeps little history.
// To ask the driver something, this script prints "@@WORD" and waits for
// "@@WORD JSON" on stdin: "restart" restarts the daemon (on the same
// history file), "notfound" gives the "http 404" lines of the daemons' logs,
// "histstop" and "histcont" stop and continue the third's history process.
// The page's connection is dropped, for resume, by a TCP proxy of our own
// that cuts both sides without a close frame.  Prints "ok - NAME" / "not ok - NAME"
// per case and "N passed, N failed" at the end, like wstest.main().  The
// cases build on each other (who is logged in, under which name), so they
// run in order and all of them.
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";

const require = createRequire(path.join(process.env.PLAYWRIGHT_MODULES ||
  path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules"), "x.js"));
const { chromium } = require("playwright-core");

const [httpPort, linePort, artifacts, idlePort, gapPort, gapLinePort] = process.argv.slice(2);
const base = `http://127.0.0.1:${httpPort}`;
const idleBase = `http://127.0.0.1:${idlePort}`;
const T = 10000;     // ms to wait for anything to show up
const XSS = "<img src=x onerror=alert(1)>";

const stdin = readline.createInterface({ input: process.stdin });
const stdinLines = [];
let stdinWaiter = null;
stdin.on("line", (l) => { stdinLines.push(l); if (stdinWaiter) stdinWaiter(); });
async function control(word) {
  console.log("@@" + word);
  while (!stdinLines.length) await new Promise((r) => { stdinWaiter = r; });
  stdinWaiter = null;
  const l = stdinLines.shift();
  if (!l.startsWith("@@" + word + " ")) throw new Error("driver said " + l);
  return JSON.parse(l.slice(word.length + 3));
}

function assert(cond, what) { if (!cond) throw new Error("assertion failed: " + what); }

/* A line-protocol user, as `nc` would be. */
class LineUser {
  constructor(port) {
    this.buf = "";
    this.sock = net.connect(port, "127.0.0.1");
    this.sock.setEncoding("utf8");
    this.sock.on("data", (d) => { this.buf += d; });
    this.ready = new Promise((ok, fail) => {
      this.sock.on("connect", () => { this.name = "127.0.0.1:" + this.sock.localPort; ok(); });
      this.sock.on("error", fail);
    });
  }
  lines() { return this.buf.split("\n").slice(0, -1); }
  send(text) { this.sock.write(text + "\n"); }
  async wait(pred, what) {
    const deadline = Date.now() + T;
    for (;;) {
      const got = this.lines().find(pred);
      if (got !== undefined) return got;
      if (Date.now() > deadline)
        throw new Error(`line user: no ${what}; got ${JSON.stringify(this.lines().slice(-6))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  close() { this.sock.destroy(); }
}

/* A TCP proxy to the daemon: cut() drops every connection through it
   without a close frame, as a network would; refuse keeps new ones out. */
class Proxy {
  constructor(port) {
    this.socks = new Set();
    this.refuse = false;
    this.server = net.createServer((c) => {
      if (this.refuse) { c.resetAndDestroy(); return; }
      const s = net.connect(port, "127.0.0.1");
      for (const [a, b] of [[c, s], [s, c]]) {
        this.socks.add(a);
        a.on("error", () => {});
        // An end is passed on once what came before it is (a close
        // frame, say); a reset or error drops the other side at once.
        a.on("close", (err) => { this.socks.delete(a); if (err) b.destroy(); });
        a.pipe(b);
      }
    });
    this.ready = new Promise((ok) => this.server.listen(0, "127.0.0.1", () => {
      this.port = this.server.address().port;
      ok();
    }));
  }
  cut() { for (const s of this.socks) s.resetAndDestroy(); }
  // Takes no new connections; those open end as their ends come through.
  close() { this.refuse = true; this.server.close(); }
}

let browser;
const dialogs = [];
const consoleErrors = [];
const foreign = [];

// A page in a context of its own (its own localStorage); page.sent and
// page.received hold the WebSocket messages it sent and received, parsed.
async function openPage(label, viewport, site = base) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.sent = [];
  page.received = [];
  page.on("dialog", (d) => { dialogs.push(label + ": " + d.message()); d.dismiss().catch(() => {}); });
  page.on("pageerror", (e) => consoleErrors.push(label + ": " + e.message));
  page.on("request", (r) => {
    if (new URL(r.url()).origin !== site) foreign.push(r.url());
  });
  const parse = (f) => { try { return JSON.parse(f.payload); } catch (e) { return f.payload; } };
  page.on("websocket", (w) => {
    w.on("framesent", (f) => page.sent.push(parse(f)));
    w.on("framereceived", (f) => page.received.push(parse(f)));
  });
  await page.goto(site + "/");
  return page;
}

async function online(page, name) {
  await page.waitForFunction((n) =>
    document.getElementById("status").dataset.state === "online" &&
    document.getElementById("me").textContent === n, name, { timeout: T });
}

async function login(page, name) {
  await page.locator("#login").waitFor({ state: "visible", timeout: T });
  await page.fill("#name", name);
  await page.click("#login button");
  await page.locator("#login").waitFor({ state: "hidden", timeout: T });
  await online(page, name);
}

const item = (page, text) => page.locator("#messages li", { hasText: text }).first();
const shown = (page, text, timeout = T) => item(page, text).waitFor({ timeout });
async function absent(page, text, ms = 500) {
  await page.waitForTimeout(ms);
  assert(await page.locator("#messages li", { hasText: text }).count() === 0,
    `"${text}" must not be shown`);
}
async function users(page) {
  return page.locator("#users button").evaluateAll((bs) => bs.map((b) => b.dataset.name));
}
// Polls get() until pred holds of what it returns; fail(it) says why not.
async function until(page, get, pred, fail) {
  const deadline = Date.now() + T;
  for (;;) {
    const v = await get();
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(fail(v));
    await page.waitForTimeout(50);
  }
}
async function waitUsers(page, pred, what) {
  const v = await until(page, async () => [await users(page), Number(await page.textContent("#count"))],
    ([u, count]) => pred(u) && count === u.length,
    ([u, count]) => `user list: ${what}; have ${JSON.stringify(u)}, count ${count}`);
  return v[0];
}
// The chat and private messages shown, in order: id, text, marked earlier.
async function chats(page) {
  return page.locator("#messages li.chat, #messages li.private").evaluateAll((ls) => ls.map((l) => ({
    id: Number(l.dataset.id), text: l.lastChild.textContent, from: l.querySelector(".from").textContent,
    earlier: l.classList.contains("earlier"),
  })));
}
async function waitChats(page, pred, what) {
  return until(page, () => chats(page), pred,
    (c) => `messages: ${what}; have ${JSON.stringify(c.map((x) => x.text).slice(-8))}`);
}
const increasing = (c) => c.every((x, i) => i === 0 || x.id > c[i - 1].id);
async function sendText(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await page.waitForFunction(() => document.getElementById("text").value === "", null, { timeout: T });
}

let phone, desk, line;
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

test("page_is_small_and_self_contained", async () => {
  let total = 0;
  for (const f of ["/", "/chat.js", "/chat.css"]) {
    const r = await fetch(base + f);
    assert(r.status === 200, f + " status " + r.status);
    total += (await r.arrayBuffer()).byteLength;
  }
  assert(total < 36 * 1024, "page is " + total + " bytes");
  phone = await openPage("phone", { width: 375, height: 667 });
  await phone.locator("#login").waitFor({ state: "visible", timeout: T });
  assert(foreign.length === 0, "requests elsewhere: " + foreign.join(" "));
});

test("login_and_online_list", async () => {
  line = new LineUser(linePort);
  await line.ready;
  await line.wait((l) => l === `[${line.name}]${line.name}: online`, "own online line");
  await login(phone, "alice");
  desk = await openPage("desk", { width: 1000, height: 640 });
  await login(desk, "bob");
  const want = (u) => ["alice", "bob", line.name].every((n) => u.includes(n));
  await waitUsers(phone, want, "alice, bob and the line user");
  await waitUsers(desk, want, "alice, bob and the line user");
  await shown(phone, "bob joined");
  await line.wait((l) => l.endsWith("]bob: online"), "bob online");
});

test("taken_name_is_refused_and_asked_again", async () => {
  const third = await openPage("third", { width: 800, height: 600 });
  await third.fill("#name", "alice");
  await third.click("#login button");
  await third.locator("#login-error", { hasText: "taken" }).waitFor({ timeout: T });
  assert(await third.locator("#login").isVisible(), "login dialog stays open");
  await login(third, "carol");
  await waitUsers(phone, (u) => u.includes("carol"), "carol");
  await third.context().close();
  await waitUsers(phone, (u) => !u.includes("carol"), "carol gone");
  await shown(phone, "carol left");
});

// The page refuses, before sending anything, what the server would refuse
// (src/chat_name.c), and says why: issue 14, item 17.
test("names_the_server_refuses_are_refused_in_the_page", async () => {
  const p = await openPage("names", { width: 800, height: 600 });
  const refused = async (n, why) => {
    await p.fill("#name", n);
    await p.click("#login button");
    await p.locator("#login-error", { hasText: why }).waitFor({ timeout: T });
    assert(await p.locator("#login").isVisible(), "login dialog stays open for " + JSON.stringify(n));
  };
  await refused("", "Type a name");
  await refused("   ", "Type a name");
  await refused("名".repeat(20), "this one has 60");
  await refused("ann bee", "whitespace (U+0020 at byte 4)");
  await refused("\u202eevil", "bidi format characters (U+202E at byte 1)");
  await refused("ab\u00ad", "U+00AD at byte 3");
  await refused("127.0.0.1:5000", "IP:PORT");
  await refused("[::1]:5000-2", "IP:PORT");
  assert(!p.sent.some((m) => m.type === "login"), "sent " + JSON.stringify(p.sent));
  const cjk = "名".repeat(10);         // 30 bytes: allowed
  await login(p, cjk);
  await p.fill("#text", "/nick " + "x".repeat(33));
  await p.press("#text", "Enter");
  await shown(p, "Not renamed: a name is 1 to 32 bytes of UTF-8; this one has 33");
  await p.fill("#text", "/join a\u2066b");
  await p.press("#text", "Enter");
  await shown(p, "Not joined: a room name may not contain invisible");
  assert(!p.sent.some((m) => m.type === "rename" || m.type === "join"), "sent " + JSON.stringify(p.sent));
  await p.context().close();
});

// No request of the page's gets a 404, /favicon.ico included: item 17.
test("no_favicon_404", async () => {
  const r = await fetch(base + "/favicon.svg");
  assert(r.status === 200 && r.headers.get("content-type") === "image/svg+xml",
    "favicon.svg: " + r.status + " " + r.headers.get("content-type"));
  // The browser asks for the icon after the load, by itself, unseen by
  // the page's request events: ask the daemons' logs, after one more load.
  const p = await openPage("icon", { width: 800, height: 600 });
  await p.waitForTimeout(1500);
  const icons = await p.locator('link[rel="icon"]').count();
  await p.context().close();
  const lines = await control("notfound");
  assert(lines.length === 0, "404s: " + lines.join("; "));
  assert(icons === 1, "no icon link");
});

test("remembered_name_logs_in_after_a_reload", async () => {
  const p = await openPage("dora", { width: 800, height: 600 });
  await login(p, "dora");
  await p.reload();
  await online(p, "dora");
  assert(!(await p.locator("#login").isVisible()), "the name dialog asked again");
  await shown(p, "Logged in as dora");
  // The name at the top changes it.
  await p.click("#me");
  await p.waitForFunction(() => document.activeElement.id === "newname" &&
    document.getElementById("newname").value === "dora", null, { timeout: T });
  await p.fill("#newname", "dora2");
  await p.press("#newname", "Enter");
  await online(p, "dora2");
  await p.reload();
  await online(p, "dora2");
  assert(!(await p.locator("#login").isVisible()), "the name dialog asked again");
  await p.context().close();
});

test("messages_both_ways_with_sender_and_time", async () => {
  await sendText(phone, "hello from alice");
  await shown(desk, "hello from alice");
  const li = item(desk, "hello from alice");
  assert(await li.locator(".from").first().textContent() === "alice", "sender shown");
  assert(/\d/.test(await li.locator("time").textContent()), "time shown");
  await line.wait((l) => l.endsWith("]alice: hello from alice"), "alice's message");
  await sendText(desk, "hello from bob");
  await shown(phone, "hello from bob");
  line.send("hello from the line");
  await shown(phone, "hello from the line");
  await shown(desk, "hello from the line");
  assert(await item(desk, "hello from the line").locator(".from").first().textContent() === line.name,
    "line user's name as sender");
});

test("private_message_by_clicking_a_name", async () => {
  await phone.click(`#users button[data-name="bob"]`);
  await phone.locator("#target").waitFor({ state: "visible", timeout: T });
  await sendText(phone, "psst bob");
  await shown(desk, "psst bob");
  assert(await item(desk, "psst bob").getAttribute("class") === "private", "shown as private");
  await shown(phone, "psst bob");      // the sender's copy
  await phone.click("#untarget");
  await desk.click(`#users button[data-name="${line.name}"]`);
  await sendText(desk, "psst line");
  await line.wait((l) => l === "bob says to you: psst line", "bob's private message");
  line.send("to alice psst alice");
  await shown(phone, "psst alice");
  await desk.click("#untarget");
  await absent(desk, "psst alice", 0);
  assert(!line.lines().some((l) => l.includes("psst bob")), "line user saw a private message");
});

// Issue 16: after a reload the room's recent messages are there, each
// once, marked as earlier, under a divider, above the live ones.
test("reload_shows_recent_messages_as_earlier", async () => {
  const p = await openPage("hana", { width: 800, height: 600 });
  try {
    await reloaded(p);
  } finally {
    await p.context().close();
  }
});
async function reloaded(p) {
  await login(p, "hana");
  await sendText(desk, "said before the reload");
  await shown(p, "said before the reload");
  const from = p.received.length;
  await p.reload();
  await online(p, "hana");
  const want = ["hello from alice", "hello from bob", "hello from the line", "said before the reload"];
  let c = await waitChats(p, (c) => c.some((x) => x.text === want[3]), "the history");
  assert(JSON.stringify(c.map((x) => x.text)) === JSON.stringify(want),
    "history: " + JSON.stringify(c));
  assert(c.every((x) => x.earlier) && increasing(c), "marked earlier, by id: " + JSON.stringify(c));
  const order = await p.locator("#messages li").evaluateAll((ls) => ls.map((l) => l.className));
  assert(order.filter((k) => k === "divider").length === 1 &&
    order.indexOf("divider") < order.findIndex((k) => k.includes("earlier")), "divider: " + order);
  assert(await p.locator("#messages li.divider").textContent() === "earlier messages", "divider text");
  await sendText(desk, "said after the reload");
  c = await waitChats(p, (c) => c.some((x) => x.text === "said after the reload"), "a live message");
  assert(c.length === 5 && !c[4].earlier && increasing(c), "live after history: " + JSON.stringify(c));
  // Private messages are never in a history.
  const h = p.received.slice(from).filter((m) => m.type === "history");
  assert(h.length === 1 && h[0].room === "lobby" && typeof h[0].epoch === "string" &&
    h[0].messages.every((m) => m.type === "user"), "history frames: " + JSON.stringify(h));
}

test("msg_without_text_gets_a_usage_message", async () => {
  const usages = phone.locator("#messages li.error", { hasText: "Usage: /msg NAME TEXT" });
  for (const t of ["/msg bob", "/msg bob   ", "/msg"]) {
    const before = await usages.count();
    await sendText(phone, t);
    await usages.nth(before).waitFor({ timeout: T });
  }
  assert(!phone.sent.some((m) => m.type === "to" && m.content === ""), "sent an empty private message");
});

test("rename_is_reflected_in_the_list", async () => {
  await desk.click("#tools summary");
  await desk.fill("#newname", "robert");
  await desk.click("#rename-form button");
  await desk.waitForFunction(() => document.getElementById("me").textContent === "robert", null, { timeout: T });
  await waitUsers(phone, (u) => u.includes("robert") && !u.includes("bob"), "robert, not bob");
  await shown(phone, "bob is now robert");
  await line.wait((l) => l.endsWith("]bob: renamed to robert"), "the rename");
  // A taken name is refused while logged in, too.
  await desk.fill("#newname", "alice");
  await desk.click("#rename-form button");
  await desk.locator("#messages li.error", { hasText: "taken" }).waitFor({ timeout: T });
  assert(await desk.textContent("#me") === "robert", "still robert");
});

test("join_and_leave_rooms", async () => {
  await phone.fill("#text", "/join kitchen");
  await phone.press("#text", "Enter");
  await phone.locator("#where", { hasText: "#kitchen" }).waitFor({ timeout: T });
  await sendText(desk, "lobby only");
  await shown(desk, "lobby only");
  await absent(phone, "lobby only");
  await sendText(phone, "kitchen first");
  await desk.fill("#roomname", "kitchen");
  await desk.click("#room-form button");
  await desk.locator("#where", { hasText: "#kitchen" }).waitFor({ timeout: T });
  // The room's history after a join, in a list of that room only.
  let c = await waitChats(desk, (c) => c.length > 0, "the kitchen's history");
  assert(c.length === 1 && c[0].text === "kitchen first" && c[0].earlier, "kitchen: " + JSON.stringify(c));
  await sendText(phone, "in the kitchen");
  await shown(desk, "in the kitchen");
  await desk.click("#leave");
  await desk.locator("#where", { hasText: "#lobby" }).waitFor({ timeout: T });
  c = await waitChats(desk, (c) => c.some((x) => x.text === "lobby only"), "the lobby's history");
  assert(c.every((x) => x.earlier && x.text !== "in the kitchen") && increasing(c),
    "the lobby again: " + JSON.stringify(c));
  await phone.fill("#text", "/leave");
  await phone.press("#text", "Enter");
  await phone.locator("#where", { hasText: "#lobby" }).waitFor({ timeout: T });
  assert(!line.lines().some((l) => l.includes("in the kitchen")), "the lobby saw a kitchen message");
});

// The online list is that of the page's room, kept by events: item 9.
test("online_list_is_the_rooms", async () => {
  const only = (names) => (u) => u.length === names.length && names.every((n) => u.includes(n));
  await sendText(phone, "/join attic");
  await phone.locator("#where", { hasText: "#attic" }).waitFor({ timeout: T });
  await waitUsers(phone, only(["alice"]), "alice alone in the attic");
  await waitUsers(desk, only(["robert", line.name]), "the lobby without alice");
  // A login in the lobby is not in the attic.
  const olga = await openPage("olga", { width: 800, height: 600 });
  await login(olga, "olga");
  await waitUsers(desk, only(["robert", line.name, "olga"]), "olga in the lobby");
  await shown(phone, "olga joined the chat");
  await waitUsers(phone, only(["alice"]), "alice alone in the attic");
  // A line user comes, renames and goes.
  line.send("join attic");
  await waitUsers(phone, only(["alice", line.name]), "the line user in the attic");
  await shown(phone, line.name + " came to #attic");
  await waitUsers(desk, only(["robert", "olga"]), "the lobby without the line user");
  line.send("rename lina");
  await waitUsers(phone, only(["alice", "lina"]), "lina in the attic");
  line.send("leave");
  await waitUsers(phone, only(["alice"]), "lina gone from the attic");
  await shown(phone, "lina left #attic");
  await waitUsers(desk, only(["robert", "olga", "lina"]), "lina back in the lobby");
  // Two pages in one room see each other; a logout leaves the list.
  await desk.fill("#roomname", "attic");
  await desk.click("#room-form button");
  await waitUsers(phone, only(["alice", "robert"]), "robert in the attic");
  await waitUsers(desk, only(["alice", "robert"]), "alice and robert");
  await olga.context().close();
  await desk.click("#leave");
  await waitUsers(phone, only(["alice"]), "robert gone");
  await waitUsers(desk, only(["robert", "lina"]), "the lobby after olga left");
  await sendText(phone, "/rooms");
  await shown(phone, "Rooms: #lobby (2), #attic (1)");
  await sendText(phone, "/leave");
  await waitUsers(phone, only(["alice", "robert", "lina"]), "the lobby");
  await sendText(phone, "/who");
  await shown(phone, "Online on the server (3): ");
  // All of it from version 2's events, which carry no user_list.
  const events = phone.received.filter((m) => ["login", "logout", "rename"].includes(m.type));
  assert(events.length > 0 && events.every((m) => !("user_list" in m) && typeof m.online === "number"),
    "presence with lists: " + JSON.stringify(events.slice(0, 2)));
  assert(/\b3 online\b/.test(await phone.textContent("#total")), "server count: " +
    await phone.textContent("#total"));
});

test("markup_is_shown_literally", async () => {
  await sendText(phone, XSS);
  await shown(desk, XSS);
  await shown(phone, XSS);
  line.send("rename <b>eve</b>");
  line.send(`<script>document.title="pwned"</script>`);
  await waitUsers(desk, (u) => u.includes("<b>eve</b>"), "the line user's new name");
  await shown(desk, `<script>document.title="pwned"</script>`);
  for (const p of [phone, desk]) {
    const n = await p.evaluate(() =>
      document.querySelectorAll("#messages img, #messages script, #users b, #messages b").length);
    assert(n === 0, "markup from users became elements");
    assert(await p.title() === "wschat", "title changed");
  }
  await phone.waitForTimeout(300);
  assert(dialogs.length === 0, "dialogs: " + dialogs.join("; "));
});

test("phone_width_has_no_horizontal_scroll", async () => {
  const m = await phone.evaluate(() => {
    const r = document.getElementById("text").getBoundingClientRect();
    return { sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth,
      inView: r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth };
  });
  assert(m.sw <= m.cw, `scrollWidth ${m.sw} > ${m.cw}`);
  assert(m.inView, "message input visible");
  await phone.screenshot({ path: path.join(artifacts, "chat-page-phone.png") });
  await desk.evaluate(() => { document.getElementById("tools").open = false; });
  await desk.screenshot({ path: path.join(artifacts, "chat-page.png") });
});

test("remembered_name_waits_for_its_old_session", async () => {
  // A reload can log in before the server has seen the old page's
  // connection go: the remembered name is taken by ourselves for a moment.
  // A second tab of the same browser (the same localStorage) makes that
  // moment as long as we like: it retries, and logs in once the first
  // tab closes, without asking for a name.
  const p = await openPage("fay", { width: 800, height: 600 });
  await login(p, "fay");
  const q = await p.context().newPage();
  q.on("pageerror", (e) => consoleErrors.push("fay2: " + e.message));
  await q.goto(base + "/");
  await q.waitForTimeout(800);
  assert(!(await q.locator("#login").isVisible()), "asked while retrying");
  await p.close();
  await online(q, "fay");
  assert(!(await q.locator("#login").isVisible()), "the name dialog asked");
  await q.context().close();
});

// Scrolling to the top asks for the page before the oldest message shown,
// one request at a time, keeps what was in view where it was, and stops
// when the server says there is nothing older.
test("scrolling_up_loads_older_pages", async () => {
  const sender = new LineUser(linePort);
  await sender.ready;
  sender.send("join library");
  await sender.wait((l) => l === "system: joined library", "joined library");
  const N = 150;
  for (let i = 1; i <= N; i++) sender.send("book " + i);
  sender.send("history 1");
  await sender.wait((l) => l.endsWith(": book " + N), "book " + N);
  const p = await openPage("reader", { width: 800, height: 600 });
  await login(p, "reader");
  await sendText(p, "/join library");
  const books = (c) => c.filter((x) => x.from === sender.name).map((x) => Number(x.text.split(" ")[1]));
  let c = await waitChats(p, (c) => books(c).includes(N), "book " + N);
  assert(c.length >= 50 && c.length < N && c.every((x) => x.earlier) && increasing(c) &&
    books(c).every((b, i) => b === N - c.length + 1 + i), "first history: " + JSON.stringify(books(c)));
  const asked = () => p.sent.filter((m) => m.type === "history");
  const pages = () => p.received.filter((m) => m.type === "history" && m.room === "library");
  for (let round = 0; round < 5 && pages().at(-1).more; round++) {
    const n = asked().length, had = c.length;
    // Many scroll events at the top: one request.
    const top = await p.evaluate(() => {
      const box = document.getElementById("messages");
      box.scrollTop = 0;
      for (let i = 0; i < 5; i++) box.dispatchEvent(new Event("scroll"));
      const li = box.querySelector("li[data-id]");
      return { id: Number(li.dataset.id), y: li.getBoundingClientRect().top };
    });
    c = await waitChats(p, (c) => c.length > had || pages().length > n + 1, "an older page");
    const q = asked().slice(n);
    assert(q.length === 1 && q[0].room === "library" && q[0].before === top.id && q[0].limit === 50,
      "requests: " + JSON.stringify(q));
    const y = await p.locator(`#messages li[data-id="${top.id}"]`)
      .evaluate((li) => li.getBoundingClientRect().top);
    assert(Math.abs(y - top.y) < 2, `the message in view moved from ${top.y} to ${y}`);
    assert(c.every((x) => x.earlier) && increasing(c), "in order: " + JSON.stringify(books(c)));
  }
  // The last reply may have come an instant before its messages were shown.
  c = await waitChats(p, (c) => books(c).includes(1), "book 1");
  assert(JSON.stringify(books(c)) === JSON.stringify([...Array(N).keys()].map((i) => i + 1)),
    "every book once, in order: " + JSON.stringify(books(c)));
  assert(pages().at(-1).more === false, "more after the oldest");
  console.log("# history replies (messages, more): " +
    JSON.stringify(pages().map((h) => [h.messages.length, h.more])) + "; " + asked().length + " requests");
  // Nothing older: no more requests.
  const n = asked().length;
  await p.evaluate(() => { document.getElementById("messages").scrollTop = 0; });
  await p.waitForTimeout(500);
  assert(asked().length === n, "asked again after more: false");
  await p.context().close();
  sender.close();
});

// A connection lost without a close frame (cut by the proxy, while a line
// user goes on talking) is resumed: every message exactly once, in order,
// and nobody saw the page leave or come back.
// rita's page and its proxy stay for the restart case.
let rita = null, proxy = null;
test("a_dropped_connection_resumes_without_loss", async () => {
  proxy = new Proxy(httpPort);
  await proxy.ready;
  const site = `http://127.0.0.1:${proxy.port}`;
  const p = rita = await openPage("rita", { width: 800, height: 600 }, site);
  await login(p, "rita");
  const ticker = new LineUser(linePort);
  await ticker.ready;
  const ticks = (c) => c.filter((x) => x.from === ticker.name).map((x) => x.text);
  const deskFrom = desk.received.length, lineFrom = line.lines().length;
  let n = 0;
  const timer = setInterval(() => ticker.send("tick " + ++n), 20);
  try {
    await waitChats(p, (c) => ticks(c).length >= 10, "ticks before the cut");
    const sentFrom = p.sent.length;
    proxy.refuse = true;
    proxy.cut();
    const cutAt = n;
    await p.waitForTimeout(1200);
    proxy.refuse = false;
    const back = Date.now();
    await shown(p, "Reconnected");
    await online(p, "rita");
    const resumedAt = n;
    console.log(`# resumed ${Date.now() - back} ms after the proxy let it; ` +
      `${resumedAt - cutAt} messages said while it was away`);
    await p.waitForTimeout(500);
    clearInterval(timer);
    assert(resumedAt - cutAt >= 20, `only ${resumedAt - cutAt} messages while away`);
    const again = p.sent.slice(sentFrom);
    assert(again[0] && again[0].type === "resume" && typeof again[0].session === "string" &&
      again[0].since && typeof again[0].since.lobby === "number", "first sent: " + JSON.stringify(again[0]));
    assert(!again.some((m) => m.type === "login"), "logged in again: " + JSON.stringify(again));
    assert(p.received.some((m) => m.type === "resumed" && m.user === "rita"), "no resumed");
    const c = await waitChats(p, (c) => ticks(c).includes("tick " + n), "tick " + n);
    assert(JSON.stringify(ticks(c)) === JSON.stringify([...Array(n).keys()].map((i) => "tick " + (i + 1))),
      "every tick once, in order: " + JSON.stringify(ticks(c)));
    assert(increasing(c), "ids in order");
    await absent(p, "Some messages were lost", 0);
    const seen = desk.received.slice(deskFrom).filter((m) =>
      ["login", "logout", "join", "leave"].includes(m.type) && (m.user === "rita" || m.from === "rita"));
    assert(seen.length === 0, "robert saw: " + JSON.stringify(seen));
    const lines = line.lines().slice(lineFrom).filter((l) => l.includes("]rita: "));
    assert(lines.length === 0, "the line user saw: " + JSON.stringify(lines));
    await absent(desk, "rita left", 0);
  } catch (e) {
    await p.context().close();
    proxy.close();
    rita = proxy = null;
    throw e;
  } finally {
    clearInterval(timer);
    ticker.close();
  }
});

test("reconnects_after_a_daemon_restart", async () => {
  await sendText(desk, "said before the restart");
  await shown(phone, "said before the restart");
  const sentFrom = phone.sent.length, receivedFrom = phone.received.length;
  line.close();
  for (const p of [phone, desk])
    await p.evaluate(() => {
      window.states = [];
      const s = document.getElementById("status");
      new MutationObserver(() => window.states.push(s.dataset.state))
        .observe(s, { attributes: true, childList: true });
    });
  // rita's connection is lost, then the daemon restarts: her resume
  // fails, and she logs in again and gets the history as after a login.
  let ritaFrom = 0, ritaGot = 0;
  if (rita) {
    proxy.refuse = true;
    proxy.cut();
    ritaFrom = rita.sent.length;
    ritaGot = rita.received.length;
  }
  await control("restart");
  if (rita) {
    proxy.refuse = false;
    const p = rita;
    await shown(p, "Reconnected as rita", 40000);
    await online(p, "rita");
    const sent = p.sent.slice(ritaFrom).map((m) => m.type);
    assert(sent[0] === "resume" && sent.includes("login"), "rita sent " + sent);
    const got = p.received.slice(ritaGot);
    assert(got.some((m) => m.type === "system" && m.code === "resume_failed"), "no resume_failed");
    assert(got.some((m) => m.type === "history" && m.messages.some((x) => x.content === "said before the restart")),
      "no history after the login");
    const c = await waitChats(p, (c) => c.some((x) => x.text === "said before the restart"), "the history");
    assert(c.filter((x) => x.text === "said before the restart").length === 1 && increasing(c),
      "rita's list: " + JSON.stringify(c.slice(-3)));
    await p.context().close();
    proxy.close();
    rita = proxy = null;
  }
  for (const [p, n] of [[phone, "alice"], [desk, "robert"]]) {
    await shown(p, "Disconnected from the server");
    // The backoff may have grown while the daemon restarted (slowly, under
    // a sanitizer): up to 30 s between tries.
    await shown(p, "Reconnected as " + n, 40000);
    await p.waitForFunction(() => document.getElementById("status").dataset.state === "online",
      null, { timeout: T });
    const states = await p.evaluate(() => window.states);
    assert(states.includes("offline"), "said it was offline: " + states);
  }
  await waitUsers(desk, (u) => u.length === 2 && u.includes("alice"), "alice and robert only");
  await sendText(desk, "back again");
  await shown(phone, "back again");
  // The server said it was going (a close frame): a new login, no resume;
  // and the history after it comes from the file the old daemon wrote.
  const closed = await phone.locator("#messages li", { hasText: "Disconnected from the server" })
    .last().textContent();
  if (/code 100[01]\)/.test(closed))
    assert(!phone.sent.slice(sentFrom).some((m) => m.type === "resume"), "resumed after " + closed);
  const h = phone.received.slice(receivedFrom).filter((m) => m.type === "history");
  assert(h.length >= 1 && h[0].messages.some((m) => m.content === "said before the restart"),
    "history after the restart: " + JSON.stringify(h.map((x) => x.messages.length)));
  const c = await chats(phone);
  assert(c.filter((x) => x.text === "said before the restart").length === 1 && increasing(c),
    "shown twice, or out of order: " + JSON.stringify(c.slice(-4)));
});

// A new page after the restart sees what was said before it.
test("history_survives_a_daemon_restart", async () => {
  const p = await openPage("late", { width: 800, height: 600 });
  await login(p, "late");
  const c = await waitChats(p, (c) => c.some((x) => x.text === "back again"), "back again");
  const i = c.findIndex((x) => x.text === "said before the restart");
  assert(i >= 0 && c[i].earlier && c.at(-1).earlier && increasing(c), "history: " + JSON.stringify(c.slice(-3)));
  await p.context().close();
});

// Kicked for idleness (the second daemon's ws_idle_timeout is 3 s), the page
// does not reconnect by itself, but offers to: item 6.
test("kicked_page_offers_to_reconnect", async () => {
  const p = await openPage("idler", { width: 800, height: 600 }, idleBase);
  await login(p, "idler");
  await p.locator("#reconnect").waitFor({ state: "visible", timeout: T });
  await shown(p, "Reconnect");
  assert(await p.locator("#status").getAttribute("data-state") === "offline", "status offline");
  await p.waitForTimeout(1500);
  assert(await p.locator("#status").getAttribute("data-state") === "offline", "reconnected by itself");
  await p.screenshot({ path: path.join(artifacts, "chat-page-kicked.png") });
  await p.click("#reconnect");
  await shown(p, "Reconnected as idler");
  await online(p, "idler");
  assert(!(await p.locator("#reconnect").isVisible()), "the button stays");
  await p.context().close();
});

// Messages missed that nothing keeps any more (the third daemon's ring laps
// its stopped history process, and memory holds 10): the page says some
// were lost, then shows what is kept, in order.
test("a_resume_with_a_gap_says_so", async () => {
  const px = new Proxy(gapPort);
  await px.ready;
  const p = await openPage("gina", { width: 800, height: 600 }, `http://127.0.0.1:${px.port}`);
  const talker = new LineUser(gapLinePort);
  let stopped = false;
  try {
    await talker.ready;
    await login(p, "gina");
    talker.send("first");
    await waitChats(p, (c) => c.some((x) => x.text === "first"), "first");
    await control("histstop");
    stopped = true;
    px.refuse = true;
    px.cut();
    const N = 1500, pad = "x".repeat(100);
    for (let i = 1; i <= N; i++) talker.send(pad + " " + i);
    talker.send("history 1");
    await talker.wait((l) => l.endsWith(pad + " " + N), "the last message");
    px.refuse = false;
    await shown(p, "Reconnected");
    const c = await waitChats(p, (c) => c.some((x) => x.text === pad + " " + N), "the last message");
    const kept = c.slice(c.findIndex((x) => x.text === "first") + 1).map((x) => Number(x.text.split(" ")[1]));
    assert(kept.length > 0 && kept.length < N && kept.every((k, i) => k === N - kept.length + 1 + i),
      "kept: " + JSON.stringify(kept));
    const items = await p.locator("#messages li").evaluateAll((ls) => ls.map((l) => l.textContent));
    const lost = items.findIndex((t) => t.includes("Some messages were lost while you were disconnected"));
    assert(lost >= 0 && lost < items.findIndex((t) => t.endsWith(pad + " " + kept[0])),
      "the notice before what is kept: " + lost);
    console.log(`# after the gap: ${kept.length} of ${N} missed messages kept and shown`);
  } finally {
    if (stopped) await control("histcont");
    talker.close();
    await p.context().close();
    px.close();
  }
});

test("no_script_errors", async () => {
  assert(consoleErrors.length === 0, "page errors: " + consoleErrors.join("; "));
  assert(dialogs.length === 0, "dialogs: " + dialogs.join("; "));
});

let passed = 0, failed = 0;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await fn();
      passed++;
      console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}\n${e.stack}`);
      for (const [l, p] of [["phone", phone], ["desk", desk]])
        if (p && !p.isClosed())
          await p.screenshot({ path: path.join(artifacts, `failed-${name}-${l}.png`) }).catch(() => {});
    }
  }
} catch (e) {
  failed++;
  console.log("not ok - browser\n" + e.stack);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (line) line.close();
  stdin.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
