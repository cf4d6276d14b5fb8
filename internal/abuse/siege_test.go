package abuse

import (
	"context"
	"sync"
	"testing"
	"time"
)

// siege measures one attack: the target's usage and a legitimate session's
// latency before it, while it holds, and once it is over.
type siege struct {
	tg       *target
	probe    *probe
	baseline time.Duration
	before   usage
}

// siege connects the probe and takes the baseline.
func (tg *target) siege(t *testing.T) *siege {
	t.Helper()
	p := tg.probe(t)
	p.latency(t, 20) // warm up
	return &siege{tg: tg, probe: p, baseline: p.latency(t, 51), before: tg.usage(t)}
}

// during checks the probe's latency while the attack holds and returns the
// target's usage then.
func (s *siege) during(t *testing.T) usage {
	t.Helper()
	checkLatency(t, "during the attack", s.baseline, s.probe.latency(t, 21))
	u := s.tg.usage(t)
	t.Logf("usage before the attack: %v; during: %v", s.before, u)
	return u
}

// hold runs attack on n goroutines for d, each until its context ends,
// checks the probe halfway (during) and returns the usage then.
func (s *siege) hold(t *testing.T, n int, d time.Duration, attack func(ctx context.Context, i int)) usage {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { attack(ctx, i) })
	}
	time.Sleep(d / 2)
	u := s.during(t)
	time.Sleep(d / 2)
	stop()
	wg.Wait()
	return u
}

// after checks the probe's latency once the attack is over.
func (s *siege) after(t *testing.T) usage {
	t.Helper()
	checkLatency(t, "after the attack", s.baseline, s.probe.latency(t, 21))
	u := s.tg.usage(t)
	t.Logf("usage after the attack: %v", u)
	return u
}

// bounded fails when u grew over the usage before the attack by more than
// rssMiB or goroutines.
func (s *siege) bounded(t *testing.T, u usage, rssMiB float64, goroutines int) {
	t.Helper()
	if grew := u.rssMiB - s.before.rssMiB; grew > rssMiB {
		t.Errorf("RSS grew by %.1f MiB (%v → %v), over the %.0f MiB allowed", grew, s.before, u, rssMiB)
	}
	if grew := u.goroutines - s.before.goroutines; grew > goroutines {
		t.Errorf("goroutines grew by %d (%v → %v), over the %d allowed", grew, s.before, u, goroutines)
	}
}

// settle waits until the target's RSS stops moving (two scrapes 200 ms
// apart within 1 MiB), for at most limit: the attack's frames are handled.
func (tg *target) settle(t *testing.T, limit time.Duration) usage {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := tg.usage(t)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		u := tg.usage(t)
		if d := u.rssMiB - last.rssMiB; d < 1 && d > -1 {
			return u
		}
		last = u
	}
	return last
}
