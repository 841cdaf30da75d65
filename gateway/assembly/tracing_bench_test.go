package assembly

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/motan2"
)

// discardExporter drops the batches it is handed: the batch processor's
// cost stays in the benchmark, the network's does not.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

type benchUpstream struct{}

func (benchUpstream) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	reply.Value = call.Args[0]
	reply.Attempts = 1
	return nil
}

// benchCluster stands for a cluster: the attempt gets its own copy of the
// call and runs the endpoint's chain, as gateway/upstream does.
type benchCluster struct{ ep gateway.Invoker }

func (c *benchCluster) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	ac := *call
	err := c.ep.Invoke(ctx, &ac, reply)
	reply.Endpoint = "10.0.0.1:8002"
	return err
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTelemetryChain measures what the telemetry filters add to a
// request, in one run: a bare route (no telemetry filter) against tracing
// off, tracing unsampled and sampled (ratio 1, batch processor over a
// discarding exporter), the access log (to io.Discard), metrics, metrics
// with the access log, and everything. Each request runs a route chain
// and one attempt's endpoint chain in front of an in-process upstream.
// cpu-ns/op is the process's CPU time (getrusage: the access log's writer
// goroutine, the batch span processor and GC included) per request.
func BenchmarkTelemetryChain(b *testing.B) {
	off := "telemetry: {metrics: {enabled: false}}\n"
	for _, bc := range []struct {
		name, yaml string
		sampled    bool
	}{
		{"bare", off, false},
		{"tracing_off", "telemetry: {metrics: {enabled: false}, tracing: {enabled: false}, access_log: {enabled: false}}\n", false},
		{"tracing_unsampled", "telemetry: {metrics: {enabled: false}, tracing: {enabled: true, sample_ratio: 0}}\n", false},
		{"tracing_sampled", "telemetry: {metrics: {enabled: false}, tracing: {enabled: true, sample_ratio: 1}}\n", true},
		{"access_log", "telemetry: {metrics: {enabled: false}, access_log: {enabled: true}}\n", false},
		{"access_log_logfmt", "telemetry: {metrics: {enabled: false}, access_log: {enabled: true, format: logfmt}}\n", false},
		{"metrics", "telemetry: {metrics: {enabled: true}}\n", false},
		{"metrics_access_log", "telemetry: {metrics: {enabled: true}, access_log: {enabled: true}}\n", false},
		{"all_sampled", "telemetry: {metrics: {enabled: true}, access_log: {enabled: true}, tracing: {enabled: true, sample_ratio: 1}}\n", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg, err := config.Parse("bench.yaml", []byte(bc.yaml))
			if err != nil {
				b.Fatal(err)
			}
			bsp := sdktrace.NewBatchSpanProcessor(discardExporter{})
			defer bsp.Shutdown(context.Background()) // also when tracing is off
			testSpanProcessor, testAccessLogOut = bsp, io.Discard
			defer func() { testSpanProcessor, testAccessLogOut = nil, nil }()
			tel, err := newTelemetry(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			defer tel.close()
			bt := &Built{tel: tel, cfg: cfg}
			epf := bt.telemetryFilters(gateway.FilterSpec{Scope: "cluster users", Cluster: "users", Endpoint: "10.0.0.1:8002"})
			rf := bt.telemetryFilters(gateway.FilterSpec{Scope: "route r", Route: "GET /v1/users/{id}", Cluster: "users"})
			if (bc.name == "bare" || bc.name == "tracing_off") && len(epf)+len(rf) != 0 {
				b.Fatalf("%d filters installed with telemetry off", len(epf)+len(rf))
			}
			inv := gateway.Chain(&benchCluster{ep: gateway.Chain(benchUpstream{}, epf...)}, rf...)
			var meta [4]motan2.MetaPair
			args := []motan2.Value{motan2.String("42"), motan2.Int64(7)}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuNow()
			for range b.N {
				call := gateway.Call{Service: "com.example.UserService", Method: "get", Args: args, RequestID: "8f14e45fceea167a",
					Meta: append(meta[:0], motan2.MetaPair{Key: "X-Request-Id", Value: "8f14e45fceea167a"})}
				var reply gateway.Reply
				if err := inv.Invoke(ctx, &call, &reply); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuNow()-cpu0)/float64(b.N), "cpu-ns/op")
			if al := tel.tracing.access; al != nil {
				// Lines the writer could not keep up with (dropped lines
				// cost less than written ones).
				b.ReportMetric(float64(al.Dropped())/float64(b.N), "dropped/op")
			}
		})
	}
}
