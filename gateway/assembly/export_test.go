package assembly

import (
	"time"

	"github.com/meshgate/meshgate/gateway"
)

// Test hooks.

// WaitRetired waits until every replaced generation is closed.
func (g *Gateway) WaitRetired() { g.retireWG.Wait() }

// ClosedGenerations counts the replaced generations closed so far.
func (g *Gateway) ClosedGenerations() int64 { return g.closedGens.Load() }

// SetReloadGrace sets the grace of the reloads that follow.
func (g *Gateway) SetReloadGrace(d time.Duration) {
	g.reloadMu.Lock()
	g.reloadGrace = d
	g.reloadMu.Unlock()
}

// Chain returns the route chain of the generation in force by key
// ("grpc_routes/NAME", ...).
func (g *Gateway) Chain(key string) gateway.Invoker { return g.cur.Load().built.chains[key] }
