package metrics

import (
	"github.com/meshgate/meshgate/translate"

	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// The hooks are process-wide: the packages that report breaker states and
// registry events (filters, discovery) do not see the Metrics the
// assembly built, and every Metrics of the process exports them.
var hooks = struct {
	mu       sync.Mutex
	breakers map[string]*breakerReg
	events   map[eventKey]*atomic.Uint64
}{breakers: map[string]*breakerReg{}, events: map[eventKey]*atomic.Uint64{}}

// Breaker states as meshgate_breaker_state reports them.
const (
	BreakerClosed   = 0
	BreakerOpen     = 1
	BreakerHalfOpen = 2
)

type breakerReg struct{ state func() int }

// RegisterBreaker makes meshgate_breaker_state{scope} report state()
// (BreakerClosed, BreakerOpen or BreakerHalfOpen) at every collection.
// scope names the breaker ("route NAME", "cluster NAME", "endpoint
// CLUSTER ADDR": a configured, bounded set). Registering a scope again
// replaces the previous function (the breaker of a new configuration
// generation replaces the old one's); unregister removes it unless it was
// replaced since. state must be cheap and safe for concurrent use; it is
// called with a process-wide lock held and must not call back into this
// package.
func RegisterBreaker(scope string, state func() int) (unregister func()) {
	r := &breakerReg{state: state}
	hooks.mu.Lock()
	hooks.breakers[scope] = r
	hooks.mu.Unlock()
	return func() {
		hooks.mu.Lock()
		if hooks.breakers[scope] == r {
			delete(hooks.breakers, scope)
		}
		hooks.mu.Unlock()
	}
}

type eventKey struct{ registry, event string }

// maxEventKeys bounds the (registry, event) pairs counted; a further pair
// counts under (registry, Other) when that pair exists, else under
// (Other, Other).
const maxEventKeys = 1000

// RegistryEvent counts one event of a service registry:
// meshgate_registry_events_total{registry, event}. registry is the
// configured registry name and event a word from a small fixed set
// (subscribe, notify, register, unregister, error, reconnect, ...): the
// caller keeps them bounded; beyond 1000 pairs, new ones count under
// event "_other_". It takes a lock: for events, not per request.
func RegistryEvent(registry, event string) {
	k := eventKey{registry, event}
	hooks.mu.Lock()
	c := hooks.events[k]
	if c == nil {
		if len(hooks.events) >= maxEventKeys {
			k = eventKey{registry, Other}
			if c = hooks.events[k]; c == nil {
				k = eventKey{Other, Other}
				c = hooks.events[k]
			}
		}
		if c == nil {
			c = new(atomic.Uint64)
			hooks.events[k] = c
		}
	}
	hooks.mu.Unlock()
	c.Add(1)
}

// breakerStates returns the registered breakers' states by scope, sorted.
func breakerStates(f func(scope string, state int)) {
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	scopes := make([]string, 0, len(hooks.breakers))
	for s := range hooks.breakers {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	for _, s := range scopes {
		f(s, hooks.breakers[s].state())
	}
}

// registryEvents calls f for every counted registry event.
func registryEvents(f func(registry, event string, n uint64)) {
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	for k, c := range hooks.events {
		f(k.registry, k.event, c.Load())
	}
}

// BreakerSource reports breaker states at collection time: it calls
// report once per breaker.
type BreakerSource func(report func(scope string, state int))

// SetBreakerSource makes meshgate_breaker_state also report what src
// reports at each collection: the assembly reads the per-endpoint
// breakers of its clusters this way, so that breakers that come and go
// with endpoints need no registration. src must be cheap, safe for
// concurrent use, and must not call back into this package.
func (m *Metrics) SetBreakerSource(src BreakerSource) { m.breakerSrc.Store(&src) }

// ErrorSource reports, at collection time, how many requests each
// ingress answered with an error, by code: report is called once per
// ingress and code seen.
type ErrorSource func(report func(ingress string, code translate.Code, n uint64))

// SetIngressErrorSource makes meshgate_ingress_errors_total report what
// src reports at each collection (the assembly's ingress.ErrorCounts).
func (m *Metrics) SetIngressErrorSource(src ErrorSource) { m.errSrc.Store(&src) }

// BreakerState maps a breaker's state text ("closed", "open (REASON)",
// "half-open") to the gauge's value; ok is false for other text.
func BreakerState(text string) (state int, ok bool) {
	switch {
	case text == "closed":
		return BreakerClosed, true
	case text == "half-open":
		return BreakerHalfOpen, true
	case text == "open" || strings.HasPrefix(text, "open "):
		return BreakerOpen, true
	}
	return 0, false
}
