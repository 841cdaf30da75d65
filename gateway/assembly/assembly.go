// Package assembly builds a running gateway from a configuration: it is
// the one place that wires ingresses to upstream plugins.
package assembly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/ingress"
	"github.com/meshgate/meshgate/gateway/upstream"
	"github.com/meshgate/meshgate/internal/demo"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

// Gateway is a running meshgate: listeners, clusters and, when configured,
// the built-in demo service.
type Gateway struct {
	http     *ingress.HTTP
	httpLn   net.Listener
	motan2   *ingress.Motan2
	motan2Ln net.Listener
	demo     *motan2.Server
	demoLn   net.Listener
	clusters []*upstream.Cluster
	errc     chan error
	log      *slog.Logger
}

// Start binds the configured listeners, builds routes and clusters and
// starts serving. Bind errors are returned before anything serves.
func Start(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{log: log, errc: make(chan error, 3)}
	demoAddr := ""
	if cfg.Demo != nil {
		l, err := net.Listen("tcp", cfg.Demo.Listen)
		if err != nil {
			return nil, fmt.Errorf("demo service: %w", err)
		}
		g.demoLn, demoAddr = l, l.Addr().String()
		g.demo = &motan2.Server{Handler: demo.Mux(), Logger: log.With("component", "demo")}
	}
	snap, m2snap, clusters, err := Build(cfg, demoAddr, log)
	if err != nil {
		g.closeListeners()
		return nil, err
	}
	g.clusters = clusters
	if cfg.Motan2 != nil {
		l, err := net.Listen("tcp", cfg.Motan2.Listen)
		if err != nil {
			g.closeListeners()
			g.closeClusters()
			return nil, fmt.Errorf("motan2: %w", err)
		}
		g.motan2Ln = l
		g.motan2 = ingress.NewMotan2(m2snap, ingress.Motan2Options{
			Limits:                motan2.Limits{MaxMetaSize: cfg.Motan2.MaxBodyBytes, MaxBodySize: cfg.Motan2.MaxBodyBytes},
			MaxConcurrentRequests: cfg.Motan2.MaxConcurrentRequests, ProxyBit: *cfg.Motan2.ProxyBit,
			Logger: log.With("component", "motan2"),
		})
	}
	l, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		g.closeListeners()
		g.closeClusters()
		return nil, fmt.Errorf("http: %w", err)
	}
	g.httpLn = l
	g.http = ingress.NewHTTP(snap, ingress.HTTPOptions{
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxHeaderBytes: cfg.HTTP.MaxHeaderBytes,
		ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout,
		MaxConnections: cfg.HTTP.MaxConnections, RequestIDHeader: cfg.HTTP.RequestIDHeader,
		Logger: log.With("component", "http"),
	})
	if g.demo != nil {
		go func() { g.errc <- serveErr("demo service", g.demo.Serve(g.demoLn), motan2.ErrServerClosed) }()
	}
	if g.motan2 != nil {
		go func() { g.errc <- serveErr("motan2", g.motan2.Serve(g.motan2Ln), motan2.ErrServerClosed) }()
	}
	go func() { g.errc <- serveErr("http", g.http.Serve(l), nil) }()
	return g, nil
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
func (g *Gateway) Motan2Addr() net.Addr {
	if g.motan2Ln == nil {
		return nil
	}
	return g.motan2Ln.Addr()
}

// DemoAddr returns the demo service's address, or nil without one.
func (g *Gateway) DemoAddr() net.Addr {
	if g.demoLn == nil {
		return nil
	}
	return g.demoLn.Addr()
}

// Err receives the error of a listener that stopped serving on its own.
func (g *Gateway) Err() <-chan error { return g.errc }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes upstream connections and the demo service.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.http.Shutdown(ctx)
	if g.motan2 != nil {
		if merr := g.motan2.Shutdown(ctx); err == nil {
			err = merr
		}
	}
	g.closeClusters()
	if g.demo != nil {
		if derr := g.demo.Shutdown(ctx); err == nil {
			err = derr
		}
	}
	return err
}

func (g *Gateway) closeListeners() {
	for _, l := range []net.Listener{g.demoLn, g.motan2Ln} {
		if l != nil {
			l.Close()
		}
	}
}

func (g *Gateway) closeClusters() {
	for _, c := range g.clusters {
		c.Close()
	}
}

// Build compiles a validated configuration into the HTTP and Motan2
// snapshots and the clusters they call. demoAddr replaces the "demo"
// endpoint name.
func Build(cfg *config.Config, demoAddr string, log *slog.Logger) (*ingress.Snapshot, *ingress.Motan2Snapshot, []*upstream.Cluster, error) {
	byName := make(map[string]*upstream.Cluster, len(cfg.Clusters))
	var clusters []*upstream.Cluster
	for _, cc := range cfg.Clusters {
		eps := make([]string, len(cc.Endpoints))
		for i, ep := range cc.Endpoints {
			if ep == config.DemoEndpoint {
				ep = demoAddr
			}
			eps[i] = ep
		}
		ser, _ := motan2.ParseSerialization(cc.Serialization)
		lb := upstream.RoundRobin
		if cc.LB == "random" {
			lb = upstream.Random
		}
		c := upstream.NewCluster(cc.Name, eps, upstream.ClusterOptions{
			LB: lb, Serialization: ser, Logger: log,
			Client: []motan2.ClientOption{
				motan2.WithConnections(cc.Connections), motan2.WithMaxInFlight(cc.MaxInFlight),
				motan2.WithDialTimeout(cc.DialTimeout), motan2.WithGzipThreshold(cc.GzipThreshold),
				motan2.WithLimits(motan2.Limits{MaxBodySize: cc.MaxBodyBytes}),
			},
		})
		byName[cc.Name] = c
		clusters = append(clusters, c)
	}
	closeAll := func() {
		for _, c := range clusters {
			c.Close()
		}
	}
	b := &routes.Builder{}
	snap := &ingress.Snapshot{}
	for i, rc := range cfg.Routes {
		r := &gateway.Route{
			Name: rc.Name, Service: rc.Target.Service, Method: rc.Target.Method,
			Group: rc.Target.Group, Version: rc.Target.Version, Timeout: rc.Target.Timeout,
			RequestHeaders: rc.RequestHeaders, ResponseMeta: rc.ResponseMeta,
			ContentType: rc.Reply.ContentType, JSON: translate.JSONOptions{Int64AsString: rc.Reply.Int64AsString},
			Invoker: byName[rc.Target.Cluster],
		}
		for _, ac := range rc.Args {
			typ, err := translate.ParseArgType(ac.Type)
			if err != nil {
				closeAll()
				return nil, nil, nil, fmt.Errorf("route %s: %w", rc.Name, err)
			}
			a := gateway.ArgBinding{Name: ac.Name, Key: ac.Key, Type: typ, From: sources[ac.From]}
			if a.From == gateway.FromBody || a.From == gateway.FromBodyField {
				r.NeedsBody = true
			}
			if ac.Default != nil {
				if a.Default, err = translate.FromString(ac.Name, *ac.Default, typ); err != nil {
					closeAll()
					return nil, nil, nil, fmt.Errorf("route %s: %w", rc.Name, err)
				}
				a.HasDefault = true
			}
			r.Args = append(r.Args, a)
		}
		if err := b.Add(rc.Method, rc.Path, i); err != nil {
			closeAll()
			return nil, nil, nil, fmt.Errorf("route %s: %w", rc.Name, err)
		}
		snap.Routes = append(snap.Routes, r)
	}
	table, err := b.Build()
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	snap.Table = table
	var m2routes []*ingress.Motan2Route
	for _, rc := range cfg.Motan2Routes {
		m2routes = append(m2routes, &ingress.Motan2Route{
			Name: rc.Name, Service: rc.Service, Group: rc.Group,
			TargetService: rc.Target.Service, TargetGroup: rc.Target.Group, Timeout: rc.Target.Timeout,
			Invoker: byName[rc.Target.Cluster],
		})
	}
	return snap, ingress.NewMotan2Snapshot(m2routes), clusters, nil
}

var sources = map[string]gateway.Source{
	config.FromPath: gateway.FromPath, config.FromQuery: gateway.FromQuery, config.FromHeader: gateway.FromHeader,
	config.FromBody: gateway.FromBody, config.FromBodyField: gateway.FromBodyField,
}
