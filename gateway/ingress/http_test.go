package ingress

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

// echoInvoker answers with the call's first argument, in process.
type echoInvoker struct{}

func (echoInvoker) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	reply.Value = call.Args[0]
	return nil
}

// oneRouteTable is a route table of one route, id 0.
func oneRouteTable(tb testing.TB, method, pattern string) *routes.Table {
	tb.Helper()
	b := &routes.Builder{}
	if err := b.Add(method, pattern, 0); err != nil {
		tb.Fatal(err)
	}
	table, err := b.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return table
}

func newTestHTTP(tb testing.TB) *HTTP {
	tb.Helper()
	table := oneRouteTable(tb, "GET", "/v1/echo/{id}")
	route := &gateway.Route{Name: "echo", Service: "s", Method: "m", Invoker: echoInvoker{},
		Args: []gateway.ArgBinding{
			{Name: "id", From: gateway.FromPath, Key: "id", Type: translate.ArgInt64},
			{Name: "q", From: gateway.FromQuery, Key: "q", Type: translate.ArgString},
		}}
	return NewHTTP(&Snapshot{Table: table, Routes: []*gateway.Route{route}}, HTTPOptions{
		RequestIDHeader: "X-Request-Id", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func newCtx(uri string, header ...string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.SetRequestURI(uri)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil)
	return ctx
}

func TestHandleBindsAndReplies(t *testing.T) {
	h := newTestHTTP(t)
	ctx := newCtx("/v1/echo/42?q=x", "X-Request-Id", "r1")
	h.handle(ctx)
	if got := string(ctx.Response.Body()); ctx.Response.StatusCode() != 200 || got != "42" {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), got)
	}
	if id := string(ctx.Response.Header.Peek("X-Request-Id")); id != "r1" {
		t.Fatalf("request id %q", id)
	}
	ctx = newCtx("/v1/echo/x?q=x")
	h.handle(ctx)
	if ctx.Response.StatusCode() != 400 {
		t.Fatalf("bad int64: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	ctx = newCtx("/v1/echo/%zz?q=x")
	h.handle(ctx)
	if ctx.Response.StatusCode() != 400 {
		t.Fatalf("bad escape: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// TestHandleAllocations pins the per-request allocation budget of the
// ingress itself (the upstream is in process here): only the request id
// generated for a caller that sent none.
func TestHandleAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	h := newTestHTTP(t)
	withID := newCtx("/v1/echo/42?q=x", "X-Request-Id", "r1")
	withoutID := newCtx("/v1/echo/42?q=x")
	for _, tc := range []struct {
		name string
		ctx  *fasthttp.RequestCtx
		max  float64
	}{{"caller's id", withID, 1}, {"generated id", withoutID, 2}} {
		n := testing.AllocsPerRun(200, func() {
			tc.ctx.Response.Reset()
			h.handle(tc.ctx)
		})
		if n > tc.max {
			t.Errorf("%s: %v allocations per request, want at most %v", tc.name, n, tc.max)
		}
	}
}

func BenchmarkHandle(b *testing.B) {
	h := newTestHTTP(b)
	ctx := newCtx("/v1/echo/42?q=x")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		h.handle(ctx)
	}
}

// release clears every argument bind appended, also when bind failed
// after appending some: it clears only the prefix the Call holds.
func TestScratchReleaseClearsPartialArgs(t *testing.T) {
	h := newTestHTTP(t)
	snap := h.snap.Load()
	var params routes.Params
	rid, res := snap.Table.Match("GET", []byte("/v1/echo/42"), &params)
	if res != routes.Found {
		t.Fatal("no route")
	}
	sc := new(scratchCall)
	ctx := newCtx("/v1/echo/42") // q is missing: bind fails after appending id
	args, err := h.bind(ctx, snap.Routes[rid], &params, sc.args[:0])
	if err == nil || len(args) != 1 {
		t.Fatalf("bind: %d args, %v; want 1 and an error", len(args), err)
	}
	sc.call.Args = args
	sc.call.Meta = append(sc.meta[:0], motan2.MetaPair{Key: "k", Value: "v"})
	sc.release()
	for i := range sc.args {
		if !reflect.ValueOf(sc.args[i]).IsZero() {
			t.Errorf("args[%d] not cleared: %v", i, sc.args[i])
		}
	}
	if sc.meta[0] != (motan2.MetaPair{}) {
		t.Errorf("meta[0] not cleared: %v", sc.meta[0])
	}
}
