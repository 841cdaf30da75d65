package ingress

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// metaInvoker keeps a copy of the meta of the last call.
type metaInvoker struct{ meta motan2.Meta }

func (m *metaInvoker) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	m.meta = append(motan2.Meta(nil), call.Meta...)
	reply.Value = motan2.String("ok")
	return nil
}

// The W3C trace-context headers reach the Call's meta whatever the
// route's request_headers, once, under their lower-case names.
func TestHTTPForwardsTraceContext(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tc := range []struct {
		name           string
		requestHeaders []string
		header         []string
		want           map[string]string
		count          int // traceparent pairs expected
	}{
		{"absent", nil, nil, map[string]string{}, 0},
		{"traceparent", nil, []string{"Traceparent", tp}, map[string]string{"traceparent": tp}, 1},
		{"both", nil, []string{"traceparent", tp, "tracestate", "k=v"}, map[string]string{"traceparent": tp, "tracestate": "k=v"}, 1},
		{"also in request_headers", []string{"traceparent"}, []string{"traceparent", tp}, map[string]string{"traceparent": tp}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := oneRouteTable(t, "GET", "/v1/t")
			inv := &metaInvoker{}
			route := &gateway.Route{Name: "t", Service: "s", Method: "m", Invoker: inv, RequestHeaders: tc.requestHeaders,
				ContentType: "text/plain", JSON: translate.JSONOptions{}}
			h := NewHTTP(&Snapshot{Table: table, Routes: []*gateway.Route{route}}, HTTPOptions{
				RequestIDHeader: "X-Request-Id", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ctx := newCtx("/v1/t", tc.header...)
			h.handle(ctx)
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			n := 0
			for _, p := range inv.meta {
				if p.Key == "traceparent" {
					n++
				}
			}
			if n != tc.count {
				t.Errorf("%d traceparent pairs in %v, want %d", n, inv.meta, tc.count)
			}
			for _, k := range []string{"traceparent", "tracestate"} {
				got, ok := inv.meta.Lookup(k)
				if want, wantOK := tc.want[k]; ok != wantOK || got != want {
					t.Errorf("meta %s = %q (%v), want %q (%v)", k, got, ok, want, wantOK)
				}
			}
		})
	}
}

// The hook costs no allocation when the headers are absent.
func TestTraceContextAbsentAllocatesNothing(t *testing.T) {
	ctx := newCtx("/v1/t", "X-Other", "1")
	meta := make(motan2.Meta, 0, 4)
	if n := testing.AllocsPerRun(100, func() { meta = appendTraceContext(meta[:0], &ctx.Request.Header) }); n != 0 || len(meta) != 0 {
		t.Fatalf("%v allocations, meta %v", n, meta)
	}
}
