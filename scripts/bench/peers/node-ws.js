// Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
//
// node-ws.js: the broadcast server of the ws package's README ("Server
// broadcast"), for scripts/bench/compare.sh: every message a client sends
// goes to every open client, the sender included, one frame per message.
// ws's defaults otherwise (no permessage-deflate on the server, no pings).
//
// Usage: node node-ws.js PORT (chat on ws://127.0.0.1:PORT/ws); needs
// the ws package of package.json (npm ci in a build directory).
'use strict';

const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 8080);
const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws' });

wss.on('connection', function connection(ws) {
	ws.on('error', console.error);
	ws.on('message', function message(data, isBinary) {
		wss.clients.forEach(function each(client) {
			if (client.readyState === WebSocket.OPEN)
				client.send(data, { binary: isBinary });
		});
	});
});
wss.on('listening', function () {
	console.log('listening on 127.0.0.1:' + port);
});
