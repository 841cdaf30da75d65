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
	"github.com/meshgate/meshgate/gateway/ingress"
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

// tracingState is the process-wide tracing and access-log state. The
// tracer (exporter) and the access log's writer outlive generations; what
// each generation's filters do (on or off, sampling, format) is read from
// that generation's own configuration when they are built (filters), so
// that a reload that fails to build changes nothing, and endpoint chains
// built later for an older generation follow its configuration.
type tracingState struct {
	log *slog.Logger

	mu     sync.Mutex
	tracer *tracing.Tracer   // nil until tracing is first enabled
	tcfg   *config.Tracing   // the exporter settings tracer was started with
	access *accesslog.Log    // nil until the access log is first enabled
	acfg   *config.AccessLog // the output settings access was started with
}

func newTracingState(cfg *config.Config, log *slog.Logger) (*tracingState, error) {
	t := &tracingState{log: log}
	if err := t.reconfigure(cfg); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// reconfigure prepares for cfg's tracing and access-log sections, before
// the generation is built: it starts the tracer or the access log the
// first time one is enabled, and refuses a change of where spans or lines
// go (exporter, endpoint, output, rotation), which needs a restart. What
// the filters do (on or off, sample ratios, format) is not state here:
// filters reads it from the configuration of the generation it builds.
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
	}
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

// rejections is the access log's writer of requests answered before a
// route chain, for a generation configured by tel; nil when its access
// log is off.
func (t *tracingState) rejections(tel *config.Telemetry) ingress.Rejections {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ac := tel.AccessLog
	if !ac.On() || t.access == nil {
		return nil
	}
	o := accesslog.FilterOptions{Format: accesslog.JSON, SampleRatio: ac.Ratio(), ErrorsAlways: ac.LogErrors()}
	if ac.Format == config.AccessLogLogfmt {
		o.Format = accesslog.Logfmt
	}
	return t.access.Rejected(o)
}

// filters appends the tracing and access-log filters of a chain of a
// generation configured by tel to fs: on a route's chain the SERVER span
// (sampling new traces at tel's ratio) then the access log, on an
// endpoint's chain the CLIENT span of each attempt. Nothing when both are
// off in tel.
func (t *tracingState) filters(spec gateway.FilterSpec, tel *config.Telemetry, fs []gateway.Filter) []gateway.Filter {
	if t == nil {
		return fs
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// reconfigure started what tel enables before the generation was
	// built; the nil checks only guard a configuration it never saw.
	tc, ac := tel.Tracing, tel.AccessLog
	tOn, aOn := tc.On() && t.tracer != nil, ac.On() && t.access != nil
	switch {
	case spec.Endpoint != "":
		if tOn {
			fs = append(fs, t.tracer.WithSampleRatio(tc.Ratio()).EndpointFilter(spec.Cluster, spec.Endpoint))
		}
	case spec.Route != "":
		if tOn {
			fs = append(fs, t.tracer.WithSampleRatio(tc.Ratio()).RouteFilter(spec.Route, spec.Cluster))
		}
		if aOn {
			o := accesslog.FilterOptions{Route: spec.Route, Format: accesslog.JSON, SampleRatio: ac.Ratio(), ErrorsAlways: ac.LogErrors()}
			if ac.Format == config.AccessLogLogfmt {
				o.Format = accesslog.Logfmt
			}
			fs = append(fs, t.access.Filter(o))
		}
	}
	return fs
}
