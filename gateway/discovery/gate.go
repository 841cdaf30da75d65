package discovery

import (
	"context"
	"sync/atomic"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/translate"
)

// Gate is the cluster-level degrade a registry's degrade command turns
// on: while degraded, calls to the cluster are answered UNAVAILABLE (HTTP
// 503, a Motan2 exception) without being sent, as a degraded motan-go
// cluster answers "cluster not available, maybe caused by degrade". It
// sits under the cluster's filter chain, so the chain's fallbacks (mock,
// switcher) still see the error. When not degraded it costs one atomic
// load per call.
//
// Degrade is a cluster-level gate rather than a run-time switch because a
// registry command names a service, not a route: it must stop every call
// to the cluster whatever the routes' chains hold, and needs no switcher
// filter to be configured.
type Gate struct {
	name     string
	next     gateway.Invoker
	degraded atomic.Pointer[string] // the reason, nil when not degraded
}

// NewGate returns a gate in front of the cluster named name.
func NewGate(name string, next gateway.Invoker) *Gate {
	return &Gate{name: name, next: next}
}

// Invoke implements gateway.Invoker.
func (g *Gate) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	if why := g.degraded.Load(); why != nil {
		return &translate.Error{Code: translate.Unavailable,
			Message: "cluster " + g.name + " is degraded by a registry command (" + *why + "); the call was not sent"}
	}
	return g.next.Invoke(ctx, call, reply)
}

// SetDegraded turns the degrade on with a reason shown to callers, or off
// when reason is "".
func (g *Gate) SetDegraded(reason string) {
	if reason == "" {
		g.degraded.Store(nil)
		return
	}
	g.degraded.Store(&reason)
}

// Degraded returns the reason of the degrade in force, or "".
func (g *Gate) Degraded() string {
	if why := g.degraded.Load(); why != nil {
		return *why
	}
	return ""
}
