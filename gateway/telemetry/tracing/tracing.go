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
// Tracers that WithSampleRatio derives share its span processor (and
// exporter) and what it knows of clusters.
type Tracer struct {
	*shared
	tr trace.Tracer
}

// shared is what a Tracer and those derived from it have in common.
type shared struct {
	res  *resource.Resource
	proc sdktrace.SpanProcessor // nil: spans go nowhere
	// tp is the first provider: it owns proc (Shutdown, ForceFlush).
	tp *sdktrace.TracerProvider

	mu sync.Mutex
	// perAttempt records the clusters that have endpoint-scope filters:
	// their attempts carry their own span context, and the route filter
	// need not inject its own (see routeFilter).
	perAttempt map[string]*atomic.Bool
	// byRatio are the tracers of each sample ratio asked for (a few: one
	// per ratio configured during the process's life).
	byRatio map[float64]*Tracer
}

// New returns a Tracer exporting through o.Exporter (or o.Processor).
func New(o Options) *Tracer {
	if o.ServiceName == "" {
		o.ServiceName = "meshgate"
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 2048
	}
	s := &shared{res: resource.NewSchemaless(attribute.String("service.name", o.ServiceName)),
		proc: o.Processor, perAttempt: map[string]*atomic.Bool{}, byRatio: map[float64]*Tracer{}}
	if s.proc == nil && o.Exporter != nil {
		s.proc = sdktrace.NewBatchSpanProcessor(o.Exporter, sdktrace.WithMaxQueueSize(o.QueueSize))
	}
	return s.tracer(o.SampleRatio)
}

// tracer returns the Tracer that samples new traces at ratio, creating it
// (a provider of its own, on the shared processor) the first time.
func (s *shared) tracer(ratio float64) *Tracer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.byRatio[ratio]; t != nil {
		return t
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(s.res),
	}
	if s.proc != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(s.proc))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	if s.tp == nil {
		s.tp = tp
	}
	t := &Tracer{shared: s, tr: tp.Tracer("github.com/meshgate/meshgate")}
	s.byRatio[ratio] = t
	return t
}

// WithSampleRatio returns a Tracer like t whose filters sample new traces
// at ratio r (a request that carries a trace context still follows its
// sampled flag). The assembly builds each configuration generation's
// filters from the Tracer of that generation's ratio, so a reload changes
// the ratio of the new generation's requests only, and a reload that
// fails changes nothing.
func (t *Tracer) WithSampleRatio(r float64) *Tracer { return t.tracer(r) }

// Shutdown flushes the spans not yet exported and stops the exporter,
// within ctx. Every Tracer derived from the same New stops with it.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// ForceFlush exports the spans ended so far, within ctx.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.tp.ForceFlush(ctx) }

func (s *shared) clusterFlag(cluster string) *atomic.Bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.perAttempt[cluster]
	if f == nil {
		f = new(atomic.Bool)
		s.perAttempt[cluster] = f
	}
	return f
}

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
