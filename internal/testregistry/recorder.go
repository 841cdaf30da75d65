package testregistry

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
)

// Recorder is a discovery subscription's target standing in for an
// upstream cluster: it keeps every endpoint set it is given, and when.
// Its waits are bounded by the timeout given to NewRecorder.
type Recorder struct {
	timeout time.Duration
	ch      chan struct{} // signalled (coalesced) after each Update

	mu   sync.Mutex
	sets []gateway.EndpointSet
	at   []time.Time
}

// NewRecorder returns an empty Recorder whose waits fail the test after
// timeout.
func NewRecorder(timeout time.Duration) *Recorder {
	return &Recorder{timeout: timeout, ch: make(chan struct{}, 1)}
}

// Update records set (the subscription's Target).
func (r *Recorder) Update(set gateway.EndpointSet) {
	r.mu.Lock()
	r.sets, r.at = append(r.sets, set), append(r.at, time.Now())
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// Last returns the latest set, when it arrived, and how many sets arrived
// so far (0: none yet, and a zero set).
func (r *Recorder) Last() (gateway.EndpointSet, time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.sets)
	if n == 0 {
		return gateway.EndpointSet{}, time.Time{}, 0
	}
	return r.sets[n-1], r.at[n-1], n
}

// WaitUntil waits until the latest set satisfies ok and returns it with
// when it arrived. After the timeout it fails t with what, the number of
// updates and the latest set's addresses.
func (r *Recorder) WaitUntil(t testing.TB, what string, ok func(gateway.EndpointSet) bool) (gateway.EndpointSet, time.Time) {
	t.Helper()
	deadline := time.NewTimer(r.timeout)
	defer deadline.Stop()
	for {
		if set, at, n := r.Last(); n > 0 && ok(set) {
			return set, at
		}
		select {
		case <-r.ch:
		case <-deadline.C:
			set, _, n := r.Last()
			t.Fatalf("%s: not reached within %v (%d updates, last %q)", what, r.timeout, n, Addrs(set))
		}
	}
}

// WaitFor waits until the latest set's addresses (Addrs) are want and
// returns it with when it arrived.
func (r *Recorder) WaitFor(t testing.TB, want string) (gateway.EndpointSet, time.Time) {
	t.Helper()
	return r.WaitUntil(t, "endpoints should become "+strconv.Quote(want), func(set gateway.EndpointSet) bool { return Addrs(set) == want })
}

// SawEmpty reports whether an empty set was ever delivered.
func (r *Recorder) SawEmpty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sets {
		if len(s.Endpoints) == 0 {
			return true
		}
	}
	return false
}

// Addrs lists a set's endpoints in order as "GROUP/ADDR,GROUP/ADDR".
func Addrs(set gateway.EndpointSet) string {
	out := make([]string, 0, len(set.Endpoints))
	for _, ep := range set.Endpoints {
		out = append(out, ep.Group+"/"+ep.Addr)
	}
	return strings.Join(out, ",")
}
