// wschat: the chat page.  Speaks version 2 of the JSON protocol
// (wschat.v2.json) on /ws of the host that served it (docs/PROTOCOL.md,
// wschat-protocol(7)): handshake, login, user, private ("to"), rename,
// who, rooms, join/leave, system notices.  Presence events carry no
// lists in v2: the online list is the page's own, of the names in its
// room, from a who-room reply kept up to date by login, logout, rename,
// join and leave.  It reconnects with backoff and logs in again under
// the same name.  Every
// piece of text from the server or the user enters the page as text
// (textContent, text nodes), never as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    messages: $("messages"), users: $("users"), count: $("count"),
    listRoom: $("list-room"), total: $("total"),
    status: $("status"), where: $("where"), me: $("me"), text: $("text"),
    send: $("send"), target: $("target"), targetName: $("target-name"),
    login: $("login"), name: $("name"), loginError: $("login-error"),
    newname: $("newname"), roomname: $("roomname"), tools: $("tools"),
    reconnect: $("reconnect"),
  };
  const url = (location.protocol === "https:" ? "wss:" : "ws:") + "//" +
    location.host + "/ws";
  const PROTOCOL = "wschat.v2.json";
  const MAX_ITEMS = 500;          // messages kept in the list
  const PLACEHOLDER = ui.text.placeholder;
  const NAME_ERRORS = ["name_taken", "bad_name", "server_full", "rate_limited"];

  let ws = null;
  let name = "";        // the name to log in with, once the user chose one
  let me = "";          // the name the server confirmed
  let online = false;   // logged in on the current connection
  let everOnline = false;
  let room = "lobby";   // where we are, and where to go back after a reconnect
  let target = "";      // addressee of private messages, or ""
  let attempt = 0;      // failed connections since the last login
  let retry = 0;        // reconnect timer
  let stopped = false;  // no automatic reconnect (kicked for idleness)
  // Logins of a name we had (a reload, a reconnect) that may still be our
  // own old connection's for a moment: retried before the dialog asks.
  let takenRetries = 0;
  const members = new Set();  // the names in our room
  let listing = false;  // a paged who-room reply is coming in

  // The server's rules for names (src/chat_name.c), so that the page
  // refuses what the server would, before sending it, in the server's
  // words; the server stays the judge.  Its Unicode format characters
  // (category Cf, Unicode 15) as ranges, not \p{Cf}, whose meaning
  // follows the browser's Unicode version.
  const NAME_MAX = 32;
  const FORMAT = [0xad, 0xad, 0x600, 0x605, 0x61c, 0x61c, 0x6dd, 0x6dd,
    0x70f, 0x70f, 0x890, 0x891, 0x8e2, 0x8e2, 0x180e, 0x180e,
    0x200b, 0x200f, 0x202a, 0x202e, 0x2060, 0x2064, 0x2066, 0x206f,
    0xfeff, 0xfeff, 0xfff9, 0xfffb, 0x110bd, 0x110bd, 0x110cd, 0x110cd,
    0x13430, 0x1343f, 0x1bca0, 0x1bca3, 0x1d173, 0x1d17a,
    0xe0001, 0xe0001, 0xe0020, 0xe007f];
  const SPACE = [0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000];
  const utf8 = new TextEncoder();

  // The default names the server gives (IP:PORT, "[ADDR]:PORT", cut to 32
  // bytes, maybe with "-N" after them), which nobody may pose as.  cut:
  // any start of the IPv6 form will do, for the long ones.
  function address(s) {
    const v4 = (p) => /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}$/.test(p);
    const v6 = (p) => (p.length >= 29 ?
      /^\[[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(\](:\d{0,5})?)?$/ :
      /^\[[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\]:\d{1,5}$/).test(p);
    const m = s.match(/^([\s\S]+)-\d+$/);
    return v4(s) || v6(s) || (!!m && (v4(m[1]) || v6(m[1])));
  }

  // Why the server would refuse s as a name (or a room name), or "".
  function nameFault(s, room) {
    const what = room ? "a room name" : "a name";
    const len = utf8.encode(s).length;
    if (!len) return what + " is 1 to " + NAME_MAX + " bytes of UTF-8, not empty";
    if (len > NAME_MAX)
      return what + " is 1 to " + NAME_MAX + " bytes of UTF-8; this one has " + len;
    if (/\p{Cs}/u.test(s)) return what + " must be valid UTF-8";
    let off = 0;
    for (const ch of s) {
      const cp = ch.codePointAt(0);
      const at = " (U+" + cp.toString(16).toUpperCase().padStart(4, "0") +
        " at byte " + (off + 1) + ")";
      if (cp === 0x20 || (cp >= 9 && cp <= 13) || SPACE.includes(cp) ||
          (cp >= 0x2000 && cp <= 0x200a))
        return what + " may not contain whitespace" + at;
      if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return what + " may not contain control characters" + at;
      for (let i = 0; i < FORMAT.length; i += 2)
        if (cp >= FORMAT[i] && cp <= FORMAT[i + 1])
          return what + " may not contain invisible or bidi format characters" + at;
      off += utf8.encode(ch).length;
    }
    if (!room && address(s))
      return what + " may not look like IP:PORT, the name of an anonymous user";
    return "";
  }

  function status(state, text) {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
  }

  function stamp(ts) {
    const d = typeof ts === "number" ? new Date(ts) : new Date();
    const t = document.createElement("time");
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return t;
  }

  function append(li) {
    const m = ui.messages;
    const atEnd = m.scrollTop + m.clientHeight >= m.scrollHeight - 8;
    m.append(li);
    while (m.childElementCount > MAX_ITEMS) m.firstElementChild.remove();
    if (atEnd) m.scrollTop = m.scrollHeight;
  }

  function notice(text, error) {
    const li = document.createElement("li");
    li.className = error ? "notice error" : "notice";
    li.append(stamp(), String(text));
    append(li);
  }

  function from(n) {
    const s = document.createElement("span");
    s.className = "from";
    s.textContent = n;
    s.dataset.name = n;
    s.title = "Private message to " + n;
    return s;
  }

  // A chat or private message: time, sender, text.
  function message(m, priv) {
    const li = document.createElement("li");
    li.className = priv ? "private" : "chat";
    if (m.from === me) li.classList.add("mine");
    li.append(stamp(m.timestamp), from(String(m.from)));
    if (priv) li.append(" → ", from(String(m.to)), " (private)");
    li.append(": ", String(m.content));
    append(li);
  }

  function showUsers() {
    const users = [...members].sort((a, b) => a.localeCompare(b));
    ui.count.textContent = users.length;
    const items = users.map((n) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.name = n;
      b.textContent = n;
      if (n === me) {
        li.className = "self";
        b.append(" (you)");
      } else {
        b.title = "Private message to " + n;
      }
      li.append(b);
      return li;
    });
    ui.users.replaceChildren(...items);
  }

  function setTarget(n) {
    target = n;
    ui.target.hidden = !n;
    ui.targetName.textContent = n;
    ui.text.placeholder = n ? "Private message to " + n : PLACEHOLDER;
    if (!ui.text.disabled) ui.text.focus();
  }

  function setRoom(r) {
    if (r !== room) {
      members.clear();
      showUsers();
    }
    room = r;
    ui.where.textContent = ui.listRoom.textContent = "#" + r;
  }

  // Ask for the names in our room.  A reply reflects the table of names
  // when it is sent, and events still on their way from before that only
  // repeat what it says, in the order they happened for each name: the
  // list ends up right.
  function listRoom() {
    listing = false;
    send({ type: "who", room });
  }

  function who(m) {
    const list = Array.isArray(m.user_list) ? m.user_list.map(String) : [];
    if (m.room === undefined) {       // the whole server, for /who
      const li = document.createElement("li");
      li.className = "notice";
      li.append(stamp(), "Online on the server (" + list.length + (m.more ? "+" : "") + "):");
      for (const n of list) li.append(" ", from(n));
      append(li);
      return;
    }
    if (m.room !== room) return;      // we moved since we asked
    if (!listing) members.clear();
    for (const n of list) members.add(n);
    listing = !!m.more && list.length > 0;
    if (listing) send({ type: "who", room, after: list[list.length - 1] });
    showUsers();
  }

  // A presence or membership event: the room list and the server's count.
  function presence(m) {
    if (typeof m.online === "number") ui.total.textContent = m.online + " online";
    const u = String(m.user === undefined ? m.from : m.user);
    switch (m.type) {
    case "login": case "join":
      if (m.room === room) members.add(u);
      break;
    case "logout":
      members.delete(u);
      break;
    case "leave":
      if (m.room === room) members.delete(u);
      break;
    case "rename": {
      // v2 says where the new name is; without room, where the old was.
      const had = members.delete(String(m.from));
      if (m.room === undefined ? had : m.room === room) members.add(String(m.content));
      break;
    }
    }
    showUsers();
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN && (online || obj.type === "login")) {
      ws.send(JSON.stringify(obj));
      return true;
    }
    notice("Not connected: that was not sent.", true);
    return false;
  }

  function askName(error) {
    name = "";
    ui.loginError.textContent = error || "";
    if (!ui.login.open) ui.login.showModal();
    ui.name.focus();
    ui.name.select();
  }

  function loggedIn() {
    const again = everOnline;
    online = everOnline = true;
    me = name;
    attempt = 0;
    takenRetries = 6;           // a reconnect may meet our old session
    if (ui.login.open) ui.login.close();
    ui.loginError.textContent = "";
    ui.me.textContent = me;
    ui.text.disabled = ui.send.disabled = false;
    status("online", "online");
    notice((again ? "Reconnected as " : "Logged in as ") + me +
      (again ? "" : " (choose your name at the top, or type /nick NAME, to change it)"));
    // Back in our room after a reconnect; its "joined" lists it.
    if (room !== "lobby") send({ type: "join", room });
    else listRoom();
    try { localStorage.setItem("wschat.name", me); } catch (e) { /* private mode */ }
    ui.text.focus();
  }

  function system(m) {
    const text = String(m.content || m.code || "");
    if (!m.code && text === "joined" && typeof m.room === "string") {
      setRoom(m.room);
      notice("You are in #" + m.room);
      listRoom();
      return;
    }
    if (!online && name && m.code === "name_taken" && takenRetries > 0 &&
        ws && ws.readyState === WebSocket.OPEN) {
      // The server may not have seen our old connection go yet.
      takenRetries--;
      const sock = ws;
      setTimeout(() => { if (ws === sock && !online) send({ type: "login", content: name }); }, 500);
      return;
    }
    if (!online && name && NAME_ERRORS.includes(m.code)) {
      askName(text);
      return;
    }
    if (m.code === "idle_timeout") {
      // Reconnecting at once would only be kicked again: wait for the user.
      stopped = true;
      notice(text + ": disconnected. Choose Reconnect at the top, or start typing.", true);
      return;
    }
    notice(text, !!m.code);
  }

  function receive(data) {
    let m = null;
    try { m = JSON.parse(data); } catch (e) { /* raw text */ }
    if (!m || typeof m !== "object" || typeof m.type !== "string") {
      notice(String(data));     // a server that speaks raw text
      return;
    }
    switch (m.type) {
    case "handshake":
      presence(m);
      break;
    case "who":
      who(m);
      break;
    case "rooms":
      if (Array.isArray(m.rooms))
        notice("Rooms: " + m.rooms.map((r) => "#" + r.room + " (" + r.members + ")").join(", "));
      break;
    case "login":
      presence(m);
      if (!online && name && m.user === name) loggedIn();
      else notice(m.user + " joined the chat");
      break;
    case "logout":
      presence(m);
      notice(m.user + " left the chat");
      break;
    case "join":
      presence(m);
      if (m.room === room && m.from !== me) notice(m.from + " came to #" + m.room);
      break;
    case "leave":
      presence(m);
      if (m.room === room) notice(m.from + " left #" + m.room);
      break;
    case "rename":
      if (m.from === me) {
        me = name = String(m.content);
        ui.me.textContent = me;
        try { localStorage.setItem("wschat.name", me); } catch (e) { /* private mode */ }
      }
      if (target && target === m.from) setTarget(String(m.content));
      presence(m);
      notice(m.from + " is now " + m.content);
      break;
    case "user":
      message(m, false);
      break;
    case "private":
      message(m, true);
      break;
    case "system":
      system(m);
      break;
    }
  }

  // Connect now, not when the backoff says: the user asked to, after a
  // kick or while offline.
  function resume() {
    if (ws) return;
    stopped = false;
    ui.reconnect.hidden = true;
    attempt = 0;
    connect();
  }

  function connect() {
    clearTimeout(retry);
    status("connecting", attempt ? "reconnecting…" : "connecting…");
    const sock = ws = new WebSocket(url, [PROTOCOL]);
    sock.onopen = () => {
      if (name) {
        status("connecting", "logging in…");
        send({ type: "login", content: name });
      } else {
        status("connecting", "connected: choose a name");
      }
    };
    sock.onmessage = (e) => { if (typeof e.data === "string") receive(e.data); };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      const was = online;
      ws = null;
      online = false;
      ui.send.disabled = true;
      if (stopped || (e.code === 1000 && e.reason === "idle timeout")) {
        stopped = true;
        status("offline", "disconnected");
        ui.reconnect.hidden = false;
        return;
      }
      // 0.5 s, 1 s, 2 s … up to 30 s, jittered so that a restarted server
      // is not hit by every page at once.
      const delay = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) *
        (0.75 + Math.random() / 2);
      attempt++;
      if (was || attempt === 1)
        notice("Disconnected from the server (code " + e.code + "); reconnecting…", true);
      status("offline", "offline: reconnecting in " + Math.ceil(delay / 1000) + " s");
      retry = setTimeout(connect, delay);
    };
  }

  function usage(u) { notice("Usage: " + u + " (/help lists the commands)", true); }

  // Sends a rename or a join if the server would take the name; says why not.
  function rename(n) {
    const why = nameFault(n);
    if (why) notice("Not renamed: " + why, true);
    return !why && send({ type: "rename", content: n });
  }
  function join(r) {
    const why = nameFault(r, true);
    if (why) notice("Not joined: " + why, true);
    return !why && send({ type: "join", room: r });
  }

  // Slash commands; returns false for text that is not one.
  function command(t) {
    const [, cmd, rest = ""] = t.match(/^\/(\S+)\s*([\s\S]*)$/) || [];
    const arg = rest.trim();
    switch (cmd) {
    case "nick": case "rename":
      if (!arg) usage("/" + cmd + " NAME");
      else rename(arg);
      return true;
    case "join":
      if (!arg) usage("/join ROOM");
      else join(arg);
      return true;
    case "leave":
      send({ type: "leave" });
      return true;
    case "who":
      send({ type: "who" });
      return true;
    case "rooms":
      send({ type: "rooms" });
      return true;
    case "msg": {
      const [, to, text] = arg.match(/^(\S+)\s+([\s\S]+)$/) || [];
      if (!to) usage("/msg NAME TEXT");
      else send({ type: "to", to, content: text });
      return true;
    }
    case "help":
      notice("/nick NAME, /join ROOM, /leave, /msg NAME TEXT, /who, /rooms; " +
        "choose a name in the list for private messages; //text sends /text");
      return true;
    default:
      if (t.startsWith("//")) return false;
      notice("Unknown command " + t.split(/\s/)[0] + ": try /help", true);
      return true;
    }
  }

  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    let t = ui.text.value;
    if (!t.trim() || !online) return;
    if (t.startsWith("/") && command(t)) {
      ui.text.value = "";
      return;
    }
    if (t.startsWith("//")) t = t.slice(1);
    const ok = target ? send({ type: "to", to: target, content: t })
      : send({ type: "user", content: t });
    if (ok) ui.text.value = "";
  });

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const n = ui.name.value.trim();
    const why = n ? nameFault(n) : "Type a name first: 1 to " + NAME_MAX +
      " bytes, no spaces.";
    if (why) {
      ui.loginError.textContent = why;
      ui.name.focus();
      return;
    }
    name = n;
    takenRetries = 0;           // typed now: taken means taken
    ui.loginError.textContent = "";
    if (ws && ws.readyState === WebSocket.OPEN) {
      status("connecting", "logging in…");
      send({ type: "login", content: n });
    } else if (!ws) {
      resume();                 // logs in once open
    }
  });
  ui.login.addEventListener("cancel", (e) => e.preventDefault());

  $("rename-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (rename(ui.newname.value.trim())) ui.newname.value = "";
  });
  $("room-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (join(ui.roomname.value.trim())) ui.roomname.value = "";
  });
  ui.reconnect.addEventListener("click", resume);
  ui.me.addEventListener("click", () => {
    ui.tools.open = true;
    ui.newname.value = me;
    ui.newname.focus();
    ui.newname.select();
  });
  $("leave").addEventListener("click", () => send({ type: "leave" }));
  $("untarget").addEventListener("click", () => setTarget(""));

  // Choosing a name, in the list or on a message, starts a private message.
  const pick = (e) => {
    const el = e.target.closest("[data-name]");
    if (el && el.dataset.name !== me) setTarget(el.dataset.name);
  };
  ui.users.addEventListener("click", pick);
  ui.messages.addEventListener("click", pick);

  ui.text.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && target) setTarget("");
    if (stopped) resume();
  });
  window.addEventListener("online", () => { if (!ws && !stopped) connect(); });

  // A remembered name logs in at once; the dialog comes up only if the
  // server refuses it (taken, say), and the name button changes it.
  let saved = "";
  try { saved = localStorage.getItem("wschat.name") || ""; } catch (e) { /* no storage */ }
  ui.name.value = saved;
  if (saved && !nameFault(saved)) {
    name = saved;
    takenRetries = 6;
  }
  else askName(saved && nameFault(saved));
  connect();
})();
