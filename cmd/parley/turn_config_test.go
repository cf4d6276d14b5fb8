package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/server"
)

func TestTURNConfigLayering(t *testing.T) {
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(yamlFile, []byte("turn:\n  realm: example.org\n  secrets: [from-the-file-0123456789]\n  deny-peers: [203.0.113.0/24]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(file string, env []string, args ...string) (server.Config, error) {
		fs := newFlagSet("serve", "", &strings.Builder{})
		keys := configFlags(fs)
		if err := fs.Parse(args); err != nil {
			return server.Config{}, err
		}
		return loadConfig(fs, keys, file, env)
	}
	d, err := load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.TURN.Listen != "127.0.0.1:3478" || d.TURN.Disabled || d.TURN.RelayMinPort != 49152 || d.TURN.RelayMaxPort != 65535 ||
		d.TURN.MaxAllocationsPerIdentity != 12 || d.TURN.CredentialTTL != 12*time.Hour {
		t.Fatalf("TURN defaults: %+v", d.TURN)
	}
	c, err := load(yamlFile, []string{"PARLEY_TURN_PUBLIC_IP=198.51.100.7", "PARLEY_TURN_ALLOW_PEER=10.1.0.0/16,10.2.0.0/16"},
		"--turn-secret", "flag-secret-0123456789", "--turn-secret", "old-secret-0123456789", "--turn-relay-min-port", "59000", "--no-turn")
	if err != nil {
		t.Fatal(err)
	}
	got := c.TURN
	if got.Realm != "example.org" || got.PublicIP != "198.51.100.7" || len(got.AllowPeers) != 2 || len(got.DenyPeers) != 1 ||
		strings.Join(got.Secrets, ",") != "flag-secret-0123456789,old-secret-0123456789" || got.RelayMinPort != 59000 || !got.Disabled {
		t.Fatalf("TURN layering: %+v", got)
	}
	c.Dev = true
	c.TURN.DenyPeers = []string{"10.0.0.0/40"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "turn-deny-peer") {
		t.Fatalf("a bad CIDR: Validate = %v", err)
	}
}
