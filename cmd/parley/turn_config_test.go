package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "turn.deny-peers: ") {
		t.Fatalf("a bad CIDR: Validate = %v", err)
	}
}

// TestTURNFlagsFromTheTable: the TURN section's flags and keys, derived
// from the struct tags, are the ones parley has always had.
func TestTURNFlagsFromTheTable(t *testing.T) {
	d := server.DefaultConfig()
	got := make(map[string]string)
	for _, o := range tableOptions(&d) {
		if strings.HasPrefix(o.key, "turn.") {
			got[o.flag] = o.key
		}
	}
	want := map[string]string{
		"no-turn": "turn.disabled", "turn-listen": "turn.listen", "turn-tls-listen": "turn.tls-listen",
		"turn-secret": "turn.secrets", "turn-realm": "turn.realm", "turn-public-ip": "turn.public-ip",
		"turn-host": "turn.host", "turn-alt-address": "turn.alt-address",
		"turn-relay-min-port": "turn.relay-min-port", "turn-relay-max-port": "turn.relay-max-port",
		"turn-allow-peer": "turn.allow-peers", "turn-deny-peer": "turn.deny-peers",
		"turn-credential-ttl": "turn.credential-ttl", "turn-max-allocations-per-identity": "turn.max-allocations-per-identity",
		"turn-max-allocations": "turn.max-allocations", "turn-max-permissions": "turn.max-permissions",
		"turn-bandwidth": "turn.bandwidth", "turn-max-allocation-lifetime": "turn.max-allocation-lifetime",
		"turn-max-streams-per-ip": "turn.max-streams-per-ip",
	}
	for flag, key := range want {
		if got[flag] != key {
			t.Errorf("--%s maps to %q, want %q", flag, got[flag], key)
		}
	}
	for flag := range got {
		if _, ok := want[flag]; !ok {
			t.Errorf("unexpected flag --%s (%s)", flag, got[flag])
		}
	}
	// Every option gets a flag of its type (define panics otherwise), and
	// no flag is defined twice (pflag panics).
	configFlags(newFlagSet("serve", "", &strings.Builder{}))
}

// TestTURNErrorsBeforeTheDevKey: a bad TURN setting stops `parley serve`
// at configuration time, with every TURN error at once, before it prints
// the dev key or opens a socket.
func TestTURNErrorsBeforeTheDevKey(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--dev", "--listen", "127.0.0.1:0",
		"--turn-listen", "127.0.0.1:0", "--turn-public-ip", "nonsense", "--turn-alt-address", "203.0.113.11",
		"--turn-relay-min-port", "60000", "--turn-relay-max-port", "50000", "--turn-secret", "short",
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
	for _, key := range []string{"turn.public-ip: ", "turn.alt-address: ", "turn.relay-min-port: ", "turn.secrets: ", "turn.tls-listen: ", "turn.max-permissions: "} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, key) }) {
			t.Errorf("no line starts with %q:\n%s", key, out)
		}
	}
}
