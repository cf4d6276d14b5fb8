package parley

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sourcegraph/jsonrpc2"
)

// closeResumeElsewhere is the close code of a node that hands its sessions
// to the rest of its cluster (draining, or reaped): resume on another node
// now.
const closeResumeElsewhere = 4307

// avoidFor is how long the client keeps away from a node that told it to
// resume elsewhere or refused it as draining: long enough for a drain,
// short enough that a node restarted after an upgrade gets clients again.
const avoidFor = 30 * time.Second

// URLPick is what Options.PickURL knows when it chooses the URL of the next
// connection attempt.
type URLPick struct {
	// Attempt counts the attempts since the connection dropped, from 0.
	Attempt int
	// Last is the URL of the connection that dropped, or of the attempt
	// that just failed.
	Last string
	// Avoid are URLs whose nodes are leaving: they told this client to
	// resume elsewhere (session.draining with resumeElsewhere, close code
	// 4307) or refused it as draining (503) in the last 30 seconds. Pick
	// another if there is one.
	Avoid []string
}

// urlRing is the default picker: it rotates over the client's URLs,
// passing over those it avoids unless it avoids them all.
type urlRing struct {
	mu    sync.Mutex
	urls  []string
	at    int                  // the current URL's index
	avoid map[string]time.Time // URL → until when
}

// newURLRing starts at first, followed by the others of more (first may
// be among them, or empty to start at more[0]).
func newURLRing(first string, more []string) *urlRing {
	var urls []string
	if first != "" {
		urls = append(urls, first)
	}
	for _, u := range more {
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	return &urlRing{urls: urls, avoid: map[string]time.Time{}}
}

// current is the URL the client is connected to, or trying.
func (r *urlRing) current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.urls[r.at]
}

// next moves on to the next URL not avoided (the next at all when every
// one is) and returns it.
func (r *urlRing) next(now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 1; i <= len(r.urls); i++ {
		j := (r.at + i) % len(r.urls)
		if !now.Before(r.avoid[r.urls[j]]) {
			r.at = j
			return r.urls[j]
		}
	}
	r.at = (r.at + 1) % len(r.urls)
	return r.urls[r.at]
}

// shun avoids url for avoidFor.
func (r *urlRing) shun(url string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.avoid[url] = now.Add(avoidFor)
}

// avoided lists the URLs avoided at now, forgetting those whose time is up.
func (r *urlRing) avoided(now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for u, until := range r.avoid {
		if now.Before(until) {
			out = append(out, u)
		} else {
			delete(r.avoid, u)
		}
	}
	slices.Sort(out)
	return out
}

// several reports whether the client has somewhere else to go: more than
// one URL, or a picker.
func (c *Client) several() bool {
	return c.opts.PickURL != nil || len(c.urls.urls) > 1
}

// pick chooses the URL of reconnect attempt n: the picker's, or the ring's
// next.
func (c *Client) pick(ctx context.Context, attempt int) (string, error) {
	now := time.Now()
	if c.opts.PickURL == nil {
		return c.urls.next(now), nil
	}
	url, err := c.opts.PickURL(ctx, URLPick{Attempt: attempt, Last: c.URL(), Avoid: c.urls.avoided(now)})
	if err != nil {
		return "", err
	}
	return url, nil
}

// closeCodeStream is the WebSocket stream of a connection, remembering the
// close code the server ended it with.
type closeCodeStream struct {
	jsonrpc2.ObjectStream
	code atomic.Int32
}

func (s *closeCodeStream) ReadObject(v any) error {
	err := s.ObjectStream.ReadObject(v)
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		s.code.Store(int32(ce.Code))
	}
	return err
}
