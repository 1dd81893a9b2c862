// Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
//
// bun-pubsub.js: a Bun.serve broadcast server on Bun's own pub/sub (the
// TopicTree of uWebSockets inside), for scripts/bench/compare.sh: every
// client subscribes to one topic, the room of its upgrade URL
// (/ws?room=NAME, "chat" without one), and every text message a client
// sends is published to that topic with server.publish, which sends it to
// every subscriber, the sender included, like the other peers
// (ws.publish would leave the sender out).  Bun's defaults otherwise,
// except: no permessage-deflate (said explicitly), and idleTimeout 0, so
// that no quiet receiver is timed out during a run.  maxPayloadLength
// (16 MiB) and backpressureLimit (16 MiB) are left at their defaults.
//
// Usage: bun bun-pubsub.js PORT (chat on ws://127.0.0.1:PORT/ws); the
// bun binary comes from npm (@oven/bun-linux-x64 in package.json, npm ci
// in a build directory).
'use strict';

const port = Number(process.argv[2] || 8080);

const server = Bun.serve({
	hostname: '127.0.0.1',
	port,
	fetch(req, server) {
		const url = new URL(req.url);
		if (url.pathname !== '/ws')
			return new Response('not found\n', { status: 404 });
		const topic = url.searchParams.get('room') || 'chat';
		if (server.upgrade(req, { data: { topic } }))
			return undefined;
		return new Response('upgrade failed\n', { status: 400 });
	},
	websocket: {
		perMessageDeflate: false,
		idleTimeout: 0,
		open(ws) {
			ws.subscribe(ws.data.topic);
		},
		message(ws, message) {
			// A string goes out as text, a Buffer as binary, as
			// node-ws.js does.
			server.publish(ws.data.topic, message);
		},
	},
});
console.log('listening on 127.0.0.1:' + port);
