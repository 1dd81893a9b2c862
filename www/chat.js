// wschat: the chat page.  Speaks version 2 of the JSON protocol
// (wschat.v2.json) on /ws of the host that served it (docs/PROTOCOL.md,
// wschat-protocol(7)): handshake, login, user, private ("to"), rename,
// who, rooms, join/leave, system notices.  Presence events carry no
// lists in v2: the online list is the page's own, of the names in its
// room, from a who-room reply kept up to date by login, logout, rename,
// join and leave.  The list is of one room: after a login or a join the
// room's recent messages come first, marked as earlier, and scrolling to
// the top pages further back (history, by id).  A connection lost without
// a close frame is resumed (resume, with the session token and the last
// id seen), so that nothing is missed or shown twice and nobody sees us
// leave; otherwise the page reconnects with backoff and logs in again
// under the same name.  Every piece of text from the server or the user
// enters the page as text (textContent, text nodes), never as HTML.
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
  // History and resume.  Ids come from one server-wide sequence; they
  // mean something only within one epoch of the history store.
  const PAGE = 50;      // messages asked for per older page
  const ROOMS_KEPT = 32;  // rooms whose last id is remembered
  let session = "";     // the token that resumes our session, or ""
  let resumeFor = 0;    // how long the server keeps it after a drop, ms
  let lostAt = 0;       // when the connection was lost, if resumable
  let epoch = "";
  const lastIds = new Map();  // room -> the largest id received there
  let joining = "";     // the room we asked to go to
  let more = false;     // older messages of the room exist
  let paging = false;   // a request for an older page is on its way
  const shownIds = new Set();  // the ids in the list (of our room)

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

  // Keeps MAX_ITEMS while the reader is at the end, more while reading
  // older ones (so that they do not move), and never 4 times that.
  function append(li) {
    const m = ui.messages;
    const atEnd = m.scrollTop + m.clientHeight >= m.scrollHeight - 8;
    m.append(li);
    while (m.childElementCount > (atEnd ? MAX_ITEMS : 4 * MAX_ITEMS)) {
      const first = m.firstElementChild;
      if (first.dataset.id) {
        shownIds.delete(Number(first.dataset.id));
        more = true;
      }
      first.remove();
    }
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
  function entry(m, priv, earlier) {
    const li = document.createElement("li");
    li.className = priv ? "private" : "chat";
    if (earlier) li.classList.add("earlier");
    if (m.from === me) li.classList.add("mine");
    if (Number.isSafeInteger(m.id)) {
      li.dataset.id = m.id;
      shownIds.add(m.id);
    }
    li.append(stamp(m.timestamp), from(String(m.from)));
    if (priv) li.append(" → ", from(String(m.to)), " (private)");
    li.append(": ", String(m.content));
    return li;
  }

  // A new epoch: the ids we hold name nothing any more.
  function newEpoch(e) {
    if (typeof e !== "string" || e === epoch) return;
    if (epoch) {
      lastIds.clear();
      shownIds.clear();
      for (const li of ui.messages.querySelectorAll("li[data-id]")) delete li.dataset.id;
    }
    epoch = e;
  }

  // Remembers id as received in room r: resume starts after it.
  function noteId(r, id) {
    if (!Number.isSafeInteger(id) || lastIds.get(r) >= id) return;
    lastIds.set(r, id);
    if (lastIds.size > ROOMS_KEPT)
      lastIds.delete([...lastIds].sort((a, b) => a[1] - b[1])[0][0]);
  }

  // A live message (or a missed one, after a resume), unless shown already.
  function message(m, priv) {
    newEpoch(m.epoch);
    if (shownIds.has(m.id)) return;
    noteId(room, m.id);
    append(entry(m, priv, false));
  }

  function divider() {
    const li = document.createElement("li");
    li.className = "divider";
    li.textContent = "earlier messages";
    return li;
  }

  // A history reply: the recent messages after a login or a join, shown
  // below what the list holds, or an older page, shown above it.
  function history(m) {
    if (m.room !== room && m.room === joining) setRoom(m.room);
    if (m.room !== room || !Array.isArray(m.messages)) return;
    newEpoch(m.epoch);
    const box = ui.messages;
    const first = box.querySelector("li[data-id]");
    const msgs = m.messages.filter((x) => x && typeof x === "object" &&
      Number.isSafeInteger(x.id) && !shownIds.has(x.id));
    if (paging) {
      paging = false;
      more = !!m.more;
      const below = box.scrollHeight - box.scrollTop;
      let at = first;           // above the oldest, and its divider
      while (at && at.previousElementSibling && at.previousElementSibling.className === "divider")
        at = at.previousElementSibling;
      for (const x of msgs)
        if (!first || x.id < Number(first.dataset.id)) box.insertBefore(entry(x, false, true), at);
      box.scrollTop = box.scrollHeight - below;
    } else {
      // Shown already up to lastIds[room], if anything: what follows.
      const last = lastIds.get(room) || 0;
      const add = first ? msgs.filter((x) => x.id > last) : msgs;
      if (!first) more = !!m.more;
      if (add.length) append(divider());
      for (const x of add) {
        noteId(room, x.id);
        append(entry(x, false, true));
      }
    }
    older(true);
  }

  // Asks for the page before the oldest message shown; fill: only if the
  // list does not fill its box (there is nothing to scroll up then).
  function older(fill) {
    const box = ui.messages;
    const first = box.querySelector("li[data-id]");
    if (!more || paging || !online || !first || box.childElementCount >= 4 * MAX_ITEMS ||
        (fill && box.scrollHeight > box.clientHeight))
      return;
    paging = send({ type: "history", room, before: Number(first.dataset.id), limit: PAGE });
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

  // The list is of one room: another starts empty.
  function setRoom(r) {
    if (r !== room) {
      members.clear();
      showUsers();
      ui.messages.replaceChildren();
      shownIds.clear();
      more = paging = false;
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
    if (ws && ws.readyState === WebSocket.OPEN &&
        (online || obj.type === "login" || obj.type === "resume")) {
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
    joining = room;
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
    switch (m.code) {
    case "logged_in":
      // Our login, maybe before its broadcast (which then says nothing).
      if (!online && name) loggedIn();
      if (typeof m.session === "string") session = m.session;
      // Resuming a second before the server gives up is in vain.
      resumeFor = Math.min(3600, Math.max(0, Number(m.resume_timeout) || 0)) * 1000 - 1000;
      return;
    case "resume_failed":
      // Gone (expired, or the server restarted): log in as at first.
      session = "";
      lostAt = 0;
      if (name) {
        status("connecting", "logging in…");
        send({ type: "login", content: name });
      }
      return;
    case "history_gap":
      notice("Some messages were lost while you were disconnected (" + text + ")", true);
      return;
    }
    if (m.code === "idle_timeout" || m.code === "session_taken") {
      // Reconnecting at once would only be kicked again (or take the
      // session back from where it was resumed): wait for the user.
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
      else if (m.user !== me) notice(m.user + " joined the chat");
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
    case "history":
      history(m);
      break;
    case "resumed":
      resumed(m);
      break;
    }
  }

  // The session goes on, on this connection: no login, no history (the
  // messages we missed follow as live ones), the names in the room anew.
  function resumed(m) {
    online = true;
    lostAt = attempt = 0;
    me = name = String(m.user);
    ui.me.textContent = me;
    if (typeof m.room === "string") setRoom(m.room);
    ui.text.disabled = ui.send.disabled = false;
    status("online", "online");
    notice("Reconnected");
    listRoom();
  }

  // Connect now, not when the backoff says: the user asked to, after a
  // kick or while offline.
  function reconnectNow() {
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
      if (session && lostAt && Date.now() - lostAt < resumeFor) {
        status("connecting", "resuming…");
        const since = Object.fromEntries([[room, 0], ...lastIds]);
        send({ type: "resume", session, since });
      } else if (name) {
        session = "";
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
      online = paging = false;
      ui.send.disabled = true;
      // Lost without a close frame: resumable for a while.  A close from
      // either side (1000, 1001: the server going down) ends the session.
      if (!e.wasClean || e.code === 1006) {
        if (was && session) lostAt = Date.now();
      } else {
        session = "";
      }
      const resuming = session && lostAt && Date.now() - lostAt < resumeFor;
      if (stopped || (e.code === 1000 && e.reason === "idle timeout")) {
        stopped = true;
        session = "";
        status("offline", "disconnected");
        ui.reconnect.hidden = false;
        return;
      }
      // 0.5 s, 1 s, 2 s … up to 30 s, jittered so that a restarted server
      // is not hit by every page at once.
      // Resuming: 0.25 s, 0.5 s … up to 5 s, while the session lasts.
      const delay = resuming ? Math.min(5000, 250 * 2 ** Math.min(attempt, 5)) :
        Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.75 + Math.random() / 2);
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
    if (why) return false;
    joining = r;
    return send({ type: "join", room: r });
  }
  function leave() {
    joining = "lobby";
    send({ type: "leave" });
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
      leave();
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
      reconnectNow();           // logs in once open
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
  ui.reconnect.addEventListener("click", reconnectNow);
  ui.me.addEventListener("click", () => {
    ui.tools.open = true;
    ui.newname.value = me;
    ui.newname.focus();
    ui.newname.select();
  });
  $("leave").addEventListener("click", leave);
  ui.messages.addEventListener("scroll", () => { if (ui.messages.scrollTop < 40) older(false); });
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
    if (stopped) reconnectNow();
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
