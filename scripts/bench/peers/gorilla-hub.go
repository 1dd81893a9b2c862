// Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
//
// gorilla-hub.go: the gorilla/websocket chat example's hub, as Go chat
// rooms copy it, for scripts/bench/compare.sh: one hub goroutine with
// register, unregister and broadcast channels; per client a 256-message
// send queue (a full queue drops the client), a readPump and a writePump
// that joins whatever is queued into one text frame, newline-separated,
// and pings every 54 s.  Written after the example's hub.go, client.go
// and main.go (BSD licence, The Gorilla WebSocket Authors), which Debian's
// golang-github-gorilla-websocket-dev does not ship; only the home page is
// left out.  Two changes: messages of up to 4 KiB (the example's limit is
// 512 bytes), and rooms, so that a rooms scenario runs against every
// peer.  A client's room is the room parameter of its upgrade URL
// (/ws?room=NAME), "chat" without one, and the hub broadcasts a message
// to the clients of its sender's room only; with no room anywhere, that
// is the example's broadcast to every client.  Built offline against the
// packaged library:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o gorilla-hub gorilla-hub.go
//
// Usage: gorilla-hub -addr 127.0.0.1:PORT (chat on /ws).
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

const (
	writeWait      = 10 * time.Second
	pongWait       = 60 * time.Second
	pingPeriod     = (pongWait * 9) / 10
	maxMessageSize = 4096 // the example's 512, raised for 1 KiB messages
)

var (
	newline = []byte{'\n'}
	space   = []byte{' '}
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
}

// roomMessage is a message for the clients of one room.
type roomMessage struct {
	room string
	data []byte
}

type Hub struct {
	// The registered clients, by room.
	rooms      map[string]map[*Client]bool
	broadcast  chan roomMessage
	register   chan *Client
	unregister chan *Client
}

func newHub() *Hub {
	return &Hub{
		broadcast:  make(chan roomMessage),
		register:   make(chan *Client),
		unregister: make(chan *Client),
		rooms:      make(map[string]map[*Client]bool),
	}
}

// remove forgets client and closes its send queue; an empty room goes.
func (h *Hub) remove(client *Client) {
	clients := h.rooms[client.room]
	delete(clients, client)
	if len(clients) == 0 {
		delete(h.rooms, client.room)
	}
	close(client.send)
}

func (h *Hub) run() {
	for {
		select {
		case client := <-h.register:
			clients := h.rooms[client.room]
			if clients == nil {
				clients = make(map[*Client]bool)
				h.rooms[client.room] = clients
			}
			clients[client] = true
		case client := <-h.unregister:
			if _, ok := h.rooms[client.room][client]; ok {
				h.remove(client)
			}
		case m := <-h.broadcast:
			for client := range h.rooms[m.room] {
				select {
				case client.send <- m.data:
				default:
					h.remove(client)
				}
			}
		}
	}
}

type Client struct {
	hub  *Hub
	conn *websocket.Conn
	room string
	send chan []byte
}

func (c *Client) readPump() {
	defer func() {
		c.hub.unregister <- c
		c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessageSize)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error {
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		return nil
	})
	for {
		_, message, err := c.conn.ReadMessage()
		if err != nil {
			if websocket.IsUnexpectedCloseError(err,
				websocket.CloseGoingAway, websocket.CloseAbnormalClosure) {
				log.Printf("error: %v", err)
			}
			break
		}
		message = bytes.TrimSpace(bytes.Replace(message, newline, space, -1))
		c.hub.broadcast <- roomMessage{room: c.room, data: message}
	}
}

func (c *Client) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case message, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				// The hub closed the channel.
				c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			w, err := c.conn.NextWriter(websocket.TextMessage)
			if err != nil {
				return
			}
			w.Write(message)
			// Add queued chat messages to the current websocket message.
			n := len(c.send)
			for i := 0; i < n; i++ {
				w.Write(newline)
				w.Write(<-c.send)
			}
			if err := w.Close(); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

func serveWs(hub *Hub, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		log.Println(err)
		return
	}
	room := r.URL.Query().Get("room")
	if room == "" {
		room = "chat"
	}
	client := &Client{hub: hub, conn: conn, room: room,
		send: make(chan []byte, 256)}
	client.hub.register <- client
	go client.writePump()
	go client.readPump()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "http service address")
	flag.Parse()
	hub := newHub()
	go hub.run()
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		serveWs(hub, w, r)
	})
	log.Printf("listening on %s", *addr)
	if err := http.ListenAndServe(*addr, nil); err != nil {
		log.Fatal("ListenAndServe: ", err)
	}
}
