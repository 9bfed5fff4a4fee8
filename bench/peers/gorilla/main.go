// The Go design the relay replaces: one hub goroutine owns the client set and loops WriteMessage
// over every client for each broadcast. Built by bench/peers/gorilla.ts on first use.
package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gorilla/websocket"
)

type message struct {
	kind int
	data []byte
}

type hub struct {
	register   chan *websocket.Conn
	unregister chan *websocket.Conn
	broadcast  chan message
}

func (h *hub) run() {
	clients := make(map[*websocket.Conn]bool)
	for {
		select {
		case c := <-h.register:
			clients[c] = true
		case c := <-h.unregister:
			if clients[c] {
				delete(clients, c)
				c.Close()
			}
		case m := <-h.broadcast:
			for c := range clients {
				// A failed write means the client is gone; its read loop unregisters it.
				_ = c.WriteMessage(m.kind, m.data)
			}
		}
	}
}

func main() {
	h := &hub{
		register:   make(chan *websocket.Conn),
		unregister: make(chan *websocket.Conn),
		broadcast:  make(chan message, 256),
	}
	go h.run()

	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.SetReadLimit(64 * 1024)
		h.register <- c
		for {
			kind, data, err := c.ReadMessage()
			if err != nil {
				h.unregister <- c
				return
			}
			h.broadcast <- message{kind, data}
		}
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	line, _ := json.Marshal(map[string]interface{}{"msg": "peer listening", "ws_port": ln.Addr().(*net.TCPAddr).Port})
	os.Stdout.Write(append(line, '\n'))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() {
		<-stop
		os.Exit(0)
	}()
	_ = http.Serve(ln, nil)
}
