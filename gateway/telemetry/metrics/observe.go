package metrics

import (
	"github.com/meshgate/meshgate/translate"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/meshgate/meshgate/gateway/stats"
)

// observers are the observable instruments, read from the atomics and
// windows at collection time.
type observers struct {
	requests, retries, backups, rejected metric.Int64ObservableCounter
	inFlight                             metric.Int64ObservableGauge
	latency, mean, success, qps          metric.Float64ObservableGauge
	epReqs                               metric.Int64ObservableCounter
	epFlight                             metric.Int64ObservableGauge
	breaker                              metric.Int64ObservableGauge
	regEvents                            metric.Int64ObservableCounter
	ingressErrors                        metric.Int64ObservableCounter

	// sum is reused across windows and collections (collections of one
	// provider do not overlap: the SDK serializes them per reader, and
	// observe takes collectMu).
	sum stats.Summary
}

// observe reports every route, method and endpoint, the breakers and the
// registry events.
func (m *Metrics) observe(o *observers, ob metric.Observer) {
	m.collectMu.Lock()
	defer m.collectMu.Unlock()
	m.pruneEndpoints()
	set := metric.WithAttributeSet
	for _, rs := range m.routeStatsList() {
		ob.ObserveInt64(o.inFlight, rs.inFlight.Load(), set(rs.attrs))
		for _, ms := range rs.methodList() {
			for c := range ms.counts {
				// Codes never seen are not exported: a route exports the
				// series of the outcomes it had, not 17 zeros.
				if n := ms.counts[c].Load(); n != 0 || c == 0 {
					ob.ObserveInt64(o.requests, int64(n), set(ms.codeAttrs[c]))
				}
			}
			ob.ObserveInt64(o.retries, int64(ms.retries.Load()), set(ms.attrs))
			ob.ObserveInt64(o.backups, int64(ms.backups.Load()), set(ms.attrs))
			ob.ObserveInt64(o.rejected, int64(ms.rejected.Load()), set(ms.attrs))
			ms.window.SnapshotTo(&o.sum)
			s := &o.sum
			for i, q := range quantiles {
				ob.ObserveFloat64(o.latency, s.Quantile(q.q).Seconds(), set(ms.quantileAttrs[i]))
			}
			ob.ObserveFloat64(o.mean, s.Mean().Seconds(), set(ms.attrs))
			ob.ObserveFloat64(o.success, s.SuccessRate(), set(ms.attrs))
			ob.ObserveFloat64(o.qps, s.Rate(), set(ms.attrs))
		}
	}
	for _, es := range m.endpointStatsList() {
		ob.ObserveInt64(o.epFlight, es.inFlight.Load(), set(es.attrs))
		for c := range es.counts {
			if n := es.counts[c].Load(); n != 0 || c == 0 {
				ob.ObserveInt64(o.epReqs, int64(n), set(es.codeAttrs[c]))
			}
		}
	}
	breaker := func(scope string, state int) {
		ob.ObserveInt64(o.breaker, int64(state), metric.WithAttributes(attribute.String("scope", scope)))
	}
	if src := m.breakerSrc.Load(); src != nil {
		(*src)(breaker)
	}
	if src := m.errSrc.Load(); src != nil {
		(*src)(func(ingress string, code translate.Code, n uint64) {
			ob.ObserveInt64(o.ingressErrors, int64(n), metric.WithAttributes(attribute.String("ingress", ingress), attribute.String("code", code.String())))
		})
	}
	registryEvents(func(registry, event string, n uint64) {
		ob.ObserveInt64(o.regEvents, int64(n), metric.WithAttributes(attribute.String("registry", registry), attribute.String("event", event)))
	})
}
