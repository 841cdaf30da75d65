package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/meshgate/meshgate/gateway/stats"
	"github.com/meshgate/meshgate/translate"
)

// methodKey is a service method as the call names it.
type methodKey struct{ service, method string }

// methodStats are the numbers of one service method called through one
// route: the unit of the route metrics' label sets.
type methodStats struct {
	route    string
	key      methodKey
	counts   [numCodes]atomic.Uint64
	retries  atomic.Uint64
	backups  atomic.Uint64
	rejected atomic.Uint64
	window   *stats.Window
	// attrs are route, service and method; codeAttrs add code, and
	// quantileAttrs quantile.
	attrs         attribute.Set
	codeAttrs     [numCodes]attribute.Set
	quantileAttrs [len(quantiles)]attribute.Set
	hist          *latencyHist
}

// quantiles are the quantiles the window gauges export.
var quantiles = [...]struct {
	q     float64
	label string
}{{0.5, "0.5"}, {0.9, "0.9"}, {0.99, "0.99"}, {0.999, "0.999"}}

func (m *Metrics) newMethodStats(route, ingress string, k methodKey) *methodStats {
	ms := &methodStats{route: route, key: k, window: m.newWindow(), hist: newLatencyHist(m.buckets)}
	base := []attribute.KeyValue{attribute.String("route", route), attribute.String("ingress", ingress),
		attribute.String("service", k.service), attribute.String("method", k.method)}
	ms.attrs = attribute.NewSet(base...)
	for c := range ms.codeAttrs {
		ms.codeAttrs[c] = attribute.NewSet(append(base[:4:4], attribute.String("code", translate.Code(c).String()))...)
	}
	for i, q := range quantiles {
		ms.quantileAttrs[i] = attribute.NewSet(append(base[:4:4], attribute.String("quantile", q.label))...)
	}
	return ms
}

// routeStats are the numbers of one route (by name: routes of different
// generations with the same name share them).
type routeStats struct {
	m        *Metrics
	name     string
	ingress  string
	inFlight atomic.Int64
	attrs    attribute.Set // route
	// methods is replaced (copied) under mu when a method is added, so
	// that lookups read it without locking.
	methods atomic.Pointer[map[methodKey]*methodStats]
	mu      sync.Mutex
	other   *methodStats // created under mu when the bound is reached
}

// route returns the stats of the route named name of an ingress,
// creating them.
func (m *Metrics) route(name, ingress string) *routeStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := ingress + "\x00" + name
	rs := m.routes[key]
	if rs == nil {
		rs = &routeStats{m: m, name: name, ingress: ingress,
			attrs: attribute.NewSet(attribute.String("route", name), attribute.String("ingress", ingress))}
		empty := map[methodKey]*methodStats{}
		rs.methods.Store(&empty)
		m.routes[key] = rs
	}
	return rs
}

// method returns the stats of service/method on the route: a lock-free
// map read, or, the first time the pair is seen, a copy of the map under
// the route's lock. Beyond MaxMethodsPerRoute pairs, every new pair
// shares the Other stats.
func (rs *routeStats) method(service, method string) *methodStats {
	k := methodKey{service, method}
	if ms := (*rs.methods.Load())[k]; ms != nil {
		return ms
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	cur := *rs.methods.Load()
	if ms := cur[k]; ms != nil {
		return ms
	}
	if len(cur) >= rs.m.opts.MaxMethodsPerRoute {
		if rs.other == nil {
			rs.other = rs.m.newMethodStats(rs.name, rs.ingress, methodKey{Other, Other})
		}
		return rs.other
	}
	// The label values are copies: call strings may point into buffers
	// the ingress reuses.
	k = methodKey{string([]byte(service)), string([]byte(method))}
	ms := rs.m.newMethodStats(rs.name, rs.ingress, k)
	next := make(map[methodKey]*methodStats, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[k] = ms
	rs.methods.Store(&next)
	return ms
}

// methodList returns the route's method stats (Other last, when used).
func (rs *routeStats) methodList() []*methodStats {
	cur := *rs.methods.Load()
	list := make([]*methodStats, 0, len(cur)+1)
	for _, ms := range cur {
		list = append(list, ms)
	}
	sortMethods(list)
	rs.mu.Lock()
	if rs.other != nil {
		list = append(list, rs.other)
	}
	rs.mu.Unlock()
	return list
}

// endpointKey names an upstream endpoint.
type endpointKey struct{ cluster, endpoint string }

// endpointStats are the numbers of one endpoint of one cluster.
type endpointStats struct {
	key     endpointKey
	created time.Time
	retired atomic.Bool // pruned: filters fetch new stats

	counts    [numCodes]atomic.Uint64
	inFlight  atomic.Int64
	window    *stats.Window
	attrs     attribute.Set
	codeAttrs [numCodes]attribute.Set
	hist      *latencyHist
}

// endpoint returns the stats of an endpoint, creating them.
func (m *Metrics) endpoint(cluster, endpoint string) *endpointStats {
	k := endpointKey{cluster, endpoint}
	m.mu.Lock()
	defer m.mu.Unlock()
	es := m.endpoints[k]
	if es == nil {
		es = &endpointStats{key: k, window: m.newWindow(), hist: newLatencyHist(m.buckets), created: m.opts.Now()}
		base := []attribute.KeyValue{attribute.String("cluster", cluster), attribute.String("endpoint", endpoint)}
		es.attrs = attribute.NewSet(base...)
		for c := range es.codeAttrs {
			es.codeAttrs[c] = attribute.NewSet(append(base[:2:2], attribute.String("code", translate.Code(c).String()))...)
		}
		m.endpoints[k] = es
	}
	return es
}

// pruneEndpoints forgets the endpoints without calls in flight nor in the
// last window that are older than two windows: endpoints a registry
// replaced (pods that moved) would otherwise be exported forever. A
// filter that calls a pruned endpoint again gets new stats (its counters
// restart from zero, which Prometheus reads as a counter reset).
func (m *Metrics) pruneEndpoints() {
	now := m.opts.Now()
	for _, es := range m.endpointStatsList() {
		if es.inFlight.Load() != 0 || now.Sub(es.created) < 2*m.opts.Window || es.window.Count() != 0 {
			continue
		}
		m.mu.Lock()
		if m.endpoints[es.key] == es {
			delete(m.endpoints, es.key)
			es.retired.Store(true)
		}
		m.mu.Unlock()
	}
}
