package admin

import (
	"fmt"
	"time"

	"github.com/meshgate/meshgate/gateway"
)

// Gateway is what the management API reads and acts on: the running
// gateway (package assembly implements it). Every method is safe for
// concurrent use, reads the configuration generation in force at the
// time of the call and never blocks on traffic.
type Gateway interface {
	// Status describes the generation in force, the ones still draining,
	// the listeners and the counts of routes.
	Status() GatewayStatus
	// Routes lists every route of every ingress.
	Routes() RouteList
	// Clusters lists every upstream cluster with its endpoints.
	Clusters() ClusterList
	// Explain says which route would serve a request. An unknown request
	// is an *Error with status 404, a malformed query one with 400.
	Explain(q Query) (*Explanation, error)
	// Switches are the run-time switches (they outlive generations).
	Switches() *gateway.Switches
	// DegradeSwitches returns the switches of the switcher filters in the
	// chains of the routes named route (the route's own chain first, then
	// its cluster's). No such route, or no switcher in its chains, is an
	// *Error with status 404. On and Degraded are left for the caller.
	DegradeSwitches(route string) ([]DegradeSwitch, error)
}

// Generation is one configuration generation: the routes, filter chains
// and clusters built from one configuration, swapped in as a whole.
type Generation struct {
	// Number is 1 for the configuration loaded at start, then one more
	// for each reload that was applied.
	Number   int64     `json:"number"`
	LoadedAt time.Time `json:"loaded_at"`
	// Source is where the configuration came from: a file path, the
	// embedded default or the body of a POST /reload.
	Source string `json:"source"`
	// InFlight counts the calls inside the generation's route chains.
	InFlight int64 `json:"in_flight"`
}

// GatewayStatus is the gateway's part of GET /status.
type GatewayStatus struct {
	StartedAt  time.Time  `json:"started_at"`
	Generation Generation `json:"generation"`
	// Retiring are replaced generations whose clusters are not closed
	// yet: calls they started are finishing.
	Retiring []Generation `json:"retiring"`
	// Listeners are the bound addresses by name: http, grpc, motan2,
	// demo (and admin, added by the API).
	Listeners map[string]string `json:"listeners"`
	// Routes counts the routes by ingress (http, grpc, motan2).
	Routes   map[string]int `json:"routes"`
	Clusters int            `json:"clusters"`
	Schemas  []Schema       `json:"schemas"`
}

// Schema is a schema's snapshot in force.
type Schema struct {
	Name string `json:"name"`
	// Loaded is false for a reflection schema not loaded yet.
	Loaded   bool      `json:"loaded"`
	Version  uint64    `json:"version,omitempty"`
	Source   string    `json:"source,omitempty"`
	LoadedAt time.Time `json:"loaded_at,omitzero"`
}

// Status is GET /status.
type Status struct {
	Version       string  `json:"version"`
	Uptime        string  `json:"uptime"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	// GOMAXPROCS is the processor count in force (runtime.gomaxprocs:
	// auto moves it with the load).
	GOMAXPROCS int `json:"gomaxprocs"`
	// Sysmon is how the runtime's monitor thread runs: "steady" (GODEBUG
	// has a schedtrace above 0, as runtime.sysmon: steady sets) or "go".
	Sysmon string `json:"sysmon"`
	GatewayStatus
	// Traffic is the last window's numbers per route (metrics.go); absent
	// when metrics are off.
	Traffic *Traffic `json:"traffic,omitempty"`
}

// RouteList is GET /routes.
type RouteList struct {
	Generation int64   `json:"generation"`
	Routes     []Route `json:"routes"`
}

// Route is one route of one ingress.
type Route struct {
	// Ingress is http, grpc or motan2.
	Ingress string `json:"ingress"`
	Name    string `json:"name"`
	Match   Match  `json:"match"`
	// Source is where the route is configured: "routes[2]",
	// "transcoding[0]" (a route generated from a schema), ...
	Source string `json:"source"`
	Target Target `json:"target"`
	// Filters are the route's chain, by filter name, in order; the
	// cluster's chain (ClusterFilters) runs after it.
	Filters        []string `json:"filters"`
	ClusterFilters []string `json:"cluster_filters,omitempty"`
}

// Match is what a route matches. HTTP: Method and Path (a template).
// gRPC: Service and Method ("" for every method). Motan2: Service and
// Group ("" for every group).
type Match struct {
	Method  string `json:"method,omitempty"`
	Path    string `json:"path,omitempty"`
	Service string `json:"service,omitempty"`
	Group   string `json:"group,omitempty"`
}

// Target is what a route calls.
type Target struct {
	Cluster  string `json:"cluster"`
	Protocol string `json:"protocol"`
	// Service, Method, Group and Version are the configured target
	// (empty: taken from the request).
	Service  string `json:"service,omitempty"`
	Method   string `json:"method,omitempty"`
	Group    string `json:"group,omitempty"`
	Version  string `json:"version,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
}

// ClusterList is GET /clusters.
type ClusterList struct {
	Generation int64     `json:"generation"`
	Clusters   []Cluster `json:"clusters"`
}

// Cluster is an upstream cluster.
type Cluster struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	LB       string `json:"lb"`
	// Filters is the cluster's chain (filters.clusters), by name, and
	// EndpointFilters each endpoint's (filters.endpoints or
	// filters.endpoint).
	Filters         []string `json:"filters"`
	EndpointFilters []string `json:"endpoint_filters"`
	// Calls, Retries and Backups count the cluster's calls, the attempts
	// sent again after a failure and the backup requests, since the
	// generation was built.
	Calls     uint64     `json:"calls"`
	Retries   uint64     `json:"retries"`
	Backups   uint64     `json:"backups"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one endpoint of a cluster and what the cluster knows of
// its health.
type Endpoint struct {
	Address string `json:"address"`
	// Available is false while the cluster skips the endpoint (a Motan2
	// endpoint marked unavailable after consecutive failures, a gRPC
	// connection in TRANSIENT_FAILURE).
	Available bool `json:"available"`
	// State is a gRPC endpoint's connectivity state.
	State string `json:"state,omitempty"`
	// Weight, DC and Group are the endpoint's labels.
	Weight int    `json:"weight"`
	DC     string `json:"dc,omitempty"`
	Group  string `json:"group,omitempty"`
	// Active is the number of calls in flight to the endpoint.
	Active int64 `json:"active"`
	// Breaker is the state of the endpoint's breaker ("closed", "open
	// (REASON)", "half-open"), when its chain has one.
	Breaker string `json:"breaker,omitempty"`
}

// Query is what GET /explain asks about: an HTTP request (Method, Path),
// a gRPC call (FullMethod) or a Motan2 request (Service, Group, Method).
type Query struct {
	// Ingress is http, grpc or motan2.
	Ingress    string
	Method     string
	Path       string
	FullMethod string
	Service    string
	Group      string
}

// Explanation is GET /explain: the route a request takes and where it
// goes.
type Explanation struct {
	Generation int64  `json:"generation"`
	Request    string `json:"request"`
	Route      Route  `json:"route"`
	// PathVars are an HTTP route's path variables, in template order.
	PathVars []PathVar `json:"path_vars,omitempty"`
	// Call is what the upstream is called with.
	Call    Call    `json:"call"`
	Cluster Cluster `json:"cluster"`
}

// PathVar is a path variable of an explained HTTP request.
type PathVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Call is the upstream call an explained request becomes.
type Call struct {
	Service    string `json:"service,omitempty"`
	Method     string `json:"method,omitempty"`
	Group      string `json:"group,omitempty"`
	Version    string `json:"version,omitempty"`
	FullMethod string `json:"full_method,omitempty"`
	Timeout    string `json:"timeout,omitempty"`
}

// DegradeSwitch is a switcher filter's switch in a route's chains.
type DegradeSwitch struct {
	Route   string `json:"route"`
	Ingress string `json:"ingress"`
	// Scope is "route" (the route's chain) or "cluster NAME".
	Scope  string `json:"scope"`
	Switch string `json:"switch"`
	// When is the switch value that degrades: "on" or "off".
	When string `json:"when"`
	// Methods are the methods degraded (empty: every method).
	Methods []string `json:"methods,omitempty"`
	// On is the switch's value and Degraded whether the route is
	// degraded now (On == (When == "on")).
	On       bool `json:"on"`
	Degraded bool `json:"degraded"`
}

// Error is an error with the HTTP status the API answers it with.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// NotFound returns an *Error with status 404.
func NotFound(format string, args ...any) error {
	return &Error{Status: 404, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns an *Error with status 400.
func BadRequest(format string, args ...any) error {
	return &Error{Status: 400, Message: fmt.Sprintf(format, args...)}
}
