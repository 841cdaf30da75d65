package metrics

import (
	"sort"
	"time"

	"github.com/meshgate/meshgate/gateway/stats"
)

// Numbers are a window's statistics.
type Numbers struct {
	// Requests counts the calls in the window; Failed those that did not
	// end OK.
	Requests, Failed uint64
	// QPS is Requests per second of the window's span.
	QPS float64
	// SuccessRate is the fraction of Requests that ended OK (1 when there
	// were none).
	SuccessRate float64
	// Mean and the quantiles of the latency (within about 3%).
	Mean, P50, P90, P99, P999 time.Duration
}

// numbersOf summarizes s.
func numbersOf(s *stats.Summary) Numbers {
	return Numbers{Requests: s.Count, Failed: s.Failed, QPS: s.Rate(), SuccessRate: s.SuccessRate(),
		Mean: s.Mean(), P50: s.Quantile(0.5), P90: s.Quantile(0.9), P99: s.Quantile(0.99), P999: s.Quantile(0.999)}
}

// MethodTraffic is one service method's share of a route.
type MethodTraffic struct {
	Service, Method string
	Numbers
}

// RouteTraffic is one route's window: every method merged, and each.
type RouteTraffic struct {
	Route    string
	Ingress  string
	InFlight int64
	Numbers
	Methods []MethodTraffic
}

// EndpointTraffic is one endpoint's window (per-endpoint chains only).
type EndpointTraffic struct {
	Cluster, Endpoint string
	InFlight          int64
	Numbers
}

// Traffic is the last window of every route and endpoint seen.
type Traffic struct {
	// Window is the span the numbers cover when the windows are full.
	Window    time.Duration
	Routes    []RouteTraffic
	Endpoints []EndpointTraffic
}

// Traffic returns the numbers of the last window (the status page's "last
// minute"), routes sorted by name, endpoints by cluster and address.
func (m *Metrics) Traffic() Traffic {
	t := Traffic{Window: m.opts.Window}
	var s stats.Summary
	for _, rs := range m.routeStatsList() {
		var all stats.Summary
		rt := RouteTraffic{Route: rs.name, Ingress: rs.ingress, InFlight: rs.inFlight.Load()}
		for _, ms := range rs.methodList() {
			ms.window.SnapshotTo(&s)
			all.Merge(s)
			rt.Methods = append(rt.Methods, MethodTraffic{Service: ms.key.service, Method: ms.key.method, Numbers: numbersOf(&s)})
		}
		rt.Numbers = numbersOf(&all)
		t.Routes = append(t.Routes, rt)
	}
	for _, es := range m.endpointStatsList() {
		es.window.SnapshotTo(&s)
		t.Endpoints = append(t.Endpoints, EndpointTraffic{Cluster: es.key.cluster, Endpoint: es.key.endpoint,
			InFlight: es.inFlight.Load(), Numbers: numbersOf(&s)})
	}
	return t
}

// sortMethods sorts by service, then method.
func sortMethods(list []*methodStats) {
	sort.Slice(list, func(i, j int) bool {
		if list[i].key.service != list[j].key.service {
			return list[i].key.service < list[j].key.service
		}
		return list[i].key.method < list[j].key.method
	})
}
