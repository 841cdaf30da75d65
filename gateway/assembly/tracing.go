package assembly

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/telemetry/accesslog"
	"github.com/meshgate/meshgate/gateway/telemetry/tracing"
)

// Test hooks (set before Start, see tracing_export_test.go): a span
// processor used instead of the OTLP exporter, and an access-log output
// used instead of the configured one.
var (
	testSpanProcessor sdktrace.SpanProcessor
	testAccessLogOut  io.Writer
)

// tracingState is the process-wide tracing and access-log state (nil:
// both off). The tracer and the access log's writer outlive generations;
// what each generation's filters do (sampling, format) is read from the
// configuration in force when they are built.
type tracingState struct {
	log *slog.Logger

	mu      sync.Mutex
	tracer  *tracing.Tracer   // nil until tracing is first enabled
	tcfg    *config.Tracing   // the exporter settings tracer was started with
	tOn     bool              // install tracing filters in the next generation
	access  *accesslog.Log    // nil until the access log is first enabled
	acfg    *config.AccessLog // the output settings access was started with
	aOn     bool
	aFilter accesslog.FilterOptions // route-independent filter options
}

func newTracingState(cfg *config.Config, log *slog.Logger) (*tracingState, error) {
	t := &tracingState{log: log}
	if err := t.reconfigure(cfg); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// reconfigure applies cfg's tracing and access-log sections: either may
// be turned on or off, and the sample ratios, service-independent
// options and the access-log format change at once; changing where spans
// or lines go (exporter, endpoint, output, rotation) needs a restart.
func (t *tracingState) reconfigure(cfg *config.Config) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	tc, ac := cfg.Telemetry.Tracing, cfg.Telemetry.AccessLog
	if tc.On() {
		if t.tracer == nil {
			tr, err := t.startTracer(tc)
			if err != nil {
				return err
			}
			t.tracer, t.tcfg = tr, tc
		} else if diff := exporterChange(t.tcfg, tc); diff != "" {
			return fmt.Errorf("telemetry.tracing.%s changed: restart meshgate to apply it", diff)
		}
		t.tracer.SetSampleRatio(tc.Ratio())
	}
	if ac.On() {
		if t.access == nil {
			l, err := t.startAccessLog(ac)
			if err != nil {
				return err
			}
			t.access, t.acfg = l, ac
		} else if diff := outputChange(t.acfg, ac); diff != "" {
			return fmt.Errorf("telemetry.access_log.%s changed: restart meshgate to apply it", diff)
		}
		t.aFilter = accesslog.FilterOptions{Format: accesslog.JSON, SampleRatio: ac.Ratio(), ErrorsAlways: ac.LogErrors()}
		if ac.Format == config.AccessLogLogfmt {
			t.aFilter.Format = accesslog.Logfmt
		}
	}
	t.tOn, t.aOn = tc.On(), ac.On()
	return nil
}

func (t *tracingState) startTracer(tc *config.Tracing) (*tracing.Tracer, error) {
	o := tracing.Options{ServiceName: tc.ServiceName, SampleRatio: tc.Ratio(), QueueSize: tc.QueueSize,
		Processor: testSpanProcessor}
	if o.Processor == nil {
		eo := tracing.ExporterOptions{HTTP: tc.Exporter == config.ExporterOTLPHTTP, Endpoint: tc.Endpoint,
			URLPath: tc.URLPath, Insecure: tc.Insecure, Headers: tc.Headers, Timeout: tc.Timeout,
			Gzip: tc.Compression == "gzip"}
		if tc.CAFile != "" {
			pem, err := os.ReadFile(tc.CAFile)
			if err != nil {
				return nil, fmt.Errorf("telemetry.tracing.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("telemetry.tracing.ca_file: %s holds no PEM certificate", tc.CAFile)
			}
			eo.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		exp, err := tracing.NewExporter(context.Background(), eo)
		if err != nil {
			return nil, fmt.Errorf("telemetry.tracing: %w", err)
		}
		o.Exporter = exp
	}
	t.log.Info("tracing on", "exporter", tc.Exporter, "endpoint", tc.Endpoint, "sample_ratio", tc.Ratio())
	return tracing.New(o), nil
}

func (t *tracingState) startAccessLog(ac *config.AccessLog) (*accesslog.Log, error) {
	var out io.Writer
	switch {
	case testAccessLogOut != nil:
		out = accesslog.NopCloser(testAccessLogOut)
	case ac.Output == config.AccessLogStdout:
		out = accesslog.NopCloser(os.Stdout)
	case ac.Output == "stderr":
		out = accesslog.NopCloser(os.Stderr)
	default:
		backups := ac.MaxBackups
		f, err := accesslog.OpenRotating(ac.Output, int64(ac.MaxSizeMB)<<20, backups)
		if err != nil {
			return nil, fmt.Errorf("telemetry.access_log.output: %w", err)
		}
		out = f
	}
	return accesslog.New(out, accesslog.Options{Buffer: ac.Buffer, Logger: t.log.With("component", "access_log")}), nil
}

// exporterChange names the first exporter setting that differs.
func exporterChange(a, b *config.Tracing) string {
	return firstChanged(a, b, "service_name", "exporter", "endpoint", "url_path", "insecure", "ca_file",
		"headers", "timeout", "compression", "queue_size")
}

// outputChange names the first access-log output setting that differs.
func outputChange(a, b *config.AccessLog) string {
	return firstChanged(a, b, "output", "max_size_mb", "max_backups", "buffer")
}

// close flushes the spans and lines not yet written and stops the
// exporter and the writer.
func (t *tracingState) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tracer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := t.tracer.Shutdown(ctx); err != nil {
			t.log.Warn("tracing: spans not exported at shutdown", "error", err)
		}
		cancel()
		t.tracer = nil
	}
	if t.access != nil {
		if err := t.access.Close(); err != nil {
			t.log.Warn("access log: close", "error", err)
		}
		t.access = nil
	}
}

// filters appends the tracing and access-log filters of a chain to fs:
// on a route's chain the SERVER span then the access log, on an
// endpoint's chain the CLIENT span of each attempt. Nothing when both are
// off.
func (t *tracingState) filters(spec gateway.FilterSpec, fs []gateway.Filter) []gateway.Filter {
	if t == nil {
		return fs
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case spec.Endpoint != "":
		if t.tOn {
			fs = append(fs, t.tracer.EndpointFilter(spec.Cluster, spec.Endpoint))
		}
	case spec.Route != "":
		if t.tOn {
			fs = append(fs, t.tracer.RouteFilter(spec.Route, spec.Cluster))
		}
		if t.aOn {
			o := t.aFilter
			o.Route = spec.Route
			fs = append(fs, t.access.Filter(o))
		}
	}
	return fs
}
