// Package concurrency is the concurrency filter: it caps the calls in
// flight through its chain, in total (`max`) and for each method
// (`per_method`). A call over a limit is answered RESOURCE_EXHAUSTED
// (HTTP 429, Motan2 errcode 429) at once, or, with `queue` and `wait`,
// after waiting up to `wait` for a slot (bounded also by the call's
// context and call.Timeout).
//
// Counting is one compare-and-swap on an atomic counter per limit; the
// per-method limiters are found in a copy-on-write map read without a
// lock. Admitting and releasing a call allocates nothing; a slot is
// released on every return path, a panic in the rest of the chain
// included.
//
// A filter instance belongs to one configuration generation: calls in
// flight when a configuration is reloaded count against the old
// generation's limits, not the new one's.
package concurrency

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/translate"
)

func init() { gateway.RegisterFilter("concurrency", New) }

// Options configure a concurrency limit (docs/filters.md).
type Options struct {
	// Max caps the calls in flight through the chain (0: no total limit).
	Max int `yaml:"max"`
	// PerMethod caps the calls in flight of each method (Service and
	// Method of the call; 0: no per-method limit).
	PerMethod int `yaml:"per_method"`
	// Queue is how many calls may wait for a slot of each limit (default
	// 0: a call over a limit is rejected at once); it needs Wait.
	Queue int `yaml:"queue"`
	// Wait is the longest a queued call waits for a slot; the call's
	// context deadline and call.Timeout also bound it.
	Wait time.Duration `yaml:"wait"`
}

// Limits of the options.
const (
	// MaxQueue bounds queue: a queue is for smoothing short bursts.
	MaxQueue = 100_000
	// MaxTrackedMethods bounds the methods that get a limiter of their
	// own; the calls of further methods share one.
	MaxTrackedMethods = 1024
)

// Limiter is the filter.
type Limiter struct {
	perMethod int64
	queue     int64
	wait      time.Duration
	scope     string

	total    *limiter                  // nil: no total limit
	methods  atomic.Pointer[methodMap] // per-method limiters; nil map without per_method
	mu       sync.Mutex                // serialises additions to methods
	overflow *limiter                  // shared by methods beyond MaxTrackedMethods
	canceled *translate.Error          // a wait ended by the caller
	timedOut *translate.Error          // a wait that left the call no time
}

type methodKey struct{ service, method string }

type methodMap = map[methodKey]*limiter

// limiter is one limit: a counter of calls in flight and, with a queue,
// the waiters and the channel that wakes them.
type limiter struct {
	inflight atomic.Int64
	waiters  atomic.Int64
	limit    int64
	queue    int64
	// wake holds a token for each release that found waiters (up to
	// queue); a woken waiter tries again. nil without a queue.
	wake chan struct{}
	err  *translate.Error
	_    [24]byte // counters of different limiters on different cache lines
}

// New builds a concurrency limit from its spec.
func New(spec gateway.FilterSpec) (gateway.Filter, error) {
	var o Options
	if spec.Decode != nil {
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
	}
	switch {
	case o.Max < 0:
		return nil, fmt.Errorf("max must not be negative, got %d", o.Max)
	case o.PerMethod < 0:
		return nil, fmt.Errorf("per_method must not be negative, got %d", o.PerMethod)
	case o.Max == 0 && o.PerMethod == 0:
		return nil, errors.New("set max (calls in flight in total), per_method (calls in flight per method) or both")
	case o.Queue < 0 || o.Queue > MaxQueue:
		return nil, fmt.Errorf("queue must be between 0 and %d, got %d", MaxQueue, o.Queue)
	case o.Wait < 0:
		return nil, fmt.Errorf("wait must not be negative, got %v", o.Wait)
	case o.Queue > 0 && o.Wait == 0:
		return nil, fmt.Errorf("queue %d needs wait, the longest a queued call waits (e.g. wait: 50ms)", o.Queue)
	case o.Queue == 0 && o.Wait > 0:
		return nil, fmt.Errorf("wait %v needs queue, how many calls may wait (e.g. queue: 100)", o.Wait)
	}
	l := &Limiter{
		perMethod: int64(o.PerMethod),
		queue:     int64(o.Queue),
		wait:      o.Wait,
		scope:     spec.ScopeName(),
	}
	l.canceled = &translate.Error{Code: translate.Canceled, Cause: context.Canceled,
		Message: "call canceled while waiting for a concurrency slot on " + l.scope}
	l.timedOut = &translate.Error{Code: translate.DeadlineExceeded,
		Message: "call timeout ran out while waiting for a concurrency slot on " + l.scope}
	if o.Max > 0 {
		l.total = l.newLimiter(int64(o.Max), "all methods")
	}
	if o.PerMethod > 0 {
		m := methodMap{}
		l.methods.Store(&m)
		l.overflow = l.newLimiter(l.perMethod, "other methods")
	}
	return l, nil
}

func (l *Limiter) newLimiter(limit int64, what string) *limiter {
	n := strconv.FormatInt(limit, 10)
	lim := &limiter{limit: limit, queue: l.queue, err: &translate.Error{
		Code: translate.ResourceExhausted, HTTPStatus: 429,
		Message: n + " calls in flight for " + what + " on " + l.scope + " (limit " + n + ")",
	}}
	if l.queue > 0 {
		lim.wake = make(chan struct{}, l.queue)
	}
	return lim
}

// methodLimiter returns the limiter of the call's method.
func (l *Limiter) methodLimiter(call *gateway.Call) *limiter {
	k := methodKey{call.Service, call.Method}
	if lim := (*l.methods.Load())[k]; lim != nil {
		return lim
	}
	return l.addMethod(k)
}

// addMethod adds a limiter for k (copying the map: it happens once per
// method), or returns the shared one beyond MaxTrackedMethods.
func (l *Limiter) addMethod(k methodKey) *limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.methods.Load()
	if lim := old[k]; lim != nil {
		return lim
	}
	if len(old) >= MaxTrackedMethods {
		return l.overflow
	}
	// The names may point into a request buffer: keep copies.
	k = methodKey{strings.Clone(k.service), strings.Clone(k.method)}
	name := k.method
	if k.service != "" {
		name = k.service + "/" + k.method
	}
	lim := l.newLimiter(l.perMethod, name)
	m := make(methodMap, len(old)+1)
	for key, v := range old {
		m[key] = v
	}
	m[k] = lim
	l.methods.Store(&m)
	return lim
}

// waitState is a call's wait, shared by its limits: one deadline, one
// timer.
type waitState struct {
	timer   *time.Timer
	start   time.Time
	expired bool
}

// Filter implements gateway.Filter. The errors it answers with are built
// once and shared: callers must not modify them.
func (l *Limiter) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	var w waitState
	if l.perMethod > 0 {
		m := l.methodLimiter(call)
		if err := l.acquire(ctx, call, m, &w); err != nil {
			w.stop()
			return err
		}
		defer m.release()
	}
	if l.total != nil {
		if err := l.acquire(ctx, call, l.total, &w); err != nil {
			w.stop()
			return err
		}
		defer l.total.release()
	}
	if w.timer != nil {
		w.stop()
		// The wait used part of the call's time: the rest of the chain
		// gets what is left, and the call its own timeout back after.
		if t := call.Timeout; t > 0 {
			left := t - time.Since(w.start)
			if left <= 0 {
				return l.timedOut
			}
			call.Timeout = left
			defer restoreTimeout(call, t)
		}
	}
	return next.Invoke(ctx, call, reply)
}

func restoreTimeout(call *gateway.Call, t time.Duration) { call.Timeout = t }

// acquire takes a slot of lim, queueing for one when the filter has a
// queue. It returns nil or a shared error.
func (l *Limiter) acquire(ctx context.Context, call *gateway.Call, lim *limiter, w *waitState) *translate.Error {
	if lim.tryAcquire() {
		return nil
	}
	if lim.wake == nil || w.expired {
		return lim.err
	}
	if lim.waiters.Add(1) > lim.queue {
		lim.waiters.Add(-1)
		return lim.err
	}
	defer lim.waiters.Add(-1)
	if w.timer == nil {
		d := l.wait
		if t := call.Timeout; t > 0 && t < d {
			d = t
		}
		w.start = time.Now()
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, dl.Sub(w.start))
		}
		if d <= 0 {
			w.expired = true
			return lim.err
		}
		w.timer = getTimer(d)
	}
	// Waiters is counted before trying again, so a release that happens
	// after the failed try below sees it and leaves a wake token.
	for !lim.tryAcquire() {
		select {
		case <-lim.wake:
		case <-w.timer.C:
			w.expired = true
			return lim.err
		case <-ctx.Done():
			if ctx.Err() == context.Canceled {
				return l.canceled
			}
			w.expired = true
			return lim.err
		}
	}
	return nil
}

// tryAcquire takes a slot if one is free. It never counts above the
// limit, even for a moment, so a failed try cannot make another one fail.
func (lim *limiter) tryAcquire() bool {
	for {
		n := lim.inflight.Load()
		if n >= lim.limit {
			return false
		}
		if lim.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release frees a slot and, when calls are waiting, leaves a wake token
// (a full channel already holds enough).
func (lim *limiter) release() {
	lim.inflight.Add(-1)
	if lim.wake != nil && lim.waiters.Load() > 0 {
		select {
		case lim.wake <- struct{}{}:
		default:
		}
	}
}

func (w *waitState) stop() {
	if w.timer != nil {
		putTimer(w.timer)
		w.timer = nil
	}
}

// Timers are pooled: a wait costs no allocation once the pool is warm.
// Since Go 1.23, Stop guarantees that no stale tick is received after it.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, _ := timers.Get().(*time.Timer); t != nil {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}
