package testkit

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/parley-rtc/parley/turn/binding"
)

// STUNServer runs a binding server alone on listen (one socket), with RFC
// 5780 on alt unless alt is the zero value, and drains its primary socket as
// pion/turn does in production. It closes when the test ends.
func STUNServer(t testing.TB, listen, alt netip.AddrPort) *binding.Server {
	t.Helper()
	s, err := binding.Listen(binding.Config{Listen: listen, Alternate: alt, Sockets: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := s.PacketConns()[0].ReadFrom(buf); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
	return s
}
