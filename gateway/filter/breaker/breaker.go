// Package breaker is the circuit breaker filter: when the calls through
// its chain keep failing (consecutive failures, or an error rate over a
// sliding window), it opens and answers UNAVAILABLE at once instead of
// sending more calls to a sick upstream; after a pause it lets a few probe
// calls through (half-open) and closes again when they succeed.
//
// Put in a cluster's chain (filters.clusters.NAME) it guards the cluster
// for every route; in a route's chain, that route only.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func init() { gateway.RegisterFilter("breaker", New) }

// Options configure a breaker (docs/filters.md).
type Options struct {
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row (default 5; 0 turns the rule off).
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// ErrorRate opens the breaker when the failed fraction of the calls in
	// Window reaches it (default 0.5; 0 turns the rule off) ...
	ErrorRate float64 `yaml:"error_rate"`
	// ... once Window holds at least MinRequests calls (default 20).
	MinRequests int `yaml:"min_requests"`
	// Window is the sliding window of the error rate (default 10s).
	Window time.Duration `yaml:"window"`
	// OpenFor is how long the breaker stays open before probing (default
	// 5s); it doubles each time a probe fails, up to MaxOpenFor (default
	// 60s).
	OpenFor    time.Duration `yaml:"open_for"`
	MaxOpenFor time.Duration `yaml:"max_open_for"`
	// Probes is how many calls may be in flight while half-open (default 1).
	Probes int `yaml:"probes"`
}

// State is a breaker's state.
type State int

// Breaker states.
const (
	Closed State = iota
	Open
	HalfOpen
)

func (s State) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

const buckets = 10

// probesTaken is openUntilNs while half-open with every probe slot
// taken: the breaker refuses calls until a probe ends.
const probesTaken = math.MaxInt64

// Breaker is the filter. Its state is guarded by one mutex held for a few
// arithmetic operations per call.
type Breaker struct {
	o     Options
	scope string
	now   func() time.Time // injectable for tests

	// openUntilNs mirrors the state for Healthy, read on every pick of
	// the endpoint: 0 while closed or half-open with a probe slot free,
	// probesTaken while half-open with every slot taken, else the unix
	// nanosecond the open state ends.
	openUntilNs atomic.Int64

	mu          sync.Mutex
	state       State
	consecutive int
	openUntil   time.Time
	openFor     time.Duration
	probes      int    // calls in flight while half-open
	reason      string // why it last opened
	// The error-rate window: buckets of Window/buckets, ring-indexed by
	// time; each holds calls and failures.
	calls, fails [buckets]int
	stamp        [buckets]int64 // bucket epoch each slot holds
}

// New builds a breaker from its spec.
func New(spec gateway.FilterSpec) (gateway.Filter, error) {
	o := Options{ConsecutiveFailures: 5, ErrorRate: 0.5, MinRequests: 20, Window: 10 * time.Second,
		OpenFor: 5 * time.Second, MaxOpenFor: time.Minute, Probes: 1}
	if spec.Decode != nil {
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
	}
	switch {
	case o.ConsecutiveFailures < 0:
		return nil, errors.New("consecutive_failures must not be negative")
	case o.ErrorRate < 0 || o.ErrorRate > 1:
		return nil, fmt.Errorf("error_rate must be between 0 and 1, got %v", o.ErrorRate)
	case o.ConsecutiveFailures == 0 && o.ErrorRate == 0:
		return nil, errors.New("consecutive_failures and error_rate are both off: the breaker would never open")
	case o.MinRequests < 1:
		return nil, errors.New("min_requests must be at least 1")
	case o.Window < buckets*time.Millisecond:
		return nil, fmt.Errorf("window must be at least %v, got %v", buckets*time.Millisecond, o.Window)
	case o.OpenFor <= 0 || o.MaxOpenFor < o.OpenFor:
		return nil, fmt.Errorf("open_for must be positive and at most max_open_for (%v, %v)", o.OpenFor, o.MaxOpenFor)
	case o.Probes < 1:
		return nil, errors.New("probes must be at least 1")
	}
	return &Breaker{o: o, scope: spec.ScopeName(), now: time.Now, openFor: o.OpenFor}, nil
}

// Filter implements gateway.Filter.
func (b *Breaker) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	probe, err := b.admit()
	if err != nil {
		return err
	}
	err = next.Invoke(ctx, call, reply)
	b.record(probe, failure(ctx, err))
	return err
}

// admit lets a call through or returns the open-circuit error.
func (b *Breaker) admit() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		return false, nil
	case Open:
		now := b.now()
		if now.Before(b.openUntil) {
			return false, b.openError(b.openUntil.Sub(now))
		}
		b.state, b.probes = HalfOpen, 0
		b.openUntilNs.Store(0)
	}
	if b.probes >= b.o.Probes {
		return false, b.openError(0)
	}
	b.probes++
	if b.probes >= b.o.Probes {
		b.openUntilNs.Store(probesTaken)
	}
	return true, nil
}

func (b *Breaker) openError(retryIn time.Duration) error {
	msg := "circuit open for " + b.scope + " (" + b.reason + ")"
	if retryIn > 0 {
		msg += "; next probe in " + retryIn.Round(time.Millisecond).String()
	} else {
		msg += "; probing"
	}
	return &translate.Error{Code: translate.Unavailable, Message: msg}
}

// record accounts a finished call.
func (b *Breaker) record(probe, failed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probes--
		if b.state != HalfOpen {
			return // the breaker moved on while the probe ran
		}
		if failed {
			b.openFor = min(2*b.openFor, b.o.MaxOpenFor)
			b.open("probe failed")
			return
		}
		b.state, b.consecutive, b.openFor = Closed, 0, b.o.OpenFor
		b.openUntilNs.Store(0)
		clear(b.calls[:])
		clear(b.fails[:])
		return
	}
	if b.state != Closed {
		return
	}
	now := b.now()
	epoch := now.UnixNano() / int64(b.o.Window/buckets)
	i := int(epoch % buckets)
	if b.stamp[i] != epoch {
		b.stamp[i], b.calls[i], b.fails[i] = epoch, 0, 0
	}
	b.calls[i]++
	if !failed {
		b.consecutive = 0
		return
	}
	b.fails[i]++
	b.consecutive++
	if n := b.o.ConsecutiveFailures; n > 0 && b.consecutive >= n {
		b.open(strconv.Itoa(b.consecutive) + " consecutive failures")
		return
	}
	if b.o.ErrorRate > 0 {
		calls, fails := 0, 0
		for j := range buckets {
			if epoch-b.stamp[j] < buckets {
				calls += b.calls[j]
				fails += b.fails[j]
			}
		}
		if calls >= b.o.MinRequests && float64(fails) >= b.o.ErrorRate*float64(calls) {
			b.open(fmt.Sprintf("%d of %d calls failed in %v", fails, calls, b.o.Window))
		}
	}
}

// open opens the breaker; b.mu is held.
func (b *Breaker) open(reason string) {
	b.state, b.reason, b.consecutive = Open, reason, 0
	b.openUntil = b.now().Add(b.openFor)
	b.openUntilNs.Store(b.openUntil.UnixNano())
}

// Healthy implements gateway.HealthReporter: false while the breaker
// would refuse a call (open and its pause has not ended, or half-open
// with every probe in flight), so that a cluster picks another endpoint
// instead of having this one refuse the call. True once the pause ended:
// the next call is a probe. One atomic load while closed.
func (b *Breaker) Healthy() bool {
	u := b.openUntilNs.Load()
	return u == 0 || b.now().UnixNano() >= u
}

// FilterState implements gateway.StateReporter: "closed", "half-open",
// or "open (REASON)".
func (b *Breaker) FilterState() (name, state string) {
	st, reason := b.State()
	if st == Open {
		return "breaker", "open (" + reason + ")"
	}
	return "breaker", st.String()
}

// State returns the breaker's state and why it last opened.
func (b *Breaker) State() (State, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && !b.now().Before(b.openUntil) {
		return HalfOpen, b.reason
	}
	return b.state, b.reason
}

// failure reports whether err says the upstream side is unhealthy: it was
// unreachable, timed out, overloaded or failed internally. Errors that
// blame the caller (bad arguments, not found), business exceptions
// (Motan2 errtype 2: the service answered) and calls the caller cancelled
// do not count.
func failure(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() == context.Canceled {
		return false
	}
	e := translate.FromError(err)
	if e.Upstream && e.UpstreamErrType == motan2.ErrTypeBiz {
		return false // a business exception: the service worked
	}
	switch e.Code {
	case translate.Unavailable, translate.DeadlineExceeded, translate.Internal, translate.Unknown,
		translate.ResourceExhausted, translate.DataLoss:
		return true
	}
	return false
}
