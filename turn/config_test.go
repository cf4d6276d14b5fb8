package turn

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
)

// TestValidate: every bad value is reported at once, each under its key,
// and no error names a command-line flag.
func TestValidate(t *testing.T) {
	good := DefaultConfig()
	if err := good.Validate(); err != nil {
		t.Fatalf("the defaults (without a secret): %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"listen", func(c *Config) { c.Listen = "localhost:3478" }, []string{"listen: "}},
		{"wildcard without public-ip", func(c *Config) { c.Listen = "0.0.0.0:3478" }, []string{"public-ip: "}},
		{"families", func(c *Config) { c.PublicIP = "2001:db8::1" }, []string{"public-ip: "}},
		{"tls-listen without a certificate", func(c *Config) { c.TLSListen = "127.0.0.1:5349" }, []string{"tls-listen: needs a TLS certificate"}},
		{"tls-listen", func(c *Config) { c.TLSListen, c.TLS = "127.0.0.1", &tls.Config{} }, []string{"tls-listen: "}},
		{"alt-address", func(c *Config) { c.Alternate = "203.0.113.11" }, []string{"alt-address: "}},
		{"loopback peers beyond loopback", func(c *Config) { c.LoopbackPeers, c.Alternate = true, "203.0.113.11:3479" }, []string{"listen: relays may reach loopback peers only"}},
		{"secrets", func(c *Config) { c.Secrets = []string{"short"} }, []string{"secret: secret 1 is 5 bytes"}},
		{"peers", func(c *Config) { c.AllowPeers, c.DenyPeers = []string{"intranet"}, []string{"10.0.0.0/40"} }, []string{"allow-peer: ", "deny-peer: "}},
		{"everything at once", func(c *Config) {
			c.Realm, c.CredentialTTL, c.MaxAllocations, c.MaxAllocationsPerIdentity = "", 0, 0, -1
			c.MaxPermissionsPerAllocation, c.MaxStreamsPerIP, c.BandwidthBitsPerSecond, c.MaxAllocationLifetime = 0, 0, -1, -1
			c.RelayMinPort = 0
		}, []string{"realm: ", "credential-ttl: ", "max-allocations: ", "max-allocations-per-identity: ", "max-permissions: ",
			"max-streams-per-ip: ", "bandwidth: ", "max-allocation-lifetime: ", "relay-port-min: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "--") || strings.Contains(err.Error(), "turn-") {
				t.Errorf("Validate = %v names a flag", err)
			}
		})
	}
}

// TestConfigTags: every configured field has a key and help, every other
// one is marked as the program's to set, so a program deriving its flags
// and keys from the tags misses none.
func TestConfigTags(t *testing.T) {
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := f.Tag.Get("koanf")
		switch {
		case key == "":
			t.Errorf("%s has no koanf tag", f.Name)
		case key != "-" && f.Tag.Get("usage") == "":
			t.Errorf("%s (%s) has no usage tag", f.Name, key)
		}
	}
}
