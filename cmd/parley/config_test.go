package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/server"
)

// load runs serve's configuration path over file, env and args; the
// warnings it printed come back too.
func load(t *testing.T, file string, env []string, args ...string) (server.Config, string, error) {
	t.Helper()
	fs := newFlagSet("serve", "", &strings.Builder{})
	opts := configFlags(fs)
	if err := fs.Parse(args); err != nil {
		return server.Config{}, "", unknownFlag(err, fs)
	}
	var warn strings.Builder
	cfg, err := loadConfig(fs, opts, file, env, &warn)
	return cfg, warn.String(), err
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConfigLayering(t *testing.T) {
	yamlFile := writeFile(t, "parley.yaml", "listen: 127.0.0.1:9000\nrate: 7\nmax-peers: 3\nlog-level: debug\n")
	cases := []struct {
		name  string
		file  string
		env   []string
		args  []string
		check func(server.Config) bool
		err   []string // each must be in the error
	}{
		{name: "defaults", check: func(c server.Config) bool {
			return c.Listen == server.DevListen && c.Limits.MaxFrameBytes == 64<<10 && c.Limits.AuthTimeout == 10*time.Second
		}},
		{name: "yaml", file: yamlFile, check: func(c server.Config) bool {
			return c.Listen == "127.0.0.1:9000" && c.Limits.RatePerSecond == 7 && c.Limits.MaxPeersPerRoom == 3 && c.LogLevel == "debug"
		}},
		{name: "unknown yaml key", file: writeFile(t, "bad.yaml", "listn: x\n"),
			err: []string{`unknown key "listn" (did you mean listen?)`, "the valid keys are listen, metrics-listen,"}},
		{name: "a key under the old section that never was one", file: writeFile(t, "misplaced.yaml", "limits:\n  max-peers: 3\n"),
			err: []string{`unknown key "limits.max-peers" (did you mean max-peers?)`}},
		{name: "a value where a section goes", file: writeFile(t, "flat.yaml", "turn: on\n"), err: []string{`unknown key "turn"`}},
		{name: "env over file", file: yamlFile, env: []string{"PARLEY_RATE=9", "PARLEY_ALLOWED_ORIGINS=https://a.example,https://b.example", "PARLEY_AUTH_TIMEOUT=3s"},
			check: func(c server.Config) bool {
				return c.Limits.RatePerSecond == 9 && len(c.AllowedOrigins) == 2 && c.Limits.AuthTimeout == 3*time.Second && c.Limits.MaxPeersPerRoom == 3
			}},
		{name: "flag over env", env: []string{"PARLEY_RATE=9"}, args: []string{"--rate", "11", "--dev"},
			check: func(c server.Config) bool { return c.Limits.RatePerSecond == 11 && c.Dev }},
		{name: "unknown env", env: []string{"PARLEY_LISTN=x"}, err: []string{"PARLEY_LISTN (did you mean PARLEY_LISTEN?)"}},
		{name: "a typo of a TURN key", env: []string{"PARLEY_TURN_SECRT=x"}, err: []string{"PARLEY_TURN_SECRT (did you mean PARLEY_TURN_SECRET?)"}},
		{name: "unknown flag", args: []string{"--max-peer", "3"}, err: []string{"unknown flag: --max-peer (did you mean --max-peers?)"}},
		{name: "bad env type", env: []string{"PARLEY_RATE=fast"}, err: []string{"rate"}},
		{name: "bad duration flag", args: []string{"--auth-timeout", "soon"}, err: []string{"auth-timeout"}},

		// Kubernetes puts these into every pod next to Services named parley
		// and parley-turn; none is a key, and none stops the server.
		{name: "kubernetes service links", env: []string{
			"PARLEY_SERVICE_HOST=10.0.0.1", "PARLEY_SERVICE_PORT=7880", "PARLEY_SERVICE_PORT_WSS=7880",
			"PARLEY_PORT=tcp://10.0.0.1:7880", "PARLEY_PORT_7880_TCP=tcp://10.0.0.1:7880",
			"PARLEY_PORT_7880_TCP_PROTO=tcp", "PARLEY_PORT_7880_TCP_PORT=7880", "PARLEY_PORT_7880_TCP_ADDR=10.0.0.1",
			"PARLEY_TURN_SERVICE_HOST=10.0.0.2", "PARLEY_TURN_PORT=udp://10.0.0.2:3478", "PARLEY_TURN_PORT_3478_UDP_PROTO=udp",
			"PARLEY_TURN_SECRET=a-real-key-0123456789",
		}, check: func(c server.Config) bool { return len(c.TURN.Secrets) == 1 }},
		// A bare _PORT variable is a service link only with a URL for a
		// value: a typo of a key that ends there still fails.
		{name: "a port typo is no service link", env: []string{"PARLEY_TURN_RELAY_PORT=50000"},
			err: []string{"PARLEY_TURN_RELAY_PORT (did you mean PARLEY_TURN_RELAY_PORT_MIN?)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := load(t, tc.file, tc.env, tc.args...)
			if len(tc.err) > 0 {
				for _, want := range tc.err {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Fatalf("err = %v, want it to say %q", err, want)
					}
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

// TestOldKeys: a file that spells keys the old way (limits:, turn.secrets,
// turn.disabled) still loads, with one warning per key naming the new
// spelling; a file giving both spellings of one key is refused.
func TestOldKeys(t *testing.T) {
	old := writeFile(t, "old.yaml", `limits:
  rate: 7
  max-peers-per-room: 3
turn:
  secrets: [old-spelling-0123456789]
  relay-min-port: 50000
  allow-peers: [10.1.0.0/16]
  disabled: true
`)
	cfg, warn, err := load(t, old, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits.RatePerSecond != 7 || cfg.Limits.MaxPeersPerRoom != 3 || cfg.TURN.Secrets[0] != "old-spelling-0123456789" ||
		cfg.TURN.RelayMinPort != 50000 || cfg.TURN.AllowPeers[0] != "10.1.0.0/16" || !cfg.NoTURN {
		t.Fatalf("config = %+v", cfg)
	}
	for _, want := range []string{"limits.rate is now spelled rate", "limits.max-peers-per-room is now spelled max-peers",
		"turn.secrets is now spelled turn.secret", "turn.relay-min-port is now spelled turn.relay-port-min",
		"turn.allow-peers is now spelled turn.allow-peer", "turn.disabled is now spelled no-turn"} {
		if !strings.Contains(warn, want) {
			t.Errorf("no warning %q in:\n%s", want, warn)
		}
	}
	both := writeFile(t, "both.yaml", "rate: 7\nlimits:\n  rate: 8\n")
	if _, _, err := load(t, both, nil); err == nil || !strings.Contains(err.Error(), "rate and limits.rate are the same key") {
		t.Fatalf("both spellings: %v", err)
	}
}

// TestOptionTable: every option has help and a flag of its type, its flag
// is its key with dashes for dots, and no two options share a flag or a
// variable.
func TestOptionTable(t *testing.T) {
	fs := newFlagSet("serve", "", &strings.Builder{})
	opts := configFlags(fs) // define panics on a type without a flag, pflag on a flag defined twice
	envs := make(map[string]string)
	for _, o := range opts {
		if o.usage == "" {
			t.Errorf("%s has no usage tag", o.key)
		}
		if f := fs.Lookup(strings.ReplaceAll(o.key, ".", "-")); f == nil || f.Usage != o.usage {
			t.Errorf("%s: no flag --%s with its usage", o.key, strings.ReplaceAll(o.key, ".", "-"))
		}
		if prev, dup := envs[o.env()]; dup {
			t.Errorf("%s and %s are both %s", prev, o.key, o.env())
		}
		envs[o.env()] = o.key
	}
}

// TestNoKeyLooksLikeAServiceLink: no variable of a real key has the shape
// of a Kubernetes service link, whatever its value.
func TestNoKeyLooksLikeAServiceLink(t *testing.T) {
	for _, o := range configOptions() {
		if serviceLink(o.env(), "tcp://10.0.0.1:7880") {
			t.Errorf("%s (%s) has the shape of a Kubernetes service link", o.env(), o.key)
		}
	}
}

// TestTableOptionsRules: keys nest by section, squashed fields join the
// enclosing section, was gives a key's earlier name (on a section, the
// section's), and koanf:"-" fields are no option.
func TestTableOptionsRules(t *testing.T) {
	type Inner struct {
		Addr   string   `koanf:"addr" usage:"an address"`
		Peers  []string `koanf:"peer" was:"peers" usage:"repeatable"`
		Hidden int      `koanf:"-" usage:"set by the program"`
	}
	type moved struct {
		Rate float64 `koanf:"rate" usage:"once limits.rate"`
	}
	type config struct {
		Top   time.Duration `koanf:"top" usage:"a duration"`
		Off   bool          `koanf:"no-sec" was:"sec.off" usage:"switch"`
		Sec   Inner         `koanf:"sec"`
		Moved moved         `koanf:",squash" was:"limits"`
	}
	c := config{Top: time.Second, Sec: Inner{Addr: "a:1"}}
	var got []string
	for _, o := range tableOptions(&c) {
		got = append(got, o.key+"<"+o.old+">="+o.flag())
	}
	want := "top<>=top no-sec<sec.off>=no-sec sec.addr<>=sec-addr sec.peer<sec.peers>=sec-peer rate<limits.rate>=rate"
	if strings.Join(got, " ") != want {
		t.Fatalf("options %q, want %q", got, want)
	}
}

// TestConfigExample: parley config example names every key, and loading it
// gives the defaults back: it is written from them, so it cannot drift.
func TestConfigExample(t *testing.T) {
	var example strings.Builder
	writeExample(&example, configOptions())
	f := writeFile(t, "example.yaml", example.String())
	cfg, warn, err := load(t, f, nil)
	if err != nil || warn != "" {
		t.Fatalf("loading the example: %v %s\n%s", err, warn, example.String())
	}
	var again strings.Builder
	writeExample(&again, tableOptions(&cfg))
	if again.String() != example.String() {
		t.Fatalf("the example loaded and written again differs:\n%s\nfrom:\n%s", again.String(), example.String())
	}
	for _, o := range configOptions() {
		_, last, _ := strings.Cut(o.key, ".")
		if last == "" {
			last = o.key
		}
		if !strings.Contains(example.String(), "\n"+last+": ") && !strings.Contains(example.String(), "\n  "+last+": ") {
			t.Errorf("the example has no key %s", o.key)
		}
	}
}

func TestConfigCommand(t *testing.T) {
	example, _, code := parleyCmd(t, "config", "example")
	if code != 0 || !strings.Contains(example, "\nturn:\n") {
		t.Fatalf("config example: exit %d\n%s", code, example)
	}
	good := writeFile(t, "good.yaml", strings.Replace(example, "\napi-keys: []\n", "\napi-keys: [\"main:0123456789abcdef0123456789abcdef\"]\n", 1))
	out, errOut, code := parleyCmd(t, "config", "check", good)
	if code != 0 || out != good+": ok\n" {
		t.Fatalf("config check of the example with a key: exit %d\n%s%s", code, out, errOut)
	}
	bad := writeFile(t, "bad.yaml", "listen: 0.0.0.0:443\nmax-peers: 0\nturn:\n  public-ip: nonsense\n")
	_, errOut, code = parleyCmd(t, "config", "check", bad)
	for _, want := range []string{"listen: 0.0.0.0:443 is not a loopback address", "max-peers: must be positive", "turn.public-ip: ", "api-keys: no API key"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("config check of a bad file: exit %d, want 1 and %q in:\n%s", code, want, errOut)
		}
	}
	// Flags and the file together, as serve reads them.
	if out, errOut, code := parleyCmd(t, "config", "check", bad, "--listen", "127.0.0.1:0", "--max-peers", "4", "--turn-public-ip", "198.51.100.1", "--dev"); code != 0 {
		t.Fatalf("config check with flags that fix it: exit %d\n%s%s", code, out, errOut)
	}
}

// TestServeBesideAServiceNamedParley: the command line, which
// stopped at "unknown environment variables", starts.
func TestServeBesideAServiceNamedParley(t *testing.T) {
	p := startParley(t, []string{"PARLEY_SERVICE_HOST=10.0.0.1", "PARLEY_PORT=tcp://10.0.0.1:7880"}, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	if p.Addr == "" {
		t.Fatal("no address")
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
		{"bad turn value, turn off", func(c *server.Config) { c.Dev = true; c.NoTURN = true; c.TURN.RelayMinPort = 0 }, "turn.relay-port-min: "},
		{"zero limit", func(c *server.Config) { c.Dev = true; c.Limits.RateBurst = 0 }, "rate-burst: "},
		{"pong before ping", func(c *server.Config) { c.Dev = true; c.Limits.PongTimeout = time.Second }, "pong-timeout"},
		{"bad log level", func(c *server.Config) { c.Dev = true; c.LogLevel = "loud" }, "log-level"},
		{"pre-auth queue over the queue", func(c *server.Config) { c.Dev = true; c.Limits.PreAuthQueueBytes = c.Limits.QueueBytes + 1 }, "preauth-queue-bytes"},
		{"pre-auth batch over 64", func(c *server.Config) { c.Dev = true; c.Limits.PreAuthMaxBatch = 65 }, "preauth-max-batch"},
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

// TestValidateNamesKeys: a zero or negative number that Validate refuses
// is refused under its own key, so the keys Validate names are the table's.
func TestValidateNamesKeys(t *testing.T) {
	for _, o := range configOptions() {
		for _, bad := range []int64{0, -1} {
			c := server.DefaultConfig()
			c.Dev = true
			field := fieldOf(&c, o.key)
			switch field.Interface().(type) {
			case int, int64, time.Duration:
				field.SetInt(bad)
			case float64:
				field.SetFloat(float64(bad))
			default:
				continue
			}
			err := c.Validate()
			if err != nil && !strings.Contains("\n"+err.Error(), "\n"+o.key+": ") {
				t.Errorf("%s = %d: the error names another key:\n%v", o.key, bad, err)
			}
		}
	}
}

// fieldOf is the field of c behind key, found through the table.
func fieldOf(c *server.Config, key string) reflect.Value {
	for _, o := range tableOptions(c) {
		if o.key == key {
			return o.value
		}
	}
	panic("no key " + key)
}
