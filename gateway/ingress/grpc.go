package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/grpcraw"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// grpcEntry is a compiled gateway.GRPCRoute.
type grpcEntry struct {
	route *gateway.GRPCRoute
	// target is the upstream service (TargetService, default Service).
	target string
	// fullMethod is "/target/Method" for a method route (precomputed);
	// for a service route it is empty and the upstream path is the
	// caller's path when target is the caller's service (sameTarget), or
	// prefix+method otherwise.
	fullMethod string
	prefix     string
	sameTarget bool
}

// GRPCSnapshot is one configuration generation of the gRPC ingress: the
// routes indexed by full method and by service. It is immutable and
// swapped atomically.
type GRPCSnapshot struct {
	// Rejects logs calls answered before a route chain (nil: not
	// logged); set after NewGRPCSnapshot.
	Rejects Rejections

	methods  map[string]*grpcEntry // "/pkg.Svc/Method"
	services map[string]*grpcEntry // "pkg.Svc"
	known    map[string]struct{}   // every routed service
	routes   []*gateway.GRPCRoute
	schemas  []*descriptors.Registry // distinct route schemas, in route order
}

// NewGRPCSnapshot indexes routes. A route with Method set matches only
// "/Service/Method"; a route without one matches every method of Service,
// except those a method route takes. Two routes for the same service and
// method (or two service-wide routes for the same service) are an error,
// as are routes without a service or an invoker, methods containing '/',
// and ConvertSimple routes without a schema.
func NewGRPCSnapshot(routes []*gateway.GRPCRoute) (*GRPCSnapshot, error) {
	s := &GRPCSnapshot{
		methods:  map[string]*grpcEntry{},
		services: map[string]*grpcEntry{},
		known:    map[string]struct{}{},
		routes:   routes,
	}
	seenSchema := map[*descriptors.Registry]bool{}
	for i, r := range routes {
		name := r.Name
		if name == "" {
			name = "#" + strconv.Itoa(i)
		}
		switch {
		case r.Service == "" || strings.ContainsAny(r.Service, "/ "):
			return nil, errors.New("grpc route " + name + ": invalid service name " + strconv.Quote(r.Service))
		case strings.ContainsAny(r.Method, "/ "):
			return nil, errors.New("grpc route " + name + ": invalid method name " + strconv.Quote(r.Method))
		case strings.ContainsAny(r.TargetService, "/ "):
			return nil, errors.New("grpc route " + name + ": invalid target service " + strconv.Quote(r.TargetService))
		case r.Invoker == nil:
			return nil, errors.New("grpc route " + name + ": no invoker")
		case r.Mode == gateway.ConvertSimple && r.Schema == nil:
			return nil, errors.New("grpc route " + name + ": ConvertSimple needs a schema")
		case r.Mode != gateway.PassPayload && r.Mode != gateway.ConvertSimple:
			return nil, errors.New("grpc route " + name + ": unknown message mode " + strconv.Itoa(int(r.Mode)))
		}
		e := &grpcEntry{route: r, target: r.TargetService}
		if e.target == "" {
			e.target = r.Service
		}
		if r.Method != "" {
			key := "/" + r.Service + "/" + r.Method
			if prev, dup := s.methods[key]; dup {
				return nil, errors.New("grpc route " + name + ": " + key + " is already routed by " + grpcRouteName(prev.route))
			}
			e.fullMethod = "/" + e.target + "/" + r.Method
			s.methods[key] = e
		} else {
			if prev, dup := s.services[r.Service]; dup {
				return nil, errors.New("grpc route " + name + ": service " + r.Service + " is already routed by " + grpcRouteName(prev.route))
			}
			e.sameTarget = e.target == r.Service
			e.prefix = "/" + e.target + "/"
			s.services[r.Service] = e
		}
		s.known[r.Service] = struct{}{}
		if r.Schema != nil && !seenSchema[r.Schema] {
			seenSchema[r.Schema] = true
			s.schemas = append(s.schemas, r.Schema)
		}
	}
	return s, nil
}

func grpcRouteName(r *gateway.GRPCRoute) string {
	if r.Name != "" {
		return "route " + r.Name
	}
	if r.Method != "" {
		return "route for " + r.Service + "/" + r.Method
	}
	return "route for " + r.Service
}

// match finds the route for fullMethod ("/pkg.Svc/Method"): a method route
// wins over a service route. It returns the caller's service and method
// (substrings of fullMethod) and does not allocate.
func (s *GRPCSnapshot) match(fullMethod string) (e *grpcEntry, service, method string) {
	pos := strings.LastIndexByte(fullMethod, '/')
	if len(fullMethod) == 0 || fullMethod[0] != '/' || pos <= 1 || pos == len(fullMethod)-1 {
		return nil, "", ""
	}
	service, method = fullMethod[1:pos], fullMethod[pos+1:]
	if e = s.methods[fullMethod]; e == nil {
		e = s.services[service]
	}
	return e, service, method
}

// Routes returns the routes the snapshot was built from.
func (s *GRPCSnapshot) Routes() []*gateway.GRPCRoute { return s.routes }

// GRPCOptions configures the gRPC ingress.
type GRPCOptions struct {
	// TLS, when set, serves gRPC over TLS (ALPN h2 is added); nil serves
	// plaintext HTTP/2 (h2c with prior knowledge, as gRPC clients speak
	// it without TLS).
	TLS *tls.Config
	// MaxRecvMsgSize limits request messages (0: 4 MiB); larger ones fail
	// with RESOURCE_EXHAUSTED. MaxSendMsgSize limits response messages
	// (0: no limit beyond gRPC's 2 GiB).
	MaxRecvMsgSize, MaxSendMsgSize int
	// MaxConcurrentStreams caps the calls in flight per connection
	// (0: 1000).
	MaxConcurrentStreams uint32
	// ConnectionTimeout bounds the connection handshake, TLS included
	// (0: 10s).
	ConnectionTimeout time.Duration
	// Keepalive are the server's keepalive parameters (zero fields:
	// grpc-go's defaults: ping after 2h idle, 20s ack timeout, no age
	// limit).
	Keepalive keepalive.ServerParameters
	// KeepaliveEnforcement is the policy for client pings; the zero value
	// means MinTime 10s with pings allowed on connections without calls,
	// so that clients keeping connections warm every 10s or more are not
	// sent GOAWAY (grpc-go's own default is 5 minutes).
	KeepaliveEnforcement keepalive.EnforcementPolicy
	// Reflection serves gRPC server reflection (grpc.reflection.v1 and
	// v1alpha) for every routed service a schema describes: the route's
	// Schema, or failing that one of Schemas. Schemas are read at each
	// reflection request, so a schema reload or a Swap shows at once.
	Reflection bool
	// Schemas are further schemas for reflection (all the configured ones,
	// typically): they describe routed services whose route has no Schema
	// (PassPayload routes to a gRPC upstream) and resolve the types they
	// use. Their current snapshots are read at each reflection request.
	Schemas []*descriptors.Registry
	// RequestIDHeader is the metadata key read for the caller's request
	// id and set in every response header (default x-request-id); a
	// missing id is generated.
	RequestIDHeader string
	Logger          *slog.Logger
	// Errors counts the calls answered with a status other than OK (nil:
	// not counted).
	Errors *ErrorCounts
}

// GRPC is the gRPC ingress: one generic handler serves every unary method
// of the routed services. A call is matched by its full method against the
// current GRPCSnapshot and sent to the route's Invoker, the request message
// untouched (PassPayload) or converted to Simple arguments through the
// route's schema (ConvertSimple); errors reach the caller as a gRPC status
// with their details. Streaming methods are answered UNIMPLEMENTED.
type GRPC struct {
	srv   *grpc.Server
	snap  atomic.Pointer[GRPCSnapshot]
	opts  GRPCOptions
	idKey string
	ids   requestIDs
	log   *slog.Logger
	fails failLog
}

// NewGRPC returns a gRPC ingress serving snap.
func NewGRPC(snap *GRPCSnapshot, o GRPCOptions) *GRPC {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RequestIDHeader == "" {
		o.RequestIDHeader = "x-request-id"
	}
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 1000
	}
	if o.ConnectionTimeout == 0 {
		o.ConnectionTimeout = 10 * time.Second
	}
	if o.KeepaliveEnforcement == (keepalive.EnforcementPolicy{}) {
		o.KeepaliveEnforcement = keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}
	}
	g := &GRPC{opts: o, idKey: strings.ToLower(o.RequestIDHeader), log: o.Logger}
	g.ids.init()
	g.Swap(snap)
	opts := []grpc.ServerOption{
		grpc.UnknownServiceHandler(g.handle),
		grpc.ForceServerCodecV2(grpcraw.Codec{}),
		grpc.MaxConcurrentStreams(o.MaxConcurrentStreams),
		grpc.ConnectionTimeout(o.ConnectionTimeout),
		grpc.KeepaliveParams(o.Keepalive),
		grpc.KeepaliveEnforcementPolicy(o.KeepaliveEnforcement),
	}
	if o.MaxRecvMsgSize > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(o.MaxRecvMsgSize))
	}
	if o.MaxSendMsgSize > 0 {
		opts = append(opts, grpc.MaxSendMsgSize(o.MaxSendMsgSize))
	}
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	g.srv = grpc.NewServer(opts...)
	if o.Reflection {
		g.registerReflection()
	}
	return g
}

// Swap installs a new configuration generation; calls already matched
// finish on the old one. A nil snap routes nothing.
func (g *GRPC) Swap(snap *GRPCSnapshot) {
	if snap == nil {
		snap, _ = NewGRPCSnapshot(nil)
	}
	g.snap.Store(snap)
}

// Server returns the underlying grpc.Server, to register further services
// (health) before Serve. Registered services take precedence over routes.
func (g *GRPC) Server() *grpc.Server { return g.srv }

// Serve serves on l until Shutdown; it returns nil then.
func (g *GRPC) Serve(l net.Listener) error { return g.srv.Serve(l) }

// Shutdown stops accepting and lets calls in flight finish until ctx ends,
// then closes every connection (cancelling the calls left) and returns
// ctx's error.
func (g *GRPC) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		g.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		g.srv.Stop()
		<-done
		return ctx.Err()
	}
}

// grpcScratch holds a call's Call and Reply and the pointers handed to the
// codec; pooled because all of them escape to the heap.
type grpcScratch struct {
	call  gateway.Call
	reply gateway.Reply
	req   []byte // request message
	extra []byte // a second request message, if the caller streams
	out   []byte // response message
	args  [4]motan2.Value
	hdr   metadata.MD
	id    [1]string
	// headerSet: the response metadata has been handed to the stream.
	headerSet bool
	// invoked: the route chain ran (errors before it are logged as
	// rejections); received: when the call came in.
	invoked  bool
	received time.Time
}

var grpcScratchPool = sync.Pool{New: func() any { return &grpcScratch{hdr: make(metadata.MD, 4)} }}

// release clears references into the call and pools sc. The message
// buffers are not reused: gRPC may still be writing the response when the
// handler returns.
func (sc *grpcScratch) release() {
	clear(sc.args[:])
	clear(sc.hdr)
	sc.call, sc.reply = gateway.Call{}, gateway.Reply{}
	sc.req, sc.extra, sc.out, sc.id[0], sc.headerSet, sc.invoked = nil, nil, nil, "", false, false
	grpcScratchPool.Put(sc)
}

// handle serves every call grpc-go has no registered service for.
func (g *GRPC) handle(_ any, ss grpc.ServerStream) (err error) {
	ctx := ss.Context()
	full, _ := grpc.MethodFromServerStream(ss)
	id := ""
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("grpc: handler panic", "panic", p, "method", full, "request_id", id)
			err = status.Error(codes.Internal, "internal error")
		}
		if err != nil {
			g.opts.Errors.add(KindGRPC, translate.Code(status.Code(err)))
		}
	}()

	md, _ := metadata.FromIncomingContext(ctx)
	if vs := md[g.idKey]; len(vs) > 0 {
		id = vs[0] // the caller's; generated below for a routed call
	}
	snap := g.snap.Load()
	e, service, method := snap.match(full)
	if e == nil {
		var msg string
		switch _, known := snap.known[service]; {
		case known:
			msg = "unknown method " + method + " for service " + service
		case service == "":
			msg = "malformed method name " + strconv.Quote(full)
		default:
			msg = "unknown service " + service
		}
		if r := snap.Rejects; r != nil {
			r.Log(time.Time{}, "grpc", "", full, id, &translate.Error{Code: translate.Unimplemented, Message: msg})
		}
		return status.Error(codes.Unimplemented, msg)
	}
	route := e.route

	if id == "" {
		id = g.ids.next()
	}

	sc := grpcScratchPool.Get().(*grpcScratch)
	defer sc.release()
	sc.received = time.Now()
	if err := g.serve(ctx, ss, sc, e, full, method, md, id); err != nil {
		g.setHeader(ss, sc, id)
		te := translate.FromError(err)
		if r := snap.Rejects; r != nil && !sc.invoked {
			r.Log(sc.received, "grpc", route.Name, full, id, te)
		}
		if te.Status() >= 500 {
			if n, ok := g.fails.allow(time.Now()); ok {
				g.log.Warn("grpc: call failed", withSuppressed(n, "route", route.Name, "method", full, "code", te.Code.String(),
					"error", te.Message, "request_id", id)...)
			}
		}
		return status.FromProto(te.StatusProto()).Err()
	}
	return nil
}

// serve runs one matched call; errors are returned to handle, which sends
// the response metadata and the status. On success the response header
// and message have been sent.
func (g *GRPC) serve(ctx context.Context, ss grpc.ServerStream, sc *grpcScratch, e *grpcEntry, full, method string, md metadata.MD, id string) error {
	route := e.route

	// The descriptor, when the route's schema has one, says whether the
	// method streams, and ConvertSimple needs it.
	var (
		schema *descriptors.Snapshot
		mdesc  protoreflect.MethodDescriptor
	)
	if route.Schema != nil {
		schema = route.Schema.Current()
		mdesc, _ = schema.Method(full)
	}
	if mdesc != nil && (mdesc.IsStreamingClient() || mdesc.IsStreamingServer()) {
		return &translate.Error{Code: translate.Unimplemented, Message: "streaming is not supported: " + full + " is a " + streamKind(mdesc) + " method"}
	}
	if route.Mode == gateway.ConvertSimple && mdesc == nil {
		return &translate.Error{Code: translate.Unimplemented, Message: "method " + full + " is not in the schema of " +
			grpcRouteName(route) + " (version " + schemaVersion(schema) + ")"}
	}

	// Unary only: exactly one request message, then the caller's
	// half-close. A second message means a streaming method the schema
	// did not tell us about.
	if err := ss.RecvMsg(&sc.req); err != nil {
		if err == io.EOF {
			return &translate.Error{Code: translate.Internal, Message: "received no request message for a unary call"}
		}
		return grpcRecvError(err)
	}
	if err := ss.RecvMsg(&sc.extra); err == nil {
		return &translate.Error{Code: translate.Unimplemented, Message: "streaming is not supported: more than one request message on " + full}
	} else if err != io.EOF {
		return grpcRecvError(err)
	}

	call := &sc.call
	*call = gateway.Call{Service: e.target, Method: method, FullMethod: e.fullMethod,
		Group: route.Group, Version: route.Version, Header: md, RequestID: id, Timeout: route.Timeout,
		Start: sc.received, Idempotent: route.Policy.Idempotent}
	if k := route.Policy.HashKey; k.From == gateway.KeyFromHeader {
		if vs := md.Get(k.Name); len(vs) > 0 {
			call.HashKey = vs[0]
		}
	}
	if call.FullMethod == "" {
		if e.sameTarget {
			call.FullMethod = full
		} else {
			call.FullMethod = e.prefix + method
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return &translate.Error{Code: translate.DeadlineExceeded, Message: "deadline exceeded before the call was sent upstream"}
		}
		if call.Timeout <= 0 || left < call.Timeout {
			call.Timeout, call.TimeoutSource = left, "grpc-timeout"
		}
	}

	var in *dynamicpb.Message
	if route.Mode == gateway.ConvertSimple {
		in = dynamicpb.NewMessage(mdesc.Input())
		if err := (proto.UnmarshalOptions{Resolver: schema.Types()}).Unmarshal(sc.req, in); err != nil {
			return &translate.Error{Code: translate.InvalidArgument,
				Message: "request is not a valid " + string(mdesc.Input().FullName()) + ": " + err.Error(), Cause: err}
		}
		args, err := simpleArgs(in, route.ArgFields, sc.args[:0])
		if err != nil {
			return err
		}
		call.Args = args
	} else {
		call.Payload = sc.req
		if call.Payload == nil {
			call.Payload = []byte{} // an empty message is still a Payload call
		}
		call.PayloadSerialization = route.PayloadSerialization
	}

	reply := &sc.reply
	sc.invoked = true
	if err := route.Invoker.Invoke(ctx, call, reply); err != nil {
		return err
	}

	out := &reply.Payload
	if route.Mode == gateway.ConvertSimple {
		m := dynamicpb.NewMessage(mdesc.Output())
		if err := translate.SimpleToProto(m, reply.Value); err != nil {
			return &translate.Error{Code: translate.Internal,
				Message: "upstream reply does not fit " + string(mdesc.Output().FullName()) + ": " + err.Error(), Cause: err}
		}
		b, err := proto.Marshal(m)
		if err != nil {
			return &translate.Error{Code: translate.Internal,
				Message: "upstream reply cannot be encoded as " + string(mdesc.Output().FullName()) + ": " + err.Error(), Cause: err}
		}
		sc.out = b
		out = &sc.out
	}
	g.setHeader(ss, sc, id)
	if err := ss.SendMsg(out); err != nil {
		return grpcRecvError(err)
	}
	return nil
}

// grpcRecvError keeps the status of a stream error (the caller cancelled,
// the message was too large) as the call's error.
func grpcRecvError(err error) error {
	st := status.Convert(err)
	return &translate.Error{Code: translate.Code(st.Code()), Message: st.Message(), Cause: err}
}

// setHeader sends the response header: the reply's header, its Motan2
// meta as metadata, and the request id; and sets the reply's trailer.
func (g *GRPC) setHeader(ss grpc.ServerStream, sc *grpcScratch, id string) {
	if sc.headerSet {
		return
	}
	sc.headerSet = true
	reply := &sc.reply
	md := sc.hdr
	for k, v := range reply.Header {
		md[k] = v[:len(v):len(v)] // HeaderFromMeta appends: never into the invoker's array
	}
	md = gateway.HeaderFromMeta(md, reply.Meta)
	if _, ok := md[g.idKey]; !ok && id != "" {
		sc.id[0] = id
		md[g.idKey] = sc.id[:]
	}
	// SetHeader and SetTrailer copy the metadata.
	if err := ss.SetHeader(md); err != nil {
		g.log.Debug("grpc: response header not sent", "error", err, "request_id", id)
	}
	clear(md)
	if len(reply.Trailer) > 0 {
		ss.SetTrailer(reply.Trailer)
	}
}
