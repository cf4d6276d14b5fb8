package main

import (
	"strings"
	"testing"
	"time"
)

// TestTableOptionsRules: keys nest by section, squashed fields join the
// enclosing section, a section's flag tag prefixes its fields' flags, a
// field's flag tag replaces its key's last part, and a field without usage
// is no option.
func TestTableOptionsRules(t *testing.T) {
	type Inner struct {
		Addr   string   `koanf:"addr" usage:"an address"`
		Peers  []string `koanf:"peers" flag:"peer" usage:"repeatable"`
		Hidden int      `koanf:"-" usage:"set by the program"`
	}
	type section struct {
		Off   bool `koanf:"off" flag:"no-section" usage:"switch"`
		Inner `koanf:",squash" flag:"sec-"`
	}
	type config struct {
		Top     time.Duration `koanf:"top" usage:"a duration"`
		Untuned int           `koanf:"untuned"`
		Sec     section       `koanf:"sec"`
	}
	c := config{Top: time.Second, Sec: section{Inner: Inner{Addr: "a:1"}}}
	var got []string
	for _, o := range tableOptions(&c) {
		got = append(got, o.key+"="+o.flag)
	}
	want := "top=top sec.off=no-section sec.addr=sec-addr sec.peers=sec-peer"
	if strings.Join(got, " ") != want {
		t.Fatalf("options %q, want %q", got, want)
	}
}
