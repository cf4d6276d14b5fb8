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
// client gets its TURN credentials, and says goodbye (the session ends at
// once instead of waiting out a resume window on the server).
func fetchICEServers(ctx context.Context, f rpcFlags) (*iceServers, error) {
	c, err := dialRPC(ctx, f, nil)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var res api.SessionConnectResult
	if err := json.Unmarshal(c.session, &res, json.RejectUnknownMembers(false)); err != nil {
		return nil, fmt.Errorf("session.connect: bad result: %w", err)
	}
	if len(res.ICEServers) == 0 {
		return nil, errors.New("session.connect returned no iceServers: is TURN enabled on the server?")
	}
	return &iceServers{servers: res.ICEServers}, nil
}

// checkTURN allocates over every turn:/turns: URL and relays a packet from
// the allocation to itself.
func checkTURN(ctx context.Context, ice *iceServers, f rpcFlags) []turnTest {
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
			relayed, rtt, err := relayEcho(tctx, u, srv.Username, srv.Credential, f)
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
func relayEcho(ctx context.Context, u *stun.URI, user, pass string, f rpcFlags) (string, time.Duration, error) {
	addr := net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
	conf, err := f.tlsConfig()
	if err != nil {
		return "", 0, err
	}
	if conf == nil {
		conf = &tls.Config{}
	}
	conf.ServerName = u.Host
	var conn net.PacketConn
	var d net.Dialer
	switch {
	case u.Scheme == stun.SchemeTypeTURNS:
		td := tls.Dialer{NetDialer: &d, Config: conf}
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
