package server

import (
	"net"
	"net/url"
	"strconv"

	"github.com/parley-rtc/parley/server/demux"
)

// nextProtos are the ALPN protocols the TLS listener offers: HTTP/1.1
// (WebSockets) and TURN (RFC 7443), which share it (onePort).
var nextProtos = []string{demux.ALPNHTTP, demux.ALPNTURN}

// onePort makes the TLS listener ln carry TURN too (package demux): plain
// and TLS STUN/TURN connections go to the co-hosted server, when it runs,
// and the rest is HTTPS. Clients are told of it with a turns: URL
// (onePortURL), for networks that let only this port through.
func (s *Server) onePort(ln net.Listener) net.Listener {
	cfg := demux.Config{TLS: s.tls, Log: s.log}
	if t := s.turn.srv; t != nil {
		cfg.STUN = t.ServeStream
		s.onePortURL = onePortURL(s.cfg, t.URLHost(), ln.Addr())
	}
	return demux.Listen(ln, cfg)
}

// onePortURL is the turns: URL of the signaling port: the host and port of
// the first https --public-url, which browsers reach and the certificate
// names; without one, the TURN URLs' host and the port listened on.
func onePortURL(c Config, turnHost string, addr net.Addr) string {
	host, port := turnHost, ""
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(tcp.Port)
	}
	for _, raw := range c.PublicURL {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "https" {
			host, port = u.Hostname(), u.Port()
			if port == "" {
				port = "443"
			}
			break
		}
	}
	return "turns:" + net.JoinHostPort(host, port) + "?transport=tcp"
}
