//go:build profile

package main

// Built with -tags profile, the binary serves net/http/pprof on the
// loopback address in $PPROF_LISTEN: profiles of a real server under a
// real load (see cmd/parley-load). Never in a release build.

import (
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strings"
)

func init() {
	addr := os.Getenv("PPROF_LISTEN")
	if addr == "" {
		return
	}
	if !strings.HasPrefix(addr, "127.") {
		log.Fatalf("PPROF_LISTEN must be a loopback address, got %q", addr)
	}
	go func() { log.Println(http.ListenAndServe(addr, nil)) }()
}
