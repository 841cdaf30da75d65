package tracing

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp-grpc exporter's gzip compressor
)

// ExporterOptions describe an OTLP exporter.
type ExporterOptions struct {
	// HTTP selects OTLP over HTTP (protobuf); otherwise OTLP over gRPC.
	HTTP bool
	// Endpoint is the collector's host:port.
	Endpoint string
	// URLPath is the HTTP exporter's path (default /v1/traces).
	URLPath string
	// Insecure sends in plain text; otherwise TLS is used, with TLS as its
	// configuration (nil: the system roots).
	Insecure bool
	TLS      *tls.Config
	// Headers go with every export.
	Headers map[string]string
	// Timeout bounds one export (retries included).
	Timeout time.Duration
	// Gzip compresses the exports.
	Gzip bool
}

// NewExporter returns an OTLP span exporter. It does not connect: the
// first export does, so a collector that is down costs dropped spans,
// never a failed start.
func NewExporter(ctx context.Context, o ExporterOptions) (sdktrace.SpanExporter, error) {
	if o.HTTP {
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(o.Endpoint)}
		if o.URLPath != "" {
			opts = append(opts, otlptracehttp.WithURLPath(o.URLPath))
		}
		if o.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		} else if o.TLS != nil {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(o.TLS))
		}
		if len(o.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(o.Headers))
		}
		if o.Timeout > 0 {
			opts = append(opts, otlptracehttp.WithTimeout(o.Timeout))
		}
		if o.Gzip {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp-http exporter to %s: %w", o.Endpoint, err)
		}
		return exp, nil
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(o.Endpoint)}
	if o.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	} else {
		cfg := o.TLS
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(cfg)))
	}
	if len(o.Headers) > 0 {
		opts = append(opts, otlptracegrpc.WithHeaders(o.Headers))
	}
	if o.Timeout > 0 {
		opts = append(opts, otlptracegrpc.WithTimeout(o.Timeout))
	}
	if o.Gzip {
		opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp-grpc exporter to %s: %w", o.Endpoint, err)
	}
	return exp, nil
}
