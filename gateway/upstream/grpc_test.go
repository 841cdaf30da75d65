package upstream

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/grpcraw"
	"github.com/meshgate/meshgate/internal/testgrpc"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

const grpcTestTimeout = 10 * time.Second

func newGRPC(t testing.TB, o GRPCClusterOptions, endpoints ...string) *GRPCCluster {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	c, err := NewGRPCCluster("shop", Endpoints(endpoints...), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// shop encodes and decodes the Library's messages.
type shop struct {
	t    testing.TB
	snap *descriptors.Snapshot
}

func newShop(t testing.TB) shop { return shop{t, testgrpc.Schema(t, "")} }

func (s shop) method(name string) protoreflect.MethodDescriptor {
	s.t.Helper()
	md, ok := s.snap.Method(testgrpc.Method(name))
	if !ok {
		s.t.Fatalf("no method %s", name)
	}
	return md
}

// request encodes the request message of method from protojson.
func (s shop) request(method, js string) []byte {
	s.t.Helper()
	m := dynamicpb.NewMessage(s.method(method).Input())
	if err := (protojson.UnmarshalOptions{Resolver: s.snap.Types()}).Unmarshal([]byte(js), m); err != nil {
		s.t.Fatal(err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// reply decodes a reply message of method to compact protojson.
func (s shop) reply(method string, b []byte) string {
	s.t.Helper()
	m := dynamicpb.NewMessage(s.method(method).Output())
	if err := proto.Unmarshal(b, m); err != nil {
		s.t.Fatalf("reply of %s: %v", method, err)
	}
	js, err := protojson.MarshalOptions{Resolver: s.snap.Types()}.Marshal(m)
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(js)), "")
}

func getBook(s shop, name string) *gateway.Call {
	return &gateway.Call{Service: testgrpc.Service, Method: "GetBook", FullMethod: testgrpc.Method("GetBook"),
		Payload: s.request("GetBook", `{"name":"`+name+`"}`), Timeout: grpcTestTimeout}
}

func servedBy(r *gateway.Reply) string {
	if v := r.Trailer.Get(testgrpc.ServedByKey); len(v) == 1 {
		return v[0]
	}
	return ""
}

func asError(t *testing.T, err error) *translate.Error {
	t.Helper()
	var e *translate.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *translate.Error", err, err)
	}
	return e
}

// waitState blocks until cc leaves state from (or the test's time is up).
func waitLeaves(t *testing.T, cc grpc.ClientConnInterface, from connectivity.State) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), grpcTestTimeout)
	defer cancel()
	if !cc.(*grpc.ClientConn).WaitForStateChange(ctx, from) {
		t.Fatalf("connection still %v", from)
	}
}

func TestGRPCPassthroughBytes(t *testing.T) {
	s := newShop(t)
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())

	// The request carries a field the schema does not know (99): it
	// reaches the server only if the bytes pass untouched.
	payload := append(s.request("GetBook", `{"name":"shelves/1/books/2"}`), 0x98, 0x06, 0x07) // field 99, varint 7
	call := &gateway.Call{FullMethod: testgrpc.Method("GetBook"), Payload: bytes.Clone(payload), Timeout: grpcTestTimeout}
	var r gateway.Reply
	if err := c.Invoke(context.Background(), call, &r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(call.Payload, payload) {
		t.Fatal("Invoke changed call.Payload")
	}
	last, _ := srv.LastCall()
	got, err := proto.MarshalOptions{Deterministic: true}.Marshal(last.Request)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("server received % x, sent % x", got, payload)
	}
	if js := s.reply("GetBook", r.Payload); js != `{"name":"shelves/1/books/2","title":"Titleofshelves/1/books/2","format":"HARDCOVER"}` {
		t.Errorf("reply %s", js)
	}

	// Bytes that are not even a valid message pass both ways untouched.
	echo := startRawEcho(t)
	ec := newGRPC(t, GRPCClusterOptions{}, echo)
	raw := []byte{0xff, 0xff, 0x00, 0x01, 0x80}
	r = gateway.Reply{}
	if err := ec.Invoke(context.Background(), &gateway.Call{FullMethod: "/raw.Echo/Echo", Payload: raw}, &r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Payload, raw) {
		t.Errorf("echoed % x, sent % x", r.Payload, raw)
	}

	// An empty message is a payload too.
	r = gateway.Reply{}
	if err := c.Invoke(context.Background(), &gateway.Call{FullMethod: testgrpc.Method("Ping"), Payload: []byte{}}, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Payload) != 0 {
		t.Errorf("Ping reply % x", r.Payload)
	}
}

func TestGRPCMetadata(t *testing.T) {
	s := newShop(t)
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	call := getBook(s, "b")
	call.Header = metadata.MD{
		"x-echo":       {"e1", "e2"},
		"x-custom":     {"c"},
		"trace-bin":    {"\x00\xff"},
		"x-mixed":      {"ok", "bad\x01"},
		"connection":   {"close"},
		"grpc-timeout": {"1S"},
		"user-agent":   {"caller/1"},
		":authority":   {"elsewhere"},
		"Upper":        {"u"},
	}
	call.Meta = motan2.Meta{{Key: "X-From-Meta", Value: "m"}, {Key: "x-echo", Value: "e3"}, {Key: "M_p", Value: "svc"}, {Key: "x-utf8", Value: "é"}}
	before := call.Header.Copy()
	var r gateway.Reply
	if err := c.Invoke(context.Background(), call, &r); err != nil {
		t.Fatal(err)
	}
	last, _ := srv.LastCall()
	md := last.Metadata
	for k, want := range map[string]string{"x-echo": "e1,e2,e3", "x-custom": "c", "trace-bin": "\x00\xff", "x-mixed": "ok", "x-from-meta": "m"} {
		if got := strings.Join(md.Get(k), ","); got != want {
			t.Errorf("server got %s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"connection", "upper", "Upper", "m_p", "M_p", "x-utf8"} {
		if v := md.Get(k); len(v) > 0 {
			t.Errorf("server got %s=%q, which is not forwarded", k, v)
		}
	}
	if ua := strings.Join(md.Get("user-agent"), ","); strings.Contains(ua, "caller/1") {
		t.Errorf("user-agent forwarded: %q", ua)
	}
	if a := md.Get(":authority"); len(a) != 1 || a[0] != srv.Addr() {
		t.Errorf(":authority %q", a)
	}
	if !metadataEqual(call.Header, before) {
		t.Errorf("Invoke changed call.Header: %v, was %v", call.Header, before)
	}
	if got := strings.Join(r.Header.Get("x-echo"), ","); got != "e1,e2,e3" {
		t.Errorf("reply header %v", r.Header)
	}
	if servedBy(&r) != srv.Addr() {
		t.Errorf("reply trailer %v", r.Trailer)
	}
	if _, ok := r.Header["content-type"]; ok {
		t.Errorf("reply header has content-type: %v", r.Header)
	}

	// Metadata that needs no change is sent as it is.
	h := metadata.MD{"x-a": {"1"}}
	if got := outgoingMD(h, nil); len(got) != 1 || &got["x-a"][0] != &h["x-a"][0] {
		t.Errorf("outgoingMD copied clean metadata")
	}
	if got := outgoingMD(nil, nil); got != nil {
		t.Errorf("outgoingMD(nil, nil) = %v", got)
	}
	// A shared slice is capped: adding meta never writes into the caller's array.
	vs := make([]string, 1, 4)
	vs[0] = "h"
	got := outgoingMD(metadata.MD{"x-a": vs}, motan2.Meta{{Key: "x-a", Value: "m"}})
	if strings.Join(got["x-a"], ",") != "h,m" || vs[:2][1] != "" {
		t.Errorf("merged %v, caller's array %q", got, vs[:2])
	}
}

// startRawEcho serves /raw.Echo/Echo, which answers the request bytes as
// they came, with the raw codec; the server stops when the test ends.
func startRawEcho(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(grpcraw.Codec{}))
	srv.RegisterService(&grpc.ServiceDesc{ServiceName: "raw.Echo", HandlerType: (*any)(nil), Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in []byte
			if err := dec(&in); err != nil {
				return nil, err
			}
			return &in, nil
		},
	}}}, struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return l.Addr().String()
}

func metadataEqual(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if strings.Join(va, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func TestGRPCDeadlinePropagated(t *testing.T) {
	s := newShop(t)
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	check := func(ctx context.Context, timeout, limit time.Duration) {
		t.Helper()
		call := getBook(s, "b")
		call.Timeout = timeout
		var r gateway.Reply
		if err := c.Invoke(ctx, call, &r); err != nil {
			t.Fatal(err)
		}
		last, _ := srv.LastCall()
		if !last.HasDeadline || last.Deadline <= 0 || last.Deadline > limit {
			t.Errorf("timeout %v: server saw deadline %v (%v), want in (0, %v]", timeout, last.Deadline, last.HasDeadline, limit)
		}
	}
	check(context.Background(), 2*time.Second, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	check(ctx, grpcTestTimeout, 300*time.Millisecond) // the context's deadline is the earlier
	ctx, cancel = context.WithTimeout(context.Background(), grpcTestTimeout)
	defer cancel()
	check(ctx, time.Second, time.Second) // the route's timeout is the earlier

	// No timeout and no deadline: none is sent.
	call := getBook(s, "b")
	call.Timeout = 0
	if err := c.Invoke(context.Background(), call, &gateway.Reply{}); err != nil {
		t.Fatal(err)
	}
	if last, _ := srv.LastCall(); last.HasDeadline {
		t.Errorf("server saw a deadline (%v) for a call without one", last.Deadline)
	}
}

func TestGRPCStatusDetails(t *testing.T) {
	s := newShop(t)
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	call := getBook(s, "shelves/1/books/missing")
	call.Header = metadata.MD{"x-echo": {"on-error"}}
	var r gateway.Reply
	e := asError(t, c.Invoke(context.Background(), call, &r))
	if e.Code != translate.NotFound || e.Message != "book shelves/1/books/missing not found" || !e.Upstream || e.Status() != 404 {
		t.Fatalf("error %+v", e)
	}
	var info errdetails.ErrorInfo
	var loc errdetails.LocalizedMessage
	if len(e.Details) != 2 || e.Details[0].UnmarshalTo(&info) != nil || e.Details[1].UnmarshalTo(&loc) != nil {
		t.Fatalf("details %v", e.Details)
	}
	if info.Reason != "BOOK_NOT_FOUND" || info.Domain != "shop.example" || info.Metadata["name"] != "shelves/1/books/missing" || loc.Locale != "en-US" {
		t.Errorf("details %v %v", &info, &loc)
	}
	// The header and trailer arrive with the error.
	if got := r.Header.Get("x-echo"); len(got) != 1 || got[0] != "on-error" {
		t.Errorf("header on error %v", r.Header)
	}
	if servedBy(&r) != srv.Addr() {
		t.Errorf("trailer on error %v", r.Trailer)
	}

	t.Run("unknown method", func(t *testing.T) {
		call := getBook(s, "b")
		call.FullMethod = "/shop.v1.Library/Nope"
		if e := asError(t, c.Invoke(context.Background(), call, &gateway.Reply{})); e.Code != translate.Unimplemented || !e.Upstream {
			t.Errorf("%+v", e)
		}
	})
	t.Run("reply over the size limit", func(t *testing.T) {
		small := newGRPC(t, GRPCClusterOptions{MaxRecvMsgSize: 16}, srv.Addr())
		if e := asError(t, small.Invoke(context.Background(), getBook(s, "a/long/name/for/a/book"), &gateway.Reply{})); e.Code != translate.ResourceExhausted {
			t.Errorf("%+v", e)
		}
	})
	t.Run("request over the size limit", func(t *testing.T) {
		small := newGRPC(t, GRPCClusterOptions{MaxSendMsgSize: 4}, srv.Addr())
		n := srv.CallCount()
		if e := asError(t, small.Invoke(context.Background(), getBook(s, "a/long/name/for/a/book"), &gateway.Reply{})); e.Code != translate.ResourceExhausted ||
			e.Upstream || !strings.Contains(e.Message, `gRPC call to /shop.v1.Library/GetBook at `+srv.Addr()+` (cluster "shop") failed`) {
			t.Errorf("%+v", e)
		}
		if srv.CallCount() != n {
			t.Error("the server got a call over the size limit")
		}
	})
}

func TestGRPCTimeoutAndCancel(t *testing.T) {
	s := newShop(t)
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	t.Run("timeout", func(t *testing.T) {
		call := getBook(s, testgrpc.SlowBook)
		call.Timeout = 100 * time.Millisecond
		start := time.Now()
		e := asError(t, c.Invoke(context.Background(), call, &gateway.Reply{}))
		if e.Code != translate.DeadlineExceeded || e.Status() != 504 || e.Upstream ||
			!strings.Contains(e.Message, "deadline of 100ms (route timeout) exceeded") || !strings.Contains(e.Message, srv.Addr()+" (sent) took") {
			t.Fatalf("%+v", e)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("a 100ms timeout took %v", took)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if e := asError(t, c.Invoke(ctx, getBook(s, testgrpc.SlowBook), &gateway.Reply{})); e.Code != translate.DeadlineExceeded {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("budget already spent", func(t *testing.T) {
		call := getBook(s, "b")
		call.Timeout = time.Nanosecond
		if e := asError(t, c.Invoke(context.Background(), call, &gateway.Reply{})); e.Code != translate.DeadlineExceeded {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := srv.CallCount()
		done := make(chan error, 1)
		go func() { done <- c.Invoke(ctx, getBook(s, testgrpc.SlowBook), &gateway.Reply{}) }()
		waitCalls(t, srv, n+1)
		cancel()
		if e := asError(t, <-done); e.Code != translate.Canceled {
			t.Fatalf("%+v", e)
		}
	})
}

func TestGRPCFailover(t *testing.T) {
	s := newShop(t)
	t.Run("dead endpoint", func(t *testing.T) {
		live := testgrpc.Start(t)
		c := newGRPC(t, GRPCClusterOptions{}, deadAddr(t), live.Addr())
		for i := 0; i < 20; i++ {
			var r gateway.Reply
			if err := c.Invoke(context.Background(), getBook(s, "b"), &r); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if servedBy(&r) != live.Addr() {
				t.Fatalf("call %d served by %q", i, servedBy(&r))
			}
		}
		if n := live.CallCount(); n != 20 {
			t.Errorf("live endpoint got %d calls, want 20", n)
		}
		// The dead endpoint is now in TRANSIENT_FAILURE: Conn avoids it.
		for c.ConnAt(0).(*grpc.ClientConn).GetState() != connectivity.TransientFailure {
			waitLeaves(t, c.ConnAt(0), c.ConnAt(0).(*grpc.ClientConn).GetState())
		}
		for i := 0; i < 4; i++ {
			if by := connServedBy(t, c.Conn()); by != live.Addr() {
				t.Fatalf("Conn call %d served by %q: it picked the endpoint in TRANSIENT_FAILURE", i, by)
			}
		}
	})
	t.Run("killed endpoint", func(t *testing.T) {
		a, b := testgrpc.Start(t), testgrpc.Start(t)
		c := newGRPC(t, GRPCClusterOptions{}, a.Addr(), b.Addr())
		seen := map[string]int{}
		for i := 0; i < 4; i++ {
			var r gateway.Reply
			if err := c.Invoke(context.Background(), getBook(s, "b"), &r); err != nil {
				t.Fatal(err)
			}
			seen[servedBy(&r)]++
		}
		if seen[a.Addr()] != 2 || seen[b.Addr()] != 2 {
			t.Fatalf("round robin: %v", seen)
		}
		a.Stop()
		waitLeaves(t, c.ConnAt(0), connectivity.Ready) // the client has seen the connection go
		for i := 0; i < 10; i++ {
			var r gateway.Reply
			if err := c.Invoke(context.Background(), getBook(s, "b"), &r); err != nil {
				t.Fatalf("call %d after the kill: %v", i, err)
			}
			if servedBy(&r) != b.Addr() {
				t.Fatalf("served by %q", servedBy(&r))
			}
		}
	})
	t.Run("an answer is never sent again", func(t *testing.T) {
		// UNAVAILABLE from a server reached it: no failover.
		a, b := testgrpc.Start(t, testgrpc.WithFailures(codes.Unavailable)), testgrpc.Start(t)
		c := newGRPC(t, GRPCClusterOptions{}, a.Addr(), b.Addr())
		var failed int
		for i := 0; i < 4; i++ {
			err := c.Invoke(context.Background(), getBook(s, "b"), &gateway.Reply{})
			if err == nil {
				continue
			}
			failed++
			if e := asError(t, err); e.Code != translate.Unavailable || !e.Upstream || e.Message != testgrpc.FailureMessage {
				t.Fatalf("%+v", e)
			}
		}
		if failed != 2 || a.CallCount() != 2 || b.CallCount() != 2 {
			t.Fatalf("failed %d, a got %d, b got %d; want 2 each", failed, a.CallCount(), b.CallCount())
		}
	})
	t.Run("connection lost during the call", func(t *testing.T) {
		a, b := testgrpc.Start(t), testgrpc.Start(t)
		c := newGRPC(t, GRPCClusterOptions{}, a.Addr(), b.Addr())
		// Warm both up, so that both connections are ready.
		for i := 0; i < 2; i++ {
			if err := c.Invoke(context.Background(), getBook(s, "b"), &gateway.Reply{}); err != nil {
				t.Fatal(err)
			}
		}
		na, nb := a.CallCount(), b.CallCount()
		done := make(chan error, 1)
		go func() { done <- c.Invoke(context.Background(), getBook(s, testgrpc.SlowBook), &gateway.Reply{}) }()
		// Wait until one of the two endpoints has the slow call.
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		arrived := make(chan struct{}, 2)
		for _, w := range []struct {
			srv *testgrpc.Server
			n   int
		}{{a, na + 1}, {b, nb + 1}} {
			go func() {
				if w.srv.WaitCalls(wctx, w.n) == nil {
					arrived <- struct{}{}
				}
			}()
		}
		select {
		case <-arrived:
		case <-wctx.Done():
			t.Fatal("the slow call reached no endpoint")
		}
		cancel()
		victim, other, otherCalls := a, b, nb
		if b.CallCount() > nb {
			victim, other, otherCalls = b, a, na
		}
		victim.Stop()
		e := asError(t, <-done)
		if e.Code != translate.Unavailable || e.Upstream || !strings.Contains(e.Message, "lost during the call") || !strings.Contains(e.Message, victim.Addr()) {
			t.Fatalf("%+v", e)
		}
		if other.CallCount() != otherCalls {
			t.Fatal("a call that reached a server was sent again")
		}
	})
	t.Run("all endpoints down", func(t *testing.T) {
		c := newGRPC(t, GRPCClusterOptions{}, deadAddr(t), deadAddr(t))
		for i := 0; i < 3; i++ { // first calls connect, later ones find TRANSIENT_FAILURE
			e := asError(t, c.Invoke(context.Background(), getBook(s, "b"), &gateway.Reply{}))
			if e.Code != translate.Unavailable || e.Status() != 503 ||
				!strings.Contains(e.Message, `no reachable endpoint in gRPC cluster "shop" (2 endpoints, 2 tried)`) {
				t.Fatalf("%+v", e)
			}
		}
	})
}

func TestGRPCTLS(t *testing.T) {
	s := newShop(t)
	srv := testgrpc.Start(t, testgrpc.WithTLS())
	c := newGRPC(t, GRPCClusterOptions{TLS: srv.ClientTLS(), DialTimeout: 5 * time.Second}, srv.Addr())
	var r gateway.Reply
	if err := c.Invoke(context.Background(), getBook(s, "b"), &r); err != nil {
		t.Fatal(err)
	}
	if servedBy(&r) != srv.Addr() {
		t.Errorf("trailer %v", r.Trailer)
	}
	plain := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	if e := asError(t, plain.Invoke(context.Background(), getBook(s, "b"), &gateway.Reply{})); e.Code != translate.Unavailable {
		t.Errorf("plaintext to a TLS server: %+v", e)
	}
	untrusted := newGRPC(t, GRPCClusterOptions{TLS: testgrpc.Start(t, testgrpc.WithTLS()).ClientTLS()}, srv.Addr())
	if e := asError(t, untrusted.Invoke(context.Background(), getBook(s, "b"), &gateway.Reply{})); e.Code != translate.Unavailable {
		t.Errorf("untrusted certificate: %+v", e)
	}
}

func TestGRPCClose(t *testing.T) {
	s := newShop(t)
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	const n = 5
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Invoke(context.Background(), getBook(s, testgrpc.SlowBook), &gateway.Reply{})
		}()
	}
	waitCalls(t, srv, n)
	c.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		if e := asError(t, err); e.Code != translate.Unavailable || !strings.Contains(e.Message, `gRPC cluster "shop" is closed`) {
			t.Errorf("call in flight at Close: %+v", e)
		}
	}
	if e := asError(t, c.Invoke(context.Background(), getBook(s, "b"), &gateway.Reply{})); e.Code != translate.Unavailable {
		t.Errorf("call after Close: %+v", e)
	}
	c.Close() // twice is fine
}

func TestGRPCRefusesWhatItCannotSend(t *testing.T) {
	s := newShop(t)
	c := newGRPC(t, GRPCClusterOptions{}, deadAddr(t))
	e := asError(t, c.Invoke(context.Background(), &gateway.Call{Service: "shop.v1.Library", Method: "GetBook",
		FullMethod: testgrpc.Method("GetBook"), Args: []motan2.Value{motan2.String("b")}}, &gateway.Reply{}))
	if e.Code != translate.Internal || !strings.Contains(e.Message, `gRPC upstream "shop" needs a protobuf message; the route sends Simple arguments`) {
		t.Errorf("%+v", e)
	}
	call := getBook(s, "b")
	call.FullMethod = ""
	if e := asError(t, c.Invoke(context.Background(), call, &gateway.Reply{})); e.Code != translate.Internal || !strings.Contains(e.Message, "FullMethod") {
		t.Errorf("%+v", e)
	}
}

func TestGRPCConnServesReflection(t *testing.T) {
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	if c.Name() != "shop" || len(c.Endpoints()) != 1 || c.Endpoints()[0] != srv.Addr() {
		t.Fatalf("Name %q Endpoints %v", c.Name(), c.Endpoints())
	}
	ctx, cancel := context.WithTimeout(context.Background(), grpcTestTimeout)
	defer cancel()
	snap, err := descriptors.LoadReflection(ctx, c.Conn(), c.Name())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Method(testgrpc.Method("GetBook")); !ok {
		t.Error("GetBook not loaded by reflection")
	}
}

// raceEnabled: built with -race, which distorts allocation counts.
var raceEnabled = func() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}()

// TestGRPCInvokeAllocations pins what the cluster adds to a direct
// grpc-go call with the raw codec (the server's allocations are in both
// counts).
func TestGRPCInvokeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are distorted by the race detector")
	}
	s := newShop(t)
	srv := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{}, srv.Addr())
	conn := c.ConnAt(0)
	call := getBook(s, "b")
	call.Timeout = 0
	ctx := context.Background()
	var r gateway.Reply
	cluster := testing.AllocsPerRun(500, func() {
		if err := c.Invoke(ctx, call, &r); err != nil {
			t.Fatal(err)
		}
	})
	codec := grpc.ForceCodecV2(grpcraw.Codec{})
	direct := testing.AllocsPerRun(500, func() {
		var out []byte
		var h, tr metadata.MD
		if err := conn.Invoke(ctx, call.FullMethod, &call.Payload, &out, codec, grpc.Header(&h), grpc.Trailer(&tr)); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per call: cluster %.1f, direct grpc-go %.1f", cluster, direct)
	if cluster > direct+3 {
		t.Errorf("the cluster adds %.1f allocations to a direct call (budget 3)", cluster-direct)
	}
}

// BenchmarkGRPCClusterInvoke compares a call through the cluster with the
// same call made directly on a grpc-go ClientConn (raw codec, header and
// trailer collected), against the same local server: testgrpc's Library
// (dynamicpb on the server side) and a raw echo server (whose side costs
// little, so that the client's part shows).
func BenchmarkGRPCClusterInvoke(b *testing.B) {
	s := newShop(b)
	payload := s.request("GetBook", `{"name":"shelves/1/books/2"}`)
	for _, server := range []struct{ name, addr, method string }{
		{"library", testgrpc.Start(b).Addr(), testgrpc.Method("GetBook")},
		{"echo", startRawEcho(b), "/raw.Echo/Echo"},
	} {
		c := newGRPC(b, GRPCClusterOptions{}, server.addr)
		ctx := context.Background()
		b.Run(server.name+"/direct", func(b *testing.B) {
			conn := c.ConnAt(0)
			codec := grpc.ForceCodecV2(grpcraw.Codec{})
			b.ReportAllocs()
			for b.Loop() {
				var out []byte
				var h, tr metadata.MD
				if err := conn.Invoke(ctx, server.method, &payload, &out, codec, grpc.Header(&h), grpc.Trailer(&tr)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(server.name+"/cluster", func(b *testing.B) {
			call := &gateway.Call{FullMethod: server.method, Payload: payload}
			var r gateway.Reply
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Invoke(ctx, call, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(server.name+"/cluster-timeout-metadata", func(b *testing.B) {
			call := &gateway.Call{FullMethod: server.method, Payload: payload, Timeout: 5 * time.Second,
				Header: metadata.MD{"x-request-id": {"r1"}}}
			var r gateway.Reply
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Invoke(ctx, call, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// waitCalls waits until srv has received n calls.
func waitCalls(t *testing.T, srv *testgrpc.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitCalls(ctx, n); err != nil {
		t.Fatalf("waiting for %d calls upstream: %v", n, err)
	}
}
