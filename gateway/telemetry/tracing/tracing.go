// Package tracing is meshgate's OpenTelemetry tracing: a SERVER span per
// ingress request (the route-scope filter) and a CLIENT span per upstream
// attempt (the endpoint-scope filter), with the W3C trace context
// (traceparent, tracestate) read from whatever the ingress received (HTTP
// headers copied into Call.Meta, gRPC metadata in Call.Header, Motan2 meta
// in Call.Meta or Call.Frame.Meta) and written into the call sent
// upstream, so that a trace crosses HTTP, gRPC and Motan2 unbroken.
//
// A disabled tracer is no tracer: the assembly installs no filter at all,
// so tracing off costs nothing per request.
package tracing

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options configure a Tracer.
type Options struct {
	// ServiceName is the service.name resource attribute (default
	// "meshgate").
	ServiceName string
	// SampleRatio is the fraction of new traces recorded (0 to 1); a
	// request that carries a trace context follows its sampled flag.
	SampleRatio float64
	// Exporter receives the ended spans through a batch processor that
	// drops spans rather than block a request when QueueSize are waiting.
	Exporter sdktrace.SpanExporter
	// QueueSize bounds the batch processor's queue (default 2048).
	QueueSize int
	// Processor, when set, is used instead of Exporter's batch processor
	// (tests pass a tracetest.SpanRecorder, which sees spans as they end).
	Processor sdktrace.SpanProcessor
}

// Tracer creates the tracing filters. It is process-wide: it outlives
// configuration generations, whose filters it builds again at each reload.
type Tracer struct {
	tp      *sdktrace.TracerProvider
	tr      trace.Tracer
	sampler *ratioSampler

	mu sync.Mutex
	// perAttempt records the clusters that have endpoint-scope filters:
	// their attempts carry their own span context, and the route filter
	// need not inject its own (see routeFilter).
	perAttempt map[string]*atomic.Bool
}

// New returns a Tracer exporting through o.Exporter (or o.Processor).
func New(o Options) *Tracer {
	if o.ServiceName == "" {
		o.ServiceName = "meshgate"
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 2048
	}
	s := &ratioSampler{}
	s.set(o.SampleRatio)
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(s),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", o.ServiceName))),
	}
	switch {
	case o.Processor != nil:
		opts = append(opts, sdktrace.WithSpanProcessor(o.Processor))
	case o.Exporter != nil:
		opts = append(opts, sdktrace.WithBatcher(o.Exporter, sdktrace.WithMaxQueueSize(o.QueueSize)))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracer{tp: tp, tr: tp.Tracer("github.com/meshgate/meshgate"), sampler: s,
		perAttempt: map[string]*atomic.Bool{}}
}

// SetSampleRatio changes the ratio of new traces sampled, for the requests
// that follow (a reload).
func (t *Tracer) SetSampleRatio(r float64) { t.sampler.set(r) }

// Shutdown flushes the spans not yet exported and stops the exporter,
// within ctx.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// ForceFlush exports the spans ended so far, within ctx.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.tp.ForceFlush(ctx) }

func (t *Tracer) clusterFlag(cluster string) *atomic.Bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.perAttempt[cluster]
	if f == nil {
		f = new(atomic.Bool)
		t.perAttempt[cluster] = f
	}
	return f
}

// ratioSampler is parent-based sampling with a trace-id ratio for roots,
// its ratio changeable at run time.
type ratioSampler struct {
	cur atomic.Pointer[samplerBox]
}

type samplerBox struct{ s sdktrace.Sampler }

func (r *ratioSampler) set(ratio float64) {
	r.cur.Store(&samplerBox{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))})
}

func (r *ratioSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return r.cur.Load().s.ShouldSample(p)
}

func (r *ratioSampler) Description() string { return r.cur.Load().s.Description() }

// Propagator is the W3C trace-context propagator the filters read
// incoming context with.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Attribute keys meshgate sets beyond the semantic conventions'.
const (
	AttrRoute     = attribute.Key("meshgate.route")
	AttrCluster   = attribute.Key("meshgate.cluster")
	AttrRequestID = attribute.Key("meshgate.request_id")
	AttrEndpoint  = attribute.Key("meshgate.endpoint")
	AttrAttempts  = attribute.Key("meshgate.attempts")
	AttrBackups   = attribute.Key("meshgate.backups")
	AttrSent      = attribute.Key("meshgate.sent")
	// AttrAttempt is an attempt's 1-based number among its call's, and
	// AttrBackup marks a backup request.
	AttrAttempt = attribute.Key("meshgate.attempt")
	AttrBackup  = attribute.Key("meshgate.backup")

	attrRPCService = attribute.Key("rpc.service")
	attrRPCMethod  = attribute.Key("rpc.method")
	attrGRPCStatus = attribute.Key("rpc.grpc.status_code")
	attrHTTPStatus = attribute.Key("http.response.status_code")
	attrServerAddr = attribute.Key("server.address")
	attrErrorType  = attribute.Key("error.type")
)
