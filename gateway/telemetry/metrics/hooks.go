package metrics

import (
	"github.com/meshgate/meshgate/translate"

	"strings"
	"sync"
	"sync/atomic"
)

// The registry events are process-wide: the discovery packages that
// report them do not see the Metrics the assembly built, and every
// Metrics of the process exports them.
var hooks = struct {
	mu     sync.Mutex
	events map[eventKey]*atomic.Uint64
}{events: map[eventKey]*atomic.Uint64{}}

// Breaker states as meshgate_breaker_state reports them.
const (
	BreakerClosed   = 0
	BreakerOpen     = 1
	BreakerHalfOpen = 2
)

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

// registryEvents calls f for every counted registry event.
func registryEvents(f func(registry, event string, n uint64)) {
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	for k, c := range hooks.events {
		f(k.registry, k.event, c.Load())
	}
}

// BreakerSource reports breaker states at collection time: it calls
// report once per breaker, with its scope ("route NAME", "cluster NAME",
// "cluster NAME endpoint ADDR": a configured, bounded set) and its state
// (BreakerClosed, BreakerOpen or BreakerHalfOpen).
type BreakerSource func(report func(scope string, state int))

// SetBreakerSource makes meshgate_breaker_state report what src reports
// at each collection: the assembly reads the breakers of the generation
// in force this way, so that breakers that come and go with endpoints and
// reloads need no registration. src must be cheap, safe for concurrent
// use, and must not call back into this package.
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
