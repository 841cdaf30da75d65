// Package assembly builds a running gateway from a configuration: it is
// the one place that wires ingresses to upstream plugins.
//
// A running Gateway serves one configuration generation at a time (a
// Built: routes, filter chains, clusters, schemas) and replaces it as a
// transaction on Reload (generation.go): the whole new generation is
// built first, then swapped into every ingress, and the old one is closed
// once no call can use it any more.
package assembly

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
	"github.com/meshgate/meshgate/gateway/ingress"
	"github.com/meshgate/meshgate/gateway/upstream"
	"github.com/meshgate/meshgate/internal/demo"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

// Gateway is a running meshgate: listeners, the configuration generation
// in force (routes, chains, clusters, schema refreshers), the generations
// it replaced that are still draining, and, when configured, the built-in
// demo service.
type Gateway struct {
	http     *ingress.HTTP
	httpLn   net.Listener
	motan2   *ingress.Motan2
	motan2Ln net.Listener
	grpc     *ingress.GRPC
	grpcLn   net.Listener
	demo     *motan2.Server
	demoLn   net.Listener
	demoAddr string
	env      *gateway.FilterEnv
	tel      *telemetry // process-wide observability (telemetry.go)
	// ingressErrors counts every ingress's error answers (metrics).
	ingressErrors ingress.ErrorCounts
	hub           *discovery.Hub // process-wide registries (discovery.go)
	errc          chan error
	log           *slog.Logger
	started       time.Time

	// cur is the generation in force. It changes only with swapMu held.
	cur atomic.Pointer[generation]
	// reloadMu serializes Reload and Shutdown.
	reloadMu sync.Mutex
	shut     bool // guarded by reloadMu
	// swapMu serializes what publishes snapshots to the ingresses: the
	// swap of a reload and the HTTP rebuilds that follow schema refreshes.
	swapMu sync.Mutex
	// reflection are the registries gRPC server reflection reads besides
	// the routes' schemas: slots mirroring the schemas of the generation
	// in force (publishSchemas), since the ingress takes its list once.
	reflection []*descriptors.Registry
	mirrored   []*descriptors.Snapshot // what each slot was given, guarded by swapMu

	// retiring are the replaced generations not closed yet; stopping is
	// closed by Shutdown to close them at once.
	retireMu    sync.Mutex
	retiring    map[*generation]struct{}
	retireWG    sync.WaitGroup
	stopping    chan struct{}
	closedGens  atomic.Int64 // replaced generations closed so far
	reloadGrace time.Duration
}

// reflectionSlack is how many more schemas than the first configuration
// has a reload may bring and still have gRPC reflection serve the
// services routed without a schema of their own.
const reflectionSlack = 8

// Start binds the configured listeners, builds routes and clusters, loads
// schemas and starts serving generation 1. Bind and schema errors are
// returned before anything serves.
func Start(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{log: log, errc: make(chan error, 4), started: time.Now(),
		retiring: map[*generation]struct{}{}, stopping: make(chan struct{}), reloadGrace: ReloadGrace}
	if cfg.Demo != nil {
		l, err := net.Listen("tcp", cfg.Demo.Listen)
		if err != nil {
			return nil, fmt.Errorf("demo service: %w", err)
		}
		g.demoLn, g.demoAddr = l, l.Addr().String()
		g.demo = &motan2.Server{Handler: demo.Mux(), Logger: log.With("component", "demo")}
	}
	g.env = gateway.NewFilterEnv()
	tel, err := newTelemetry(cfg, log)
	if err != nil {
		g.closeListeners()
		return nil, err
	}
	g.tel = tel
	if err := g.openDiscovery(cfg); err != nil {
		g.closeListeners()
		g.tel.close()
		return nil, err
	}
	built, err := build(cfg, g.demoAddr, g.env, g.tel, nil, log)
	if err != nil {
		g.closeListeners()
		g.tel.close()
		g.closeDiscovery()
		return nil, err
	}
	g.subscribe(built)
	gen := g.newGeneration(1, cfg, built)
	g.cur.Store(gen)
	fail := func(what string, err error) (*Gateway, error) {
		g.closeListeners()
		built.Close()
		g.closeDiscovery()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if cfg.Motan2 != nil {
		l, err := net.Listen("tcp", cfg.Motan2.Listen)
		if err != nil {
			return fail("motan2", err)
		}
		g.motan2Ln = l
		g.motan2 = ingress.NewMotan2(built.Motan2, ingress.Motan2Options{
			Errors:                &g.ingressErrors,
			Limits:                motan2.Limits{MaxMetaSize: cfg.Motan2.MaxBodyBytes, MaxBodySize: cfg.Motan2.MaxBodyBytes},
			MaxConcurrentRequests: cfg.Motan2.MaxConcurrentRequests, ProxyBit: *cfg.Motan2.ProxyBit,
			Logger: log.With("component", "motan2"),
		})
	}
	if gc := cfg.GRPC; gc != nil {
		var tlsCfg *tls.Config
		if gc.TLS != nil {
			cert, err := tls.LoadX509KeyPair(gc.TLS.CertFile, gc.TLS.KeyFile)
			if err != nil {
				return fail("grpc tls", err)
			}
			tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		l, err := net.Listen("tcp", gc.Listen)
		if err != nil {
			return fail("grpc", err)
		}
		g.grpcLn = l
		g.reflection = make([]*descriptors.Registry, len(cfg.Schemas)+reflectionSlack)
		g.mirrored = make([]*descriptors.Snapshot, len(g.reflection))
		for i := range g.reflection {
			g.reflection[i] = new(descriptors.Registry)
		}
		g.grpc = ingress.NewGRPC(built.GRPC, ingress.GRPCOptions{
			Errors: &g.ingressErrors,
			TLS:    tlsCfg, MaxRecvMsgSize: gc.MaxRecvMsgBytes, MaxConcurrentStreams: uint32(gc.MaxConcurrentStreams),
			Reflection: *gc.Reflection, Schemas: g.reflection,
			Logger: log.With("component", "grpc"),
		})
	}
	l, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fail("http", err)
	}
	g.httpLn = l
	g.http = ingress.NewHTTP(built.HTTP, ingress.HTTPOptions{
		Errors:       &g.ingressErrors,
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxHeaderBytes: cfg.HTTP.MaxHeaderBytes,
		ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout,
		MaxConnections: cfg.HTTP.MaxConnections, RequestIDHeader: cfg.HTTP.RequestIDHeader,
		TimeoutHeader: cfg.HTTP.TimeoutHeader,
		Logger:        log.With("component", "http"),
	})
	g.publishSchemas(gen)
	if g.demo != nil {
		go func() { g.errc <- serveErr("demo service", g.demo.Serve(g.demoLn), motan2.ErrServerClosed) }()
	}
	if g.motan2 != nil {
		go func() { g.errc <- serveErr("motan2", g.motan2.Serve(g.motan2Ln), motan2.ErrServerClosed) }()
	}
	if g.grpc != nil {
		go func() { g.errc <- serveErr("grpc", g.grpc.Serve(g.grpcLn), nil) }()
	}
	go func() { g.errc <- serveErr("http", g.http.Serve(l), net.ErrClosed) }()
	g.startRefreshers(gen)
	if err := g.exportServices(cfg); err != nil {
		g.log.Error("exported services not registered", "error", err)
	}
	return g, nil
}

// schemaNames returns the names of the schemas, sorted.
func (b *Built) schemaNames() []string {
	names := make([]string, 0, len(b.Schemas))
	for n := range b.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// publishSchemas points the reflection slots at the snapshots of gen's
// schemas (an empty snapshot for slots left over). Called with swapMu
// held, or before serving.
func (g *Gateway) publishSchemas(gen *generation) {
	if len(g.reflection) == 0 {
		return
	}
	names := gen.built.schemaNames()
	if len(names) > len(g.reflection) {
		g.log.Warn("gRPC reflection serves the services routed without a schema from the first schemas only; restart to serve all",
			"schemas", len(names), "slots", len(g.reflection))
	}
	for i, slot := range g.reflection {
		var snap *descriptors.Snapshot
		if i < len(names) {
			snap = gen.built.Schemas[names[i]].Current()
		}
		if snap == nil {
			snap = emptySchema
		}
		if g.mirrored[i] != snap { // Swap publishes a copy: compare the originals
			g.mirrored[i] = snap
			slot.Swap(snap)
		}
	}
}

// emptySchema fills the reflection slots no schema uses.
var emptySchema, _ = descriptors.NewSnapshot("none", nil)

// startRefreshers reloads gen's reflection-sourced schemas in the
// background: a schema not loaded at start is retried every few seconds
// until it loads, then every refresh interval. Each published schema
// rebuilds the HTTP routes, so annotations an upstream adds become
// routes. They stop when gen is replaced.
func (g *Gateway) startRefreshers(gen *generation) {
	ctx, cancel := context.WithCancel(context.Background())
	gen.stopRefresh = cancel
	for _, r := range gen.built.sources {
		if r.refresh <= 0 {
			continue
		}
		gen.refreshDone.Add(1)
		go func() {
			defer gen.refreshDone.Done()
			g.refreshLoop(ctx, gen, r)
		}()
	}
}

// unloadedRetry is how often a reflection schema that has never loaded is
// retried.
const unloadedRetry = 3 * time.Second

func (g *Gateway) refreshLoop(ctx context.Context, gen *generation, r *schemaSource) {
	for {
		wait := r.refresh
		if !r.loaded {
			wait = min(wait, unloadedRetry)
		}
		if wait <= 0 {
			return // refresh turned off
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := r.reg.Reload(r.load); err != nil {
			g.log.Warn("schema refresh failed; the schema in force keeps serving", "schema", r.name, "error", err)
			continue
		}
		r.loaded = true
		g.rebuildHTTP(gen)
	}
}

// ReloadSchema loads the named schema of the generation in force again
// from its source and, when it loads, publishes it and rebuilds the HTTP
// routes. When it fails, the schema in force keeps serving and the error
// says why. Requests in flight finish on the snapshot they started with.
func (g *Gateway) ReloadSchema(name string) error {
	gen := g.cur.Load()
	for _, r := range gen.built.sources {
		if r.name == name {
			if err := r.reg.Reload(r.load); err != nil {
				return err
			}
			g.rebuildHTTP(gen)
			return nil
		}
	}
	return fmt.Errorf("no schema named %q", name)
}

// rebuildHTTP recompiles gen's HTTP routes against the schemas in force
// and swaps them in, unless gen has been replaced meanwhile (its routes
// are no longer served); requests in flight finish on the old routes.
func (g *Gateway) rebuildHTTP(gen *generation) {
	g.swapMu.Lock()
	defer g.swapMu.Unlock()
	if g.cur.Load() != gen {
		return
	}
	view, err := gen.built.buildHTTP(slog.LevelDebug)
	if err != nil {
		g.log.Error("HTTP routes not rebuilt after a schema change; the routes in force keep serving", "error", err)
		return
	}
	gen.built.httpView.Store(view)
	g.http.Swap(view.snap)
	g.publishSchemas(gen)
}

func serveErr(what string, err, closed error) error {
	if err == nil || (closed != nil && errors.Is(err, closed)) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// HTTPAddr returns the address the HTTP ingress listens on.
func (g *Gateway) HTTPAddr() net.Addr { return g.httpLn.Addr() }

// Motan2Addr returns the Motan2 ingress's address, or nil without one.
func (g *Gateway) Motan2Addr() net.Addr { return addrOf(g.motan2Ln) }

// GRPCAddr returns the gRPC ingress's address, or nil without one.
func (g *Gateway) GRPCAddr() net.Addr { return addrOf(g.grpcLn) }

// DemoAddr returns the demo service's address, or nil without one.
func (g *Gateway) DemoAddr() net.Addr { return addrOf(g.demoLn) }

func addrOf(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

// Schema returns the registry of the named schema of the generation in
// force, or nil.
func (g *Gateway) Schema(name string) *descriptors.Registry { return g.cur.Load().built.Schemas[name] }

// Err receives the error of a listener that stopped serving on its own.
func (g *Gateway) Err() <-chan error { return g.errc }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then stops schema refreshes and closes the upstream connections of
// every generation and the demo service. Reloads are refused from the
// moment it is called.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.reloadMu.Lock()
	if g.shut {
		g.reloadMu.Unlock()
		return nil
	}
	g.shut = true
	g.reloadMu.Unlock()
	g.unexport() // clients stop picking this agent while it drains

	err := g.http.Shutdown(ctx)
	// fasthttp's Shutdown closes only the listeners its Serve has
	// registered: a Shutdown right after Start could otherwise leave the
	// Serve goroutine, not started yet, accepting forever.
	g.httpLn.Close()
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	if g.motan2 != nil {
		keep(g.motan2.Shutdown(ctx))
	}
	if g.grpc != nil {
		keep(g.grpc.Shutdown(ctx))
	}
	// The ingresses no longer call anything: close what drains at once.
	close(g.stopping)
	g.retireWG.Wait()
	gen := g.cur.Load()
	gen.stopRefreshers()
	gen.built.Close()
	if g.demo != nil {
		keep(g.demo.Shutdown(ctx))
	}
	g.tel.close()
	g.closeDiscovery()
	return err
}

func (g *Gateway) closeListeners() {
	for _, l := range []net.Listener{g.demoLn, g.motan2Ln, g.grpcLn} {
		if l != nil {
			l.Close()
		}
	}
}

// Built is a configuration compiled into ingress snapshots, the upstream
// clusters they call and the schemas they read.
type Built struct {
	HTTP    *ingress.Snapshot
	Motan2  *ingress.Motan2Snapshot
	GRPC    *ingress.GRPCSnapshot
	Schemas map[string]*descriptors.Registry

	cfg *config.Config
	log *slog.Logger
	env *gateway.FilterEnv
	tel *telemetry
	// filterCache holds the filters this generation built or reused
	// (filterstate.go); prevFilters the replaced generation's, during
	// the build only.
	filterCache *filterCache
	// prevFilters is the replaced generation's cache while this one is
	// built and its clusters get their first endpoints from discovery
	// (which builds endpoint chains from discovery's goroutines); nil
	// afterwards.
	prevFilters atomic.Pointer[filterCache]
	// track counts the calls in the generation's route chains and closes
	// them to late calls once the generation is closed (generation.go).
	track *tracker
	// invokers are the clusters, each behind its cluster filter chain.
	invokers map[string]gateway.Invoker
	// endpoints report each cluster's endpoints, for the admin API.
	endpoints map[string]func() []upstream.EndpointState
	// clusters are the clusters by name (without their chains): what
	// discovery updates and the admin API reads.
	clusters map[string]Cluster
	// chains are the route chains (each under its tracker) by route key,
	// to forward a late call to the generation that replaced this one.
	chains map[string]gateway.Invoker
	// httpView is the HTTP snapshot in force with what each route was
	// built from; replaced when a schema refresh rebuilds the routes.
	httpView atomic.Pointer[httpView]
	// motan2Routes are the Motan2 routes in configuration order.
	motan2Routes []*ingress.Motan2Route
	// httpChains and transcodeChains are the route chains of cfg.Routes and
	// cfg.Transcoding, by index, built once per generation so that a route
	// rebuild after a schema refresh keeps the filters' state.
	httpChains, transcodeChains []gateway.Invoker
	closers                     []func()
	// gates are the degrade gates of the clusters discovery feeds, and
	// disc their subscriptions (discovery.go).
	gates map[string]*discovery.Gate
	disc  *discovery.Manager
	// sources are how each schema loads; those with a refresh interval
	// (reflection) reload in the background while the gateway runs.
	sources []*schemaSource
}

type schemaSource struct {
	name    string
	reg     *descriptors.Registry
	load    func() (*descriptors.Snapshot, error)
	refresh time.Duration
	loaded  bool // touched only by the source's refresh goroutine
}

// Close closes every cluster. Calls that reach a route chain afterwards
// are not sent to the closed clusters (see tracker).
func (b *Built) Close() {
	b.track.close()
	for _, c := range b.closers {
		c()
	}
}

// Build compiles a validated configuration into the ingress snapshots and
// the clusters they call, and loads its schemas. demoAddr replaces the
// "demo" endpoint name. A schema from reflection that cannot be loaded yet
// is not an error: its routes appear when a background refresh loads it.
func Build(cfg *config.Config, demoAddr string, env *gateway.FilterEnv, log *slog.Logger) (*Built, error) {
	return build(cfg, demoAddr, env, nil, nil, log)
}

// build is Build with the process-wide telemetry (nil: none) whose
// filters start every chain, and the generation it replaces (nil: none),
// whose unchanged filters it reuses with their state.
func build(cfg *config.Config, demoAddr string, env *gateway.FilterEnv, tel *telemetry, prev *Built, log *slog.Logger) (*Built, error) {
	b := &Built{cfg: cfg, log: log, env: env, tel: tel, track: newTracker(), filterCache: &filterCache{}, invokers: map[string]gateway.Invoker{},
		endpoints: map[string]func() []upstream.EndpointState{}, chains: map[string]gateway.Invoker{},
		clusters: map[string]Cluster{},
		Schemas:  map[string]*descriptors.Registry{}}
	if prev != nil {
		b.prevFilters.Store(prev.filterCache)
	}
	grpcClusters := map[string]*upstream.GRPCCluster{}
	for _, cc := range cfg.Clusters {
		eps := make([]gateway.Endpoint, len(cc.Endpoints))
		for i, ep := range cc.Endpoints {
			if ep.Addr == config.DemoEndpoint {
				ep.Addr = demoAddr
			}
			eps[i] = gateway.Endpoint{Addr: ep.Addr, Weight: ep.Weight, DC: ep.DC, Group: ep.Group}
		}
		ha := haOptions(&cc)
		chain := b.endpointChain(cc.Name)
		if cc.Protocol == config.ProtocolGRPC {
			tlsCfg, err := clientTLS(cc.TLS)
			if err != nil {
				b.Close()
				return nil, fmt.Errorf("cluster %s: %w", cc.Name, err)
			}
			c, err := upstream.NewGRPCCluster(cc.Name, eps, upstream.GRPCClusterOptions{
				LB: cc.LB, TLS: tlsCfg, DialTimeout: cc.DialTimeout, MaxRecvMsgSize: cc.MaxBodyBytes, Logger: log,
				HA: ha, EndpointChain: chain,
			})
			if err != nil {
				b.Close()
				return nil, fmt.Errorf("cluster %s: %w", cc.Name, err)
			}
			grpcClusters[cc.Name], b.invokers[cc.Name] = c, c
			b.endpoints[cc.Name] = c.EndpointStates
			b.clusters[cc.Name] = c
			b.closers = append(b.closers, c.Close)
			continue
		}
		ser, _ := motan2.ParseSerialization(cc.Serialization)
		c, err := upstream.NewCluster(cc.Name, eps, upstream.ClusterOptions{
			LB: cc.LB, Serialization: ser, Logger: log, HA: ha, EndpointChain: chain,
			Client: []motan2.ClientOption{
				motan2.WithConnections(cc.Connections), motan2.WithMaxInFlight(cc.MaxInFlight),
				motan2.WithDialTimeout(cc.DialTimeout), motan2.WithGzipThreshold(cc.GzipThreshold),
				motan2.WithLimits(motan2.Limits{MaxBodySize: cc.MaxBodyBytes}),
			},
		})
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("cluster %s: %w", cc.Name, err)
		}
		b.invokers[cc.Name] = c
		b.endpoints[cc.Name] = c.EndpointStates
		b.clusters[cc.Name] = c
		b.closers = append(b.closers, c.Close)
	}
	b.gateDiscovered() // discovery.go
	if err := b.loadSchemas(grpcClusters, log); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.buildChains(); err != nil {
		b.Close()
		return nil, err
	}
	var err error
	for i, rc := range cfg.Routes {
		if b.httpChains[i], err = b.routeChain("routes", i, rc.Name, rc.Target.Cluster, rc.Filters); err != nil {
			b.Close()
			return nil, err
		}
	}
	for i, tc := range cfg.Transcoding {
		if b.transcodeChains[i], err = b.routeChain("transcoding", i, "transcoding "+tc.Schema, tc.Target.Cluster, tc.Filters); err != nil {
			b.Close()
			return nil, err
		}
	}
	view, err := b.buildHTTP(slog.LevelWarn)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.HTTP = view.snap
	b.httpView.Store(view)
	var m2routes []*ingress.Motan2Route
	for i, rc := range cfg.Motan2Routes {
		chain, err := b.routeChain("motan2_routes", i, rc.Name, rc.Target.Cluster, rc.Filters)
		if err != nil {
			b.Close()
			return nil, err
		}
		r := &ingress.Motan2Route{
			Name: rc.Name, Service: rc.Service, Group: rc.Group,
			TargetService: rc.Target.Service, TargetGroup: rc.Target.Group, Timeout: rc.Target.Timeout,
			Policy: callPolicy(&rc.Target.CallPolicy, nil),
		}
		if _, ok := grpcClusters[rc.Target.Cluster]; ok {
			r.Bridge = &ingress.Motan2Bridge{Schema: b.Schemas[rc.Schema], Service: orString(rc.Target.Service, rc.Service),
				ArgFields: rc.Target.Args, Invoker: chain}
		} else {
			r.Invoker = chain
		}
		m2routes = append(m2routes, r)
	}
	b.motan2Routes = m2routes
	b.Motan2 = ingress.NewMotan2Snapshot(m2routes)
	b.Motan2.Rejects = b.rejections()
	var groutes []*gateway.GRPCRoute
	for i, rc := range cfg.GRPCRoutes {
		chain, err := b.routeChain("grpc_routes", i, rc.Name, rc.Target.Cluster, rc.Filters)
		if err != nil {
			b.Close()
			return nil, err
		}
		r := &gateway.GRPCRoute{
			Name: rc.Name, Service: rc.Service, Method: rc.Method,
			TargetService: rc.Target.Service, Group: rc.Target.Group, Version: rc.Target.Version,
			Timeout: rc.Target.Timeout, Invoker: chain, Policy: callPolicy(&rc.Target.CallPolicy, nil),
		}
		if rc.Schema != "" {
			r.Schema = b.Schemas[rc.Schema]
		}
		r.Mode, r.PayloadSerialization, r.ArgFields = messageMode(&rc.Target)
		groutes = append(groutes, r)
	}
	if b.GRPC, err = ingress.NewGRPCSnapshot(groutes); err != nil {
		b.Close()
		return nil, err
	}
	b.GRPC.Rejects = b.rejections()
	return b, nil
}

// buildChains puts every cluster behind its cluster chain
// (filters.clusters) and sizes the route chain tables.
func (b *Built) buildChains() error {
	for name, list := range b.cfg.Filters.Clusters {
		fs, err := b.filters("cluster "+name, "", name, "", list)
		if err != nil {
			return fmt.Errorf("filters.clusters.%s: %w", name, err)
		}
		b.invokers[name] = gateway.Chain(b.invokers[name], fs...)
	}
	b.httpChains = make([]gateway.Invoker, len(b.cfg.Routes))
	b.transcodeChains = make([]gateway.Invoker, len(b.cfg.Transcoding))
	return nil
}

// routeChain builds a route's chain (its own filters, or filters.default)
// in front of its cluster's, under the generation's tracker.
func (b *Built) routeChain(section string, i int, route, cluster string, list []config.Filter) (gateway.Invoker, error) {
	if list == nil {
		list = b.cfg.Filters.Default
	}
	fs, err := b.filters("route "+route, route, cluster, ingressOf(section), list)
	if err != nil {
		return nil, fmt.Errorf("%s[%d] (%s): %w", section, i, route, err)
	}
	if tf := b.telemetryFilters(gateway.FilterSpec{Scope: "route " + route, Route: route, Cluster: cluster, Env: b.env, Ingress: ingressOf(section)}); len(tf) > 0 {
		fs = append(tf, fs...)
	}
	key := section + "/" + route
	for n := 2; b.chains[key] != nil; n++ {
		key = fmt.Sprintf("%s/%s#%d", section, route, n)
	}
	chain := &tracked{t: b.track, key: key, route: route, next: gateway.Chain(b.invokers[cluster], fs...)}
	b.chains[key] = chain
	return chain, nil
}

func (b *Built) filters(scope, route, cluster, ingress string, list []config.Filter) ([]gateway.Filter, error) {
	fs := make([]gateway.Filter, 0, len(list))
	for j := range list {
		fc := &list[j]
		f, err := b.newFilter(j, fc, gateway.FilterSpec{Scope: scope, Route: route, Cluster: cluster, Ingress: ingress, Env: b.env})
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", fc.Line, err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func orString(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// messageMode turns a target's encoding into the route's message mode.
func messageMode(t *config.ProtoTarget) (gateway.MessageMode, motan2.Serialization, []string) {
	switch t.Encoding {
	case config.EncodingSimple:
		return gateway.ConvertSimple, 0, t.Args
	case config.EncodingPB:
		return gateway.PassPayload, motan2.SerializationPB, nil
	}
	return gateway.PassPayload, motan2.SerializationGrpcPB, nil
}

// loadSchemas loads every configured schema. Descriptor sets and .proto
// sources must load; a reflection source that cannot be reached yet is
// logged and retried in the background.
func (b *Built) loadSchemas(grpcClusters map[string]*upstream.GRPCCluster, log *slog.Logger) error {
	for _, sc := range b.cfg.Schemas {
		reg := new(descriptors.Registry)
		b.Schemas[sc.Name] = reg
		var load func() (*descriptors.Snapshot, error)
		switch {
		case sc.DescriptorSet != "":
			load = func() (*descriptors.Snapshot, error) { return descriptors.LoadDescriptorSet(sc.DescriptorSet) }
		case sc.Builtin == config.BuiltinDemoSchema:
			load = func() (*descriptors.Snapshot, error) {
				return descriptors.CompileProtoFS(context.Background(), demo.ProtoFS(), []string{demo.SchemaFile})
			}
		case sc.Protos != nil:
			ps := sc.Protos
			load = func() (*descriptors.Snapshot, error) {
				return descriptors.CompileProtos(context.Background(), ps.ImportPaths, ps.Files)
			}
		case sc.Reflection != nil:
			rs := sc.Reflection
			var opts []descriptors.ReflectionOption
			if len(rs.Services) > 0 {
				opts = append(opts, descriptors.ReflectServices(rs.Services...))
			}
			load = descriptors.ReflectionLoader(context.Background(), grpcClusters[rs.Cluster].Conn(), "cluster "+rs.Cluster, rs.Timeout, opts...)
			src := &schemaSource{name: sc.Name, reg: reg, load: load, refresh: rs.Refresh}
			if err := reg.Reload(load); err != nil {
				log.Warn("schema not loaded yet; retrying in the background", "schema", sc.Name, "cluster", rs.Cluster, "error", err)
			} else {
				src.loaded = true
			}
			b.sources = append(b.sources, src)
			continue
		}
		if err := reg.Reload(load); err != nil {
			return fmt.Errorf("schema %s: %w", sc.Name, err)
		}
		b.sources = append(b.sources, &schemaSource{name: sc.Name, reg: reg, load: load, loaded: true})
	}
	return nil
}

// httpView is an HTTP snapshot and, for each of its routes (by index),
// where it comes from.
type httpView struct {
	snap   *ingress.Snapshot
	origin []httpOrigin
}

// httpOrigin is what an HTTP route was built from: its method and path
// template, and routes[index] or transcoding[index] of the configuration.
type httpOrigin struct {
	method, path string
	transcoded   bool
	index        int
}

// buildHTTP compiles the HTTP routes: the explicit ones of the
// configuration and the ones transcoding generates from the schemas in
// force. An explicit route overrides a generated one with the same method
// and path. Methods that get no route are logged at level (warnings at
// start, debug on the rebuilds that follow schema refreshes).
func (b *Built) buildHTTP(level slog.Level) (*httpView, error) {
	cfg := b.cfg
	rb := &routes.Builder{}
	snap := &ingress.Snapshot{}
	view := &httpView{snap: snap}
	explicit := map[[2]string]bool{}
	for i, rc := range cfg.Routes {
		r := &gateway.Route{
			Name: rc.Name, Service: rc.Target.Service, Method: rc.Target.Method,
			Group: rc.Target.Group, Version: rc.Target.Version, Timeout: rc.Target.Timeout,
			RequestHeaders: rc.RequestHeaders, ResponseMeta: rc.ResponseMeta,
			ContentType: rc.Reply.ContentType, JSON: translate.JSONOptions{Int64AsString: rc.Reply.Int64AsString},
			Invoker: b.httpChains[i], Policy: callPolicy(&rc.Target.CallPolicy, rc.Args),
		}
		for _, ac := range rc.Args {
			typ, err := translate.ParseArgType(ac.Type)
			if err != nil {
				return nil, fmt.Errorf("route %s: %w", rc.Name, err)
			}
			a := gateway.ArgBinding{Name: ac.Name, Key: ac.Key, Type: typ, From: sources[ac.From]}
			if a.From == gateway.FromBody || a.From == gateway.FromBodyField {
				r.NeedsBody = true
			}
			if ac.Default != nil {
				if a.Default, err = translate.FromString(ac.Name, *ac.Default, typ); err != nil {
					return nil, fmt.Errorf("route %s: %w", rc.Name, err)
				}
				a.HasDefault = true
			}
			r.Args = append(r.Args, a)
		}
		if err := rb.Add(rc.Method, rc.Path, len(snap.Routes)); err != nil {
			return nil, fmt.Errorf("route %s: %w", rc.Name, err)
		}
		explicit[[2]string{rc.Method, rc.Path}] = true
		snap.Routes = append(snap.Routes, r)
		view.origin = append(view.origin, httpOrigin{method: rc.Method, path: rc.Path, index: i})
	}
	for i, tc := range cfg.Transcoding {
		if b.Schemas[tc.Schema].Current() == nil {
			// A reflection schema not loaded yet: its routes come with the
			// rebuild that follows its first load.
			b.log.Log(context.Background(), level, "transcoding waits for its schema to load", "schema", tc.Schema)
			continue
		}
		mode, ser, fields := messageMode(&tc.Target)
		generated, err := ingress.TranscodeRoutes(b.Schemas[tc.Schema], ingress.TranscodeTarget{
			Services: tc.Services, Invoker: b.transcodeChains[i], GenericPost: tc.GenericPost,
			Warn:    func(msg string) { b.log.Log(context.Background(), level, msg, "schema", tc.Schema) },
			Service: tc.Target.Service, Group: tc.Target.Group, Version: tc.Target.Version, Timeout: tc.Target.Timeout,
			Mode: mode, PayloadSerialization: ser, ArgFields: fields, Policy: callPolicy(&tc.Target.CallPolicy, nil),
			JSON: translate.ProtoJSONOptions{
				UseProtoNames: tc.JSON.ProtoNames, EmitUnpopulated: tc.JSON.EmitUnpopulated,
				EnumsAsNumbers: tc.JSON.EnumsAsNumbers, Int64AsNumbers: tc.JSON.Int64AsNumbers,
				DiscardUnknown: tc.JSON.DiscardUnknown,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("transcoding schema %s: %w", tc.Schema, err)
		}
		for _, g := range generated {
			if explicit[[2]string{g.HTTPMethod, g.Path}] {
				continue
			}
			if err := rb.Add(g.HTTPMethod, g.Path, len(snap.Routes)); err != nil {
				return nil, fmt.Errorf("transcoding schema %s: route %s: %w", tc.Schema, g.Route.Name, err)
			}
			snap.Routes = append(snap.Routes, g.Route)
			view.origin = append(view.origin, httpOrigin{method: g.HTTPMethod, path: g.Path, transcoded: true, index: i})
		}
	}
	table, err := rb.Build()
	if err != nil {
		return nil, err
	}
	snap.Table = table
	snap.Rejects = b.rejections()
	return view, nil
}

// clientTLS builds a gRPC cluster's TLS configuration (nil: plaintext h2c).
func clientTLS(t *config.ClientTLS) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificate found", t.CAFile)
		}
	}
	return c, nil
}

var sources = map[string]gateway.Source{
	config.FromPath: gateway.FromPath, config.FromQuery: gateway.FromQuery, config.FromHeader: gateway.FromHeader,
	config.FromBody: gateway.FromBody, config.FromBodyField: gateway.FromBodyField,
}
