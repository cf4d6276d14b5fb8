package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/parley-rtc/parley/server"
)

const healthSynopsis = `Asks the server that this configuration describes (the same file,
PARLEY_* variables and flags as serve) for GET /healthz on its listen
address, and exits 0 when it answers 200: a container's HEALTHCHECK, where
there is no curl. Its certificate is not checked: the server asked is this
host's own. --url asks another address.`

func runHealth(args, environ []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("health", healthSynopsis, stderr)
	configFile := fs.String("config", "", "YAML configuration file (or PARLEY_CONFIG)")
	target := fs.String("url", "", "ask this URL instead, e.g. http://127.0.0.1:7880/healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	opts := configFlags(fs)
	if err := fs.Parse(args); err != nil {
		return unknownFlag(err, fs)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("health takes no arguments, got %q", fs.Args())
	}
	tlsConfig := &tls.Config{InsecureSkipVerify: true} // this host's own server; see healthSynopsis
	if *target == "" {
		cfg, err := loadConfig(fs, opts, configPath(*configFile), environ, stderr)
		if err != nil {
			return err
		}
		if *target, err = healthURL(cfg); err != nil {
			return err
		}
		if len(cfg.ACME.Domains) > 0 {
			tlsConfig.ServerName = cfg.ACME.Domains[0]
		}
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	res, err := client.Get(*target)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s", *target, res.Status)
	}
	fmt.Fprintf(stdout, "ok: %s\n", *target)
	return nil
}

// healthURL is /healthz on cfg's listen address, over TLS when it has a
// certificate; a wildcard address is asked on loopback.
func healthURL(cfg server.Config) (string, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("health: listen address: %w", err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if err == nil && ip.Is6() {
			host = "::1"
		}
	}
	scheme := "http"
	if cfg.TLSCert != "" || len(cfg.ACME.Domains) > 0 {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz", nil
}
