package gateway

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Filter is one stage of a governance chain: access log, metrics, switcher,
// mock, limits, circuit breaker and so on. Every route, whatever its
// ingress and upstream protocols, calls its upstream through a chain of
// filters built once per configuration generation (Chain).
//
// Filter handles call: it may answer by itself (a degraded or mocked
// route, a limit that rejects) by filling reply or returning an error, or
// go on by calling next.Invoke once (or more than once, for a retry). It
// must return an error that is a *translate.Error, as Invokers do, and
// keep no reference to call or reply after returning. Filters are shared
// by all the requests of a generation: they must be safe for concurrent
// use, and they should allocate nothing per request.
type Filter interface {
	Filter(ctx context.Context, call *Call, reply *Reply, next Invoker) error
}

// FilterFunc adapts a function to Filter.
type FilterFunc func(ctx context.Context, call *Call, reply *Reply, next Invoker) error

// Filter calls f.
func (f FilterFunc) Filter(ctx context.Context, call *Call, reply *Reply, next Invoker) error {
	return f(ctx, call, reply, next)
}

// link is one filter bound to what follows it.
type link struct {
	f    Filter
	next Invoker
}

func (l *link) Invoke(ctx context.Context, call *Call, reply *Reply) error {
	return l.f.Filter(ctx, call, reply, l.next)
}

// Chain returns an Invoker that runs filters in order around inv: the
// first filter sees the call first and the reply last. It is built once
// (at load time) and its Invoke allocates nothing of its own. With no
// filters it returns inv itself.
func Chain(inv Invoker, filters ...Filter) Invoker {
	for i := len(filters) - 1; i >= 0; i-- {
		inv = &link{f: filters[i], next: inv}
	}
	return inv
}

// FilterSpec is what a filter factory gets to build one filter instance at
// load time.
type FilterSpec struct {
	// Name is the filter's registered name.
	Name string
	// Scope names where the chain is used, for messages and metrics:
	// "route NAME" or "cluster NAME".
	Scope string
	// Route is the route the chain serves ("" for a cluster's chain).
	Route string
	// Cluster is the upstream cluster the chain calls.
	Cluster string
	// Endpoint is the endpoint address of a per-endpoint chain (run once
	// per attempt on that endpoint; "" for route and cluster chains).
	Endpoint string
	// Ingress is the protocol a route chain's calls arrive by: "http",
	// "grpc" or "motan2" ("" for cluster and endpoint chains).
	Ingress string
	// Decode decodes the filter's options (its configuration entry without
	// the name key) into v, strictly: unknown keys and values of the wrong
	// type are errors that name the configuration file and line.
	Decode func(v any) error
	// Env is process-wide state that outlives configuration generations.
	Env *FilterEnv
}

// ScopeName names the chain in messages: Scope, else "route NAME" or
// "cluster NAME", else "this chain".
func (s FilterSpec) ScopeName() string {
	switch {
	case s.Scope != "":
		return s.Scope
	case s.Route != "":
		return "route " + s.Route
	case s.Cluster != "":
		return "cluster " + s.Cluster
	}
	return "this chain"
}

// FilterEnv is the state filters share across configuration generations:
// what an operator sets at run time survives a reload.
type FilterEnv struct {
	// Switches are the named run-time switches (switcher filter,
	// management API).
	Switches *Switches
}

// NewFilterEnv returns an empty environment.
func NewFilterEnv() *FilterEnv { return &FilterEnv{Switches: NewSwitches()} }

// FilterFactory builds a filter from its spec. It validates its options
// and returns a descriptive error for bad ones; it is called at load time
// only, never per request.
type FilterFactory func(spec FilterSpec) (Filter, error)

var (
	filtersMu sync.RWMutex
	factories = map[string]FilterFactory{}
)

// RegisterFilter makes a filter available under name, from a filter
// package's init function. Registering a name twice panics.
func RegisterFilter(name string, f FilterFactory) {
	filtersMu.Lock()
	defer filtersMu.Unlock()
	if _, dup := factories[name]; dup {
		panic("gateway: filter " + name + " registered twice")
	}
	factories[name] = f
}

// FilterNames returns the registered filter names, sorted.
func FilterNames() []string {
	filtersMu.RLock()
	defer filtersMu.RUnlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewFilter builds the filter spec.Name names.
func NewFilter(spec FilterSpec) (Filter, error) {
	filtersMu.RLock()
	f, ok := factories[spec.Name]
	filtersMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown filter %q (registered: %v)", spec.Name, FilterNames())
	}
	flt, err := f(spec)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", spec.Name, err)
	}
	return flt, nil
}

// HealthReporter is implemented by filters that judge the health of the
// endpoint whose chain they are in (a per-endpoint breaker): a cluster
// picks an endpoint with a filter reporting false only when nothing else
// is left. Healthy is called on every pick: one atomic load, no lock.
type HealthReporter interface {
	Healthy() bool
}

// StateReporter is implemented by filters with a run-time state worth
// showing (a breaker: closed, open, half-open): the management API lists
// it for each cluster endpoint.
type StateReporter interface {
	// FilterState returns the filter's registered name and a short
	// description of its state now.
	FilterState() (name, state string)
}
