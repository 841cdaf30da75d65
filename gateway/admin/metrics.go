package admin

import "net/http"

// Telemetry is what a Gateway that collects metrics offers besides the
// Gateway interface (package assembly implements it): the API serves GET
// /metrics and adds the traffic section to GET /status when its Gateway
// implements it.
type Telemetry interface {
	// MetricsHandler serves the metrics in Prometheus text format; nil
	// when metrics are off.
	MetricsHandler() http.Handler
	// Traffic returns the last window's numbers per route and endpoint;
	// nil when metrics are off.
	Traffic() *Traffic
}

// Traffic is the traffic section of GET /status: the numbers of the last
// window (a minute by default) per route, without Prometheus.
type Traffic struct {
	// Window is the span the numbers cover ("1m0s"); a window younger
	// than that (after a start) covers its age.
	Window        string         `json:"window"`
	WindowSeconds float64        `json:"window_seconds"`
	Routes        []RouteTraffic `json:"routes"`
	// Endpoints are the upstream endpoints called through per-endpoint
	// chains.
	Endpoints []EndpointTraffic `json:"endpoints,omitempty"`
}

// TrafficNumbers are one window's numbers. Latencies are milliseconds,
// within about 3%.
type TrafficNumbers struct {
	Requests uint64 `json:"requests"`
	// Failed counts the requests that did not end OK.
	Failed uint64  `json:"failed"`
	QPS    float64 `json:"qps"`
	// SuccessRate is the fraction that ended OK, 0 to 1 (1 without
	// requests).
	SuccessRate float64 `json:"success_rate"`
	MeanMs      float64 `json:"mean_ms"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	P999Ms      float64 `json:"p999_ms"`
}

// RouteTraffic is one route's numbers: all its calls, and per upstream
// service method.
type RouteTraffic struct {
	Route string `json:"route"`
	// Ingress is the protocol the route's calls arrive by ("http",
	// "grpc", "motan2"): routes of one name on two ingresses are two
	// entries.
	Ingress string `json:"ingress"`
	// InFlight counts the route's calls in progress now.
	InFlight int64 `json:"in_flight"`
	TrafficNumbers
	Methods []MethodTraffic `json:"methods,omitempty"`
}

// MethodTraffic is one service method's share of a route.
type MethodTraffic struct {
	Service string `json:"service"`
	Method  string `json:"method"`
	TrafficNumbers
}

// EndpointTraffic is one upstream endpoint's numbers (its attempts).
type EndpointTraffic struct {
	Cluster  string `json:"cluster"`
	Endpoint string `json:"endpoint"`
	InFlight int64  `json:"in_flight"`
	TrafficNumbers
}

// metrics serves GET /metrics: the gateway's metrics in Prometheus text
// format (the Prometheus handler negotiates gzip).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	var h http.Handler
	if t, ok := s.opts.Gateway.(Telemetry); ok {
		h = t.MetricsHandler()
	}
	if h == nil {
		return NotFound("metrics are off (telemetry.metrics.enabled: false)")
	}
	h.ServeHTTP(w, r)
	return nil
}

// traffic returns the traffic section of GET /status (nil: metrics off).
func (s *Server) traffic() *Traffic {
	if t, ok := s.opts.Gateway.(Telemetry); ok {
		return t.Traffic()
	}
	return nil
}
