package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// Tracing exporters (Tracing.Exporter).
const (
	// ExporterOTLPGRPC sends spans with OTLP over gRPC (default).
	ExporterOTLPGRPC = "otlp-grpc"
	// ExporterOTLPHTTP sends spans with OTLP over HTTP (protobuf body).
	ExporterOTLPHTTP = "otlp-http"
)

// Access log formats (AccessLog.Format).
const (
	// AccessLogJSON writes one JSON object per line (default).
	AccessLogJSON = "json"
	// AccessLogLogfmt writes key=value pairs, one line per request.
	AccessLogLogfmt = "logfmt"
)

// AccessLogStdout is the AccessLog.Output that writes to standard output
// (default); "stderr" writes to standard error; anything else is a file.
const AccessLogStdout = "stdout"

// Tracing configures OpenTelemetry tracing (docs/telemetry.md): a server
// span per ingress request, a client span per upstream attempt, W3C trace
// context read from and written to HTTP headers, gRPC metadata and Motan2
// meta. Absent or enabled: false, no tracing filter is installed at all.
type Tracing struct {
	// Enabled turns tracing on.
	Enabled bool `yaml:"enabled"`
	// ServiceName is the service.name resource attribute (default
	// "meshgate").
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the fraction of new traces recorded, 0 to 1 (default
	// 1). Sampling is parent-based: a request whose caller sent a sampled
	// (or unsampled) trace context follows the caller's decision.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// Exporter is otlp-grpc (default) or otlp-http.
	Exporter string `yaml:"exporter"`
	// Endpoint is the collector's host:port (default 127.0.0.1:4317 for
	// otlp-grpc, 127.0.0.1:4318 for otlp-http).
	Endpoint string `yaml:"endpoint"`
	// URLPath is the otlp-http exporter's path (default /v1/traces).
	URLPath string `yaml:"url_path"`
	// Insecure sends without TLS; otherwise TLS with the system roots, or
	// CAFile's.
	Insecure bool `yaml:"insecure"`
	// CAFile is a PEM file of roots that verify the collector (relative
	// to the configuration file).
	CAFile string `yaml:"ca_file"`
	// Headers are sent with every export (authentication tokens).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one export (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// Compression is gzip or none (default none).
	Compression string `yaml:"compression"`
	// QueueSize bounds the spans waiting for export; beyond it spans are
	// dropped, never waited for (default 2048).
	QueueSize int `yaml:"queue_size"`
}

// Ratio returns the sample ratio (1 when unset).
func (t *Tracing) Ratio() float64 {
	if t == nil || t.SampleRatio == nil {
		return 1
	}
	return *t.SampleRatio
}

// On reports whether tracing is configured and enabled.
func (t *Tracing) On() bool { return t != nil && t.Enabled }

// AccessLog configures the access log (docs/telemetry.md): one line per
// request, formatted on the request's goroutine into a pooled buffer and
// written by one writer goroutine; a full buffer drops lines (counted)
// rather than slow requests down.
type AccessLog struct {
	// Enabled turns the access log on.
	Enabled bool `yaml:"enabled"`
	// Format is json (default) or logfmt.
	Format string `yaml:"format"`
	// Output is stdout (default), stderr or a file path (relative to the
	// configuration file), rotated by size.
	Output string `yaml:"output"`
	// SampleRatio is the fraction of successful requests logged, 0 to 1
	// (default 1).
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ErrorsAlways logs every failed request whatever SampleRatio says
	// (default true).
	ErrorsAlways *bool `yaml:"errors_always"`
	// MaxSizeMB rotates a file output when it would grow beyond this many
	// MiB (default 100).
	MaxSizeMB int `yaml:"max_size_mb"`
	// MaxBackups is how many rotated files (PATH.1 newest ... PATH.N) are
	// kept (default 5; 0 keeps the default, negative keeps none).
	MaxBackups int `yaml:"max_backups"`
	// Buffer is how many lines may wait for the writer (default 8192).
	Buffer int `yaml:"buffer"`
}

// Ratio returns the sample ratio (1 when unset).
func (a *AccessLog) Ratio() float64 {
	if a == nil || a.SampleRatio == nil {
		return 1
	}
	return *a.SampleRatio
}

// On reports whether the access log is configured and enabled.
func (a *AccessLog) On() bool { return a != nil && a.Enabled }

// LogErrors reports whether failed requests are always logged.
func (a *AccessLog) LogErrors() bool { return a == nil || a.ErrorsAlways == nil || *a.ErrorsAlways }

// applyTracingDefaults fills the tracing and access-log defaults.
func (c *Config) applyTracingDefaults() {
	if t := c.Telemetry.Tracing; t != nil {
		t.ServiceName = orDefault(t.ServiceName, "meshgate")
		t.Exporter = orDefault(t.Exporter, ExporterOTLPGRPC)
		if t.Exporter == ExporterOTLPHTTP {
			t.Endpoint = orDefault(t.Endpoint, "127.0.0.1:4318")
			t.URLPath = orDefault(t.URLPath, "/v1/traces")
		} else {
			t.Endpoint = orDefault(t.Endpoint, "127.0.0.1:4317")
		}
		t.Timeout = orDefaultDur(t.Timeout, 10*time.Second)
		t.Compression = orDefault(t.Compression, "none")
		t.QueueSize = orDefaultInt(t.QueueSize, 2048)
		t.CAFile = c.path(t.CAFile)
	}
	if a := c.Telemetry.AccessLog; a != nil {
		a.Format = orDefault(a.Format, AccessLogJSON)
		a.Output = orDefault(a.Output, AccessLogStdout)
		if a.Output != AccessLogStdout && a.Output != "stderr" {
			a.Output = c.path(a.Output)
		}
		a.MaxSizeMB = orDefaultInt(a.MaxSizeMB, 100)
		a.MaxBackups = orDefaultInt(a.MaxBackups, 5)
		a.Buffer = orDefaultInt(a.Buffer, 8192)
	}
}

// validateTracing checks telemetry.tracing and telemetry.access_log.
func (c *Config) validateTracing(v *validator) {
	ratio := func(path []any, r *float64) {
		if r != nil && !(*r >= 0 && *r <= 1) {
			v.addf(path, "must be between 0 and 1, got %v", *r)
		}
	}
	if t := c.Telemetry.Tracing; t != nil {
		at := func(k string) []any { return p("telemetry", "tracing", k) }
		ratio(at("sample_ratio"), t.SampleRatio)
		switch t.Exporter {
		case ExporterOTLPGRPC, ExporterOTLPHTTP:
		default:
			v.addf(at("exporter"), "unknown exporter %q (otlp-grpc, otlp-http)", t.Exporter)
		}
		if _, _, err := net.SplitHostPort(t.Endpoint); err != nil {
			v.addf(at("endpoint"), "%q is not a host:port address: %v", t.Endpoint, err)
		}
		if t.Exporter == ExporterOTLPHTTP {
			if u, err := url.Parse(t.URLPath); err != nil || !strings.HasPrefix(t.URLPath, "/") || u.Path != t.URLPath {
				v.addf(at("url_path"), "%q is not an absolute URL path", t.URLPath)
			}
		} else if t.URLPath != "" {
			v.addf(at("url_path"), "applies to the otlp-http exporter only")
		}
		if t.Insecure && t.CAFile != "" {
			v.addf(at("ca_file"), "set with insecure: true: choose one")
		}
		if t.Timeout < 0 {
			v.addf(at("timeout"), "must be positive, got %v", t.Timeout)
		}
		switch t.Compression {
		case "gzip", "none":
		default:
			v.addf(at("compression"), "unknown compression %q (gzip, none)", t.Compression)
		}
		if t.QueueSize < 0 {
			v.addf(at("queue_size"), "must be positive, got %d", t.QueueSize)
		}
		for k, val := range t.Headers {
			if k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(val, "\r\n") {
				v.addf(p("telemetry", "tracing", "headers", k), "invalid header %q: %q", k, val)
			}
		}
	}
	if a := c.Telemetry.AccessLog; a != nil {
		at := func(k string) []any { return p("telemetry", "access_log", k) }
		switch a.Format {
		case AccessLogJSON, AccessLogLogfmt:
		default:
			v.addf(at("format"), "unknown format %q (json, logfmt)", a.Format)
		}
		ratio(at("sample_ratio"), a.SampleRatio)
		if a.MaxSizeMB < 0 {
			v.addf(at("max_size_mb"), "must be positive, got %d", a.MaxSizeMB)
		}
		if a.Buffer < 0 {
			v.addf(at("buffer"), "must be positive, got %d", a.Buffer)
		}
	}
}
