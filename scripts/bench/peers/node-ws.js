// Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
//
// node-ws.js: the broadcast server of the ws package's README ("Server
// broadcast"), for scripts/bench/compare.sh: every message a client sends
// goes to every open client of its room, the sender included, one frame
// per message.  The room is the upgrade URL's room parameter
// (/ws?room=NAME), "chat" without one (as in every peer), so with no room
// anywhere this is the README's broadcast to every client.
// ws's defaults otherwise (no permessage-deflate on the server, no pings).
//
// Usage: node node-ws.js PORT (chat on ws://127.0.0.1:PORT/ws); needs
// the ws package of package.json (npm ci in a build directory).
'use strict';

const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 8080);
const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws' });

// Room name to the Set of its clients, like wss.clients for everyone.
const rooms = new Map();

wss.on('connection', function connection(ws, req) {
	const name = new URL(req.url, 'http://localhost').searchParams
	    .get('room') || 'chat';
	let room = rooms.get(name);
	if (room === undefined) {
		room = new Set();
		rooms.set(name, room);
	}
	room.add(ws);
	ws.on('error', console.error);
	ws.on('close', function close() {
		room.delete(ws);
		if (room.size === 0 && rooms.get(name) === room)
			rooms.delete(name);
	});
	ws.on('message', function message(data, isBinary) {
		room.forEach(function each(client) {
			if (client.readyState === WebSocket.OPEN)
				client.send(data, { binary: isBinary });
		});
	});
});
wss.on('listening', function () {
	console.log('listening on 127.0.0.1:' + port);
});
