package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/parley-rtc/parley/internal/testkit/redisproc"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/redisstore"
	"github.com/parley-rtc/parley/server/signal/signaltest"
)

// prefixes numbers the stores of a test process: each has its own keys.
var prefixes atomic.Int64

// newStores makes stores on one redis-server, each with its own keys.
func newStores(t *testing.T) signaltest.NewStore {
	srv := redisproc.Start(t)
	return func(t testing.TB, cfg signal.StoreConfig) signal.Store {
		return open(t, srv, fmt.Sprintf("t%d:", prefixes.Add(1)), cfg)
	}
}

// open makes a store (a node) on srv's keys under prefix.
func open(t testing.TB, srv *redisproc.Server, prefix string, cfg signal.StoreConfig) *redisstore.Store {
	t.Helper()
	opts, err := redisstore.ParseURL(srv.URL(0), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := redisstore.New(context.Background(), redisstore.Config{StoreConfig: cfg, Redis: opts, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestScenarios runs the core's scenario suite on the Redis store.
func TestScenarios(t *testing.T) {
	signaltest.Run(t, newStores(t))
}
