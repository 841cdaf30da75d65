package motan2_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer serves h on a loopback port and stops the server at the end
// of the test.
func startServer(t *testing.T, h motan2.Handler, configure ...func(*motan2.Server)) (*motan2.Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &motan2.Server{Handler: h, Logger: quiet}
	for _, c := range configure {
		c(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, motan2.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, l.Addr().String()
}

func newClient(t *testing.T, addr string, opts ...motan2.ClientOption) *motan2.Client {
	t.Helper()
	c := motan2.NewClient(addr, append([]motan2.ClientOption{motan2.WithLogger(quiet)}, opts...)...)
	t.Cleanup(func() { c.Close() })
	return c
}

// echoMux serves "echo" (first argument back, or all as an array) and
// "block" (waits for the named gate) on service "test.Echo".
type gates struct {
	mu sync.Mutex
	m  map[string]chan struct{}
	// entered receives the gate name when a call starts waiting on it.
	entered chan string
}

func newGates() *gates {
	return &gates{m: make(map[string]chan struct{}), entered: make(chan string, 1024)}
}

func (g *gates) get(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.m[name]
	if !ok {
		ch = make(chan struct{})
		g.m[name] = ch
	}
	return ch
}

func (g *gates) open(name string) { close(g.get(name)) }

func echoMux(g *gates) *motan2.ServiceMux {
	m := motan2.NewServiceMux()
	m.HandleFunc("test.Echo", func(ctx context.Context, req *motan2.Request) (motan2.Value, error) {
		switch req.Method {
		case "echo":
			if len(req.Args) == 1 {
				return req.Args[0], nil
			}
			return motan2.Array(req.Args), nil
		case "block":
			name := req.Args[0].Str()
			ch := g.get(name)
			g.entered <- name
			select {
			case <-ch:
				return motan2.String(name), nil
			case <-ctx.Done():
				return motan2.Null, ctx.Err()
			}
		case "fail":
			return motan2.Null, &motan2.Exception{ErrCode: int(req.Args[0].Int()), ErrMsg: "failed on purpose", ErrType: int(req.Args[1].Int())}
		case "panic":
			panic("handler panic on purpose")
		case "meta":
			return motan2.String(req.Meta.Get(req.Args[0].Str())), nil
		}
		return motan2.Null, fmt.Errorf("no method %q", req.Method)
	})
	return m
}

func call(ctx context.Context, c *motan2.Client, method string, args ...motan2.Value) (motan2.Value, error) {
	resp, err := c.Call(ctx, &motan2.Request{Service: "test.Echo", Method: method, Args: args})
	if err != nil {
		return motan2.Null, err
	}
	return resp.Value, nil
}

func TestClientServerEchoTypes(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	c := newClient(t, addr)
	ctx := context.Background()
	values := []motan2.Value{
		motan2.Null, motan2.String("héllo"), motan2.Bytes([]byte{0, 1, 2, 255}), motan2.Bool(true),
		motan2.Byte(200), motan2.Int16(-300), motan2.Int32(-1 << 31), motan2.Int64(1 << 62),
		motan2.Float32(1.5), motan2.Float64(-2.25), motan2.StringArray([]string{"a", ""}),
		motan2.StringMapOf(map[string]string{"k": "v", "x": ""}),
		motan2.Map(motan2.Int32(1), motan2.String("one"), motan2.String("n"), motan2.Null),
		motan2.Array([]motan2.Value{motan2.Int16(7), motan2.Array(nil), motan2.Null}),
	}
	for _, s := range []motan2.Serialization{motan2.SerializationSimple, motan2.SerializationBreeze} {
		for _, v := range values {
			t.Run(fmt.Sprintf("%s/%s", s, v.Kind()), func(t *testing.T) {
				resp, err := c.Call(ctx, &motan2.Request{Service: "test.Echo", Method: "echo", Args: []motan2.Value{v}, Serialization: s})
				if err != nil {
					t.Fatal(err)
				}
				if s == motan2.SerializationBreeze && v.Kind() == motan2.KindMap {
					return // breeze keeps map content, compared in the breeze tests
				}
				if !motan2.Equal(resp.Value, v) {
					t.Fatalf("echo %v = %v", v, resp.Value)
				}
				if resp.Frame.Serialization != s {
					t.Fatalf("reply serialization %v, want %v", resp.Frame.Serialization, s)
				}
				if resp.Meta.Get(motan2.MetaProcessTime) == "" {
					t.Fatalf("reply has no M_pt: %v", resp.Meta)
				}
			})
		}
	}
	t.Run("several arguments", func(t *testing.T) {
		got, err := call(ctx, c, "echo", values...)
		if err != nil {
			t.Fatal(err)
		}
		if want := motan2.Array(values); !motan2.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

func TestUnknownServiceAnsweredLikeMotanGo(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	c := newClient(t, addr)
	req := motan2.NewRequest("com.weibo.test.NoSuchService", "echo", motan2.SerializationSimple, nil)
	resp, err := c.RoundTrip(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"errcode":404,"errmsg":"provider not exist serviceKey=com.weibo.test.NoSuchService","errtype":1}`
	if !resp.IsException() || resp.Meta.Get(motan2.MetaException) != want {
		t.Fatalf("got flags %#x status %d M_e %q", resp.Flags, resp.Status, resp.Meta.Get(motan2.MetaException))
	}
	if len(resp.Body) != 0 || resp.Serialization != motan2.SerializationSimple {
		t.Fatalf("exception frame body %x serialization %v", resp.Body, resp.Serialization)
	}
}

func TestExceptionsAndPanics(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	c := newClient(t, addr, motan2.WithErrorThreshold(0))
	ctx := context.Background()
	_, err := call(ctx, c, "fail", motan2.Int32(503), motan2.Int32(2))
	var e *motan2.Exception
	if !errors.As(err, &e) || e.ErrCode != 503 || e.ErrType != 2 || e.ErrMsg != "failed on purpose" {
		t.Fatalf("fail: %v", err)
	}
	_, err = call(ctx, c, "panic")
	if !errors.As(err, &e) || e.ErrCode != 500 || e.ErrMsg != "provider call panic" || e.ErrType != 1 {
		t.Fatalf("panic: %v", err)
	}
	_, err = call(ctx, c, "nosuch")
	if !errors.As(err, &e) || e.ErrCode != 500 || !strings.Contains(e.ErrMsg, `no method "nosuch"`) {
		t.Fatalf("plain error: %v", err)
	}
	// The connection survived all of it.
	if v, err := call(ctx, c, "echo", motan2.String("ok")); err != nil || v.Str() != "ok" {
		t.Fatalf("echo after errors: %v %v", v, err)
	}
}

func TestRepliesOutOfOrderAreMatched(t *testing.T) {
	g := newGates()
	_, addr := startServer(t, echoMux(g))
	c := newClient(t, addr, motan2.WithConnections(1), motan2.WithRequestTimeout(10*time.Second))
	const n = 16
	results := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			v, err := call(context.Background(), c, "block", motan2.String(fmt.Sprint("gate-", i)))
			if err != nil {
				errs <- err
				return
			}
			results <- v.Str()
		}()
	}
	for i := 0; i < n; i++ {
		<-g.entered // all calls are in the handler, on one connection
	}
	for i := n - 1; i >= 0; i-- { // release in reverse order
		name := fmt.Sprint("gate-", i)
		g.open(name)
		select {
		case got := <-results:
			if got != name {
				t.Fatalf("reply %q arrived for gate %q", got, name)
			}
		case err := <-errs:
			t.Fatal(err)
		}
	}
}

func TestManyConcurrentCallsOneConnection(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	c := newClient(t, addr, motan2.WithConnections(1), motan2.WithRequestTimeout(10*time.Second))
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := 0; i < 500; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := motan2.StringArray([]string{"call", fmt.Sprint(i)})
			got, err := call(context.Background(), c, "echo", want)
			if err != nil || !motan2.Equal(got, want) {
				failures.Add(1)
				t.Errorf("call %d: got %v, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
}

func TestDeadlineAndCancellation(t *testing.T) {
	g := newGates()
	_, addr := startServer(t, echoMux(g))
	c := newClient(t, addr, motan2.WithConnections(1), motan2.WithErrorThreshold(0))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := call(ctx, c, "block", motan2.String("never"))
	var ce *motan2.CallError
	if !errors.As(err, &ce) || !ce.Sent || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	<-g.entered

	cctx, ccancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := call(cctx, c, "block", motan2.String("cancelled")); errc <- err }()
	<-g.entered
	ccancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	// The late replies of both calls are dropped; the connection still works.
	g.open("never")
	g.open("cancelled")
	if v, err := call(context.Background(), c, "echo", motan2.String("after")); err != nil || v.Str() != "after" {
		t.Fatalf("echo after timeouts: %v %v", v, err)
	}
}

func TestDeadConnectionFailsPendingCallsAndIsReplaced(t *testing.T) {
	g := newGates()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv := &motan2.Server{Handler: echoMux(g), Logger: quiet}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	c := newClient(t, addr, motan2.WithConnections(1), motan2.WithErrorThreshold(0), motan2.WithRequestTimeout(10*time.Second))
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { _, err := call(context.Background(), c, "block", motan2.String("stuck")); errs <- err }()
	}
	for i := 0; i < n; i++ {
		<-g.entered
	}
	srv.Close() // kills the connection under the pending calls
	<-served
	for i := 0; i < n; i++ {
		err := <-errs
		var ce *motan2.CallError
		if !errors.Is(err, motan2.ErrConnClosed) || !errors.As(err, &ce) || !ce.Sent {
			t.Fatalf("pending call %d: %v", i, err)
		}
	}
	// A new server on the same address: the next call reconnects.
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = startServerOn(t, l2, echoMux(newGates()))
	if v, err := call(context.Background(), c, "echo", motan2.String("again")); err != nil || v.Str() != "again" {
		t.Fatalf("after reconnect: %v %v", v, err)
	}
}

func startServerOn(t *testing.T, l net.Listener, h motan2.Handler) *motan2.Server {
	srv := &motan2.Server{Handler: h, Logger: quiet}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return srv
}

func TestDialFailureBacksOff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var dials atomic.Int32
	d := &net.Dialer{}
	c := newClient(t, addr, motan2.WithErrorThreshold(0), motan2.WithConnections(1),
		motan2.WithReconnectBackoff(time.Hour, time.Hour),
		motan2.WithDialer(func(ctx context.Context, network, a string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, a)
		}))
	for i := 0; i < 3; i++ {
		_, err := call(context.Background(), c, "echo", motan2.String("x"))
		var ce *motan2.CallError
		if !errors.As(err, &ce) || ce.Sent {
			t.Fatalf("call %d: want a not-sent CallError, got %v", i, err)
		}
		if i > 0 && !errors.Is(err, motan2.ErrUnavailable) {
			t.Fatalf("call %d during backoff: %v", i, err)
		}
	}
	if got := dials.Load(); got != 1 {
		t.Fatalf("dialed %d times during backoff, want 1", got)
	}
}

func TestInFlightCap(t *testing.T) {
	g := newGates()
	_, addr := startServer(t, echoMux(g))
	c := newClient(t, addr, motan2.WithConnections(1), motan2.WithMaxInFlight(2), motan2.WithErrorThreshold(0))
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := call(context.Background(), c, "block", motan2.String(fmt.Sprint("cap-", i)))
			errs <- err
		}()
	}
	<-g.entered
	<-g.entered
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := call(ctx, c, "echo", motan2.String("third"))
	var ce *motan2.CallError
	if !errors.As(err, &ce) || ce.Sent || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third call: want not-sent deadline error, got %v", err)
	}
	select {
	case <-g.entered:
		t.Fatal("third call reached the server")
	default:
	}
	g.open("cap-0")
	g.open("cap-1")
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestHeartbeats(t *testing.T) {
	srv, addr := startServer(t, echoMux(newGates()))
	for _, java := range []bool{false, true} {
		opts := []motan2.ClientOption{}
		if java {
			opts = append(opts, motan2.WithJavaHeartbeat())
		}
		c := newClient(t, addr, opts...)
		if err := c.Heartbeat(context.Background()); err != nil {
			t.Fatalf("java=%v: %v", java, err)
		}
	}
	// Raw frames: both styles are answered in their own style.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	for _, tc := range []struct{ req, want string }{
		{"f1f1120830000000000000002100000000" + "00000000", "f1f1130830000000000000002100000000" + "00000000"},
		{"f1f1100808000000000000002300000000" + "00000000", "f1f1110808000000000000002300000000" + "00000000"},
	} {
		nc.Write(mustHex(t, tc.req))
		got := make([]byte, len(tc.want)/2)
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%x", got) != tc.want {
			t.Fatalf("heartbeat reply %x, want %s", got, tc.want)
		}
	}
	// With heartbeats off, the server closes the connection instead.
	srv.SetHeartbeatEnabled(false)
	c := newClient(t, addr)
	if err := c.Heartbeat(context.Background()); !errors.Is(err, motan2.ErrConnClosed) {
		t.Fatalf("heartbeat with heartbeats disabled: %v", err)
	}
	srv.SetHeartbeatEnabled(true)
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestErrorThresholdMarksUnavailableAndHeartbeatRecovers(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	c := newClient(t, addr, motan2.WithErrorThreshold(3), motan2.WithKeepaliveInterval(5*time.Millisecond))
	ctx := context.Background()
	// Business exceptions (errtype 2) never count.
	for i := 0; i < 5; i++ {
		call(ctx, c, "fail", motan2.Int32(400), motan2.Int32(2))
	}
	if !c.Available() {
		t.Fatal("business exceptions made the endpoint unavailable")
	}
	for i := 0; i < 3; i++ {
		call(ctx, c, "fail", motan2.Int32(500), motan2.Int32(1))
	}
	// From here the client is unavailable until its keepalive heartbeat
	// (every 5ms) succeeds; a call either fails fast or succeeds.
	recovered := false
	deadline := time.Now().Add(10 * time.Second)
	for !recovered && time.Now().Before(deadline) {
		_, err := call(ctx, c, "echo", motan2.String("x"))
		switch {
		case err == nil:
			recovered = true
		case errors.Is(err, motan2.ErrUnavailable):
			runtimeYield()
		default:
			t.Fatalf("unexpected error while unavailable: %v", err)
		}
	}
	if !recovered {
		t.Fatal("endpoint never became available again")
	}
}

// runtimeYield waits a little between polls of an asynchronous state.
func runtimeYield() { time.Sleep(time.Millisecond) }

func TestServerRejectsOtherProtocols(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	for name, payload := range map[string]string{
		"motan v1": "\xf1\xf1\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10",
		"http":     "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"oversize": "\xf1\xf1\x00\x08\x30\x00\x00\x00\x00\x00\x00\x00\x01\x7f\xff\xff\xff",
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write([]byte(payload))
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := nc.Read(make([]byte, 1))
			if n != 0 || err != io.EOF {
				t.Fatalf("want the connection closed without reply, got n=%d err=%v", n, err)
			}
		})
	}
}

func TestGracefulShutdown(t *testing.T) {
	g := newGates()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &motan2.Server{Handler: echoMux(g), Logger: quiet}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c := newClient(t, l.Addr().String(), motan2.WithConnections(1), motan2.WithRequestTimeout(10*time.Second))

	inflight := make(chan error, 1)
	go func() {
		v, err := call(context.Background(), c, "block", motan2.String("drain"))
		if err == nil && v.Str() != "drain" {
			err = fmt.Errorf("got %v", v)
		}
		inflight <- err
	}()
	<-g.entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	if err := <-served; !errors.Is(err, motan2.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	// New requests on the open connection are refused while draining.
	_, err = call(context.Background(), c, "echo", motan2.String("late"))
	var e *motan2.Exception
	if !errors.As(err, &e) || e.ErrCode != 503 {
		t.Fatalf("request during drain: %v", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a call in flight", err)
	default:
	}
	g.open("drain")
	if err := <-inflight; err != nil {
		t.Fatalf("in-flight call: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// New connections are refused.
	if nc, err := net.Dial("tcp", l.Addr().String()); err == nil {
		nc.Close()
		t.Fatal("listener still accepting after Shutdown")
	}
}

func TestShutdownIsBounded(t *testing.T) {
	g := newGates()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &motan2.Server{Handler: echoMux(g), Logger: quiet}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c := newClient(t, l.Addr().String(), motan2.WithRequestTimeout(10*time.Second))
	errc := make(chan error, 1)
	go func() { _, err := call(context.Background(), c, "block", motan2.String("forever")); errc <- err }()
	<-g.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	<-served
	if err := <-errc; !errors.Is(err, motan2.ErrConnClosed) {
		t.Fatalf("call cut by shutdown: %v", err)
	}
}

func TestGzipBothDirections(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()), func(s *motan2.Server) { s.GzipThreshold = 100 })
	c := newClient(t, addr, motan2.WithGzipThreshold(100))
	big := strings.Repeat("compressible ", 1000)
	resp, err := c.Call(context.Background(), &motan2.Request{Service: "test.Echo", Method: "echo", Args: []motan2.Value{motan2.String(big)}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Value.Str() != big {
		t.Fatal("gzip echo changed the payload")
	}
	if !resp.Frame.Flags.Has(motan2.FlagGzip) || resp.Frame.WireBodySize >= len(resp.Frame.Body) {
		t.Fatalf("reply not compressed: flags %#x wire %d body %d", resp.Frame.Flags, resp.Frame.WireBodySize, len(resp.Frame.Body))
	}
	small, err := c.Call(context.Background(), &motan2.Request{Service: "test.Echo", Method: "echo", Args: []motan2.Value{motan2.String("tiny")}})
	if err != nil || small.Frame.Flags.Has(motan2.FlagGzip) {
		t.Fatalf("small reply: %v flags %#x", err, small.Frame.Flags)
	}
}

func TestOnewayRequestStillAnswered(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	c := newClient(t, addr)
	body, _ := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{motan2.String("one way")})
	req := motan2.NewRequest("test.Echo", "echo", motan2.SerializationSimple, body)
	req.Flags |= motan2.FlagOneway
	resp, err := c.RoundTrip(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Flags.Has(motan2.FlagOneway) || !resp.Flags.Has(motan2.FlagResponse) {
		t.Fatalf("reply flags %#x", resp.Flags)
	}
}

func TestProxyServerSetsProxyBitAndRoundTripKeepsCallerID(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()), func(s *motan2.Server) { s.Proxy = true })
	c := newClient(t, addr)
	req := motan2.NewRequest("test.Echo", "meta", motan2.SerializationSimple, nil)
	body, _ := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{motan2.String("M_s")})
	req.Body = body
	req.Meta = append(req.Meta, motan2.MetaPair{Key: "M_s", Value: "caller-app"})
	req.RequestID = 0xFFFFFFFFFFFFFFFF
	resp, err := c.RoundTrip(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.RequestID != req.RequestID || !resp.Flags.Has(motan2.FlagProxy) {
		t.Fatalf("id %#x flags %#x", resp.RequestID, resp.Flags)
	}
	v, err := motan2.DecodeReply(resp.Serialization, resp.Body)
	if err != nil || v.Str() != "caller-app" {
		t.Fatalf("meta seen by handler: %v %v", v, err)
	}
}

func TestClosedClient(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	c := motan2.NewClient(addr, motan2.WithLogger(quiet))
	if _, err := call(context.Background(), c, "echo", motan2.String("x")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, err := call(context.Background(), c, "echo", motan2.String("x"))
	var ce *motan2.CallError
	if !errors.Is(err, motan2.ErrClientClosed) || !errors.As(err, &ce) || ce.Sent {
		t.Fatalf("call on closed client: %v", err)
	}
}

// A peer that reads but never answers (a half-open connection, a wedged
// server) is detected by idle heartbeats: the pending call fails long
// before its own deadline.
func TestIdleHeartbeatClosesSilentConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		accepted <- nc
		io.Copy(io.Discard, nc)
	}()
	c := newClient(t, l.Addr().String(), motan2.WithIdleHeartbeat(50*time.Millisecond), motan2.WithErrorThreshold(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = call(ctx, c, "echo", motan2.String("into the void"))
	if !errors.Is(err, motan2.ErrConnClosed) || !strings.Contains(err.Error(), "idle heartbeat failed") {
		t.Fatalf("call on a silent connection: %v", err)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("detection took %v", waited)
	}
	nc := <-accepted
	nc.Close()
}

// A request in a serialization we cannot decode gets motan-go's minimal
// error frame, byte for byte (golden vector res_live_bad_serialization).
func TestUnsupportedSerializationReplyMatchesMotanGo(t *testing.T) {
	_, addr := startServer(t, echoMux(newGates()))
	want, err := os.ReadFile("testdata/vectors/res_live_bad_serialization.bin")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := motan2.NewRequest("test.Echo", "echo", motan2.SerializationMsgpack, []byte{0xa1, 'x'})
	req.RequestID = 30
	b, err := motan2.AppendFrame(nil, req, 0)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(b)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("reply\n%x\nwant\n%x", got, want)
	}
}

func TestInFlightCapManyWaiters(t *testing.T) {
	// Many more callers than in-flight slots: every released slot must
	// reach a waiter (no lost wake-up), whatever the interleaving.
	_, addr := startServer(t, echoMux(newGates()))
	c := newClient(t, addr, motan2.WithConnections(1), motan2.WithMaxInFlight(2),
		motan2.WithErrorThreshold(0), motan2.WithRequestTimeout(time.Minute))
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				want := motan2.String(fmt.Sprint(g, "/", i))
				if got, err := call(context.Background(), c, "echo", want); err != nil || !motan2.Equal(got, want) {
					t.Errorf("caller %d call %d: %v %v", g, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRequestTimeoutsAmongAnsweredCalls(t *testing.T) {
	// Unanswered calls with different time limits, registered out of
	// deadline order, each fail with a deadline error (the connection's
	// expiry timer re-arms for the next one) while calls answered
	// meanwhile succeed; the connection stays usable.
	g := newGates()
	_, addr := startServer(t, echoMux(g))
	c := newClient(t, addr, motan2.WithConnections(1), motan2.WithErrorThreshold(0))
	limits := []time.Duration{40, 10, 30, 20, 10}
	var wg sync.WaitGroup
	for i, ms := range limits {
		wg.Add(2)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("unanswered-", i)
			_, err := c.Call(context.Background(), &motan2.Request{Service: "test.Echo", Method: "block",
				Args: []motan2.Value{motan2.String(name)}, Timeout: ms * time.Millisecond})
			var ce *motan2.CallError
			if !errors.As(err, &ce) || !ce.Sent || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: want a sent deadline error, got %v", name, err)
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 20 {
				want := motan2.String(fmt.Sprint("answered-", i, "-", j))
				if got, err := call(context.Background(), c, "echo", want); err != nil || !motan2.Equal(got, want) {
					t.Errorf("answered call: %v %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range limits {
		g.open(fmt.Sprint("unanswered-", i)) // their late replies are dropped
	}
	if v, err := call(context.Background(), c, "echo", motan2.String("after")); err != nil || v.Str() != "after" {
		t.Fatalf("echo after the timeouts: %v %v", v, err)
	}
}
