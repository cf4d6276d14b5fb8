package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTURNConfigLayering(t *testing.T) {
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(yamlFile, []byte("turn:\n  realm: example.org\n  secret: [from-the-file-0123456789]\n  deny-peer: [203.0.113.0/24]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, _, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.TURN.Listen != "127.0.0.1:3478" || d.NoTURN || d.TURN.RelayMinPort != 49152 || d.TURN.RelayMaxPort != 65535 ||
		d.TURN.MaxAllocationsPerIdentity != 12 || d.TURN.CredentialTTL != 12*time.Hour {
		t.Fatalf("TURN defaults: %+v", d.TURN)
	}
	c, _, err := load(t, yamlFile, []string{"PARLEY_TURN_PUBLIC_IP=198.51.100.7", "PARLEY_TURN_ALLOW_PEER=10.1.0.0/16,10.2.0.0/16"},
		"--turn-secret", "flag-secret-0123456789", "--turn-secret", "old-secret-0123456789", "--turn-relay-port-min", "59000", "--no-turn")
	if err != nil {
		t.Fatal(err)
	}
	got := c.TURN
	if got.Realm != "example.org" || got.PublicIP != "198.51.100.7" || len(got.AllowPeers) != 2 || len(got.DenyPeers) != 1 ||
		strings.Join(got.Secrets, ",") != "flag-secret-0123456789,old-secret-0123456789" || got.RelayMinPort != 59000 || !c.NoTURN {
		t.Fatalf("TURN layering: %+v", got)
	}
	c.Dev = true
	c.TURN.DenyPeers = []string{"10.0.0.0/40"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "turn.deny-peer: ") {
		t.Fatalf("a bad CIDR: Validate = %v", err)
	}
}

// TestTURNKeysFromTheTable: the TURN section's keys, derived from the
// struct tags, and the earlier spellings a file may still use. (Each flag
// is its key with dashes: turn.secret is --turn-secret, as it always was.)
func TestTURNKeysFromTheTable(t *testing.T) {
	got := make(map[string]string)
	for _, o := range configOptions() {
		if strings.HasPrefix(o.key, "turn.") || o.key == "no-turn" {
			got[o.key] = o.old
		}
	}
	want := map[string]string{
		"no-turn": "turn.disabled", "turn.listen": "", "turn.tls-listen": "",
		"turn.secret": "turn.secrets", "turn.realm": "", "turn.public-ip": "",
		"turn.host": "", "turn.alt-address": "",
		"turn.relay-port-min": "turn.relay-min-port", "turn.relay-port-max": "turn.relay-max-port",
		"turn.allow-peer": "turn.allow-peers", "turn.deny-peer": "turn.deny-peers",
		"turn.credential-ttl": "", "turn.max-allocations-per-identity": "",
		"turn.max-allocations": "", "turn.max-permissions": "",
		"turn.bandwidth": "", "turn.max-allocation-lifetime": "",
		"turn.max-streams-per-ip": "",
	}
	for key, old := range want {
		if o, ok := got[key]; !ok || o != old {
			t.Errorf("%s: earlier spelling %q (an option: %v), want %q", key, o, ok, old)
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected key %s", key)
		}
	}
}

// TestTURNErrorsBeforeTheDevKey: a bad TURN setting stops `parley serve`
// at configuration time, with every TURN error at once, before it prints
// the dev key or opens a socket.
func TestTURNErrorsBeforeTheDevKey(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--dev", "--listen", "127.0.0.1:0",
		"--turn-listen", "127.0.0.1:0", "--turn-public-ip", "nonsense", "--turn-alt-address", "203.0.113.11",
		"--turn-relay-port-min", "60000", "--turn-relay-port-max", "50000", "--turn-secret", "short",
		"--turn-tls-listen", "127.0.0.1:0", "--turn-max-permissions", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if strings.Contains(string(out), "API key") || strings.Contains(string(out), "listening") {
		t.Fatalf("parley got past its configuration:\n%s", out)
	}
	lines := strings.Split(string(out), "\n")
	for _, key := range []string{"turn.public-ip: ", "turn.alt-address: ", "turn.relay-port-min: ", "turn.secret: ", "turn.tls-listen: ", "turn.max-permissions: "} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, key) }) {
			t.Errorf("no line starts with %q:\n%s", key, out)
		}
	}
}
