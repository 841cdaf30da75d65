package ingress

// Read-only lookups for the management API's "explain": which route a
// request would take, matched exactly as the ingresses match (the same
// tables, the same precedence), without serving anything. They are not on
// any request path.

import (
	"sort"
	"strings"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/routes"
)

// HTTPMatch is the outcome of matching a method and path against a
// Snapshot.
type HTTPMatch struct {
	// Result is routes.Found, routes.NotFound or routes.MethodNotAllowed.
	Result routes.Result
	// Index is the route's index in Snapshot.Routes and Route the route
	// (when Result is Found).
	Index int
	Route *gateway.Route
	// Vars are the path variables, decoded, in template order.
	Vars []PathVar
	// Allowed are the methods the path has routes for (when Result is
	// MethodNotAllowed).
	Allowed []string
}

// PathVar is one path variable of a match.
type PathVar struct {
	Name, Value string
}

// Match matches method and path (a raw request path; a query string is
// ignored) as the HTTP ingress does, HEAD falling back to GET routes.
func (s *Snapshot) Match(method, path string) HTTPMatch {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	var params routes.Params
	id, res := s.Table.Match(method, []byte(path), &params)
	if res != routes.Found && method == "HEAD" {
		id, res = s.Table.Match("GET", []byte(path), &params)
	}
	m := HTTPMatch{Result: res, Index: -1}
	switch res {
	case routes.Found:
		m.Index, m.Route = id, s.Routes[id]
		for i := 0; i < params.Len(); i++ {
			v, err := params.Value(i)
			if err != nil {
				v = "<" + err.Error() + ">"
			}
			m.Vars = append(m.Vars, PathVar{params.Name(i), v})
		}
	case routes.MethodNotAllowed:
		m.Allowed = s.Table.Allowed([]byte(path))
	}
	return m
}

// GRPCMatch is the outcome of matching a full method against a
// GRPCSnapshot.
type GRPCMatch struct {
	// Route is the route that serves the call, nil for none.
	Route *gateway.GRPCRoute
	// Service and Method are the caller's, split from the full method
	// (empty when it is malformed).
	Service, Method string
	// UpstreamMethod is the full method called upstream,
	// "/target.Service/Method" (for a Motan2 target: its service and
	// method).
	UpstreamMethod string
	// KnownService reports, when Route is nil, that the service has
	// routes but not for this method.
	KnownService bool
}

// Match matches fullMethod ("/pkg.Service/Method") as the gRPC ingress
// does: a method route wins over a service route.
func (s *GRPCSnapshot) Match(fullMethod string) GRPCMatch {
	e, service, method := s.match(fullMethod)
	m := GRPCMatch{Service: service, Method: method}
	if e == nil {
		_, m.KnownService = s.known[service]
		return m
	}
	m.Route = e.route
	switch {
	case e.fullMethod != "":
		m.UpstreamMethod = e.fullMethod
	case e.sameTarget:
		m.UpstreamMethod = fullMethod
	default:
		m.UpstreamMethod = e.prefix + method
	}
	return m
}

// Match returns the route serving service in group, as the Motan2
// ingress matches (an exact group route wins over an any-group one), or
// nil.
func (s *Motan2Snapshot) Match(service, group string) *Motan2Route {
	return s.match(service, group)
}

// Routes returns the snapshot's routes sorted by service, then group.
func (s *Motan2Snapshot) Routes() []*Motan2Route {
	out := make([]*Motan2Route, 0, len(s.routes))
	for _, r := range s.routes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Group < out[j].Group
	})
	return out
}
