// Package ratelimit is the ratelimit filter: a token bucket that admits
// `rate` calls per second with bursts of up to `burst` calls, for the
// whole chain it is in (a route, or a cluster) or, with `per`, for each
// caller identity read from the call's metadata. Calls over the limit are
// answered RESOURCE_EXHAUSTED (HTTP 429, Motan2 errcode 429) without
// calling the upstream.
//
// Each bucket is one atomic word (the bucket's "theoretical arrival time"
// of GCRA, the generic cell rate algorithm, which is a token bucket with
// exact refill): admitting a call is one clock read and one
// compare-and-swap, with no lock and no allocation. Per-caller buckets
// live in a sharded table bounded by `max_callers`.
//
// A filter instance belongs to one configuration generation: a reload
// starts with full buckets.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/translate"
)

func init() { gateway.RegisterFilter("ratelimit", New) }

// Options configure a rate limit (docs/filters.md).
type Options struct {
	// Rate is the sustained number of calls per second (required, > 0;
	// fractions allowed: 0.5 is one call every 2s).
	Rate *float64 `yaml:"rate"`
	// Burst is how many calls may pass at once after an idle period
	// (default ceil(rate), at least 1).
	Burst *int `yaml:"burst"`
	// Per gives every caller identity a bucket of its own.
	Per *Per `yaml:"per"`
	// MaxCallers caps the caller identities tracked at once (default
	// 10000; needs Per). Beyond it the least recently limited identities
	// are forgotten (approximately: see table).
	MaxCallers *int `yaml:"max_callers"`
	// Methods, when not empty, limits only the calls of these methods
	// (call.Method, or call.FullMethod for an entry starting with "/"),
	// which then share the bucket(s); other calls pass untouched.
	Methods []string `yaml:"methods"`
}

// Per says where a call's caller identity is read: exactly one of Meta
// (call.Meta: Motan2 meta, and for HTTP routes the request headers the
// route forwards with request_headers; matched ignoring ASCII case) and
// Header (call.Header: gRPC request metadata; the first value).
type Per struct {
	Meta   string `yaml:"meta"`
	Header string `yaml:"header"`
}

// Limits of the options.
const (
	// DefaultMaxCallers is max_callers' default.
	DefaultMaxCallers = 10000
	// MaxMaxCallers bounds max_callers.
	MaxMaxCallers = 10_000_000
	// MaxRate is the highest rate: one call per nanosecond.
	MaxRate = 1e9
	// maxIdentityLen is how much of an identity tells callers apart:
	// longer identities are cut, so that a caller cannot make the table
	// hold large keys.
	maxIdentityLen = 256
)

// Limiter is the filter.
type Limiter struct {
	// clock returns nanoseconds on a monotonic clock; injectable for tests.
	clock func() int64

	interval  int64 // nanoseconds per token
	tolerance int64 // burst * interval: how far ahead of now the bucket may run

	methods  map[string]struct{} // nil: every method
	scope    string
	rateText string

	// Without Per: the chain's one bucket and its rejection.
	route    *bucket
	routeErr *translate.Error

	// With Per: where the identity is read, the bucket of calls without
	// one, and the table of per-identity buckets.
	metaKey, headerKey string
	anon               *bucket
	anonErr            *translate.Error
	callers            *table
}

// bucket is a token bucket as GCRA keeps it: tat is the time (clock
// nanoseconds) at which the bucket will be full again. A call is admitted
// when, after adding its interval, tat runs at most tolerance ahead of now.
// The padding keeps each bucket on a cache line of its own.
type bucket struct {
	tat atomic.Int64
	_   [56]byte
}

// New builds a rate limit from its spec.
func New(spec gateway.FilterSpec) (gateway.Filter, error) {
	var o Options
	if spec.Decode != nil {
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
	}
	if o.Rate == nil {
		return nil, errors.New("rate is required (calls per second)")
	}
	rate := *o.Rate
	if math.IsNaN(rate) || rate <= 0 || rate > MaxRate {
		return nil, fmt.Errorf("rate must be greater than 0 and at most %g calls per second, got %v", float64(MaxRate), rate)
	}
	burst := int(math.Ceil(rate))
	if o.Burst != nil {
		if *o.Burst < 1 {
			return nil, fmt.Errorf("burst must be at least 1, got %d", *o.Burst)
		}
		burst = *o.Burst
	}
	interval := int64(math.Round(1e9 / rate))
	if interval < 1 {
		interval = 1
	}
	if float64(interval)*float64(burst) > 1<<61 {
		return nil, fmt.Errorf("burst %d at rate %v/s is too large (it would take centuries to refill)", burst, rate)
	}
	l := &Limiter{
		interval:  interval,
		tolerance: interval * int64(burst),
		scope:     spec.ScopeName(),
		rateText:  strconv.FormatFloat(rate, 'f', -1, 64),
	}
	start := time.Now()
	l.clock = func() int64 { return int64(time.Since(start)) }

	if len(o.Methods) > 0 {
		l.methods = make(map[string]struct{}, len(o.Methods))
		for i, m := range o.Methods {
			switch {
			case strings.TrimSpace(m) == "":
				return nil, fmt.Errorf("methods[%d] is empty", i)
			case m == "/" || strings.HasPrefix(m, "/") && strings.Count(m, "/") != 2:
				return nil, fmt.Errorf("methods[%d]: %q is neither a method name nor a full method /package.Service/Method", i, m)
			}
			if _, dup := l.methods[m]; dup {
				return nil, fmt.Errorf("methods[%d]: %q is listed twice", i, m)
			}
			l.methods[m] = struct{}{}
		}
	}

	if o.Per == nil {
		if o.MaxCallers != nil {
			return nil, errors.New("max_callers applies with per (per-caller buckets) only")
		}
		l.route = new(bucket)
		l.routeErr = l.rejection("")
		return l, nil
	}
	switch p := o.Per; {
	case p.Meta != "" && p.Header != "":
		return nil, errors.New("per: set one of meta and header, not both")
	case p.Meta != "":
		if err := checkKey(p.Meta); err != nil {
			return nil, fmt.Errorf("per.meta: %w", err)
		}
		l.metaKey = p.Meta
	case p.Header != "":
		if err := checkKey(p.Header); err != nil {
			return nil, fmt.Errorf("per.header: %w", err)
		}
		// gRPC metadata keys are lower case; looking the key up as such
		// makes the per-call lookup allocation-free.
		l.headerKey = strings.ToLower(p.Header)
	default:
		return nil, errors.New("per: set meta (call meta key) or header (gRPC metadata key)")
	}
	maxCallers := DefaultMaxCallers
	if o.MaxCallers != nil {
		if *o.MaxCallers < 1 || *o.MaxCallers > MaxMaxCallers {
			return nil, fmt.Errorf("max_callers must be between 1 and %d, got %d", MaxMaxCallers, *o.MaxCallers)
		}
		maxCallers = *o.MaxCallers
	}
	l.callers = newTable(maxCallers)
	l.anon = new(bucket)
	l.anonErr = l.rejection("no " + l.identityKey())
	return l, nil
}

// checkKey validates a meta or header key.
func checkKey(k string) error {
	if strings.ContainsAny(k, " \t\r\n:") {
		return fmt.Errorf("invalid key %q", k)
	}
	return nil
}

func (l *Limiter) identityKey() string {
	if l.metaKey != "" {
		return "meta " + l.metaKey
	}
	return "header " + l.headerKey
}

// rejection builds the error of a limited call; caller, when not empty,
// is the parenthesised remark naming the caller.
func (l *Limiter) rejection(caller string) *translate.Error {
	msg := "rate limit of " + l.rateText + "/s exceeded for " + l.scope
	if caller != "" {
		msg += " (" + caller + ")"
	}
	return &translate.Error{Code: translate.ResourceExhausted, HTTPStatus: 429, Message: msg}
}

// Filter implements gateway.Filter. The errors it answers with are built
// once (per limiter, or per caller on its first rejection) and shared:
// callers must not modify them.
func (l *Limiter) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	if l.methods != nil && !l.limits(call) {
		return next.Invoke(ctx, call, reply)
	}
	now := l.clock()
	switch {
	case l.route != nil:
		if !l.allow(&l.route.tat, now) {
			return l.routeErr
		}
	default:
		id := l.identity(call)
		if id == "" {
			if !l.allow(&l.anon.tat, now) {
				return l.anonErr
			}
			break
		}
		e := l.callers.get(id)
		if !l.allow(&e.tat, now) {
			return l.callerError(e)
		}
	}
	return next.Invoke(ctx, call, reply)
}

// allow takes a token from the bucket whose state is tat, if it has one.
func (l *Limiter) allow(tat *atomic.Int64, now int64) bool {
	for {
		t := tat.Load()
		next := max(t, now) + l.interval
		if next-now > l.tolerance {
			return false
		}
		if tat.CompareAndSwap(t, next) {
			return true
		}
	}
}

// limits reports whether the call's method is one the filter limits.
func (l *Limiter) limits(call *gateway.Call) bool {
	if _, ok := l.methods[call.Method]; ok {
		return true
	}
	if call.FullMethod != "" {
		_, ok := l.methods[call.FullMethod]
		return ok
	}
	return false
}

// identity returns the call's caller identity ("" when it has none), cut
// to maxIdentityLen bytes.
func (l *Limiter) identity(call *gateway.Call) string {
	var id string
	if l.headerKey != "" {
		if v := call.Header[l.headerKey]; len(v) > 0 {
			id = v[0]
		}
	} else {
		for i := len(call.Meta) - 1; i >= 0; i-- {
			if strings.EqualFold(call.Meta[i].Key, l.metaKey) {
				id = call.Meta[i].Value
				break
			}
		}
	}
	if len(id) > maxIdentityLen {
		id = id[:maxIdentityLen]
	}
	return id
}

// callerError returns the rejection of caller e, built on its first
// rejection.
func (l *Limiter) callerError(e *entry) error {
	if err := e.err.Load(); err != nil {
		return err
	}
	shown := e.id
	if len(shown) > 64 {
		shown = shown[:64] + "..."
	}
	err := l.rejection("caller " + strconv.Quote(shown))
	e.err.Store(err)
	return err
}
