package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/api"
)

// turnTest is the end-to-end check of one turn:/turns: URL.
type turnTest struct {
	URL       string  `json:"url"`
	OK        bool    `json:"ok"`
	Relayed   string  `json:"relayed,omitzero"`
	RTTMillis float64 `json:"rttMillis,omitzero"`
	Error     string  `json:"error,omitzero"`
}

type iceServers struct{ servers []api.IceServer }

// stunHostPort is the host:port of the first stun: URL, for the NAT checks.
func (s *iceServers) stunHostPort() string {
	for _, srv := range s.servers {
		for _, raw := range srv.URLs {
			if u, err := stun.ParseURI(raw); err == nil && u.Scheme == stun.SchemeTypeSTUN {
				return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
			}
		}
	}
	return ""
}

// fetchICEServers calls session.connect over WebSocket, the way every
// client gets its TURN credentials.
func fetchICEServers(ctx context.Context, url, identity, token string, insecure bool) (*iceServers, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	if insecure {
		d.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure, for self-signed test servers
	}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	defer ws.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	req, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "session.connect",
		"params": api.SessionConnectParams{Identity: identity, Token: token},
	})
	if err != nil {
		return nil, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, req); err != nil {
		return nil, fmt.Errorf("session.connect: %w", err)
	}
	// The server may send notifications first; they carry no id. Bounded
	// by the read deadline and by a count.
	for range 100 {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("session.connect: %w", err)
		}
		var resp struct {
			ID     jsontext.Value            `json:"id"`
			Result *api.SessionConnectResult `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(msg, &resp, json.RejectUnknownMembers(false)); err != nil {
			return nil, fmt.Errorf("session.connect: bad response: %w", err)
		}
		if !bytes.Equal(resp.ID, []byte("1")) {
			continue
		}
		switch {
		case resp.Error != nil:
			return nil, fmt.Errorf("session.connect: error %d: %s", resp.Error.Code, resp.Error.Message)
		case resp.Result == nil || len(resp.Result.ICEServers) == 0:
			return nil, errors.New("session.connect returned no iceServers: is TURN enabled on the server?")
		}
		return &iceServers{servers: resp.Result.ICEServers}, nil
	}
	return nil, errors.New("session.connect: no response")
}

// checkTURN allocates over every turn:/turns: URL and relays a packet from
// the allocation to itself.
func checkTURN(ctx context.Context, ice *iceServers, insecure bool) []turnTest {
	var out []turnTest
	for _, srv := range ice.servers {
		for _, raw := range srv.URLs {
			u, err := stun.ParseURI(raw)
			if err != nil {
				out = append(out, turnTest{URL: raw, Error: err.Error()})
				continue
			}
			if u.Scheme == stun.SchemeTypeSTUN {
				continue
			}
			t := turnTest{URL: raw}
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			relayed, rtt, err := relayEcho(tctx, u, srv.Username, srv.Credential, insecure)
			cancel()
			if err != nil {
				t.Error = err.Error()
			} else {
				t.OK, t.Relayed, t.RTTMillis = true, relayed, float64(rtt.Microseconds())/1000
			}
			out = append(out, t)
		}
	}
	return out
}

// relayEcho allocates on u, sends a packet from the relayed address to
// itself (the client creates the permission on the first write) and waits
// for it to come back: allocation, permission and relaying all work.
func relayEcho(ctx context.Context, u *stun.URI, user, pass string, insecure bool) (string, time.Duration, error) {
	addr := net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
	var conn net.PacketConn
	var err error
	var d net.Dialer
	switch {
	case u.Scheme == stun.SchemeTypeTURNS:
		td := tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: u.Host, InsecureSkipVerify: insecure}} //nolint:gosec // --insecure
		var c net.Conn
		if c, err = td.DialContext(ctx, "tcp4", addr); err == nil {
			conn = turn.NewSTUNConn(c)
		}
	case u.Proto == stun.ProtoTypeTCP:
		var c net.Conn
		if c, err = d.DialContext(ctx, "tcp4", addr); err == nil {
			conn = turn.NewSTUNConn(c)
		}
	default:
		conn, err = net.ListenPacket("udp4", "0.0.0.0:0")
	}
	if err != nil {
		return "", 0, fmt.Errorf("connect %s: %w", addr, err)
	}
	defer conn.Close()
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass,
		LoggerFactory: &logging.DefaultLoggerFactory{Writer: io.Discard},
	})
	if err != nil {
		return "", 0, fmt.Errorf("TURN client: %w", err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		return "", 0, fmt.Errorf("TURN client: %w", err)
	}
	relay, err := client.AllocateWithContext(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("allocate: %w", err)
	}
	defer relay.Close()
	self := relay.LocalAddr()
	payload := []byte("parley doctor " + strconv.FormatInt(time.Now().UnixNano(), 36))
	buf := make([]byte, 1500)
	start := time.Now()
	// Resend every 250ms (UDP may drop one), until the context ends.
	for range 40 {
		if _, err := relay.WriteTo(payload, self); err != nil {
			return self.String(), 0, fmt.Errorf("permission or send to %s: %w", self, err)
		}
		_ = relay.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		n, _, err := relay.ReadFrom(buf)
		if err == nil && bytes.Equal(buf[:n], payload) {
			return self.String(), time.Since(start), nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return self.String(), 0, fmt.Errorf("relayed packet to %s never came back", self)
}
