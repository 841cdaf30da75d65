package assembly

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/telemetry/metrics"
)

// metricsState is the process-wide metrics state (nil: metrics off): the
// counters and windows of every route and endpoint (they outlive
// generations: a reload resets nothing), the Prometheus registry the
// management API serves at /metrics, and the Graphite reporter.
type metricsState struct {
	m   *metrics.Metrics
	cfg config.Metrics // as started, for the restart checks
	log *slog.Logger

	bindOnce sync.Once // MetricsHandler sets the breaker source

	mu       sync.Mutex // guards graphite and gcfg
	graphite *metrics.Graphite
	gcfg     *config.Graphite
}

// metricsOptions returns the options cfg's metrics section (defaults when
// absent) and Graphite section give.
func metricsOptions(cfg *config.Config, log *slog.Logger) metrics.Options {
	mc := cfg.Telemetry.Metrics
	o := metrics.Options{Window: metrics.DefaultWindow, Process: mc.ProcessOn(), Logger: log}
	if mc != nil {
		o.Window, o.MaxMethodsPerRoute, o.Buckets = mc.Window, mc.MaxMethodsPerRoute, mc.Buckets
	}
	if g := cfg.Telemetry.Graphite; g != nil {
		o.Period = g.Interval
	}
	return o
}

func newMetricsState(cfg *config.Config, log *slog.Logger) (*metricsState, error) {
	if !cfg.Telemetry.Metrics.On() {
		return nil, nil
	}
	m, err := metrics.New(metricsOptions(cfg, log))
	if err != nil {
		return nil, fmt.Errorf("telemetry.metrics: %w", err)
	}
	s := &metricsState{m: m, log: log}
	if mc := cfg.Telemetry.Metrics; mc != nil {
		s.cfg = *mc
	}
	if err := s.startGraphite(cfg.Telemetry.Graphite); err != nil {
		m.Close()
		return nil, err
	}
	return s, nil
}

// startGraphite replaces the Graphite reporter by one for g (none when g
// is nil). A reporter that cannot start leaves the running one alone.
func (s *metricsState) startGraphite(g *config.Graphite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r *metrics.Graphite
	if g != nil {
		var err error
		r, err = s.m.StartGraphite(metrics.GraphiteOptions{Address: g.Address, Protocol: g.Protocol, Interval: g.Interval,
			Prefix: g.Prefix, Timeout: g.Timeout, Logger: s.log.With("component", "graphite")})
		if err != nil {
			return fmt.Errorf("telemetry.graphite: %w", err)
		}
	}
	if s.graphite != nil {
		s.graphite.Stop()
	}
	s.graphite, s.gcfg = r, g
	return nil
}

// reconfigure applies a reloaded configuration: a changed Graphite
// section restarts the reporter; what the counters and windows were
// built with (metrics on or off, window, buckets, the methods bound,
// process metrics, the window period a Graphite interval sets) needs a
// restart.
func (s *metricsState) reconfigure(cfg *config.Config) error {
	on := cfg.Telemetry.Metrics.On()
	if (s != nil) != on {
		return fmt.Errorf("telemetry.metrics.enabled changed: restart required")
	}
	if s == nil {
		return nil
	}
	if old, nu := builtWith(&s.cfg), builtWith(cfg.Telemetry.Metrics); !reflect.DeepEqual(old, nu) {
		return fmt.Errorf("telemetry.metrics changed (%+v to %+v): restart required", old, nu)
	}
	if p := metrics.PeriodFor(metricsOptions(cfg, s.log)); p != s.m.Period() {
		return fmt.Errorf("telemetry.graphite.interval changes the metrics window period from %v to %v: restart required", s.m.Period(), p)
	}
	return nil
}

// apply starts a changed Graphite reporter: after the swap of a reload
// that built, so that a failed reload leaves the reporter as it was.
func (s *metricsState) apply(cfg *config.Config) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	same := reflect.DeepEqual(s.gcfg, cfg.Telemetry.Graphite)
	s.mu.Unlock()
	if same {
		return nil
	}
	return s.startGraphite(cfg.Telemetry.Graphite)
}

// metricsBuild is what the counters and windows are built with.
type metricsBuild struct {
	Window     time.Duration
	MaxMethods int
	Buckets    []float64
	Process    bool
}

// builtWith returns what mc (nil: absent) builds the metrics with.
func builtWith(mc *config.Metrics) metricsBuild {
	b := metricsBuild{Window: metrics.DefaultWindow, MaxMethods: metrics.DefaultMaxMethodsPerRoute, Process: mc.ProcessOn()}
	if mc != nil {
		b.Window = cmp.Or(mc.Window, b.Window)
		b.MaxMethods = cmp.Or(mc.MaxMethodsPerRoute, b.MaxMethods)
		b.Buckets = mc.Buckets
	}
	return b
}

func (s *metricsState) close() {
	if s == nil {
		return
	}
	s.startGraphite(nil)
	if err := s.m.Close(); err != nil {
		s.log.Warn("metrics: close", "error", err)
	}
}

// filters appends the metrics filters of a chain to fs: the route filter
// to a route's chain, the endpoint filter to an endpoint's.
func (s *metricsState) filters(spec gateway.FilterSpec, fs []gateway.Filter) []gateway.Filter {
	switch {
	case s == nil:
	case spec.Endpoint != "":
		fs = append(fs, s.m.EndpointFilter(spec.Cluster, spec.Endpoint))
	case spec.Route != "":
		fs = append(fs, s.m.RouteFilter(spec.Route, spec.Ingress))
	}
	return fs
}

// MetricsHandler serves the metrics in Prometheus format (GET /metrics
// of the management API); nil when metrics are off. The first call also
// makes meshgate_breaker_state report the breakers of the generation in
// force at each scrape (see breakers).
func (g *Gateway) MetricsHandler() http.Handler {
	if g.tel == nil || g.tel.metrics == nil {
		return nil
	}
	s := g.tel.metrics
	s.bindOnce.Do(func() {
		s.m.SetBreakerSource(g.breakers)
		s.m.SetIngressErrorSource(g.ingressErrors.Each)
	})
	return s.m.Handler()
}

// breakers reports the state of every breaker filter of the generation in
// force: those of the per-endpoint chains of the endpoints its clusters
// have now (scope "cluster NAME endpoint ADDR"), and those of route and
// cluster chains (scope "route NAME", "cluster NAME": the chain's scope).
// Reading them from the generation needs no registration, so breakers
// that come and go with endpoints and reloads are never stale.
func (g *Gateway) breakers(report func(scope string, state int)) {
	b := g.cur.Load().built
	for _, cc := range b.cfg.Clusters {
		states := b.endpoints[cc.Name]
		if states == nil {
			continue
		}
		for _, ep := range states() {
			for _, f := range ep.Filters {
				if st, ok := breakerState(f.Name, f.State); ok {
					report("cluster "+cc.Name+" endpoint "+ep.Address, st)
				}
			}
		}
	}
	for _, c := range b.filterCache.chainReporters() {
		if st, ok := breakerState(c.r.FilterState()); ok {
			report(c.scope, st)
		}
	}
}

// breakerState maps a reported filter state to the breaker gauge's
// value: ok only for the breaker filter.
func breakerState(name, state string) (int, bool) {
	if name != "breaker" {
		return 0, false
	}
	return metrics.BreakerState(state)
}

// scopedReporter is a route or cluster chain's filter that reports a
// state, with the chain's scope.
type scopedReporter struct {
	scope string
	r     gateway.StateReporter
}

// chainReporters returns the filters of c's route and cluster chains that
// report a state. The states are read by the caller, without c's lock.
func (c *filterCache) chainReporters() []scopedReporter {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []scopedReporter
	for _, e := range c.m {
		if r, ok := e.f.(gateway.StateReporter); ok && e.scope != "" {
			out = append(out, scopedReporter{e.scope, r})
		}
	}
	return out
}

// Traffic returns the last window's numbers per route and endpoint (the
// management status page); nil when metrics are off.
func (g *Gateway) Traffic() *admin.Traffic {
	if g.tel == nil || g.tel.metrics == nil {
		return nil
	}
	t := g.tel.metrics.m.Traffic()
	out := &admin.Traffic{Window: t.Window.String(), WindowSeconds: t.Window.Seconds(),
		Routes: make([]admin.RouteTraffic, 0, len(t.Routes))}
	for _, r := range t.Routes {
		rt := admin.RouteTraffic{Route: r.Route, Ingress: r.Ingress, InFlight: r.InFlight, TrafficNumbers: adminNumbers(r.Numbers)}
		for _, m := range r.Methods {
			rt.Methods = append(rt.Methods, admin.MethodTraffic{Service: m.Service, Method: m.Method, TrafficNumbers: adminNumbers(m.Numbers)})
		}
		out.Routes = append(out.Routes, rt)
	}
	for _, e := range t.Endpoints {
		out.Endpoints = append(out.Endpoints, admin.EndpointTraffic{Cluster: e.Cluster, Endpoint: e.Endpoint,
			InFlight: e.InFlight, TrafficNumbers: adminNumbers(e.Numbers)})
	}
	return out
}

func adminNumbers(n metrics.Numbers) admin.TrafficNumbers {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return admin.TrafficNumbers{Requests: n.Requests, Failed: n.Failed, QPS: n.QPS, SuccessRate: n.SuccessRate,
		MeanMs: ms(n.Mean), P50Ms: ms(n.P50), P90Ms: ms(n.P90), P99Ms: ms(n.P99), P999Ms: ms(n.P999)}
}
