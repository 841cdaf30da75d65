// Package metrics is meshgate's request metrics: a filter at the start of
// every route chain and every per-endpoint chain counts requests by code,
// retries, backup requests and limiter rejections, tracks in-flight calls,
// records latency in a histogram and in a sliding window
// (gateway/stats) per route and service method and per endpoint. The
// numbers are exported in Prometheus format through the OpenTelemetry SDK
// and its Prometheus exporter (Handler), except the latency histograms,
// which a collector of their own exports on the same registry (hist.go);
// they are shown by the management status page (Traffic) and pushed to
// Graphite (Graphite).
//
// docs/telemetry.md lists every metric with its labels and their
// cardinality bounds.
//
// The hot path does no map lookup with string building, makes no SDK call
// and allocates nothing: label sets are computed once per chain (and once
// per new service method of a route), and counters and histogram buckets
// are atomics read at scrape time.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/meshgate/meshgate/gateway/stats"
	"github.com/meshgate/meshgate/internal/clock"
	"github.com/meshgate/meshgate/translate"
)

// Defaults of Options.
const (
	DefaultWindow             = time.Minute
	DefaultMaxMethodsPerRoute = 100
	// windowSlots is how many periods a window is cut in, unless a
	// shorter Graphite interval needs shorter periods.
	windowSlots = 6
	// maxSlots bounds the periods of a window (memory: about 2 KiB each).
	maxSlots = 60
)

// DefaultBuckets are the latency histograms' bucket bounds, in seconds.
var DefaultBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Other is the service and method label of the calls of a route beyond
// its MaxMethodsPerRoute distinct methods.
const Other = "_other_"

// Options configure Metrics.
type Options struct {
	// Window is the span of the sliding statistics (default 1m).
	Window time.Duration
	// Period is the length of the window's periods: Window/6 by default;
	// the Graphite reporter's interval when shorter (it reports whole
	// periods). Raised to Window/60 at least.
	Period time.Duration
	// MaxMethodsPerRoute bounds the (service, method) pairs a route
	// labels (default 100); further ones are counted under Other.
	MaxMethodsPerRoute int
	// Buckets are the histogram bucket bounds in seconds (default
	// DefaultBuckets).
	Buckets []float64
	// Process registers the Go runtime and process collectors (go_*,
	// process_*) with the Prometheus registry.
	Process bool
	// Readers are further OpenTelemetry readers of the same instruments
	// (tests use a ManualReader); the latency histograms are not among
	// them (see hist.go).
	Readers []sdkmetric.Reader
	// Now is the clock of the windows (default time.Now); tests inject
	// one.
	Now func() time.Time
	// Logger logs exporter errors (default slog.Default()).
	Logger *slog.Logger
}

// PeriodFor returns the window period New uses for o: o.Period (a
// Graphite interval) when set and shorter than o.Window/6, else
// o.Window/6, and at least o.Window/60.
func PeriodFor(o Options) time.Duration {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	p := o.Period
	if p <= 0 || p > o.Window/windowSlots {
		p = o.Window / windowSlots
	}
	return max(p, o.Window/maxSlots)
}

// Metrics is the process-wide metrics state: instruments, the
// Prometheus registry and exporter, and the statistics of every route,
// service method and endpoint seen. It outlives configuration
// generations: filters built for a new generation find the counters of
// the routes and endpoints they share with the old one by name, so a
// reload resets nothing. Safe for concurrent use.
type Metrics struct {
	opts      Options
	realClock bool      // opts.Now is time.Now: Call.Start may be used
	base      time.Time // the windows' common period origin
	provider  *sdkmetric.MeterProvider
	registry  *prometheus.Registry
	handler   http.Handler
	reg       metric.Registration

	buckets    buckets // of the latency histograms (hist.go)
	hists      *histCollector
	breakerSrc atomic.Pointer[BreakerSource]
	errSrc     atomic.Pointer[ErrorSource]

	// collectMu serializes collections (the observers' scratch summary).
	collectMu sync.Mutex
	mu        sync.Mutex
	routes    map[string]*routeStats
	endpoints map[endpointKey]*endpointStats
	closed    bool
}

// New builds the instruments and the Prometheus exporter.
func New(o Options) (*Metrics, error) {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	o.Period = PeriodFor(o)
	if o.MaxMethodsPerRoute <= 0 {
		o.MaxMethodsPerRoute = DefaultMaxMethodsPerRoute
	}
	if len(o.Buckets) == 0 {
		o.Buckets = DefaultBuckets
	}
	realClock := o.Now == nil
	if realClock {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Metrics{opts: o, realClock: realClock, base: o.Now(), registry: prometheus.NewRegistry(),
		buckets: newBuckets(o.Buckets), routes: map[string]*routeStats{}, endpoints: map[endpointKey]*endpointStats{}}
	m.hists = newHistCollector(m)
	if err := m.registry.Register(m.hists); err != nil {
		return nil, fmt.Errorf("metrics: histograms: %w", err)
	}
	if o.Process {
		if err := m.registry.Register(collectors.NewGoCollector()); err != nil {
			return nil, fmt.Errorf("metrics: go collector: %w", err)
		}
		if err := m.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("metrics: process collector: %w", err)
		}
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(m.registry), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	popts := []sdkmetric.Option{
		sdkmetric.WithReader(exp),
		// Exemplars cost per measurement; Prometheus text format does not
		// carry them anyway.
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
	}
	for _, r := range o.Readers {
		popts = append(popts, sdkmetric.WithReader(r))
	}
	m.provider = sdkmetric.NewMeterProvider(popts...)
	if err := m.instruments(); err != nil {
		m.provider.Shutdown(context.Background())
		return nil, err
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	})
	return m, nil
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry is the Prometheus registry the metrics are gathered from.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Window returns the sliding statistics' span.
func (m *Metrics) Window() time.Duration { return m.opts.Window }

// Period returns the length of the windows' periods.
func (m *Metrics) Period() time.Duration { return m.opts.Period }

// Close stops the instruments' callbacks and the provider. Filters built
// before keep working (their measurements go nowhere).
func (m *Metrics) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	var errs []error
	m.registry.Unregister(m.hists)
	if m.reg != nil {
		errs = append(errs, m.reg.Unregister())
	}
	errs = append(errs, m.provider.Shutdown(context.Background()))
	return errors.Join(errs...)
}

// instruments creates the instruments and the callback that observes the
// atomics.
func (m *Metrics) instruments() error {
	mt := m.provider.Meter("github.com/meshgate/meshgate/gateway/telemetry/metrics")
	var err error
	var errs []error
	i64c := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := mt.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	i64g := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := mt.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	f64g := func(name, unit, desc string) metric.Float64ObservableGauge {
		g, err := mt.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	o := &observers{
		requests:  i64c("meshgate.requests", "{request}", "Requests by route, service, method and code (the google.rpc.Code name of the outcome)."),
		inFlight:  i64g("meshgate.requests.in_flight", "{request}", "Requests inside a route's chain now."),
		retries:   i64c("meshgate.retries", "{attempt}", "Failover attempts sent beyond the first, by route, service and method."),
		backups:   i64c("meshgate.backup_requests", "{attempt}", "Backup (hedged) attempts sent, by route, service and method."),
		rejected:  i64c("meshgate.limiter.rejections", "{request}", "Requests rejected by a limit (RESOURCE_EXHAUSTED before any attempt was sent), by route, service and method."),
		latency:   f64g("meshgate.window.latency", "s", "Latency quantiles (quantile label) over the last window, by route, service and method."),
		mean:      f64g("meshgate.window.latency.mean", "s", "Mean latency over the last window, by route, service and method."),
		success:   f64g("meshgate.window.success", "1", "Fraction of requests answered OK over the last window, by route, service and method (1 when there were none)."),
		qps:       f64g("meshgate.window.requests", "{request}/s", "Requests per second over the last window, by route, service and method."),
		epReqs:    i64c("meshgate.endpoint.requests", "{request}", "Attempts on an upstream endpoint by cluster, endpoint and code."),
		epFlight:  i64g("meshgate.endpoint.in_flight", "{request}", "Attempts in flight on an upstream endpoint."),
		breaker:   i64g("meshgate.breaker.state", "{state}", "Circuit breaker state by scope: 0 closed, 1 open, 2 half-open."),
		regEvents: i64c("meshgate.registry.events", "{event}", "Service registry events by registry and event."),
		ingressErrors: i64c("meshgate.ingress.errors", "{request}",
			"Requests an ingress answered with an error, by ingress and code, whatever stage answered (no route, bad arguments, limits, upstream failures)."),
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m.reg, err = mt.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		m.observe(o, ob)
		return nil
	}, o.requests, o.inFlight, o.retries, o.backups, o.rejected, o.latency, o.mean, o.success, o.qps,
		o.epReqs, o.epFlight, o.breaker, o.regEvents, o.ingressErrors)
	return err
}

// routeStatsList returns the routes' stats sorted by name.
func (m *Metrics) routeStatsList() []*routeStats {
	m.mu.Lock()
	list := make([]*routeStats, 0, len(m.routes))
	for _, rs := range m.routes {
		list = append(list, rs)
	}
	m.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if list[i].name != list[j].name {
			return list[i].name < list[j].name
		}
		return list[i].ingress < list[j].ingress
	})
	return list
}

// endpointStatsList returns the endpoints' stats sorted by cluster and
// address.
func (m *Metrics) endpointStatsList() []*endpointStats {
	m.mu.Lock()
	list := make([]*endpointStats, 0, len(m.endpoints))
	for _, es := range m.endpoints {
		list = append(list, es)
	}
	m.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if list[i].key.cluster != list[j].key.cluster {
			return list[i].key.cluster < list[j].key.cluster
		}
		return list[i].key.endpoint < list[j].key.endpoint
	})
	return list
}

// now is the filters' clock: opts.Now, or with the real clock
// internal/clock's one-read time. time.Now makes two clock reads (wall
// and monotonic, two vDSO calls on linux): the filters read the clock
// three times per call (route end, attempt start and end), and the reads
// were most of their cost. The result carries a monotonic reading, so
// durations against it and Call.Start, and the windows' period arithmetic
// (Sub of times with monotonic readings), use the monotonic clock; its
// wall reading may drift from the system's (never exported).
func (m *Metrics) now() time.Time {
	if m.realClock {
		return clock.Now()
	}
	return m.opts.Now()
}

// newWindow returns a window of the configured span and period, aligned
// on the others.
func (m *Metrics) newWindow() *stats.Window {
	n := int((m.opts.Window + m.opts.Period - 1) / m.opts.Period)
	return stats.NewWindowAt(n, m.opts.Period, m.base, m.opts.Now)
}

// codeOf returns the code of a chain's error (OK for nil).
func codeOf(err error) translate.Code {
	if err == nil {
		return translate.OK
	}
	if te, ok := err.(*translate.Error); ok {
		return te.Code
	}
	return translate.FromError(err).Code
}

// numCodes is the number of codes counted; a code beyond them counts as
// Unknown.
const numCodes = int(translate.NumCodes)

func codeIndex(c translate.Code) int {
	if int(c) >= numCodes {
		return int(translate.Unknown)
	}
	return int(c)
}
