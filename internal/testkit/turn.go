package testkit

import (
	"net"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// TURNClient is pion/turn's client over conn (UDP, or a TCP/TLS stream
// wrapped in pionturn.NewSTUNConn) to server with the given credentials,
// listening, closed when the test ends. Retransmissions start at 200 ms so a
// lost datagram on a loaded machine costs little time.
func TURNClient(t testing.TB, conn net.PacketConn, server, user, pass string) *pionturn.Client {
	t.Helper()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Username:       user,
		Password:       pass,
		Conn:           conn,
		RTO:            200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
