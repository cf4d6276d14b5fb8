package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-rtc/parley/server"
)

const serveSynopsis = `Runs the signaling server: WebSocket JSON-RPC at /rpc, POST /rpc,
/openrpc.json, /v1/turn-credentials, /metrics, /healthz and /readyz; and,
with --dev or a --turn-secret, the co-hosted STUN/TURN server on
--turn-listen. Every flag can also be set as PARLEY_<FLAG> in the
environment (PARLEY_TLS_CERT for --tls-cert) or in a YAML file (--config);
flags win over the environment, which wins over the file. SIGTERM or Ctrl-C
drains: /readyz turns 503, new sessions and TURN allocations are refused,
connected sessions get session.draining and keep working until
--drain-timeout (or until none is left), then the server exits; a second
signal exits at once.`

// printPages prints the pages' URLs, so 'make run' shows where to click.
func printPages(w io.Writer, wsScheme, addr string, cfg server.Config) {
	base := "http://" + addr
	if wsScheme == "wss" {
		base = "https://" + addr
	}
	if cfg.Dev {
		fmt.Fprintf(w, "  demo       %s/demo/  (open it in two tabs)\n", base)
	}
	fmt.Fprintf(w, "  inspector  %s/inspector/\n", base)
	if cfg.MetricsListen == "" {
		fmt.Fprintf(w, "  metrics    %s/metrics\n", base)
	}
}

func runServe(args, environ []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSynopsis, stderr)
	configFile := fs.String("config", "", "YAML configuration file (or PARLEY_CONFIG)")
	opts := configFlags(fs)
	if err := fs.Parse(args); err != nil {
		return unknownFlag(err, fs)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	cfg, err := loadConfig(fs, opts, configPath(*configFile), environ, stderr)
	if err != nil {
		return err
	}
	cfg.Version = buildVersion()
	log, err := server.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	devKey := ""
	if cfg.Dev && len(cfg.APIKeys) == 0 {
		devKey = "dev:" + server.NewSecret()
		cfg.APIKeys = []string{devKey}
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	if devKey != "" { // printed once the configuration is known to be good
		fmt.Fprintf(stdout, "dev mode: throw-away API key %s\n  mint a token: parley token --key %s --identity alice --room demo\n", devKey, devKey)
	}
	if err := srv.StartTURN(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "ws"
	if cfg.TLSCert != "" || len(cfg.ACME.Domains) > 0 {
		scheme = "wss"
	}
	fmt.Fprintf(stdout, "parley %s listening on %s://%s/rpc\n", buildVersion(), scheme, ln.Addr())
	if t := srv.TURN(); t != nil {
		a := t.Addrs()
		fmt.Fprintf(stdout, "STUN/TURN on udp %s, tcp %s", a.UDP, a.TCP)
		if a.TLS.IsValid() {
			fmt.Fprintf(stdout, ", tls %s", a.TLS)
		}
		fmt.Fprintln(stdout)
	}
	if cfg.MetricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		addr, stop, err := serveAside("metrics", cfg.MetricsListen, srv.HTTPServer(mux))
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", addr)
	}
	if cfg.ACME.HTTPListen != "" {
		addr, stop, err := serveAside("acme http", cfg.ACME.HTTPListen, srv.HTTPServer(srv.ACMEHTTPHandler()))
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "ACME HTTP-01 on http://%s/.well-known/acme-challenge/\n", addr)
	}
	printPages(stdout, scheme, ln.Addr().String(), cfg)
	log.Info("listening", "addr", ln.Addr().String(), "dev", cfg.Dev, "tls", scheme == "wss")

	// The first SIGTERM or Ctrl-C drains (see server.Drain); a second one
	// shuts down at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	reloadOnHangup(ctx, srv, log)
	go func() {
		select {
		case <-signals:
		case <-ctx.Done():
			return
		}
		log.Info("draining; a second signal stops at once", "timeout", cfg.DrainTimeout.String())
		srv.Drain(cfg.DrainTimeout)
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// serveAside runs hs on its own address beside the main listener (the
// metrics, the ACME HTTP-01 port); stop closes it.
func serveAside(what, listen string, hs *http.Server) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("%s listen: %w", what, err)
	}
	go func() { _ = hs.Serve(ln) }()
	return ln.Addr(), func() { _ = hs.Close() }, nil
}

// reloadOnHangup reads the certificate files again on each SIGHUP (systemd's
// ExecReload) until ctx is done; without them it says there is nothing to
// reload. SIGHUP never stops the server.
func reloadOnHangup(ctx context.Context, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				if err := srv.ReloadCertificate(); err != nil {
					log.Warn("SIGHUP: certificate not reloaded", "err", err)
					continue
				}
				log.Info("SIGHUP: certificate reloaded")
			case <-ctx.Done():
				return
			}
		}
	}()
}
