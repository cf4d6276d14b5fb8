package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/server"
)

func TestConfigLayering(t *testing.T) {
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(yamlFile, []byte("listen: 127.0.0.1:9000\nlimits:\n  rate: 7\n  max-peers: 3\nlog-level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badYAML := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(badYAML, []byte("listn: x\n"), 0o600)
	// max-peers above is under "limits" with the flag's name, not the key's: an error.
	cases := []struct {
		name  string
		file  string
		env   []string
		args  []string
		check func(server.Config) bool
		err   string
	}{
		{name: "defaults", check: func(c server.Config) bool {
			return c.Listen == server.DevListen && c.Limits.MaxFrameBytes == 64<<10 && c.Limits.AuthTimeout == 10*time.Second
		}},
		{name: "unknown yaml key", file: badYAML, err: "listn"},
		{name: "yaml misplaced key", file: yamlFile, err: "max-peers"},
		{name: "env over default", env: []string{"PARLEY_RATE=9", "PARLEY_ALLOWED_ORIGINS=https://a.example,https://b.example", "PARLEY_AUTH_TIMEOUT=3s"},
			check: func(c server.Config) bool {
				return c.Limits.RatePerSecond == 9 && len(c.AllowedOrigins) == 2 && c.Limits.AuthTimeout == 3*time.Second
			}},
		{name: "flag over env", env: []string{"PARLEY_RATE=9"}, args: []string{"--rate", "11", "--dev"},
			check: func(c server.Config) bool { return c.Limits.RatePerSecond == 11 && c.Dev }},
		{name: "unknown env", env: []string{"PARLEY_LISTN=x"}, err: "PARLEY_LISTN"},
		{name: "bad env type", env: []string{"PARLEY_RATE=fast"}, err: "rate"},
		{name: "bad duration flag", args: []string{"--auth-timeout", "soon"}, err: "auth-timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlagSet("serve", "", &strings.Builder{})
			keys := configFlags(fs)
			err := fs.Parse(tc.args)
			var cfg server.Config
			if err == nil {
				cfg, err = loadConfig(fs, keys, tc.file, tc.env)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg) {
				t.Fatalf("config = %+v", cfg)
			}
		})
	}
}

func TestYAMLFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "parley.yaml")
	_ = os.WriteFile(f, []byte("listen: 127.0.0.1:9000\ndev: true\nlimits:\n  rate: 7\n  max-peers-per-room: 3\n"), 0o600)
	fs := newFlagSet("serve", "", &strings.Builder{})
	keys := configFlags(fs)
	cfg, err := loadConfig(fs, keys, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9000" || cfg.Limits.RatePerSecond != 7 || cfg.Limits.MaxPeersPerRoom != 3 || !cfg.Dev {
		t.Fatalf("config = %+v", cfg)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*server.Config)
		err    string
	}{
		{"dev default is valid", func(c *server.Config) { c.Dev = true }, ""},
		{"no api key outside dev", func(c *server.Config) {}, "api-keys"},
		{"public without tls", func(c *server.Config) { c.Dev = true; c.Listen = "0.0.0.0:7880" }, "--insecure"},
		{"public insecure ok", func(c *server.Config) { c.Dev = true; c.Listen = ":7880"; c.Insecure = true }, ""},
		{"cert without key", func(c *server.Config) { c.Dev = true; c.TLSCert = "x.pem" }, "go together"},
		{"bad origin", func(c *server.Config) { c.Dev = true; c.AllowedOrigins = []string{"app.example"} }, "not an origin"},
		{"bad ice server", func(c *server.Config) { c.Dev = true; c.ICEServers = []string{"http://x"} }, "stun:"},
		{"bad public url", func(c *server.Config) { c.Dev = true; c.PublicURL = []string{"signal.example.com"} }, "public-url"},
		{"bad turn value", func(c *server.Config) { c.Dev = true; c.TURN.PublicIP = "x" }, "turn.public-ip: "},
		{"bad turn value, turn off", func(c *server.Config) { c.Dev = true; c.TURN.Disabled = true; c.TURN.RelayMinPort = 0 }, "turn.relay-min-port: "},
		{"zero limit", func(c *server.Config) { c.Dev = true; c.Limits.RateBurst = 0 }, "limits.rate-burst"},
		{"pong before ping", func(c *server.Config) { c.Dev = true; c.Limits.PongTimeout = time.Second }, "pong-timeout"},
		{"bad log level", func(c *server.Config) { c.Dev = true; c.LogLevel = "loud" }, "log-level"},
		{"pre-auth queue over the queue", func(c *server.Config) { c.Dev = true; c.Limits.PreAuthQueueBytes = c.Limits.QueueBytes + 1 }, "limits.preauth-queue-bytes"},
		{"pre-auth batch over 64", func(c *server.Config) { c.Dev = true; c.Limits.PreAuthMaxBatch = 65 }, "limits.preauth-max-batch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := server.DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.err)
			}
		})
	}
}
