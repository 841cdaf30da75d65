package tracing

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// W3C trace-context keys, as HTTP headers, gRPC metadata and Motan2 meta
// carry them (lower case: gRPC metadata keys are, and meshgate writes
// Motan2 meta so).
const (
	TraceparentKey = "traceparent"
	TracestateKey  = "tracestate"
)

// RouteFilter returns the route-scope filter of a route's chain: it starts
// the SERVER span of each ingress request, a child of the trace context
// the call carries (Header, Meta, or the meta of a forwarded Frame), and
// puts it in the context the rest of the chain sees (the access log reads
// the trace id there).
//
// When cluster has no endpoint-scope filters (EndpointFilter was never
// built for it), the route filter itself writes its span's context into
// the call it passes on, so that the trace continues upstream anyway.
func (t *Tracer) RouteFilter(route, cluster string) gateway.Filter {
	return &routeFilter{t: t, name: route, perAttempt: t.clusterFlag(cluster),
		attrs: []attribute.KeyValue{AttrRoute.String(route), AttrCluster.String(cluster)}}
}

// EndpointFilter returns the endpoint-scope filter of a per-endpoint
// chain, run once per upstream attempt: it starts a CLIENT span, a child
// of the span in the context (the route's SERVER span), and writes its
// context into the attempt's call.
//
// It relies on the per-endpoint chain's contract: every attempt gets its
// own shallow copy of the Call, so the filter may assign new Meta, Header
// or Frame values to it (never modifying what they point to, which
// concurrent attempts share).
func (t *Tracer) EndpointFilter(cluster, endpoint string) gateway.Filter {
	t.clusterFlag(cluster).Store(true)
	return &endpointFilter{t: t, name: cluster + " " + endpoint,
		attrs: []attribute.KeyValue{AttrCluster.String(cluster), attrServerAddr.String(endpoint)}}
}

type routeFilter struct {
	t          *Tracer
	name       string
	attrs      []attribute.KeyValue
	perAttempt *atomic.Bool
}

func (f *routeFilter) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	ctx = Propagator.Extract(ctx, inCarrier{call})
	ctx, span := f.t.tr.Start(ctx, f.name, trace.WithSpanKind(trace.SpanKindServer))
	var err error
	if f.perAttempt.Load() {
		err = next.Invoke(ctx, call, reply)
	} else {
		// No span per attempt: the route's span is the upstream's parent.
		// A copy of the call, since the ingress's may be shared.
		c := *call
		Inject(&c, span.SpanContext())
		err = next.Invoke(ctx, &c, reply)
	}
	if span.IsRecording() {
		end(span, f.attrs, call, err, reply, true)
	}
	span.End()
	return err
}

type endpointFilter struct {
	t     *Tracer
	name  string
	attrs []attribute.KeyValue
}

func (f *endpointFilter) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	ctx, span := f.t.tr.Start(ctx, f.name, trace.WithSpanKind(trace.SpanKindClient))
	Inject(call, span.SpanContext())
	err := next.Invoke(ctx, call, reply)
	if span.IsRecording() {
		end(span, f.attrs, call, err, reply, false)
	}
	span.End()
	return err
}

// attrBuf holds the attributes of one span while they are gathered: the
// SDK copies them, and one SetAttributes call grows its slice once.
type attrBuf struct{ kv [16]attribute.KeyValue }

var attrBufs = sync.Pool{New: func() any { return new(attrBuf) }}

// end records the call and its outcome on a recording span, in one
// SetAttributes call.
func end(span trace.Span, fixed []attribute.KeyValue, call *gateway.Call, err error, reply *gateway.Reply, server bool) {
	ab := attrBufs.Get().(*attrBuf)
	kv := append(ab.kv[:0], fixed...)
	kv = append(kv, attrRPCService.String(call.Service), attrRPCMethod.String(call.Method))
	code, status := translate.OK, 200
	if err != nil {
		e := translate.FromError(err)
		code, status = e.Code, e.Status()
		span.SetStatus(codes.Error, e.Message)
		kv = append(kv, attrErrorType.String(code.String()))
	}
	kv = append(kv, attrGRPCStatus.Int(int(code)), attrHTTPStatus.Int(status))
	if server {
		if call.RequestID != "" {
			kv = append(kv, AttrRequestID.String(call.RequestID))
		}
		if reply.Endpoint != "" {
			kv = append(kv, AttrEndpoint.String(reply.Endpoint))
		}
		kv = append(kv, AttrAttempts.Int(reply.Attempts), AttrBackups.Int(reply.Backups))
	} else {
		// Whether the attempt left: one never sent may be failed over
		// freely.
		kv = append(kv, AttrSent.Bool(reply.Attempts > 0), AttrAttempt.Int(call.Attempt), AttrBackup.Bool(call.Backup))
	}
	span.SetAttributes(kv...)
	clear(kv)
	attrBufs.Put(ab)
}

// inCarrier reads the incoming trace context of a call: gRPC metadata
// first, then Motan2 meta (where the HTTP ingress copies the headers too),
// then a forwarded frame's meta. One pointer, so that passing it as an
// interface allocates nothing.
type inCarrier struct{ call *gateway.Call }

func (c inCarrier) Get(key string) string {
	if vs := c.call.Header[key]; len(vs) > 0 {
		return vs[0]
	}
	if v, ok := c.call.Meta.Lookup(key); ok {
		return v
	}
	if f := c.call.Frame; f != nil {
		return f.Meta.Get(key)
	}
	return ""
}

func (c inCarrier) Set(string, string) {}

func (c inCarrier) Keys() []string { return []string{TraceparentKey, TracestateKey} }

// Inject writes sc as traceparent (and tracestate when not empty) into
// call: into new Meta (or, for a forwarded frame, a new Frame with new
// meta) that replaces any trace context already there, and a Header
// without the trace-context keys when it had them, so that both kinds of
// upstream send exactly one traceparent (a Motan2 upstream sends Meta
// plus Header, a gRPC upstream Header plus Meta). Nothing call's fields
// point to is modified: call must be the caller's own copy. An invalid sc
// leaves call alone.
func Inject(call *gateway.Call, sc trace.SpanContext) {
	if !sc.IsValid() {
		return
	}
	tp := Traceparent(sc)
	ts := sc.TraceState().String()
	if f := call.Frame; f != nil {
		nf := *f
		nf.Meta = replaceTrace(f.Meta, tp, ts)
		call.Frame = &nf
	} else {
		call.Meta = replaceTrace(call.Meta, tp, ts)
	}
	if len(call.Header[TraceparentKey]) > 0 || len(call.Header[TracestateKey]) > 0 {
		md := make(metadata.MD, len(call.Header))
		for k, vs := range call.Header {
			if k != TraceparentKey && k != TracestateKey {
				md[k] = vs
			}
		}
		call.Header = md
	}
}

// replaceTrace returns a copy of meta without its trace-context pairs,
// with tp and ts (when not empty) appended.
func replaceTrace(meta motan2.Meta, tp, ts string) motan2.Meta {
	out := make(motan2.Meta, 0, len(meta)+2)
	for _, p := range meta {
		if !isTraceKey(p.Key) {
			out = append(out, p)
		}
	}
	out = append(out, motan2.MetaPair{Key: TraceparentKey, Value: tp})
	if ts != "" {
		out = append(out, motan2.MetaPair{Key: TracestateKey, Value: ts})
	}
	return out
}

func isTraceKey(k string) bool {
	return len(k) >= len(TracestateKey) && (strings.EqualFold(k, TraceparentKey) || strings.EqualFold(k, TracestateKey))
}

// Traceparent formats sc as a version-00 W3C traceparent value:
// 00-TRACEID-SPANID-FLAGS.
func Traceparent(sc trace.SpanContext) string {
	const hexdigits = "0123456789abcdef"
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	tid, sid := sc.TraceID(), sc.SpanID()
	for i, x := range tid {
		b[3+2*i], b[4+2*i] = hexdigits[x>>4], hexdigits[x&15]
	}
	b[35] = '-'
	for i, x := range sid {
		b[36+2*i], b[37+2*i] = hexdigits[x>>4], hexdigits[x&15]
	}
	b[52] = '-'
	fl := byte(sc.TraceFlags()) & byte(trace.FlagsSampled)
	b[53], b[54] = hexdigits[fl>>4], hexdigits[fl&15]
	return string(b[:])
}
