package ingress

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/grpcraw"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// grpcRecorder is an in-process Invoker that records a copy of every Call
// and answers with fn (an empty reply when fn is nil).
type grpcRecorder struct {
	mu    sync.Mutex
	calls []gateway.Call
	fn    func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error
}

func (r *grpcRecorder) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	c := *call
	c.Payload = bytes.Clone(call.Payload)
	if call.Payload != nil && c.Payload == nil {
		c.Payload = []byte{}
	}
	c.Args = slices.Clone(call.Args)
	c.Header = call.Header.Copy()
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.fn != nil {
		return r.fn(ctx, call, reply)
	}
	return nil
}

func (r *grpcRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *grpcRecorder) last(tb testing.TB) gateway.Call {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		tb.Fatal("the invoker was not called")
	}
	return r.calls[len(r.calls)-1]
}

// grpcLogBuffer collects log output from concurrent handlers.
type grpcLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *grpcLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *grpcLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func grpcQuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startGRPCIngress serves routes on 127.0.0.1:0 until the test ends.
func startGRPCIngress(tb testing.TB, routes []*gateway.GRPCRoute, o GRPCOptions) (*GRPC, string) {
	tb.Helper()
	snap, err := NewGRPCSnapshot(routes)
	if err != nil {
		tb.Fatalf("NewGRPCSnapshot: %v", err)
	}
	if o.Logger == nil {
		o.Logger = grpcQuietLogger()
	}
	g := NewGRPC(snap, o)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(l) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return g, l.Addr().String()
}

// dialGRPC connects a grpc-go client (plaintext unless creds is given).
func dialGRPC(tb testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	tb.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// grpcRawCall sends req as the request message untouched and returns the
// response message's bytes.
func grpcRawCall(ctx context.Context, conn *grpc.ClientConn, method string, req []byte, opts ...grpc.CallOption) ([]byte, error) {
	var resp []byte
	err := conn.Invoke(ctx, method, &req, &resp, append(opts, grpc.ForceCodecV2(grpcraw.Codec{}))...)
	return resp, err
}

func grpcTestCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func grpcWantCode(tb testing.TB, err error, code codes.Code, msgPart string) *status.Status {
	tb.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || !strings.Contains(st.Message(), msgPart) {
		tb.Fatalf("error = %v; want %v containing %q", err, code, msgPart)
	}
	return st
}

// grpcCompile compiles the shop schema (and the echo schema of this
// package's testdata) into a snapshot.
func grpcCompile(tb testing.TB, files ...string) *descriptors.Snapshot {
	tb.Helper()
	s, err := descriptors.CompileProtos(context.Background(),
		[]string{"../../descriptors/testdata/protos", "testdata/grpc"}, files)
	if err != nil {
		tb.Fatalf("CompileProtos: %v", err)
	}
	return s
}

func grpcRegistry(tb testing.TB, files ...string) *descriptors.Registry {
	reg := new(descriptors.Registry)
	reg.Swap(grpcCompile(tb, files...))
	return reg
}

func TestGRPCSnapshotMatch(t *testing.T) {
	inv := &grpcRecorder{}
	svc := &gateway.GRPCRoute{Name: "svc", Service: "shop.v1.Library", Invoker: inv}
	get := &gateway.GRPCRoute{Name: "get", Service: "shop.v1.Library", Method: "GetBook", TargetService: "up.Library", Invoker: inv}
	ren := &gateway.GRPCRoute{Name: "ren", Service: "a.B", TargetService: "c.D", Invoker: inv}
	snap, err := NewGRPCSnapshot([]*gateway.GRPCRoute{svc, get, ren})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path            string
		route           *gateway.GRPCRoute
		service, method string
		fullMethod      string // precomputed upstream path ("" for service routes)
	}{
		{"/shop.v1.Library/GetBook", get, "shop.v1.Library", "GetBook", "/up.Library/GetBook"},
		{"/shop.v1.Library/ListBooks", svc, "shop.v1.Library", "ListBooks", ""},
		{"/a.B/X", ren, "a.B", "X", ""},
		{"/shop.v1.Other/GetBook", nil, "shop.v1.Other", "GetBook", ""},
		{"shop.v1.Library/GetBook", nil, "", "", ""},
		{"/shop.v1.Library/", nil, "", "", ""},
		{"//GetBook", nil, "", "", ""},
		{"", nil, "", "", ""},
	} {
		e, service, method := snap.match(tc.path)
		var got *gateway.GRPCRoute
		if e != nil {
			got = e.route
			if e.fullMethod != tc.fullMethod {
				t.Errorf("match(%q).fullMethod = %q; want %q", tc.path, e.fullMethod, tc.fullMethod)
			}
		}
		if got != tc.route || service != tc.service || method != tc.method {
			t.Errorf("match(%q) = %v, %q, %q; want %v, %q, %q", tc.path, got, service, method, tc.route, tc.service, tc.method)
		}
	}
	if e, _, _ := snap.match("/a.B/X"); e.prefix != "/c.D/" || e.sameTarget {
		t.Errorf("renamed service route: prefix %q sameTarget %v", e.prefix, e.sameTarget)
	}
	if e, _, _ := snap.match("/shop.v1.Library/ListBooks"); !e.sameTarget {
		t.Error("service route without TargetService: sameTarget false")
	}
	if n := testing.AllocsPerRun(100, func() {
		snap.match("/shop.v1.Library/GetBook")
		snap.match("/shop.v1.Library/ListBooks")
		snap.match("/no.Such/Method")
	}); n != 0 {
		t.Errorf("match allocates %v times", n)
	}

	for _, tc := range []struct {
		name   string
		routes []*gateway.GRPCRoute
		want   string
	}{
		{"duplicate method", []*gateway.GRPCRoute{get, {Name: "get2", Service: "shop.v1.Library", Method: "GetBook", Invoker: inv}}, "already routed by route get"},
		{"duplicate service", []*gateway.GRPCRoute{svc, {Service: "shop.v1.Library", Invoker: inv}}, "already routed by route svc"},
		{"no service", []*gateway.GRPCRoute{{Name: "x", Invoker: inv}}, "invalid service name"},
		{"slash in method", []*gateway.GRPCRoute{{Service: "a.B", Method: "x/y", Invoker: inv}}, "invalid method name"},
		{"no invoker", []*gateway.GRPCRoute{{Name: "x", Service: "a.B"}}, "no invoker"},
		{"convert without schema", []*gateway.GRPCRoute{{Name: "x", Service: "a.B", Mode: gateway.ConvertSimple, Invoker: inv}}, "needs a schema"},
	} {
		if _, err := NewGRPCSnapshot(tc.routes); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestGRPCPassthrough(t *testing.T) {
	inv := &grpcRecorder{fn: func(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
		// Echo the request reversed: the bytes are never parsed.
		out := slices.Clone(call.Payload)
		slices.Reverse(out)
		reply.Payload = out
		reply.Header = metadata.Pairs("x-up", "u1")
		reply.Trailer = metadata.Pairs("x-cost", "7")
		reply.Meta = motan2.Meta{{Key: "X-Trace", Value: "t1"}, {Key: "M_p", Value: "hidden"}}
		return nil
	}}
	routes := []*gateway.GRPCRoute{
		{Name: "lib", Service: "shop.v1.Library", TargetService: "com.shop.Library", Group: "g1", Version: "1.0",
			Timeout: time.Minute, PayloadSerialization: motan2.SerializationPB, Invoker: inv},
		{Name: "echo", Service: "echo.v1.Echo", Method: "Say", TargetService: "up.Echo", Invoker: inv},
		{Name: "same", Service: "echo.v1.Admin", Invoker: inv},
	}
	_, addr := startGRPCIngress(t, routes, GRPCOptions{})
	conn := dialGRPC(t, addr, nil)

	// Not a valid protobuf message: PassPayload must not care.
	req := []byte{0xff, 0x00, 0x01, 0x80, 'x'}
	ctx := metadata.AppendToOutgoingContext(grpcTestCtx(t), "x-foo", "bar", "x-request-id", "rid-1")
	var header, trailer metadata.MD
	resp, err := grpcRawCall(ctx, conn, "/shop.v1.Library/GetBook", req, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{'x', 0x80, 0x01, 0x00, 0xff}; !bytes.Equal(resp, want) {
		t.Errorf("response = %x; want %x", resp, want)
	}
	call := inv.last(t)
	if !bytes.Equal(call.Payload, req) || call.Args != nil {
		t.Errorf("call.Payload = %x, Args %v; want %x", call.Payload, call.Args, req)
	}
	if call.Service != "com.shop.Library" || call.Method != "GetBook" || call.FullMethod != "/com.shop.Library/GetBook" ||
		call.Group != "g1" || call.Version != "1.0" || call.PayloadSerialization != motan2.SerializationPB {
		t.Errorf("call = %+v", call)
	}
	if got := call.Header.Get("x-foo"); len(got) != 1 || got[0] != "bar" {
		t.Errorf("call.Header[x-foo] = %q", got)
	}
	if call.RequestID != "rid-1" {
		t.Errorf("call.RequestID = %q", call.RequestID)
	}
	if call.Timeout <= 0 || call.Timeout > time.Minute {
		t.Errorf("call.Timeout = %v; want the route's minute bounded by the client's 30s", call.Timeout)
	}
	for k, want := range map[string]string{"x-up": "u1", "x-trace": "t1", "x-request-id": "rid-1"} {
		if got := header.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("header[%s] = %q; want %q (header %v)", k, got, want, header)
		}
	}
	if got := header.Get("m_p"); len(got) != 0 {
		t.Errorf("M_ meta leaked into the header: %v", header)
	}
	if got := trailer.Get("x-cost"); len(got) != 1 || got[0] != "7" {
		t.Errorf("trailer = %v", trailer)
	}

	// Empty message, method route with a renamed target, generated id.
	header = nil
	resp, err = grpcRawCall(grpcTestCtx(t), conn, "/echo.v1.Echo/Say", nil, grpc.Header(&header))
	if err != nil || len(resp) != 0 {
		t.Fatalf("empty call: %x, %v", resp, err)
	}
	call = inv.last(t)
	if call.Payload == nil || len(call.Payload) != 0 || call.FullMethod != "/up.Echo/Say" || call.Service != "up.Echo" {
		t.Errorf("empty call = %+v", call)
	}
	if call.RequestID == "" || header.Get("x-request-id")[0] != call.RequestID {
		t.Errorf("generated request id %q, header %v", call.RequestID, header)
	}

	// A service route without TargetService: the caller's path upstream.
	if _, err := grpcRawCall(grpcTestCtx(t), conn, "/echo.v1.Admin/Status", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if call = inv.last(t); call.FullMethod != "/echo.v1.Admin/Status" || call.Service != "echo.v1.Admin" || call.Method != "Status" {
		t.Errorf("call = %+v", call)
	}
}

func TestGRPCDeadline(t *testing.T) {
	var (
		mu      sync.Mutex
		ctxDead bool
	)
	inv := &grpcRecorder{fn: func(ctx context.Context, _ *gateway.Call, _ *gateway.Reply) error {
		_, ok := ctx.Deadline()
		mu.Lock()
		ctxDead = ok
		mu.Unlock()
		return nil
	}}
	routes := []*gateway.GRPCRoute{
		{Service: "t.Long", Timeout: time.Hour, Invoker: inv},
		{Service: "t.Short", Timeout: 50 * time.Millisecond, Invoker: inv},
		{Service: "t.None", Invoker: inv},
	}
	_, addr := startGRPCIngress(t, routes, GRPCOptions{})
	conn := dialGRPC(t, addr, nil)
	for _, tc := range []struct {
		method   string
		deadline time.Duration // 0: none
		min, max time.Duration
	}{
		{"/t.Long/M", 5 * time.Second, 3 * time.Second, 5 * time.Second},
		{"/t.Short/M", 5 * time.Second, 50 * time.Millisecond, 50 * time.Millisecond},
		{"/t.Long/M", 0, time.Hour, time.Hour},
		{"/t.None/M", 0, 0, 0},
		{"/t.None/M", 5 * time.Second, 3 * time.Second, 5 * time.Second},
	} {
		ctx := context.Background()
		if tc.deadline > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, tc.deadline)
			defer cancel()
		}
		if _, err := grpcRawCall(ctx, conn, tc.method, []byte{1}); err != nil {
			t.Fatal(err)
		}
		call := inv.last(t)
		if call.Timeout < tc.min || call.Timeout > tc.max {
			t.Errorf("%s with deadline %v: call.Timeout = %v; want %v..%v", tc.method, tc.deadline, call.Timeout, tc.min, tc.max)
		}
		mu.Lock()
		if ctxDead != (tc.deadline > 0) {
			t.Errorf("%s with deadline %v: invoker context has deadline %v", tc.method, tc.deadline, ctxDead)
		}
		mu.Unlock()
	}
}

func TestGRPCCancellationReachesInvoker(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	inv := &grpcRecorder{fn: func(ctx context.Context, _ *gateway.Call, _ *gateway.Reply) error {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}}
	_, addr := startGRPCIngress(t, []*gateway.GRPCRoute{{Service: "t.Slow", Invoker: inv}}, GRPCOptions{})
	conn := dialGRPC(t, addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := grpcRawCall(ctx, conn, "/t.Slow/M", []byte{1})
		errc <- err
	}()
	<-started
	cancel()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("invoker context ended with %v; want context.Canceled", err)
	}
	grpcWantCode(t, <-errc, codes.Canceled, "")
}

func TestGRPCErrorDetails(t *testing.T) {
	info := &errdetails.ErrorInfo{Reason: "BOOK_MISSING", Domain: "shop.example.com", Metadata: map[string]string{"book": "b1"}}
	detail, err := anypb.New(info)
	if err != nil {
		t.Fatal(err)
	}
	inv := &grpcRecorder{fn: func(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
		reply.Header = metadata.Pairs("x-up", "u1")
		reply.Trailer = metadata.Pairs("x-cost", "9")
		switch call.Method {
		case "Details":
			return &translate.Error{Code: translate.NotFound, Message: "book b1 not found", Details: []*anypb.Any{detail}}
		case "Plain":
			return errors.New("boom")
		default:
			return &motan2.Exception{ErrCode: 503, ErrMsg: "provider down", ErrType: motan2.ErrTypeService}
		}
	}}
	var logs grpcLogBuffer
	_, addr := startGRPCIngress(t, []*gateway.GRPCRoute{{Name: "err", Service: "t.Err", Invoker: inv}},
		GRPCOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	conn := dialGRPC(t, addr, nil)

	var header, trailer metadata.MD
	_, err = grpcRawCall(grpcTestCtx(t), conn, "/t.Err/Details", []byte{1}, grpc.Header(&header), grpc.Trailer(&trailer))
	st := grpcWantCode(t, err, codes.NotFound, "book b1 not found")
	details := st.Details()
	if len(details) != 1 {
		t.Fatalf("details = %v", details)
	}
	if got, ok := details[0].(*errdetails.ErrorInfo); !ok || !proto.Equal(got, info) {
		t.Errorf("detail = %v; want %v", details[0], info)
	}
	if got := header.Get("x-up"); len(got) != 1 || header.Get("x-request-id") == nil {
		t.Errorf("error header = %v", header)
	}
	if got := trailer.Get("x-cost"); len(got) != 1 || got[0] != "9" {
		t.Errorf("error trailer = %v", trailer)
	}

	_, err = grpcRawCall(grpcTestCtx(t), conn, "/t.Err/Plain", []byte{1})
	grpcWantCode(t, err, codes.Unknown, "boom")
	_, err = grpcRawCall(grpcTestCtx(t), conn, "/t.Err/Motan", []byte{1})
	grpcWantCode(t, err, codes.Unavailable, "provider down")
	if !strings.Contains(logs.String(), "provider down") {
		t.Errorf("a server-side failure was not logged: %s", logs.String())
	}
}

func TestGRPCUnknownMethod(t *testing.T) {
	inv := &grpcRecorder{}
	_, addr := startGRPCIngress(t, []*gateway.GRPCRoute{{Service: "t.Svc", Method: "Known", Invoker: inv}}, GRPCOptions{})
	conn := dialGRPC(t, addr, nil)
	_, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Nope/Known", []byte{1})
	grpcWantCode(t, err, codes.Unimplemented, "unknown service t.Nope")
	_, err = grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/Other", []byte{1})
	grpcWantCode(t, err, codes.Unimplemented, "unknown method Other for service t.Svc")
	if inv.count() != 0 {
		t.Errorf("invoker called %d times", inv.count())
	}
}

func TestGRPCStreamingRejected(t *testing.T) {
	inv := &grpcRecorder{}
	shop := grpcRegistry(t, "shop/v1/shop.proto", "echo/v1/echo.proto")
	routes := []*gateway.GRPCRoute{
		{Service: "shop.v1.Library", Schema: shop, Invoker: inv},
		{Service: "echo.v1.Echo", Schema: shop, Invoker: inv},
		{Service: "t.NoSchema", Invoker: inv},
	}
	_, addr := startGRPCIngress(t, routes, GRPCOptions{})
	conn := dialGRPC(t, addr, nil)

	stream := func(method string, desc *grpc.StreamDesc, msgs int) error {
		ctx := grpcTestCtx(t)
		s, err := conn.NewStream(ctx, desc, method, grpc.ForceCodecV2(grpcraw.Codec{}))
		if err != nil {
			return err
		}
		for i := 0; i < msgs; i++ {
			m := []byte{byte(i + 1)}
			if err := s.SendMsg(&m); err != nil {
				break // the server answered already; RecvMsg has its status
			}
		}
		s.CloseSend()
		var resp []byte
		return s.RecvMsg(&resp)
	}
	// Known from the schema: rejected before reading anything.
	err := stream("/shop.v1.Library/Watch", &grpc.StreamDesc{ServerStreams: true}, 1)
	grpcWantCode(t, err, codes.Unimplemented, "streaming is not supported: /shop.v1.Library/Watch is a server streaming method")
	err = stream("/echo.v1.Echo/Chat", &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, 0)
	grpcWantCode(t, err, codes.Unimplemented, "bidirectional streaming")
	// Unknown shape: a second request message gives it away.
	err = stream("/t.NoSchema/Up", &grpc.StreamDesc{ClientStreams: true}, 2)
	grpcWantCode(t, err, codes.Unimplemented, "streaming is not supported")
	// No message at all.
	err = stream("/t.NoSchema/Up", &grpc.StreamDesc{ClientStreams: true}, 0)
	grpcWantCode(t, err, codes.Internal, "no request message")
	if inv.count() != 0 {
		t.Errorf("invoker called %d times for streaming calls", inv.count())
	}
	// The unary methods of the same routes still work.
	if _, err := grpcRawCall(grpcTestCtx(t), conn, "/shop.v1.Library/GetBook", nil); err != nil {
		t.Fatal(err)
	}
}

func TestGRPCMessageLimit(t *testing.T) {
	inv := &grpcRecorder{}
	_, addr := startGRPCIngress(t, []*gateway.GRPCRoute{{Service: "t.Svc", Invoker: inv}}, GRPCOptions{MaxRecvMsgSize: 16})
	conn := dialGRPC(t, addr, nil)
	_, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", make([]byte, 100))
	grpcWantCode(t, err, codes.ResourceExhausted, "")
	if inv.count() != 0 {
		t.Error("an oversized request reached the invoker")
	}
}

func TestGRPCPanicIsInternal(t *testing.T) {
	inv := &grpcRecorder{fn: func(context.Context, *gateway.Call, *gateway.Reply) error { panic("kaboom") }}
	var logs grpcLogBuffer
	_, addr := startGRPCIngress(t, []*gateway.GRPCRoute{{Service: "t.Svc", Invoker: inv}},
		GRPCOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	conn := dialGRPC(t, addr, nil)
	_, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", []byte{1})
	grpcWantCode(t, err, codes.Internal, "internal error")
	if out := logs.String(); !strings.Contains(out, "handler panic") || !strings.Contains(out, "kaboom") {
		t.Errorf("panic not logged: %s", out)
	}
	// The server survives.
	inv.fn = nil
	if _, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", []byte{1}); err != nil {
		t.Fatal(err)
	}
}

func TestGRPCSwap(t *testing.T) {
	a, b := &grpcRecorder{}, &grpcRecorder{}
	g, addr := startGRPCIngress(t, []*gateway.GRPCRoute{{Service: "t.Svc", Invoker: a}}, GRPCOptions{})
	conn := dialGRPC(t, addr, nil)
	if _, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", []byte{1}); err != nil {
		t.Fatal(err)
	}
	snap, err := NewGRPCSnapshot([]*gateway.GRPCRoute{{Service: "t.Svc", Invoker: b}})
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(snap)
	if _, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if a.count() != 1 || b.count() != 1 {
		t.Errorf("calls before/after Swap: %d, %d; want 1, 1", a.count(), b.count())
	}
}

func TestGRPCShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	inv := &grpcRecorder{fn: func(ctx context.Context, _ *gateway.Call, _ *gateway.Reply) error {
		started <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	run := func(t *testing.T) (*GRPC, *grpc.ClientConn, chan error) {
		snap, err := NewGRPCSnapshot([]*gateway.GRPCRoute{{Service: "t.Svc", Invoker: inv}})
		if err != nil {
			t.Fatal(err)
		}
		g := NewGRPC(snap, GRPCOptions{Logger: grpcQuietLogger()})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- g.Serve(l) }()
		t.Cleanup(func() {
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
		return g, dialGRPC(t, l.Addr().String(), nil), served
	}

	t.Run("graceful", func(t *testing.T) {
		g, conn, _ := run(t)
		errc := make(chan error, 1)
		go func() {
			_, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", []byte{1})
			errc <- err
		}()
		<-started
		shut := make(chan error, 1)
		go func() { shut <- g.Shutdown(context.Background()) }()
		release <- struct{}{} // the call in flight finishes...
		if err := <-errc; err != nil {
			t.Errorf("call in flight during Shutdown: %v", err)
		}
		if err := <-shut; err != nil { // ...and Shutdown returns
			t.Errorf("Shutdown: %v", err)
		}
	})
	t.Run("forced", func(t *testing.T) {
		g, conn, _ := run(t)
		errc := make(chan error, 1)
		go func() {
			_, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", []byte{1})
			errc <- err
		}()
		<-started
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.Shutdown(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown with an ended context = %v; want context.Canceled", err)
		}
		if err := <-errc; status.Code(err) == codes.OK {
			t.Error("the call in flight succeeded although Shutdown closed its connection")
		}
	})
}

func TestGRPCTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "meshgate test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(cryptorand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)

	inv := &grpcRecorder{fn: func(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
		reply.Payload = call.Payload
		return nil
	}}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	_, addr := startGRPCIngress(t, []*gateway.GRPCRoute{{Service: "t.Svc", Invoker: inv}}, GRPCOptions{TLS: serverTLS})
	conn := dialGRPC(t, addr, credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	resp, err := grpcRawCall(grpcTestCtx(t), conn, "/t.Svc/M", []byte("over tls"))
	if err != nil || string(resp) != "over tls" {
		t.Fatalf("TLS call = %q, %v", resp, err)
	}
	// A plaintext client gets nowhere.
	plain := dialGRPC(t, addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := grpcRawCall(ctx, plain, "/t.Svc/M", []byte{1}); err == nil {
		t.Error("plaintext call to the TLS ingress succeeded")
	}
}

func TestGRPCConvertSimple(t *testing.T) {
	reg := grpcRegistry(t, "shop/v1/shop.proto")
	var replyValue motan2.Value
	inv := &grpcRecorder{fn: func(_ context.Context, _ *gateway.Call, reply *gateway.Reply) error {
		reply.Value = replyValue
		return nil
	}}
	routes := []*gateway.GRPCRoute{
		{Name: "library", Service: "shop.v1.Library", TargetService: "com.example.shop.LibraryService", Group: "shop",
			Mode: gateway.ConvertSimple, Schema: reg, Invoker: inv},
		{Name: "list", Service: "shop.v1.Library", Method: "ListBooks", TargetService: "com.example.shop.LibraryService",
			Mode: gateway.ConvertSimple, Schema: reg, ArgFields: []string{"parent", "pageSize"}, Invoker: inv},
	}
	_, addr := startGRPCIngress(t, routes, GRPCOptions{})
	conn := dialGRPC(t, addr, nil)
	snap := reg.Current()

	// Failures that come before any conversion.
	_, err := grpcRawCall(grpcTestCtx(t), conn, "/shop.v1.Library/Nope", nil)
	grpcWantCode(t, err, codes.Unimplemented, "method /shop.v1.Library/Nope is not in the schema of route library (version 1")
	_, err = grpcRawCall(grpcTestCtx(t), conn, "/shop.v1.Library/GetBook", []byte{0xff})
	grpcWantCode(t, err, codes.InvalidArgument, "request is not a valid shop.v1.GetBookRequest")
	if inv.count() != 0 {
		t.Fatalf("invoker called %d times", inv.count())
	}

	newMsg := func(name string) *dynamicpb.Message {
		md, ok := snap.Message(name)
		if !ok {
			t.Fatalf("no message %s", name)
		}
		return dynamicpb.NewMessage(md)
	}
	setField := func(m *dynamicpb.Message, name string, v protoreflect.Value) {
		m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(name)), v)
	}

	// GetBook: the whole request is one map argument; the map reply
	// becomes a Book.
	req := newMsg("shop.v1.GetBookRequest")
	setField(req, "name", protoreflect.ValueOfString("shelves/1/books/2"))
	replyValue = motan2.Map(
		motan2.String("name"), motan2.String("shelves/1/books/2"),
		motan2.String("title"), motan2.String("Dune"),
		motan2.String("format"), motan2.String("PAPERBACK"),
	)
	book := newMsg("shop.v1.Book")
	if err := conn.Invoke(grpcTestCtx(t), "/shop.v1.Library/GetBook", req, book); err != nil {
		t.Fatal(err)
	}
	call := inv.last(t)
	if call.Service != "com.example.shop.LibraryService" || call.Method != "GetBook" || call.Group != "shop" || call.Payload != nil {
		t.Errorf("call = %+v", call)
	}
	if len(call.Args) != 1 {
		t.Fatalf("args = %v; want one map", call.Args)
	}
	if v, ok := call.Args[0].Lookup("name"); !ok || v.Str() != "shelves/1/books/2" {
		t.Errorf("args[0] = %v", call.Args[0])
	}
	fields := book.Descriptor().Fields()
	if got := book.Get(fields.ByName("title")).String(); got != "Dune" {
		t.Errorf("book.title = %q", got)
	}
	if got := book.Get(fields.ByName("format")).Enum(); got != 2 {
		t.Errorf("book.format = %v; want PAPERBACK (2)", got)
	}

	// ListBooks: one argument per ArgFields entry, zero values included.
	list := newMsg("shop.v1.ListBooksRequest")
	setField(list, "parent", protoreflect.ValueOfString("shelves/1"))
	replyValue = motan2.Map(
		motan2.String("books"), motan2.Array([]motan2.Value{motan2.Map(motan2.String("name"), motan2.String("b1"))}),
		motan2.String("next_page_token"), motan2.String("tok"),
	)
	resp := newMsg("shop.v1.ListBooksResponse")
	if err := conn.Invoke(grpcTestCtx(t), "/shop.v1.Library/ListBooks", list, resp); err != nil {
		t.Fatal(err)
	}
	call = inv.last(t)
	if len(call.Args) != 2 || call.Args[0].Str() != "shelves/1" || call.Args[1].Int() != 0 {
		t.Errorf("list args = %v; want [shelves/1, 0]", call.Args)
	}
	rf := resp.Descriptor().Fields()
	if books := resp.Get(rf.ByName("books")).List(); books.Len() != 1 || resp.Get(rf.ByName("next_page_token")).String() != "tok" {
		t.Errorf("list reply = %v", resp)
	}

	// A reply the output message cannot hold is the upstream's fault.
	replyValue = motan2.Map(motan2.String("no_such_field"), motan2.Int32(1))
	err = conn.Invoke(grpcTestCtx(t), "/shop.v1.Library/GetBook", req, newMsg("shop.v1.Book"))
	grpcWantCode(t, err, codes.Internal, "upstream reply does not fit shop.v1.Book")
}

func TestGRPCReflection(t *testing.T) {
	shop := grpcRegistry(t, "shop/v1/shop.proto")
	echo := new(descriptors.Registry) // nothing loaded yet
	inv := &grpcRecorder{}
	routes := []*gateway.GRPCRoute{
		// A Motan2-targeted service: listed from its route's schema.
		{Service: "shop.v1.Library", TargetService: "com.example.shop.LibraryService", Mode: gateway.ConvertSimple, Schema: shop, Invoker: inv},
		// Its schema is loaded later.
		{Service: "echo.v1.Echo", Method: "Say", Schema: echo, Invoker: inv},
		// No schema of its own: found in GRPCOptions.Schemas.
		{Service: "echo.v1.Admin", Invoker: inv},
		// Described by no schema at all: never listed.
		{Service: "t.Opaque", Invoker: inv},
	}
	g, addr := startGRPCIngress(t, routes, GRPCOptions{Reflection: true, Schemas: []*descriptors.Registry{shop, echo}})
	conn := dialGRPC(t, addr, nil)

	load := func() *descriptors.Snapshot {
		t.Helper()
		s, err := descriptors.LoadReflection(grpcTestCtx(t), conn, "gw")
		if err != nil {
			t.Fatalf("LoadReflection: %v", err)
		}
		return s
	}
	names := func(s *descriptors.Snapshot) []string {
		var out []string
		for _, sd := range s.Services() {
			out = append(out, string(sd.FullName()))
		}
		return out
	}
	s := load()
	if got := names(s); !slices.Equal(got, []string{"shop.v1.Library"}) {
		t.Errorf("services = %v; want [shop.v1.Library]", got)
	}
	md, ok := s.Method("/shop.v1.Library/GetBook")
	if !ok || md.Input().FullName() != "shop.v1.GetBookRequest" || md.Output().FullName() != "shop.v1.Book" {
		t.Errorf("GetBook = %v, %v", md, ok)
	}
	if sd, _ := s.Service("shop.v1.Library"); sd == nil || sd.Methods().Len() != 9 {
		t.Errorf("shop.v1.Library methods: %v", sd)
	}

	// A schema reload shows at the next reflection request.
	echo.Swap(grpcCompile(t, "echo/v1/echo.proto"))
	s = load()
	if got := names(s); !slices.Equal(got, []string{"echo.v1.Admin", "echo.v1.Echo", "shop.v1.Library"}) {
		t.Errorf("services after reload = %v", got)
	}
	if _, ok := s.Method("echo.v1.Echo.Chat"); !ok {
		t.Error("echo.v1.Echo.Chat not resolvable")
	}

	// So does a route Swap.
	snap, err := NewGRPCSnapshot(routes[:1])
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(snap)
	if got := names(load()); !slices.Equal(got, []string{"shop.v1.Library"}) {
		t.Errorf("services after Swap = %v", got)
	}

	// The v1alpha protocol, as older grpcurl versions speak it, including
	// the reflection service itself.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc := grpcreflect.NewClientV1Alpha(ctx, reflectionv1alpha.NewServerReflectionClient(conn))
	defer rc.Reset()
	list, err := rc.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(list)
	want := []string{"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "shop.v1.Library"}
	if !slices.Equal(list, want) {
		t.Errorf("v1alpha list = %v; want %v", list, want)
	}
	for _, name := range list {
		if _, err := rc.ResolveService(name); err != nil {
			t.Errorf("ResolveService(%s): %v", name, err)
		}
	}
	if m, err := rc.ResolveMessage("shop.v1.Book"); err != nil || m.FindFieldByName("labels") == nil {
		t.Errorf("ResolveMessage(shop.v1.Book) = %v, %v", m, err)
	}
	if _, err := rc.ResolveService("t.Opaque"); err == nil {
		t.Error("t.Opaque resolved without a schema")
	}
}

// BenchmarkGRPCIngressPassthrough measures a unary PassPayload call through
// a real grpc-go client and the ingress over loopback TCP, with an
// in-process invoker echoing the payload (allocations are the client's and
// the server's together).
func BenchmarkGRPCIngressPassthrough(b *testing.B) {
	inv := gateway.Invoker(grpcEchoInvoker{})
	_, addr := startGRPCIngress(b, []*gateway.GRPCRoute{{Service: "shop.v1.Library", Timeout: time.Second, Invoker: inv}}, GRPCOptions{})
	conn := dialGRPC(b, addr, nil)
	req := bytes.Repeat([]byte{0x0a, 0x10, 's', 'h', 'e', 'l', 'v', 'e', 's', '/', '1', '/', 'b', 'o', 'o', 'k', 's', '/', '2'}, 4)
	ctx := context.Background()
	if _, err := grpcRawCall(ctx, conn, "/shop.v1.Library/GetBook", req); err != nil {
		b.Fatal(err)
	}
	codec := grpc.ForceCodecV2(grpcraw.Codec{})
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := slices.Clone(req)
		var resp []byte
		for pb.Next() {
			if err := conn.Invoke(ctx, "/shop.v1.Library/GetBook", &r, &resp, codec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

type grpcEchoInvoker struct{}

func (grpcEchoInvoker) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	reply.Payload = call.Payload
	return nil
}
