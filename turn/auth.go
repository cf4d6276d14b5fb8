package turn

import (
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// maxRotated bounds the username → secret cache (see authenticator).
const maxRotated = 10_000

// authenticator replaces pion's auth handler. pion's default would check
// every request against a fixed key; ours derives the key from the TURN REST
// username and checks the expiry on Allocate only, so the relay of a call
// that outlives its credential keeps working (Refresh, CreatePermission and
// ChannelBind still need a correctly signed request on the allocation's own
// 5-tuple, so an expired credential cannot start anything new).
//
// pion's AuthHandler sees the username but not the message, so with several
// secrets it cannot tell which one signed a request. The guard, which sees
// the message first, verifies it and records which secret matched when it
// was not the first; handle reads that record. Only correctly signed
// requests write it, and it is bounded (cleared when full: a cleared entry
// costs that client one 401 and a retry).
type authenticator struct {
	creds  *Credentials
	realm  string
	stats  *counters
	record *record
	now    func() time.Time

	mu      sync.Mutex
	rotated map[string]int
}

// handle is the pion AuthHandler: the user ID it returns is the identity,
// which is what quotas and allocation ownership are keyed on.
func (a *authenticator) handle(ra *pionturn.RequestAttributes) (userID string, key []byte, ok bool) {
	expires, identity, err := ParseUsername(ra.Username)
	switch {
	case err != nil:
		a.stats.authFailures.Add(1)
		return "", nil, false
	case ra.Realm != a.realm:
		a.stats.authFailures.Add(1)
		a.record.add(identity, EventAuthWrong, netip.AddrPort{})
		return "", nil, false
	case ra.Method == stun.MethodAllocate && !a.now().Before(expires):
		a.stats.authFailures.Add(1)
		a.record.add(identity, EventAuthExpired, netip.AddrPort{})
		return "", nil, false
	}
	a.mu.Lock()
	i := a.rotated[ra.Username]
	a.mu.Unlock()
	return identity, a.key(i, ra.Username), true
}

// verify checks m's MESSAGE-INTEGRITY against every secret and returns the
// key that matches. It ignores expiry, like handle for non-Allocate methods.
func (a *authenticator) verify(m *stun.Message) ([]byte, bool) {
	var user stun.Username
	var realm stun.Realm
	if user.GetFrom(m) != nil || realm.GetFrom(m) != nil || realm.String() != a.realm {
		return nil, false
	}
	username := user.String()
	if _, _, err := ParseUsername(username); err != nil {
		return nil, false
	}
	for i := range a.creds.secrets {
		key := a.key(i, username)
		if stun.MessageIntegrity(key).Check(m) != nil {
			continue
		}
		if i > 0 {
			a.mu.Lock()
			if len(a.rotated) >= maxRotated {
				clear(a.rotated)
			}
			a.rotated[username] = i
			a.mu.Unlock()
		}
		return key, true
	}
	return nil, false
}

// key is the long-term credential key, MD5(username:realm:password).
func (a *authenticator) key(i int, username string) []byte {
	return pionturn.GenerateAuthKey(username, a.realm, a.creds.password(i, username))
}
