package memstore_test

import (
	"testing"

	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/memstore"
	"github.com/parley-rtc/parley/server/signal/signaltest"
)

// TestScenarios runs the core's scenario suite on the memory store.
func TestScenarios(t *testing.T) {
	signaltest.Run(t, func(_ testing.TB, cfg signal.StoreConfig) signal.Store { return memstore.New(cfg) })
}
