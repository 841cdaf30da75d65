package assembly

// Reload as a transaction, and when a replaced generation may be closed.
//
// Reload builds the whole new generation (clusters, schemas, chains,
// snapshots) with Build while the old one serves; anything that fails
// leaves the old one in force untouched. Only then are the ingresses'
// snapshots swapped (one atomic store each) and the old generation
// retired. Retiring closes its clusters, which must not happen while a
// call can still use them. A call uses a generation from the moment its
// ingress loads the snapshot until its route chain returns; the route
// chain is ours (the tracker at its top) but the moment of the load is the
// ingress's, and between the two a call may wait (a gRPC call receives its
// request message after it was matched). So:
//
//  1. Every route chain of a generation starts with a tracker: an atomic
//     counter of the calls inside the generation's chains (one add on the
//     way in, one on the way out).
//  2. After the swap, no new call can load the old snapshots. The retirer
//     waits a grace period (ReloadGrace) for the calls that loaded them
//     just before the swap to enter the chains, then for the counter to
//     reach zero (the last call out signals; no polling), and closes the
//     tracker with a compare-and-swap from "retired, zero calls" to
//     "closed": no call is inside at that instant and none can enter
//     afterwards, so the clusters can be closed.
//  3. A call that reaches a closed tracker (it waited longer than the
//     grace between its match and its chain) is not sent to the closed
//     clusters: it is forwarded to the route of the same section and name
//     in the generation in force, or, when the new configuration has no
//     such route, answered UNAVAILABLE (never sent, so safe to retry).
//
// The grace only makes step 3 rare; correctness rests on the counter and
// the compare-and-swap. Switches live in the FilterEnv shared by every
// generation, so run-time flips survive a reload.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/translate"
)

// ReloadGrace is how long a replaced generation stays open, after the
// swap, for calls that matched one of its routes just before the swap but
// have not entered the route's chain yet. It applies to gateways started
// afterwards.
var ReloadGrace = time.Second

// generation is one configuration in force, or draining.
type generation struct {
	num      int64
	loadedAt time.Time
	cfg      *config.Config
	built    *Built

	stopRefresh context.CancelFunc
	refreshDone sync.WaitGroup
}

func (g *Gateway) newGeneration(num int64, cfg *config.Config, built *Built) *generation {
	gen := &generation{num: num, loadedAt: time.Now(), cfg: cfg, built: built}
	// A call that reaches this generation after it closed goes to the
	// same route of the generation in force.
	built.track.forward = func(key string) gateway.Invoker {
		cur := g.cur.Load()
		if cur == nil || cur == gen {
			return nil
		}
		return cur.built.chains[key]
	}
	return gen
}

// stopRefreshers stops the generation's schema refreshers and waits for
// them.
func (gen *generation) stopRefreshers() {
	if gen.stopRefresh != nil {
		gen.stopRefresh()
		gen.refreshDone.Wait()
	}
}

// Tracker state: the number of calls inside the chains, and two flags.
const (
	trackClosed  int64 = 1 << 62 // no call may enter
	trackRetired int64 = 1 << 61 // replaced: signal idle when the count drops to 0
	trackCount         = trackRetired - 1
)

// tracker counts the calls inside a generation's route chains.
type tracker struct {
	state atomic.Int64
	// idle receives a signal when a retired generation's last call
	// leaves (capacity 1: a signal is never lost, never blocks).
	idle chan struct{}
	// forward returns the invoker of the route key in the generation in
	// force, for calls that arrive after the close; nil when there is
	// none (set once before the generation serves).
	forward func(key string) gateway.Invoker
}

func newTracker() *tracker { return &tracker{idle: make(chan struct{}, 1)} }

// enter counts a call in, unless the generation is closed.
func (t *tracker) enter() bool {
	if t.state.Add(1)&trackClosed != 0 {
		t.state.Add(-1)
		return false
	}
	return true
}

// exit counts a call out and signals idle when it was the last one of a
// retired generation.
func (t *tracker) exit() {
	if t.state.Add(-1) == trackRetired {
		select {
		case t.idle <- struct{}{}:
		default:
		}
	}
}

// inFlight returns the number of calls inside.
func (t *tracker) inFlight() int64 { return t.state.Load() & trackCount }

// retire marks the generation replaced.
func (t *tracker) retire() { t.state.Or(trackRetired) }

// tryClose closes the generation if no call is inside: after it returns
// true, no call is or will be inside.
func (t *tracker) tryClose() bool {
	return t.state.CompareAndSwap(trackRetired, trackRetired|trackClosed)
}

// close closes the generation whatever is inside (shutdown, a failed
// build).
func (t *tracker) close() { t.state.Or(trackClosed) }

// tracked is the top of a route chain: it counts the call in the
// generation for as long as the chain runs.
type tracked struct {
	t     *tracker
	key   string // section/name: the route's identity across generations
	route string
	next  gateway.Invoker
}

// Invoke implements gateway.Invoker.
func (c *tracked) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	if !c.t.enter() {
		return c.late(ctx, call, reply)
	}
	defer c.t.exit()
	return c.next.Invoke(ctx, call, reply)
}

// late serves a call that reached the chain after its generation closed.
func (c *tracked) late(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	if c.t.forward != nil {
		if inv := c.t.forward(c.key); inv != nil {
			return inv.Invoke(ctx, call, reply)
		}
	}
	return &translate.Error{Code: translate.Unavailable,
		Message: "route " + c.route + " was removed by a configuration reload while this call waited; it was not sent"}
}

// RestartRequiredError refuses a configuration that changes what a
// reload cannot: the listeners and their options.
type RestartRequiredError struct {
	// Changes are "KEY changed: restart required" lines.
	Changes []string
}

func (e *RestartRequiredError) Error() string {
	return "configuration not applied: " + strings.Join(e.Changes, "; ")
}

// RestartRequired returns the changes (for the admin API).
func (e *RestartRequiredError) RestartRequired() []string { return e.Changes }

// restartChanges lists what differs between old and new in the sections
// bound at start: the listeners (http, grpc, motan2, demo) with their
// options, the management API (admin), which meshgate run starts once,
// and the process's Go runtime settings (runtime), applied at start.
func restartChanges(old, new *config.Config) []string {
	var out []string
	section := func(name string, a, b any) {
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		if va.Kind() == reflect.Pointer {
			switch {
			case va.IsNil() && vb.IsNil():
				return
			case va.IsNil():
				out = append(out, name+" section added: restart required")
				return
			case vb.IsNil():
				out = append(out, name+" section removed: restart required")
				return
			}
		}
		for _, key := range changedKeys(a, b) {
			out = append(out, name+"."+key+" changed: restart required")
		}
	}
	section("http", old.HTTP, new.HTTP)
	section("grpc", old.GRPC, new.GRPC)
	section("motan2", old.Motan2, new.Motan2)
	section("demo", old.Demo, new.Demo)
	section("admin", old.Admin, new.Admin)
	section("runtime", old.Runtime, new.Runtime)
	out = append(out, registryChanges(old, new)...) // discovery.go
	return out
}

// changedKeys returns the YAML keys of the exported fields that differ
// between a and b, two values (or non-nil pointers) of one struct type.
func changedKeys(a, b any) []string {
	va, vb := reflect.Indirect(reflect.ValueOf(a)), reflect.Indirect(reflect.ValueOf(b))
	var out []string
	for i := 0; i < va.NumField(); i++ {
		f := va.Type().Field(i)
		if !f.IsExported() || reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		out = append(out, key)
	}
	return out
}

// firstChanged returns the first of keys (YAML keys of a's struct type)
// whose field differs between a and b, or "".
func firstChanged(a, b any, keys ...string) string {
	changed := changedKeys(a, b)
	for _, k := range keys {
		if slices.Contains(changed, k) {
			return k
		}
	}
	return ""
}

// Reload applies cfg as a transaction: it builds the whole new generation
// (clusters, schemas, filter chains, routes) next to the one in force and,
// only when everything builds, swaps every ingress to it; calls in flight
// finish on the old generation, whose clusters close once no call can use
// them (see the top of this file). A cfg that changes listeners is refused
// with a *RestartRequiredError; one that fails to build returns the
// error. In both cases the generation in force keeps serving. Reloads are
// serialized; each applied one publishes the next generation number.
func (g *Gateway) Reload(cfg *config.Config) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.shut {
		return errors.New("gateway is shutting down: configuration not applied")
	}
	if cfg == nil {
		return errors.New("no configuration to apply")
	}
	old := g.cur.Load()
	if changes := restartChanges(old.cfg, cfg); len(changes) > 0 {
		return &RestartRequiredError{Changes: changes}
	}
	if err := g.tel.reconfigure(cfg); err != nil {
		return fmt.Errorf("configuration not applied: %w", err)
	}
	built, err := build(cfg, g.demoAddr, g.env, g.tel, old.built, g.log)
	if err != nil {
		return fmt.Errorf("configuration not applied: %w", err)
	}
	g.subscribe(built)           // discovery.go: before the swap
	built.prevFilters.Store(nil) // reused what it could: let the old generation go
	gen := g.newGeneration(old.num+1, cfg, built)

	g.swapMu.Lock()
	g.cur.Store(gen)
	g.http.Swap(built.httpView.Load().snap)
	if g.grpc != nil {
		g.grpc.Swap(built.GRPC)
	}
	if g.motan2 != nil {
		g.motan2.Swap(built.Motan2)
	}
	g.publishSchemas(gen)
	g.swapMu.Unlock()

	g.tel.apply(cfg, g.log)
	g.startRefreshers(gen)
	g.retire(old)
	g.log.Debug("configuration reloaded", "generation", gen.num, "source", cfg.Source,
		"http_routes", len(built.httpView.Load().snap.Routes), "grpc_routes", len(cfg.GRPCRoutes),
		"motan2_routes", len(cfg.Motan2Routes), "clusters", len(cfg.Clusters))
	return nil
}

// retire closes a replaced generation in the background once no call can
// use it: after ReloadGrace, when its last call has left (at once when
// the gateway shuts down). Called with reloadMu held.
func (g *Gateway) retire(old *generation) {
	graceFor := g.reloadGrace
	g.retireMu.Lock()
	g.retiring[old] = struct{}{}
	g.retireMu.Unlock()
	g.retireWG.Add(1)
	go func() {
		defer g.retireWG.Done()
		old.stopRefreshers()
		t := old.built.track
		t.retire()
		grace := time.NewTimer(graceFor)
		select {
		case <-grace.C:
		case <-g.stopping:
			grace.Stop()
		}
	wait:
		for !t.tryClose() {
			select {
			case <-t.idle:
			case <-g.stopping:
				break wait // the ingresses are shut down
			}
		}
		old.built.Close()
		g.retireMu.Lock()
		delete(g.retiring, old)
		g.retireMu.Unlock()
		g.closedGens.Add(1)
		g.log.Debug("replaced configuration generation closed", "generation", old.num)
	}()
}
