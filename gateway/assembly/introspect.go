package assembly

// What the management API (package admin) reads: the gateway implements
// admin.Gateway from the generation in force. Nothing here is on a
// request path.

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/routes"
)

var _ admin.Gateway = (*Gateway)(nil)

// Generation describes the configuration generation in force.
func (g *Gateway) Generation() admin.Generation { return g.cur.Load().info() }

func (gen *generation) info() admin.Generation {
	return admin.Generation{Number: gen.num, LoadedAt: gen.loadedAt, Source: gen.cfg.Source, InFlight: gen.built.track.inFlight()}
}

// Status implements admin.Gateway.
func (g *Gateway) Status() admin.GatewayStatus {
	gen := g.cur.Load()
	b := gen.built
	st := admin.GatewayStatus{
		StartedAt:  g.started,
		Generation: gen.info(),
		Retiring:   []admin.Generation{},
		Listeners:  map[string]string{"http": g.HTTPAddr().String()},
		Routes:     map[string]int{"http": len(b.httpView.Load().snap.Routes)},
		Clusters:   len(gen.cfg.Clusters),
		Schemas:    []admin.Schema{},
	}
	if a := g.GRPCAddr(); a != nil {
		st.Listeners["grpc"] = a.String()
		st.Routes["grpc"] = len(b.GRPC.Routes())
	}
	if a := g.Motan2Addr(); a != nil {
		st.Listeners["motan2"] = a.String()
		st.Routes["motan2"] = len(b.motan2Routes)
	}
	if a := g.DemoAddr(); a != nil {
		st.Listeners["demo"] = a.String()
	}
	g.retireMu.Lock()
	for old := range g.retiring {
		st.Retiring = append(st.Retiring, old.info())
	}
	g.retireMu.Unlock()
	sort.Slice(st.Retiring, func(i, j int) bool { return st.Retiring[i].Number < st.Retiring[j].Number })
	for _, name := range b.schemaNames() {
		s := admin.Schema{Name: name}
		if snap := b.Schemas[name].Current(); snap != nil {
			s.Loaded, s.Version, s.Source, s.LoadedAt = true, snap.Version, snap.Source, snap.LoadedAt
		}
		st.Schemas = append(st.Schemas, s)
	}
	return st
}

// Switches implements admin.Gateway.
func (g *Gateway) Switches() *gateway.Switches { return g.env.Switches }

// Routes implements admin.Gateway.
func (g *Gateway) Routes() admin.RouteList {
	gen := g.cur.Load()
	out := admin.RouteList{Generation: gen.num, Routes: []admin.Route{}}
	for _, r := range gen.built.allRoutes() {
		out.Routes = append(out.Routes, r.info)
	}
	return out
}

// routeRef is a route of the generation and the configuration entry it
// comes from: section[index] ("routes", "transcoding", "grpc_routes",
// "motan2_routes").
type routeRef struct {
	info    admin.Route
	section string
	index   int
}

// allRoutes describes every route: HTTP (explicit and transcoded, in the
// snapshot in force), gRPC, then Motan2.
func (b *Built) allRoutes() []routeRef {
	var out []routeRef
	view := b.httpView.Load()
	for i, o := range view.origin {
		section := "routes"
		if o.transcoded {
			section = "transcoding"
		}
		out = append(out, routeRef{b.httpRoute(view, i), section, o.index})
	}
	for i := range b.GRPC.Routes() {
		out = append(out, routeRef{b.grpcRoute(i), "grpc_routes", i})
	}
	for i := range b.motan2Routes {
		out = append(out, routeRef{b.motan2Route(i), "motan2_routes", i})
	}
	return out
}

// filterList returns the configured chain of a route: its own filters or
// filters.default.
func (b *Built) filterList(r routeRef) []config.Filter {
	var list []config.Filter
	switch r.section {
	case "routes":
		list = b.cfg.Routes[r.index].Filters
	case "transcoding":
		list = b.cfg.Transcoding[r.index].Filters
	case "grpc_routes":
		list = b.cfg.GRPCRoutes[r.index].Filters
	case "motan2_routes":
		list = b.cfg.Motan2Routes[r.index].Filters
	}
	if list == nil {
		list = b.cfg.Filters.Default
	}
	return list
}

// Clusters implements admin.Gateway.
func (g *Gateway) Clusters() admin.ClusterList {
	gen := g.cur.Load()
	out := admin.ClusterList{Generation: gen.num, Clusters: []admin.Cluster{}}
	for i := range gen.cfg.Clusters {
		out.Clusters = append(out.Clusters, gen.built.cluster(gen.cfg.Clusters[i].Name))
	}
	return out
}

func (b *Built) cluster(name string) admin.Cluster {
	c := admin.Cluster{Name: name, Filters: filterNames(b.cfg.Filters.Clusters[name]), Endpoints: []admin.Endpoint{}}
	for _, cc := range b.cfg.Clusters {
		if cc.Name == name {
			c.Protocol, c.LB = cc.Protocol, cc.LB
		}
	}
	list, ok := b.cfg.Filters.Endpoints[name]
	if !ok {
		list = b.cfg.Filters.Endpoint
	}
	c.EndpointFilters = filterNames(list)
	if cl := b.clusters[name]; cl != nil {
		st := cl.Stats()
		c.Calls, c.Retries, c.Backups = st.Calls, st.Retries, st.Backups
	}
	if states := b.endpoints[name]; states != nil {
		for _, ep := range states() {
			e := admin.Endpoint{Address: ep.Address, Available: ep.Available, State: ep.State,
				Weight: ep.Weight, DC: ep.DC, Group: ep.Group, Active: ep.Active}
			for _, f := range ep.Filters {
				if f.Name == "breaker" {
					e.Breaker = f.State
				}
			}
			c.Endpoints = append(c.Endpoints, e)
		}
	}
	return c
}

func (b *Built) protocol(cluster string) string {
	for _, cc := range b.cfg.Clusters {
		if cc.Name == cluster {
			return cc.Protocol
		}
	}
	return ""
}

func filterNames(list []config.Filter) []string {
	out := make([]string, 0, len(list))
	for _, f := range list {
		out = append(out, f.Name)
	}
	return out
}

// routeFilters returns the names of a route's chain: its own filters or
// filters.default.
func (b *Built) routeFilters(list []config.Filter) []string {
	if list == nil {
		list = b.cfg.Filters.Default
	}
	return filterNames(list)
}

func timeout(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.String()
}

// httpRoute describes route i of an HTTP view.
func (b *Built) httpRoute(view *httpView, i int) admin.Route {
	r, o := view.snap.Routes[i], view.origin[i]
	out := admin.Route{Ingress: "http", Name: r.Name, Match: admin.Match{Method: o.method, Path: o.path}}
	if o.transcoded {
		tc := &b.cfg.Transcoding[o.index]
		out.Source = "transcoding[" + strconv.Itoa(o.index) + "] (schema " + tc.Schema + ")"
		out.Target = admin.Target{Cluster: tc.Target.Cluster, Protocol: b.protocol(tc.Target.Cluster),
			Service: r.Service, Method: r.Method, Group: tc.Target.Group, Version: tc.Target.Version,
			Encoding: tc.Target.Encoding, Timeout: timeout(tc.Target.Timeout)}
		out.Filters = b.routeFilters(tc.Filters)
	} else {
		rc := &b.cfg.Routes[o.index]
		out.Source = "routes[" + strconv.Itoa(o.index) + "]"
		out.Target = admin.Target{Cluster: rc.Target.Cluster, Protocol: b.protocol(rc.Target.Cluster),
			Service: rc.Target.Service, Method: rc.Target.Method, Group: rc.Target.Group, Version: rc.Target.Version,
			Timeout: timeout(rc.Target.Timeout)}
		out.Filters = b.routeFilters(rc.Filters)
	}
	out.ClusterFilters = filterNames(b.cfg.Filters.Clusters[out.Target.Cluster])
	return out
}

// grpcRoute describes grpc_routes[i].
func (b *Built) grpcRoute(i int) admin.Route {
	rc := &b.cfg.GRPCRoutes[i]
	t := &rc.Target
	out := admin.Route{Ingress: "grpc", Name: rc.Name, Match: admin.Match{Service: rc.Service, Method: rc.Method},
		Source: "grpc_routes[" + strconv.Itoa(i) + "]",
		Target: admin.Target{Cluster: t.Cluster, Protocol: b.protocol(t.Cluster), Service: t.Service, Method: rc.Method,
			Group: t.Group, Version: t.Version, Encoding: t.Encoding, Timeout: timeout(t.Timeout)},
		Filters: b.routeFilters(rc.Filters), ClusterFilters: filterNames(b.cfg.Filters.Clusters[t.Cluster])}
	return out
}

// motan2Route describes motan2_routes[i].
func (b *Built) motan2Route(i int) admin.Route {
	rc := &b.cfg.Motan2Routes[i]
	t := &rc.Target
	return admin.Route{Ingress: "motan2", Name: rc.Name, Match: admin.Match{Service: rc.Service, Group: rc.Group},
		Source: "motan2_routes[" + strconv.Itoa(i) + "]",
		Target: admin.Target{Cluster: t.Cluster, Protocol: b.protocol(t.Cluster), Service: t.Service, Group: t.Group,
			Timeout: timeout(t.Timeout)},
		Filters: b.routeFilters(rc.Filters), ClusterFilters: filterNames(b.cfg.Filters.Clusters[t.Cluster])}
}

// Explain implements admin.Gateway: the route the generation in force
// gives the request, matched by the ingress's own tables.
func (g *Gateway) Explain(q admin.Query) (*admin.Explanation, error) {
	gen := g.cur.Load()
	b := gen.built
	e := &admin.Explanation{Generation: gen.num}
	switch q.Ingress {
	case "http":
		e.Request = q.Method + " " + q.Path
		view := b.httpView.Load()
		m := view.snap.Match(q.Method, q.Path)
		switch m.Result {
		case routes.NotFound:
			return nil, admin.NotFound("no HTTP route for %s (the HTTP ingress answers 404)", e.Request)
		case routes.MethodNotAllowed:
			return nil, admin.NotFound("no HTTP route for %s: method not allowed (the HTTP ingress answers 405; allowed: %s)",
				e.Request, strings.Join(m.Allowed, ", "))
		}
		e.Route = b.httpRoute(view, m.Index)
		for _, v := range m.Vars {
			e.PathVars = append(e.PathVars, admin.PathVar{Name: v.Name, Value: v.Value})
		}
		r := m.Route
		e.Call = admin.Call{Service: r.Service, Method: r.Method, Group: r.Group, Version: r.Version,
			FullMethod: r.FullMethod, Timeout: timeout(r.Timeout)}
	case "grpc":
		e.Request = q.FullMethod
		if g.grpc == nil {
			return nil, admin.NotFound("no gRPC ingress (the configuration has no grpc section)")
		}
		m := b.GRPC.Match(q.FullMethod)
		if m.Route == nil {
			if m.KnownService {
				return nil, admin.NotFound("no gRPC route for %s: service %s is routed, method %s is not (the gRPC ingress answers UNIMPLEMENTED)",
					q.FullMethod, m.Service, m.Method)
			}
			return nil, admin.NotFound("no gRPC route for %s: unknown service %q (the gRPC ingress answers UNIMPLEMENTED)", q.FullMethod, m.Service)
		}
		i := indexOf(b.GRPC.Routes(), m.Route)
		e.Route = b.grpcRoute(i)
		r := m.Route
		e.Call = admin.Call{Service: r.TargetService, Method: m.Method, Group: r.Group, Version: r.Version,
			FullMethod: m.UpstreamMethod, Timeout: timeout(r.Timeout)}
		if e.Call.Service == "" {
			e.Call.Service = r.Service
		}
	case "motan2":
		e.Request = q.Service + "," + q.Group + "," + q.Method
		if g.motan2 == nil {
			return nil, admin.NotFound("no Motan2 ingress (the configuration has no motan2 section)")
		}
		r := b.Motan2.Match(q.Service, q.Group)
		if r == nil {
			return nil, admin.NotFound("no Motan2 route for service %q group %q (the Motan2 ingress answers \"cluster not found\")", q.Service, q.Group)
		}
		e.Route = b.motan2Route(indexOf(b.motan2Routes, r))
		e.Call = admin.Call{Service: orString(r.TargetService, q.Service), Method: q.Method,
			Group: orString(r.TargetGroup, q.Group), Timeout: timeout(r.Timeout)}
		if r.Bridge != nil {
			e.Call.Service, e.Call.Group = r.Bridge.Service, ""
			e.Call.FullMethod = "/" + r.Bridge.Service + "/" + q.Method
		}
	default:
		return nil, admin.BadRequest("unknown ingress %q (http, grpc, motan2)", q.Ingress)
	}
	e.Cluster = b.cluster(e.Route.Target.Cluster)
	return e, nil
}

func indexOf[T comparable](list []T, x T) int {
	for i, y := range list {
		if y == x {
			return i
		}
	}
	return -1
}

// switcherFilter is the registered name of the switcher filter
// (gateway/filter/switcher), whose "switch" and "when" options /degrade
// reads.
const switcherFilter = "switcher"

// DegradeSwitches implements admin.Gateway: the switches of the switcher
// filters in the chains of the routes named route, read from their
// configuration entries (the filter declares its switch under the name of
// its "switch" option; "when: off" degrades while the switch is off).
func (g *Gateway) DegradeSwitches(route string) ([]admin.DegradeSwitch, error) {
	b := g.cur.Load().built
	var out []admin.DegradeSwitch
	found := false
	for _, r := range b.allRoutes() {
		if r.info.Name != route {
			continue
		}
		found = true
		scan := func(scope string, list []config.Filter) {
			for i := range list {
				f := &list[i]
				if f.Name != switcherFilter {
					continue
				}
				var o map[string]any
				if f.Decode(&o) != nil {
					continue
				}
				name, _ := o["switch"].(string)
				if name == "" || g.env.Switches.Lookup(name) == nil {
					continue
				}
				d := admin.DegradeSwitch{Route: r.info.Name, Ingress: r.info.Ingress, Scope: scope, Switch: name, When: "on"}
				if w, _ := o["when"].(string); w == "off" {
					d.When = "off"
				}
				if ms, ok := o["methods"].([]any); ok {
					for _, m := range ms {
						if s, ok := m.(string); ok {
							d.Methods = append(d.Methods, s)
						}
					}
				}
				out = append(out, d)
			}
		}
		scan("route", b.filterList(r))
		cluster := r.info.Target.Cluster
		scan("cluster "+cluster, b.cfg.Filters.Clusters[cluster])
	}
	if !found {
		return nil, admin.NotFound("no route named %q (GET /routes lists them)", route)
	}
	if len(out) == 0 {
		return nil, admin.NotFound("route %q has no switcher filter in its chain or its cluster's: nothing to degrade (add {name: switcher, switch: NAME} to its filters)", route)
	}
	return out, nil
}
