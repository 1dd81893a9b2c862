// wschat: the chat page.  Speaks the JSON protocol on /ws of the host that
// served it (docs/PROTOCOL.md, wschat-protocol(7)): handshake, login,
// user, private ("to"), rename, who, join/leave, system notices;
// reconnects with backoff and logs in again under the same name.  Every
// piece of text from the server or the user enters the page as text
// (textContent, text nodes), never as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    messages: $("messages"), users: $("users"), count: $("count"),
    status: $("status"), where: $("where"), me: $("me"), text: $("text"),
    send: $("send"), target: $("target"), targetName: $("target-name"),
    login: $("login"), name: $("name"), loginError: $("login-error"),
    newname: $("newname"), roomname: $("roomname"),
  };
  const url = (location.protocol === "https:" ? "wss:" : "ws:") + "//" +
    location.host + "/ws";
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
  let users = [];

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

  function who(n) {
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
    li.append(stamp(m.timestamp), who(String(m.from)));
    if (priv) li.append(" → ", who(String(m.to)), " (private)");
    li.append(": ", String(m.content));
    append(li);
  }

  function setUsers(list) {
    if (Array.isArray(list)) users = list.map(String).sort((a, b) => a.localeCompare(b));
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
    room = r;
    ui.where.textContent = "#" + r;
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
    if (ui.login.open) ui.login.close();
    ui.loginError.textContent = "";
    ui.me.textContent = me;
    ui.text.disabled = ui.send.disabled = false;
    status("online", "online");
    notice((again ? "Reconnected as " : "Logged in as ") + me);
    if (room !== "lobby") send({ type: "join", room });
    try { localStorage.setItem("wschat.name", me); } catch (e) { /* private mode */ }
    setUsers();
    ui.text.focus();
  }

  function system(m) {
    const text = String(m.content || m.code || "");
    if (!m.code && text === "joined" && typeof m.room === "string") {
      setRoom(m.room);
      notice("You are in #" + m.room);
      send({ type: "who" });    // logins elsewhere do not reach this room
      return;
    }
    if (!online && name && NAME_ERRORS.includes(m.code)) {
      askName(text);
      return;
    }
    if (m.code === "idle_timeout") {
      stopped = true;
      notice(text + ". Start typing to reconnect.", true);
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
    case "who":
      setUsers(m.user_list);
      break;
    case "login":
      setUsers(m.user_list);
      if (!online && name && m.user === name) loggedIn();
      else notice(m.user + " joined");
      break;
    case "logout":
      setUsers(m.user_list);
      notice(m.user + " left");
      break;
    case "rename":
      if (m.from === me) {
        me = name = String(m.content);
        ui.me.textContent = me;
        try { localStorage.setItem("wschat.name", me); } catch (e) { /* private mode */ }
      }
      if (target && target === m.from) setTarget(String(m.content));
      setUsers(m.user_list);
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

  function connect() {
    clearTimeout(retry);
    status("connecting", attempt ? "reconnecting…" : "connecting…");
    const sock = ws = new WebSocket(url);
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
      if (stopped) {
        status("offline", "disconnected");
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

  // Slash commands; returns false for text that is not one.
  function command(t) {
    const [, cmd, rest = ""] = t.match(/^\/(\S+)\s*([\s\S]*)$/) || [];
    const arg = rest.trim();
    switch (cmd) {
    case "nick": case "rename":
      if (arg) send({ type: "rename", content: arg });
      return true;
    case "join":
      if (arg) send({ type: "join", room: arg });
      return true;
    case "leave":
      send({ type: "leave" });
      return true;
    case "who":
      send({ type: "who" });
      return true;
    case "msg": {
      const sp = arg.indexOf(" ");
      if (sp > 0) send({ type: "to", to: arg.slice(0, sp), content: arg.slice(sp + 1) });
      return true;
    }
    case "help":
      notice("/nick NAME, /join ROOM, /leave, /msg NAME TEXT, /who; " +
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
    if (!n) return;
    name = n;
    ui.loginError.textContent = "";
    if (ws && ws.readyState === WebSocket.OPEN) {
      status("connecting", "logging in…");
      send({ type: "login", content: n });
    } else if (!ws) {
      stopped = false;          // kicked for idleness while choosing a name
      attempt = 0;
      connect();                // logs in once open
    }
  });
  ui.login.addEventListener("cancel", (e) => e.preventDefault());

  $("rename-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const n = ui.newname.value.trim();
    if (n && send({ type: "rename", content: n })) ui.newname.value = "";
  });
  $("room-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const r = ui.roomname.value.trim();
    if (r && send({ type: "join", room: r })) ui.roomname.value = "";
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
    if (stopped && !ws) {
      stopped = false;
      attempt = 0;
      connect();
    }
  });
  window.addEventListener("online", () => { if (!ws && !stopped) connect(); });
  // Logins in the lobby do not reach other rooms: refresh the list there.
  setInterval(() => { if (online && room !== "lobby") send({ type: "who" }); }, 20000);

  try { ui.name.value = localStorage.getItem("wschat.name") || ""; } catch (e) { /* no storage */ }
  askName("");
  connect();
})();
