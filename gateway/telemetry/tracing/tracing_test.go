package tracing

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const (
	parentTP  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	parentTID = "0af7651916cd43dd8448eb211c80319c"
	parentSID = "b7ad6b7169203331"
	unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
)

// terminal is the upstream end of a test chain: it keeps a copy of what
// it was sent and answers err.
type terminal struct {
	meta   motan2.Meta
	header metadata.MD
	frame  motan2.Meta
	err    error
}

func (t *terminal) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	t.meta = append(motan2.Meta(nil), call.Meta...)
	t.header = call.Header.Copy()
	if call.Frame != nil {
		t.frame = append(motan2.Meta(nil), call.Frame.Meta...)
	}
	reply.Endpoint, reply.Attempts = "10.0.0.1:8002", 1
	return t.err
}

// sent returns the single traceparent an upstream of either protocol
// would send for what the terminal saw (Motan2: meta plus header; gRPC:
// header plus meta), failing on duplicates or disagreement.
func (t *terminal) sent(tb testing.TB) string {
	tb.Helper()
	meta := t.meta
	if t.frame != nil {
		meta = t.frame
	}
	m := gateway.MetaFromHeader(meta[:len(meta):len(meta)], t.header)
	n, tp := 0, ""
	for _, p := range m {
		if p.Key == TraceparentKey {
			n++
			tp = p.Value
		}
	}
	g := gateway.HeaderFromMeta(t.header.Copy(), meta)
	if n > 1 || len(g[TraceparentKey]) > 1 {
		tb.Fatalf("traceparent sent more than once: motan2 meta %v, grpc metadata %v", m, g)
	}
	if n == 1 && (len(g[TraceparentKey]) != 1 || g[TraceparentKey][0] != tp) {
		tb.Fatalf("motan2 and grpc disagree: %q vs %v", tp, g[TraceparentKey])
	}
	return tp
}

func newTracer(ratio float64) (*Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	return New(Options{SampleRatio: ratio, Processor: rec}), rec
}

func spanByKind(tb testing.TB, spans []sdktrace.ReadOnlySpan, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	tb.Helper()
	var found sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == kind {
			if found != nil {
				tb.Fatalf("two %v spans", kind)
			}
			found = s
		}
	}
	if found == nil {
		tb.Fatalf("no %v span among %d", kind, len(spans))
	}
	return found
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// The SERVER span continues the trace context the call came with, from
// wherever the ingress put it, and (with no per-attempt spans for the
// cluster) is the parent the upstream sees.
func TestRouteFilterContinuesIncomingContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		call gateway.Call
		root bool
	}{
		{"none", gateway.Call{Service: "s", Method: "m"}, true},
		{"grpc metadata", gateway.Call{Header: metadata.MD{"traceparent": {parentTP}, "x-other": {"1"}}}, false},
		{"motan2 or http meta", gateway.Call{Meta: motan2.Meta{{Key: "traceparent", Value: parentTP}}}, false},
		{"forwarded frame", gateway.Call{Frame: &motan2.Frame{Meta: motan2.Meta{{Key: "traceparent", Value: parentTP}, {Key: "M_p", Value: "svc"}}}}, false},
		{"malformed", gateway.Call{Meta: motan2.Meta{{Key: "traceparent", Value: "00-zz-b7ad6b7169203331-01"}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, rec := newTracer(1)
			defer tr.Shutdown(context.Background())
			term := &terminal{}
			inv := gateway.Chain(term, tr.RouteFilter("r1", "c1"))
			call := tc.call
			var before motan2.Meta
			if call.Frame != nil {
				before = append(before, call.Frame.Meta...)
			}
			if err := inv.Invoke(context.Background(), &call, &gateway.Reply{}); err != nil {
				t.Fatal(err)
			}
			srv := spanByKind(t, rec.Ended(), trace.SpanKindServer)
			if tc.root {
				if srv.Parent().IsValid() {
					t.Fatalf("parent %v, want a root span", srv.Parent())
				}
			} else if srv.Parent().TraceID().String() != parentTID || srv.Parent().SpanID().String() != parentSID || !srv.Parent().IsRemote() {
				t.Fatalf("parent %v, want the incoming context", srv.Parent())
			}
			want := Traceparent(srv.SpanContext())
			if got := term.sent(t); got != want {
				t.Fatalf("upstream sees %q, want the server span %q", got, want)
			}
			if call.Frame != nil && !equalMeta(call.Frame.Meta, before) {
				t.Fatalf("the ingress frame's meta was modified: %v", call.Frame.Meta)
			}
			if v, _ := attr(srv, AttrRoute); v.AsString() != "r1" {
				t.Errorf("route attribute %q", v.AsString())
			}
		})
	}
}

func countKey(m motan2.Meta, k string) int {
	n := 0
	for _, p := range m {
		if p.Key == k {
			n++
		}
	}
	return n
}

func equalMeta(a, b motan2.Meta) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// With per-attempt spans, each attempt is a CLIENT span child of the
// SERVER span, and it, not the route, is the upstream's parent.
func TestEndpointFilterSpanPerAttempt(t *testing.T) {
	tr, rec := newTracer(1)
	defer tr.Shutdown(context.Background())
	term := &terminal{}
	// What the cluster does: one per-endpoint chain per endpoint, called
	// once per attempt with the attempt's own copy of the call.
	ep := gateway.Chain(term, tr.EndpointFilter("c1", "10.0.0.1:8002"))
	cluster := invokerFunc(func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
		for range 2 { // a failover: two attempts
			c := *call
			if err := ep.Invoke(ctx, &c, reply); err == nil {
				return nil
			}
		}
		return term.err
	})
	route := gateway.Chain(cluster, tr.RouteFilter("r1", "c1"))
	shared := motan2.Meta{{Key: "traceparent", Value: parentTP}, {Key: "tracestate", Value: "old=1"}, {Key: "x-a", Value: "1"}}
	header := metadata.MD{"traceparent": {parentTP}, "x-b": {"2"}}
	call := gateway.Call{Service: "s", Method: "m", Meta: shared[:3:3], Header: header}
	term.err = translate.Errorf(translate.Unavailable, "down")
	if err := route.Invoke(context.Background(), &call, &gateway.Reply{}); err == nil {
		t.Fatal("no error")
	}
	spans := rec.Ended()
	srv := spanByKind(t, spans[len(spans)-1:], trace.SpanKindServer)
	var clients []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient {
			clients = append(clients, s)
		}
	}
	if len(clients) != 2 {
		t.Fatalf("%d client spans, want one per attempt (2)", len(clients))
	}
	for _, c := range clients {
		if c.Parent().SpanID() != srv.SpanContext().SpanID() || c.SpanContext().TraceID().String() != parentTID {
			t.Errorf("client span parent %v, want the server span %v", c.Parent(), srv.SpanContext())
		}
		if c.Status().Code != codes.Error {
			t.Errorf("failed attempt status %v", c.Status())
		}
		if v, _ := attr(c, attrServerAddr); v.AsString() != "10.0.0.1:8002" {
			t.Errorf("server.address %q", v.AsString())
		}
	}
	if got, want := term.sent(t), Traceparent(clients[1].SpanContext()); got != want {
		t.Fatalf("upstream sees %q, want the last attempt's span %q", got, want)
	}
	// The spans inherit the caller's tracestate (W3C): sent once.
	if n := countKey(term.meta, "tracestate"); n != 1 || term.meta.Get("tracestate") != "old=1" || len(term.header["tracestate"]) != 0 {
		t.Errorf("tracestate not sent once as old=1: %v %v", term.meta, term.header)
	}
	if term.meta.Get("x-a") != "1" || term.header.Get("x-b")[0] != "2" {
		t.Errorf("other metadata lost: %v %v", term.meta, term.header)
	}
	if shared[0].Value != parentTP || header["traceparent"][0] != parentTP || call.Meta[0].Value != parentTP {
		t.Fatalf("the ingress's meta or header was modified")
	}
	if v, _ := attr(srv, attrGRPCStatus); v.AsInt64() != int64(translate.Unavailable) {
		t.Errorf("grpc status attribute %v", v)
	}
	if v, _ := attr(srv, attrHTTPStatus); v.AsInt64() != 503 {
		t.Errorf("http status attribute %v", v)
	}
	if srv.Status().Code != codes.Error || srv.Status().Description != "down" {
		t.Errorf("server span status %v", srv.Status())
	}
}

// Sampling is parent-based: the caller's flag decides when there is one,
// the ratio decides for new traces; unsampled calls still propagate.
func TestSampling(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ratio    float64
		incoming string
		recorded bool
	}{
		{"root ratio 1", 1, "", true},
		{"root ratio 0", 0, "", false},
		{"sampled parent ratio 0", 0, parentTP, true},
		{"unsampled parent ratio 1", 1, unsampled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, rec := newTracer(tc.ratio)
			defer tr.Shutdown(context.Background())
			term := &terminal{}
			call := gateway.Call{}
			if tc.incoming != "" {
				call.Meta = motan2.Meta{{Key: "traceparent", Value: tc.incoming}}
			}
			if err := gateway.Chain(term, tr.RouteFilter("r", "c")).Invoke(context.Background(), &call, &gateway.Reply{}); err != nil {
				t.Fatal(err)
			}
			if got := len(rec.Ended()) == 1; got != tc.recorded {
				t.Fatalf("recorded %v, want %v", got, tc.recorded)
			}
			tp := term.sent(t)
			if tp == "" {
				t.Fatal("no trace context propagated")
			}
			if sampledFlag := tp[len(tp)-2:] == "01"; sampledFlag != tc.recorded {
				t.Fatalf("propagated %q, sampled flag should be %v", tp, tc.recorded)
			}
			if tc.incoming != "" && tp[3:35] != parentTID {
				t.Fatalf("propagated %q: not the caller's trace", tp)
			}
		})
	}
	// A derived tracer's filters sample at its ratio; those built before
	// keep theirs (a reload's new generation against the old one).
	tr, rec := newTracer(0)
	defer tr.Shutdown(context.Background())
	old := gateway.Chain(&terminal{}, tr.RouteFilter("r", "c"))
	all := gateway.Chain(&terminal{}, tr.WithSampleRatio(1).RouteFilter("r", "c"))
	for i := 0; i < 10; i++ {
		for _, inv := range []gateway.Invoker{old, all} {
			if err := inv.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(rec.Ended()); n != 10 {
		t.Fatalf("%d spans recorded, want the 10 of the ratio-1 filter", n)
	}
	one, again := tr.WithSampleRatio(1), tr.WithSampleRatio(1)
	if one != again || tr.WithSampleRatio(0) != tr {
		t.Error("tracers of one ratio are not shared")
	}
}

func TestTraceparentFormat(t *testing.T) {
	tid, _ := trace.TraceIDFromHex(parentTID)
	sid, _ := trace.SpanIDFromHex(parentSID)
	for flags, want := range map[trace.TraceFlags]string{trace.FlagsSampled: parentTP, 0: unsampled, 0xff: parentTP} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags})
		if got := Traceparent(sc); got != want {
			t.Errorf("flags %x: %q, want %q", flags, got, want)
		}
	}
}

// Inject leaves an invalid span context out, and never writes into the
// arrays of the call it was given.
func TestInjectInvalidLeavesCallAlone(t *testing.T) {
	call := gateway.Call{Meta: motan2.Meta{{Key: "traceparent", Value: parentTP}}}
	before := call
	Inject(&call, trace.SpanContext{})
	if &call.Meta[0] != &before.Meta[0] || call.Header != nil {
		t.Fatal("an invalid span context changed the call")
	}
}

var errBoom = errors.New("boom")

type invokerFunc func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error

func (f invokerFunc) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	return f(ctx, call, reply)
}

// A plain (non-translate) error still gives a status.
func TestPlainErrorStatus(t *testing.T) {
	tr, rec := newTracer(1)
	defer tr.Shutdown(context.Background())
	err := gateway.Chain(&terminal{err: errBoom}, tr.RouteFilter("r", "c")).Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
	if !errors.Is(err, errBoom) {
		t.Fatalf("error %v not passed through", err)
	}
	srv := rec.Ended()[0]
	if srv.Status().Code != codes.Error {
		t.Fatalf("status %v", srv.Status())
	}
}

// Inject replaces every trace-context pair the call carried (a stale
// tracestate included, whatever the key's case) and strips them from the
// gRPC metadata, leaving the rest.
func TestInjectReplaces(t *testing.T) {
	tid, _ := trace.TraceIDFromHex(parentTID)
	sid, _ := trace.SpanIDFromHex(parentSID)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	meta := motan2.Meta{{Key: "Traceparent", Value: "old"}, {Key: "tracestate", Value: "stale=1"}, {Key: "x", Value: "1"}}
	header := metadata.MD{"traceparent": {"old"}, "tracestate": {"stale=1"}, "y": {"2"}}
	call := gateway.Call{Meta: meta, Header: header}
	Inject(&call, sc)
	want := motan2.Meta{{Key: "x", Value: "1"}, {Key: "traceparent", Value: parentTP}}
	if !equalMeta(call.Meta, want) {
		t.Errorf("meta %v, want %v", call.Meta, want)
	}
	if len(call.Header) != 1 || call.Header["y"][0] != "2" {
		t.Errorf("header %v, want only y", call.Header)
	}
	if meta[0].Value != "old" || len(header) != 3 {
		t.Fatal("the caller's meta or header was modified")
	}
}
