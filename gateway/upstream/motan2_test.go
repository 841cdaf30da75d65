package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startNamed starts a Motan2 server whose service answers "whoami" with
// name, "sleep" by waiting for its context, and "fail" with a business
// exception.
func startNamed(t testing.TB, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := motan2.NewServiceMux()
	mux.HandleFunc("test.Svc", func(ctx context.Context, r *motan2.Request) (motan2.Value, error) {
		switch r.Method {
		case "sleep":
			<-ctx.Done()
			return motan2.Null, ctx.Err()
		case "fail":
			return motan2.Null, &motan2.Exception{ErrCode: 404, ErrMsg: "no such order", ErrType: motan2.ErrTypeBiz}
		}
		return motan2.String(name), nil
	})
	srv := &motan2.Server{Handler: mux, Logger: quiet}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newCluster(t *testing.T, lb string, endpoints ...string) *Cluster {
	t.Helper()
	c, err := NewCluster("test", Endpoints(endpoints...), ClusterOptions{LB: lb, Logger: quiet,
		Client: []motan2.ClientOption{motan2.WithDialTimeout(time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func invoke(c *Cluster, method string, timeout time.Duration) (gateway.Reply, error) {
	var r gateway.Reply
	err := c.Invoke(context.Background(), &gateway.Call{Service: "test.Svc", Method: method, Timeout: timeout}, &r)
	return r, err
}

func count(t *testing.T, c *Cluster, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		r, err := invoke(c, "whoami", 5*time.Second)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		seen[r.Value.Str()]++
	}
	return seen
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	c := newCluster(t, "round_robin", startNamed(t, "a"), startNamed(t, "b"), startNamed(t, "c"))
	seen := count(t, c, 30)
	if seen["a"] != 10 || seen["b"] != 10 || seen["c"] != 10 {
		t.Fatalf("round robin over 3 endpoints, 30 calls: %v", seen)
	}
}

func TestRandomReachesEveryEndpoint(t *testing.T) {
	c := newCluster(t, "random", startNamed(t, "a"), startNamed(t, "b"), startNamed(t, "c"))
	seen := count(t, c, 300)
	for _, name := range []string{"a", "b", "c"} {
		// Binomial(300, 1/3) falls under 50 with probability below 1e-8.
		if seen[name] < 50 {
			t.Fatalf("random over 3 endpoints, 300 calls: %v", seen)
		}
	}
}

// A dead endpoint is never a failed call: the request was not sent, so the
// next endpoint takes it.
func TestDeadEndpointIsSkipped(t *testing.T) {
	c := newCluster(t, "round_robin", deadAddr(t), startNamed(t, "alive"))
	seen := count(t, c, 20)
	if seen["alive"] != 20 {
		t.Fatalf("calls: %v", seen)
	}
}

func TestErrorsMapToTheErrorModel(t *testing.T) {
	t.Run("no reachable endpoint", func(t *testing.T) {
		c := newCluster(t, "round_robin", deadAddr(t), deadAddr(t))
		_, err := invoke(c, "whoami", 5*time.Second)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.Unavailable || e.Status() != 503 ||
			!strings.Contains(e.Message, `no reachable endpoint in Motan2 cluster "test" (2 endpoints, 2 tried)`) {
			t.Fatalf("%v", err)
		}
	})
	c := newCluster(t, "round_robin", startNamed(t, "a"))
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, err := invoke(c, "sleep", 50*time.Millisecond)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.DeadlineExceeded || e.Status() != 504 {
			t.Fatalf("%v", err)
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Fatalf("a 50ms budget took %v", waited)
		}
	})
	t.Run("business exception", func(t *testing.T) {
		_, err := invoke(c, "fail", time.Second)
		var e *translate.Error
		if !errors.As(err, &e) || e.Status() != 404 || !e.Upstream || e.UpstreamErrCode != 404 || e.UpstreamErrType != 2 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("budget already spent", func(t *testing.T) {
		_, err := invoke(c, "whoami", time.Nanosecond)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.DeadlineExceeded {
			t.Fatalf("%v", err)
		}
	})
}

// startPayload starts a Motan2 server for payload calls to "shop.Svc":
// "echo" answers the request body as it came, in its serialization;
// "simple" a Simple string; "message" a grpc-pb message whatever the
// request; "empty" no body; "fail" a business exception. Every request
// frame is sent to seen (when not nil) before it is answered.
func startPayload(t *testing.T, seen chan<- *motan2.Frame) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := motan2.HandlerFunc(func(_ context.Context, req *motan2.Frame) *motan2.Frame {
		if seen != nil {
			f := *req
			f.Meta = append(motan2.Meta(nil), req.Meta...)
			f.Body = bytes.Clone(req.Body)
			seen <- &f
		}
		switch req.Method() {
		case "echo":
			return motan2.NewResponse(req, req.Body)
		case "simple":
			body, _ := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{motan2.String("s")})
			f := motan2.NewResponse(req, body)
			f.Serialization = motan2.SerializationSimple
			return f
		case "message":
			f := motan2.NewResponse(req, []byte{0x0a, 0x01, 'm'})
			f.Serialization = motan2.SerializationGrpcPB
			return f
		case "empty":
			return motan2.NewResponse(req, nil)
		}
		return motan2.NewExceptionResponse(req, &motan2.Exception{ErrCode: 404, ErrMsg: "no such book", ErrType: motan2.ErrTypeBiz})
	})
	srv := &motan2.Server{Handler: h, Logger: quiet}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

func payloadCall(method string, ser motan2.Serialization, payload []byte) *gateway.Call {
	return &gateway.Call{Service: "shop.Svc", Method: method, Group: "g", Payload: payload, PayloadSerialization: ser, Timeout: 5 * time.Second}
}

func TestPayloadGrpcPB(t *testing.T) {
	seen := make(chan *motan2.Frame, 1)
	c := newCluster(t, "round_robin", startPayload(t, seen))
	msg := []byte{0x0a, 0x03, 'a', '/', 'b', 0xff} // not a valid message: the bytes pass as they are
	meta := make(motan2.Meta, 1, 8)                // spare capacity: the header must not be appended into it
	meta[0] = motan2.MetaPair{Key: "x-meta", Value: "m"}
	call := payloadCall("echo", 0, bytes.Clone(msg))
	call.Meta = meta
	call.Header = metadata.MD{"x-from-header": {"h"}, "x-meta": {"other"}, "grpc-timeout": {"1S"}, "content-type": {"application/grpc"}, "trace-bin": {"\x00"}}
	var r gateway.Reply
	if err := c.Invoke(context.Background(), call, &r); err != nil {
		t.Fatal(err)
	}
	f := <-seen
	if f.Serialization != motan2.SerializationGrpcPB || !bytes.Equal(f.Body, msg) {
		t.Errorf("server got %v body % x", f.Serialization, f.Body)
	}
	for k, want := range map[string]string{motan2.MetaPath: "shop.Svc", motan2.MetaMethod: "echo", motan2.MetaGroup: "g", "x-meta": "m", "x-from-header": "h"} {
		if got := f.Meta.Get(k); got != want {
			t.Errorf("server got %s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"grpc-timeout", "content-type", "trace-bin"} {
		if _, ok := f.Meta.Lookup(k); ok {
			t.Errorf("reserved header %s reached the Motan2 meta", k)
		}
	}
	if meta[:2][1] != (motan2.MetaPair{}) || len(call.Meta) != 1 {
		t.Errorf("Invoke wrote into call.Meta's array: %v", meta[:2])
	}
	if !bytes.Equal(r.Payload, msg) || !r.Value.IsNull() {
		t.Errorf("reply payload % x value %v", r.Payload, r.Value)
	}
	if !bytes.Equal(call.Payload, msg) {
		t.Error("Invoke changed call.Payload")
	}

	// The header travels with Simple calls too.
	if err := c.Invoke(context.Background(), &gateway.Call{Service: "shop.Svc", Method: "message", Header: metadata.MD{"x-h": {"1"}},
		Args: []motan2.Value{motan2.String("a")}, Timeout: 5 * time.Second}, &gateway.Reply{}); err == nil {
		t.Error("a grpc-pb reply to a Simple call was accepted")
	}
	if f := <-seen; f.Meta.Get("x-h") != "1" || f.Serialization != motan2.SerializationSimple {
		t.Errorf("Simple call meta %v serialization %v", f.Meta, f.Serialization)
	}
}

func TestPayloadPB(t *testing.T) {
	seen := make(chan *motan2.Frame, 1)
	c := newCluster(t, "round_robin", startPayload(t, seen))
	msg := []byte{0x0a, 0x01, 'x'}
	var r gateway.Reply
	if err := c.Invoke(context.Background(), payloadCall("echo", motan2.SerializationPB, msg), &r); err != nil {
		t.Fatal(err)
	}
	f := <-seen
	want, _ := motan2.AppendPB(nil, motan2.Message("", msg))
	if f.Serialization != motan2.SerializationPB || !bytes.Equal(f.Body, want) {
		t.Errorf("server got %v body % x, want % x", f.Serialization, f.Body, want)
	}
	if !bytes.Equal(r.Payload, msg) {
		t.Errorf("reply payload % x", r.Payload)
	}
	// A grpc-pb message answering a pb call is a message too.
	r = gateway.Reply{}
	if err := c.Invoke(context.Background(), payloadCall("message", motan2.SerializationPB, msg), &r); err != nil {
		t.Fatal(err)
	}
	<-seen
	if string(r.Payload) != "\x0a\x01m" {
		t.Errorf("reply payload % x", r.Payload)
	}
}

func TestPayloadReplies(t *testing.T) {
	c := newCluster(t, "round_robin", startPayload(t, nil))
	t.Run("empty body is an empty message", func(t *testing.T) {
		for _, ser := range []motan2.Serialization{motan2.SerializationGrpcPB, motan2.SerializationPB} {
			var r gateway.Reply
			if err := c.Invoke(context.Background(), payloadCall("empty", ser, []byte{1}), &r); err != nil {
				t.Fatal(err)
			}
			if r.Payload == nil || len(r.Payload) != 0 {
				t.Errorf("%v: payload %v", ser, r.Payload)
			}
		}
	})
	t.Run("a Simple reply to a payload call", func(t *testing.T) {
		_, err := invokePayload(c, payloadCall("simple", 0, []byte{1}))
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.Internal ||
			!strings.Contains(e.Message, "answered a grpc-pb call (a protobuf message) with a simple body") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a message reply to a Simple call", func(t *testing.T) {
		_, err := invoke(c, "message", time.Second)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.Internal ||
			!strings.Contains(e.Message, "answered a Simple call with a grpc-pb body") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("exception", func(t *testing.T) {
		_, err := invokePayload(c, payloadCall("fail", 0, []byte{1}))
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.NotFound || !e.Upstream || e.Message != "no such book" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("serialization that cannot carry a message", func(t *testing.T) {
		_, err := invokePayload(c, payloadCall("echo", motan2.SerializationSimple, []byte{1}))
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.Internal || !strings.Contains(e.Message, "grpc-pb or pb only") {
			t.Fatalf("%v", err)
		}
	})
}

func invokePayload(c *Cluster, call *gateway.Call) (gateway.Reply, error) {
	var r gateway.Reply
	err := c.Invoke(context.Background(), call, &r)
	return r, err
}
