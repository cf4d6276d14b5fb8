package main

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// TestDevServerAnswersSTUN: `parley serve --dev` runs STUN/TURN with no
// TURN flag (here moved to a free port so parallel runs do not collide on
// 3478) and answers a Binding request on UDP and on TCP.
func TestDevServerAnswersSTUN(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0")
	a := p.WaitTURN(t)
	for _, network := range []string{"udp", "tcp"} {
		addr := a.UDP
		if network == "tcp" {
			addr = a.TCP
		}
		c, err := stun.Dial(network, addr)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		var mapped stun.XORMappedAddress
		done := make(chan error, 1)
		err = c.Start(stun.MustBuild(stun.TransactionID, stun.BindingRequest), func(e stun.Event) {
			if e.Error != nil {
				done <- e.Error
				return
			}
			done <- mapped.GetFrom(e.Message)
		})
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s Binding: %v", network, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s Binding: no answer", network)
		}
		_ = c.Close()
		if !mapped.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Fatalf("%s Binding mapped %s", network, mapped)
		}
	}
}
