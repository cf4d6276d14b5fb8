package rpc

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Upgrader upgrades GET /rpc to a WebSocket connection. gorilla/websocket
// answers the handshake (RFC 6455 §4); the frames after it are Conn's.
// The connections of one Upgrader share its configuration, outbox and
// poller.
type Upgrader struct {
	ws   websocket.Upgrader
	cfg  ConnConfig
	box  outbox
	poll poller
}

// NewUpgrader returns the WebSocket upgrader for /rpc, whose connections
// cfg bounds.
func NewUpgrader(checkOrigin func(*http.Request) bool, cfg ConnConfig) *Upgrader {
	cfg.setDefaults()
	return &Upgrader{cfg: cfg, ws: websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Zero sizes and no pool: gorilla reuses the buffers net/http
		// hijacks with for the handshake and allocates none of its own;
		// Conn reads and writes with buffers of its own.
		CheckOrigin: checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, "websocket upgrade refused: "+reason.Error(), status)
		},
	}}
}

// Upgrade answers the handshake and returns the connection, ready for
// Start. On failure the client has been answered.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	ws, err := u.ws.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	// Nothing was read past the handshake (gorilla refuses a client that
	// sent frames before the answer), so the socket is all there is.
	return newConn(ws.UnderlyingConn(), u), nil
}
