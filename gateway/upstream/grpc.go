package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/upstream/lb"
	"github.com/meshgate/meshgate/internal/grpcraw"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// GRPCClusterOptions configures a gRPC cluster.
type GRPCClusterOptions struct {
	// LB names the load-balancing policy (gateway/upstream/lb; "":
	// round_robin).
	LB string
	// TLS, when set, secures the connections (server name: the endpoint's
	// host unless TLS.ServerName says otherwise); nil means plaintext
	// HTTP/2 (h2c).
	TLS *tls.Config
	// DialTimeout bounds each connection attempt (grpc-go's minimum
	// connect timeout; 0: grpc-go's default, 20s). A call waits for the
	// attempt of a connecting endpoint, so with an endpoint that drops
	// connection attempts silently, a DialTimeout under the routes'
	// timeouts lets calls fail over before their deadline.
	DialTimeout time.Duration
	// MaxRecvMsgSize and MaxSendMsgSize bound the reply and request
	// messages in bytes (0: grpc-go's defaults, 4 MiB received and no
	// limit sent).
	MaxRecvMsgSize, MaxSendMsgSize int
	// Dial are further grpc-go dial options, applied after the cluster's
	// own (keepalive, reconnect backoff, ...).
	Dial []grpc.DialOption
	// HA configures failover and backup requests.
	HA HAOptions
	// EndpointChain builds each endpoint's filter chain (nil: none).
	EndpointChain EndpointChain
	Logger        *slog.Logger
}

// GRPCCluster is a set of gRPC endpoints serving the same services. It is
// a gateway.Invoker for calls carrying a protobuf message (Call.Payload),
// which it sends untouched to Call.FullMethod on one endpoint picked by
// the policy, with one grpc-go ClientConn per endpoint; failover and
// backup requests follow HAOptions (cluster.go).
//
// Endpoints whose connection is in TRANSIENT_FAILURE are picked after the
// others. An attempt counts as never sent only when it certainly never
// left this process: grpc-go failed it with UNAVAILABLE before it had a
// stream on a connection (a fail-fast call on a connection that cannot
// connect).
type GRPCCluster struct {
	core
	closedFlag atomic.Bool
	dial       []grpc.DialOption
	// fixed are the call options of every call: the raw codec and the
	// message size limits. Passing them per call rather than as the
	// conns' default call options saves grpc-go a merge (and an
	// allocation) per call, and leaves other users of the conns (server
	// reflection) on the default codec.
	fixed []grpc.CallOption
	calls sync.Pool // *grpcCallState
}

// grpcConn is one endpoint's connection.
type grpcConn struct{ cc *grpc.ClientConn }

func (g grpcConn) Available() bool {
	st := g.cc.GetState()
	return st != connectivity.TransientFailure && st != connectivity.Shutdown
}
func (g grpcConn) State() string { return g.cc.GetState().String() }
func (g grpcConn) Close()        { g.cc.Close() }

// NewGRPCCluster returns a cluster over endpoints: "host:port", or a
// grpc-go target with a scheme ("unix:///path", "dns:///host:port"). It
// does not connect until the first call. endpoints may be empty (a
// cluster that takes its endpoints from a registry): calls then fail with
// UNAVAILABLE ("has no endpoints") until Update brings some. Errors come
// from grpc-go's target and option checks, and from an unknown policy.
func NewGRPCCluster(name string, endpoints []gateway.Endpoint, o GRPCClusterOptions) (*GRPCCluster, error) {
	c := &GRPCCluster{}
	c.fixed = append(c.fixed, grpc.ForceCodecV2(grpcraw.Codec{}))
	if o.MaxRecvMsgSize > 0 {
		c.fixed = append(c.fixed, grpc.MaxCallRecvMsgSize(o.MaxRecvMsgSize))
	}
	if o.MaxSendMsgSize > 0 {
		c.fixed = append(c.fixed, grpc.MaxCallSendMsgSize(o.MaxSendMsgSize))
	}
	c.calls.New = func() any { return newGRPCCallState(c.fixed) }

	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	c.dial = []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if o.DialTimeout > 0 {
		c.dial = append(c.dial, grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: o.DialTimeout}))
	}
	c.dial = append(c.dial, o.Dial...)
	c.newClient = func(ep gateway.Endpoint) (client, error) {
		target := ep.Addr
		if !strings.Contains(target, "://") {
			target = "passthrough:///" + target // one address, resolved when dialling
		}
		cc, err := grpc.NewClient(target, c.dial...)
		if err != nil {
			return nil, err
		}
		return grpcConn{cc}, nil
	}
	c.attempt = func(ep *endpoint) gateway.Invoker {
		return &grpcAttempt{c: c, cc: ep.client.(grpcConn).cc, addr: ep.addr}
	}
	if err := c.init(name, "gRPC", o.LB, o.HA, o.EndpointChain, o.Logger); err != nil {
		return nil, err
	}
	if err := c.update(gateway.EndpointSet{Endpoints: endpoints}); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// Name returns the cluster's name.
func (c *GRPCCluster) Name() string { return c.name }

// Endpoints returns the addresses of the endpoints in force.
func (c *GRPCCluster) Endpoints() []string {
	set := c.set.Load()
	out := make([]string, len(set.members))
	for i, m := range set.members {
		out[i] = m.addr
	}
	return out
}

// Conn returns a connection for calls of the caller's own (loading
// schemas by server reflection) that follows the cluster's endpoints:
// each call (Invoke, NewStream) goes to an endpoint the policy picks from
// the set in force then, preferring one that is not in TRANSIENT_FAILURE.
// While the cluster has no endpoints (a registry has not listed any yet)
// or once it is closed, calls fail with codes.Unavailable. It is never
// nil, uses grpc-go's default codec and has nothing to close. A call is
// not failed over: a stream stays on the endpoint it started on.
func (c *GRPCCluster) Conn() grpc.ClientConnInterface { return pickConn{c} }

// pickConn is Conn's connection.
type pickConn struct{ c *GRPCCluster }

// pick returns the connection of an endpoint picked by the policy.
func (p pickConn) pick() (*grpc.ClientConn, error) {
	c := p.c
	if c.closedFlag.Load() {
		return nil, status.Errorf(codes.Unavailable, "gRPC cluster %q is closed", c.name)
	}
	set := c.set.Load()
	i := -1
	if len(set.members) > 0 {
		i = set.picker.Pick(&lb.Request{})
	}
	if i < 0 || i >= len(set.members) {
		return nil, status.Errorf(codes.Unavailable, "gRPC cluster %q has no endpoints", c.name)
	}
	return set.members[i].client.(grpcConn).cc, nil
}

// Invoke implements grpc.ClientConnInterface.
func (p pickConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	cc, err := p.pick()
	if err != nil {
		return err
	}
	return cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (p pickConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cc, err := p.pick()
	if err != nil {
		return nil, err
	}
	return cc.NewStream(ctx, desc, method, opts...)
}

// ConnAt returns the connection of endpoint i (an index into Endpoints);
// nil when i is out of range (the set may have changed since Endpoints).
func (c *GRPCCluster) ConnAt(i int) grpc.ClientConnInterface {
	ms := c.set.Load().members
	if i < 0 || i >= len(ms) {
		return nil
	}
	return ms[i].client.(grpcConn).cc
}

// Close closes every connection. Calls in flight fail with UNAVAILABLE
// (or CANCELLED when their caller gave up first); later calls fail at
// once.
func (c *GRPCCluster) Close() {
	c.closedFlag.Store(true)
	c.close()
}

// grpcCallState is the per-call scratch of Invoke, pooled: the call
// options, with the places grpc-go reports the header, trailer and peer
// into.
type grpcCallState struct {
	opts            []grpc.CallOption
	header, trailer metadata.MD
	peer            peer.Peer
	answered        bool // the server sent a header or trailers
}

func newGRPCCallState(fixed []grpc.CallOption) *grpcCallState {
	s := &grpcCallState{}
	s.opts = append(make([]grpc.CallOption, 0, len(fixed)+3), fixed...)
	s.opts = append(s.opts, grpc.Header(&s.header), grpc.Trailer(&s.trailer), grpc.Peer(&s.peer))
	return s
}

func (s *grpcCallState) reset() {
	s.header, s.trailer, s.peer, s.answered = nil, nil, peer.Peer{}, false
}

// Invoke implements gateway.Invoker through the cluster core
// (cluster.go): see grpcAttempt.Invoke for what is sent.
func (c *GRPCCluster) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	if call.Payload == nil {
		return &translate.Error{Code: translate.Internal,
			Message: fmt.Sprintf("gRPC upstream %q needs a protobuf message; the route sends Simple arguments (to %s.%s)", c.name, call.Service, call.Method)}
	}
	if call.FullMethod == "" {
		return &translate.Error{Code: translate.Internal,
			Message: fmt.Sprintf("gRPC upstream %q needs the gRPC method to call; the route names none (Call.FullMethod is empty for %s.%s)", c.name, call.Service, call.Method)}
	}
	if c.closedFlag.Load() {
		return c.closedError(call.FullMethod)
	}
	return c.invoke(ctx, call, reply)
}

// grpcAttempt sends a call to one endpoint: the innermost invoker of the
// endpoint's chain.
type grpcAttempt struct {
	c    *GRPCCluster
	cc   *grpc.ClientConn
	addr string
}

// Invoke sends one attempt: call.Payload as the request message of
// call.FullMethod as it is; the reply message comes back in
// reply.Payload, with the response header and trailer in reply.Header and
// reply.Trailer (without grpc-go's content-type; also when the call
// fails, as far as they arrived).
//
// The outgoing metadata is call.Header plus the Motan2 meta that is valid
// gRPC metadata (gateway.HeaderFromMeta); keys grpc-go or HTTP/2 own
// (pseudo-headers, grpc-*, content-type, user-agent, te, connection and
// the other connection headers) and values gRPC cannot carry are left
// out. The deadline is the earlier of ctx's and call.Timeout from now; it
// reaches the server as grpc-timeout.
//
// A status the upstream answered with comes back as
// translate.FromStatusProto of it (code, message and details kept).
// Calls that time out are DeadlineExceeded, calls the caller cancelled
// Canceled, and connection failures Unavailable naming the cluster and
// the endpoint. reply.Attempts is 0 when the call certainly never left
// (see neverSent), else 1.
func (a *grpcAttempt) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	c := a.c
	began := time.Now()
	if call.Timeout > 0 {
		dl := began.Add(call.Timeout)
		if cur, ok := ctx.Deadline(); !ok || dl.Before(cur) {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl)
			defer cancel()
		}
	}
	if md := outgoingMD(call.Header, call.Meta); len(md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	st := c.calls.Get().(*grpcCallState)
	defer func() {
		st.reset()
		c.calls.Put(st)
	}()
	err := a.cc.Invoke(ctx, call.FullMethod, &call.Payload, &reply.Payload, st.opts...)
	// A server's answer always brings a header (content-type at least)
	// or, for a trailers-only answer, non-empty trailers.
	st.answered = st.header != nil || len(st.trailer) > 0
	reply.Header, reply.Trailer = responseMD(st.header), responseMD(st.trailer)
	if err == nil {
		reply.Attempts = 1
		return nil
	}
	if c.neverSent(ctx, err, st) {
		reply.Attempts = 0
		c.log.Debug("gRPC upstream: endpoint unreachable, trying the next one",
			"endpoint", a.addr, "method", call.FullMethod, "error", err)
		return &translate.Error{Code: translate.Unavailable, Cause: err,
			Message: fmt.Sprintf("gRPC endpoint %s (cluster %q) unreachable: %s", a.addr, c.name, status.Convert(err).Message())}
	}
	reply.Attempts = 1
	return c.callError(ctx, call.FullMethod, a.addr, time.Since(began), err, st)
}

// neverSent reports whether a failed attempt certainly never reached a
// server, so that the next endpoint may take the call: grpc-go answered
// UNAVAILABLE without ever having a stream for it (no peer recorded: the
// call options' after-hooks run only for calls that had one), and neither
// the caller nor the cluster ended it.
func (c *GRPCCluster) neverSent(ctx context.Context, err error, st *grpcCallState) bool {
	return st.peer.Addr == nil && status.Code(err) == codes.Unavailable && ctx.Err() == nil && !c.closedFlag.Load()
}

// callError maps the error of an attempt that is not tried elsewhere.
func (c *GRPCCluster) callError(ctx context.Context, method, endpoint string, spent time.Duration, err error, st *grpcCallState) error {
	s := status.Convert(err)
	code := s.Code()
	ctxErr := ctx.Err()
	switch {
	case c.closedFlag.Load() && ctxErr == nil && (code == codes.Canceled || code == codes.Unavailable):
		return c.closedError(method)
	case errors.Is(ctxErr, context.Canceled):
		return &translate.Error{Code: translate.Canceled, Message: "request cancelled by the caller", Cause: err}
	case code == codes.DeadlineExceeded || errors.Is(ctxErr, context.DeadlineExceeded):
		return &translate.Error{Code: translate.DeadlineExceeded, Cause: err,
			Message: fmt.Sprintf("gRPC upstream %s at %s (cluster %q) timed out after %v", method, endpoint, c.name, spent.Round(time.Millisecond))}
	case code == codes.Unavailable && st.peer.Addr != nil && !st.answered:
		// The stream ended with neither a header nor trailers from the
		// server: the connection failed under the call, which may have
		// reached the server, so it is not sent again.
		return &translate.Error{Code: translate.Unavailable, HTTPStatus: 502, Cause: err,
			Message: fmt.Sprintf("connection to gRPC endpoint %s (cluster %q) lost during the call to %s: %s", endpoint, c.name, method, s.Message())}
	case !st.answered:
		// Nothing came from the server: the status is grpc-go's own (a
		// message over the size limit, say), not the upstream's.
		when := "failed"
		if st.peer.Addr == nil {
			when = "failed before it was sent"
		}
		return &translate.Error{Code: translate.Code(code), Cause: err,
			Message: fmt.Sprintf("gRPC call to %s at %s (cluster %q) %s: %s", method, endpoint, c.name, when, s.Message())}
	}
	return translate.FromStatusProto(s.Proto())
}

func (c *GRPCCluster) closedError(method string) error {
	return &translate.Error{Code: translate.Unavailable,
		Message: fmt.Sprintf("gRPC cluster %q is closed (call to %s)", c.name, method)}
}

// responseMD drops what grpc-go reports of the transport (content-type)
// from response metadata it returned, and returns nil for nothing left.
// md is the call's own copy.
func responseMD(md metadata.MD) metadata.MD {
	delete(md, "content-type")
	if len(md) == 0 {
		return nil
	}
	return md
}

// outgoingMD returns the metadata to send: h with the Motan2 meta of
// gateway.HeaderFromMeta added, without the keys and values forwardKey and
// forwardValue refuse. h itself is returned, not copied, when it needs no
// change; it is never modified.
func outgoingMD(h metadata.MD, meta motan2.Meta) metadata.MD {
	extra := gateway.HeaderFromMeta(nil, meta)
	if extra == nil && cleanMD(h) {
		return h
	}
	md := make(metadata.MD, len(h)+len(extra))
	for _, src := range [2]metadata.MD{h, extra} {
		for k, vs := range src {
			if !forwardKey(k) {
				continue
			}
			if _, have := md[k]; !have && cleanValues(k, vs) {
				// Shared, with the capacity capped so that an append
				// never writes into the caller's array.
				md[k] = vs[:len(vs):len(vs)]
				continue
			}
			for _, v := range vs {
				if forwardValue(k, v) {
					md[k] = append(md[k], v)
				}
			}
		}
	}
	return md
}

func cleanMD(md metadata.MD) bool {
	for k, vs := range md {
		if !forwardKey(k) || !cleanValues(k, vs) {
			return false
		}
	}
	return true
}

func cleanValues(k string, vs []string) bool {
	for _, v := range vs {
		if !forwardValue(k, v) {
			return false
		}
	}
	return true
}

// forwardKey reports whether request metadata under k may be sent to a
// gRPC upstream: a legal key (lower-case letters, digits, '-', '_', '.')
// that neither grpc-go nor HTTP/2 owns. grpc-go fails a call whose
// metadata has an illegal key, and a grpc-go server refuses a request
// with a connection header.
func forwardKey(k string) bool {
	if k == "" || strings.HasPrefix(k, "grpc-") {
		return false
	}
	switch k {
	case "content-type", "user-agent", "te", "host", "authority",
		"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false // also pseudo-headers (':')
		}
	}
	return true
}

// forwardValue reports whether v can be sent under k: any bytes for a
// binary (-bin) key, printable ASCII otherwise (grpc-go fails a call
// carrying anything else).
func forwardValue(k, v string) bool {
	if strings.HasSuffix(k, "-bin") {
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
