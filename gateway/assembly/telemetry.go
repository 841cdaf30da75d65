package assembly

import (
	"log/slog"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/ingress"
)

// telemetry is the process-wide observability state: it outlives
// configuration generations, so a reload keeps the counters, the
// exporters and the open access log. Its parts live in metrics.go
// (metrics, Prometheus, Graphite) and tracing.go (tracing, access log).
// A nil *telemetry is valid and does nothing.
type telemetry struct {
	metrics *metricsState
	tracing *tracingState
}

// rejections is the generation's writer of requests answered before a
// route chain (the access log's), nil when its access log is off.
func (b *Built) rejections() ingress.Rejections {
	if b.tel == nil {
		return nil
	}
	return b.tel.tracing.rejections(&b.cfg.Telemetry)
}

// newTelemetry starts the telemetry cfg.Telemetry describes.
func newTelemetry(cfg *config.Config, log *slog.Logger) (*telemetry, error) {
	t := &telemetry{}
	var err error
	if t.metrics, err = newMetricsState(cfg, log); err != nil {
		return nil, err
	}
	if t.tracing, err = newTracingState(cfg, log); err != nil {
		t.metrics.close()
		return nil, err
	}
	return t, nil
}

// reconfigure applies a reloaded configuration's telemetry section, or
// says why it cannot be applied without a restart. It runs before the new
// generation is built, whose filters need what it starts (a tracer or an
// access log enabled for the first time). The filters' settings (tracing
// and access log on or off, sample ratios, format) are read from each
// generation's configuration as its filters are built, so a reload that
// fails to build leaves them as they were; a changed Graphite section,
// though, has restarted the reporter by then (see metricsState.reconfigure).
func (t *telemetry) reconfigure(cfg *config.Config) error {
	if t == nil {
		return nil
	}
	if err := t.metrics.reconfigure(cfg); err != nil {
		return err
	}
	return t.tracing.reconfigure(cfg)
}

// apply applies what a reload may change only once it has been swapped
// in (the Graphite reporter); a failure is logged, the new configuration
// serves either way.
func (t *telemetry) apply(cfg *config.Config, log *slog.Logger) {
	if t == nil {
		return
	}
	if err := t.metrics.apply(cfg); err != nil {
		log.Error("telemetry.graphite not applied; the previous reporter keeps running", "error", err)
	}
}

// close flushes and stops the exporters.
func (t *telemetry) close() {
	if t == nil {
		return
	}
	t.tracing.close()
	t.metrics.close()
}

// telemetryFilters returns the filters that start a chain: a route's
// (spec.Route set) or an endpoint's (spec.Endpoint set, run per
// attempt). Tracing comes first so that its span encloses the rest, then
// the access log, then metrics. Nil when telemetry is off.
func (b *Built) telemetryFilters(spec gateway.FilterSpec) []gateway.Filter {
	if b.tel == nil {
		return nil
	}
	var fs []gateway.Filter
	fs = b.tel.tracing.filters(spec, &b.cfg.Telemetry, fs)
	fs = b.tel.metrics.filters(spec, fs)
	return fs
}
