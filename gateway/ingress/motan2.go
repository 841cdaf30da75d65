package ingress

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// Motan2Route is a compiled Motan2 route: requests for Service (and Group,
// when set) are forwarded to Invoker as they are, the body never decoded,
// or, with a Bridge, converted for a gRPC upstream.
type Motan2Route struct {
	Name    string
	Service string // M_p to match
	Group   string // M_g to match; "" matches any group
	// TargetService and TargetGroup rewrite M_p and M_g upstream ("" keeps them).
	TargetService, TargetGroup string
	// Timeout bounds the upstream call in addition to the caller's M_tmo.
	Timeout time.Duration
	// Policy is the calls' idempotence and hash key (a meta key).
	Policy gateway.CallPolicy
	// Invoker gets the request as a Frame call (gateway.Call.Frame).
	Invoker gateway.Invoker
	// Bridge, when set, sends the calls to a gRPC service instead (Invoker
	// and the target rewrites are unused).
	Bridge *Motan2Bridge
}

type motan2Key struct{ service, group string }

// Motan2Snapshot is one configuration generation of the Motan2 ingress.
type Motan2Snapshot struct {
	// Rejects logs calls answered before a route chain (nil: not
	// logged); set after NewMotan2Snapshot.
	Rejects Rejections

	routes map[motan2Key]*Motan2Route
}

// NewMotan2Snapshot indexes routes by service and group.
func NewMotan2Snapshot(routes []*Motan2Route) *Motan2Snapshot {
	s := &Motan2Snapshot{routes: make(map[motan2Key]*Motan2Route, len(routes))}
	for _, r := range routes {
		s.routes[motan2Key{r.Service, r.Group}] = r
	}
	return s
}

// match finds the route for service in group: an exact group route wins
// over an any-group one.
func (s *Motan2Snapshot) match(service, group string) *Motan2Route {
	if r, ok := s.routes[motan2Key{service, group}]; ok {
		return r
	}
	return s.routes[motan2Key{service, ""}]
}

// Motan2Options configures the Motan2 ingress.
type Motan2Options struct {
	Limits                motan2.Limits
	MaxConcurrentRequests int
	// ProxyBit sets the proxy bit on replies, as a motan-go agent does.
	ProxyBit bool
	// Errors counts the exception replies (nil: not counted).
	Errors *ErrorCounts
	Logger *slog.Logger
}

// Motan2 is the Motan2 ingress: existing Motan2 clients (PHP, Java, Go)
// call meshgate as they would call a motan-go agent. Requests are routed by
// service and group and forwarded upstream untouched, under new request
// ids; the caller gets the reply under its own id, with M_rid carrying its
// id upstream (spec section 5) and the proxy bit set on forwarded frames.
type Motan2 struct {
	srv    *motan2.Server
	snap   atomic.Pointer[Motan2Snapshot]
	log    *slog.Logger
	errors *ErrorCounts
	fails  failLog
}

// NewMotan2 returns a Motan2 ingress serving snap.
func NewMotan2(snap *Motan2Snapshot, o Motan2Options) *Motan2 {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Motan2{log: o.Logger, errors: o.Errors}
	m.snap.Store(snap)
	m.srv = &motan2.Server{Handler: m, Limits: o.Limits, MaxConcurrentRequests: o.MaxConcurrentRequests,
		Proxy: o.ProxyBit, Logger: o.Logger}
	return m
}

// Swap installs a new configuration generation.
func (m *Motan2) Swap(snap *Motan2Snapshot) { m.snap.Store(snap) }

// Serve serves on l until Shutdown; it returns motan2.ErrServerClosed then.
func (m *Motan2) Serve(l net.Listener) error { return m.srv.Serve(l) }

// Shutdown stops accepting, lets in-flight calls finish until ctx ends and
// closes the connections.
func (m *Motan2) Shutdown(ctx context.Context) error { return m.srv.Shutdown(ctx) }

// ServeMotan2 implements motan2.Handler.
func (m *Motan2) ServeMotan2(ctx context.Context, req *motan2.Frame) *motan2.Frame {
	resp := m.serve(ctx, req)
	if m.errors != nil && resp != nil && resp.IsException() {
		m.errors.add(KindMotan2, translate.FromMotan2Exception(resp.Exception()).Code)
	}
	return resp
}

func (m *Motan2) serve(ctx context.Context, req *motan2.Frame) *motan2.Frame {
	service, group := req.Service(), req.Group()
	snap := m.snap.Load()
	route := snap.match(service, group)
	if route == nil {
		// What a motan-go agent answers for a service it has no cluster for.
		msg := "cluster not found. service: " + service + " group: " + group
		if r := snap.Rejects; r != nil {
			r.Log(time.Time{}, "motan2", "", service+"/"+req.Method(), req.Meta.Get(motan2.MetaRequestID),
				&translate.Error{Code: translate.NotFound, HTTPStatus: 400, Message: msg})
		}
		return motan2.NewExceptionResponse(req, &motan2.Exception{ErrCode: 400, ErrType: motan2.ErrTypeService, ErrMsg: msg})
	}
	if route.Bridge != nil {
		return m.bridge(ctx, req, route)
	}
	if _, ok := req.Meta.Lookup(motan2.MetaRequestID); !ok {
		req.Meta = append(req.Meta, motan2.MetaPair{Key: motan2.MetaRequestID, Value: strconv.FormatInt(int64(req.RequestID), 10)})
	}
	if route.TargetService != "" {
		req.Meta.Set(motan2.MetaPath, route.TargetService)
	}
	if route.TargetGroup != "" {
		req.Meta.Set(motan2.MetaGroup, route.TargetGroup)
	}
	req.Flags |= motan2.FlagProxy
	call := gateway.Call{Service: req.Service(), Method: req.Method(), Group: req.Group(), Frame: req,
		Idempotent: route.Policy.Idempotent}
	motan2Budget(ctx, &call, route.Timeout)
	if k := route.Policy.HashKey; k.From == gateway.KeyFromHeader {
		call.HashKey = req.Meta.Get(k.Name)
	}
	var reply gateway.Reply
	err := route.Invoker.Invoke(ctx, &call, &reply)
	resp := reply.Frame
	if err == nil && resp == nil {
		err = translate.Errorf(translate.Internal, "upstream of route %s answered no frame", route.Name)
	}
	if err != nil {
		e := translate.FromError(err)
		if e.Status() >= 500 {
			if n, ok := m.fails.allow(time.Now()); ok {
				m.log.Warn("motan2: call failed", withSuppressed(n, "route", route.Name, "service", service, "method", req.Method(),
					"code", e.Code.String(), "error", e.Message)...)
			}
		}
		return motan2.NewExceptionResponse(req, translate.ToMotan2Exception(e))
	}
	return resp
}
