package serial

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestOrderAndNoBlocking: pushes from several goroutines while the handler
// is stuck never block, and every item is handled once, one at a time, in
// the order each producer pushed.
func TestOrderAndNoBlocking(t *testing.T) {
	var q Queue[[2]int]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	got := make(chan [2]int, 4000)
	var running, overlap bool
	var mu sync.Mutex
	go q.Run(ctx, func(item [2]int) {
		mu.Lock()
		if running {
			overlap = true
		}
		running = true
		mu.Unlock()
		<-release
		mu.Lock()
		running = false
		mu.Unlock()
		got <- item
	})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				q.Push([2]int{p, i})
			}
		})
	}
	pushed := make(chan struct{})
	go func() { wg.Wait(); close(pushed) }()
	select {
	case <-pushed: // the handler has not returned once: Push did not wait for it
	case <-time.After(10 * time.Second):
		t.Fatal("Push blocked while the handler ran")
	}
	close(release)
	next := [4]int{}
	for range 4000 {
		select {
		case item := <-got:
			if item[1] != next[item[0]] {
				t.Fatalf("producer %d: item %d handled before %d", item[0], item[1], next[item[0]])
			}
			next[item[0]]++
		case <-time.After(10 * time.Second):
			t.Fatalf("handled %v of 1000 each", next)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("two items handled at once")
	}
}

// TestRunStops: Run returns when its context ends, even with items queued.
func TestRunStops(t *testing.T) {
	var q Queue[int]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	block := make(chan struct{})
	go func() {
		q.Run(ctx, func(int) { <-block })
		close(done)
	}()
	q.Push(1)
	q.Push(2)
	cancel()
	close(block)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
