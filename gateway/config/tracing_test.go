package config

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTracingAndAccessLogDefaults(t *testing.T) {
	c, err := Parse(filepath.Join("/etc/meshgate", "gw.yaml"), []byte(good+`
telemetry:
  tracing: {enabled: true}
  access_log: {enabled: true, output: logs/access.log}
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, al := c.Telemetry.Tracing, c.Telemetry.AccessLog
	if !tr.On() || tr.ServiceName != "meshgate" || tr.Exporter != ExporterOTLPGRPC || tr.Endpoint != "127.0.0.1:4317" ||
		tr.Ratio() != 1 || tr.Timeout != 10*time.Second || tr.Compression != "none" || tr.QueueSize != 2048 {
		t.Errorf("tracing defaults: %+v", tr)
	}
	if !al.On() || al.Format != AccessLogJSON || al.Output != "/etc/meshgate/logs/access.log" || al.Ratio() != 1 ||
		!al.LogErrors() || al.MaxSizeMB != 100 || al.MaxBackups != 5 || al.Buffer != 8192 {
		t.Errorf("access log defaults: %+v", al)
	}
	c, err = Parse("gw.yaml", []byte(good+`
telemetry:
  tracing: {enabled: true, exporter: otlp-http, sample_ratio: 0, insecure: true, headers: {authorization: "Bearer x"}}
  access_log: {enabled: false, errors_always: false, format: logfmt}
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, al = c.Telemetry.Tracing, c.Telemetry.AccessLog
	if tr.Endpoint != "127.0.0.1:4318" || tr.URLPath != "/v1/traces" || tr.Ratio() != 0 {
		t.Errorf("otlp-http defaults: %+v", tr)
	}
	if al.On() || al.LogErrors() || al.Output != AccessLogStdout {
		t.Errorf("access log: %+v", al)
	}
	c, err = Parse("gw.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Telemetry.Tracing.On() || c.Telemetry.AccessLog.On() {
		t.Error("absent sections are on")
	}
}

func TestTracingAndAccessLogErrors(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(good+`telemetry:
  tracing:
    enabled: true
    sample_ratio: 1.5
    exporter: zipkin
    endpoint: nohostport
    url_path: /x
    insecure: true
    ca_file: ca.pem
    timeout: -1s
    compression: zstd
    queue_size: -1
    headers: {"bad key": v}
  access_log:
    enabled: true
    format: xml
    sample_ratio: -0.1
    max_size_mb: -1
    buffer: -5
`))
	if err == nil {
		t.Fatal("accepted")
	}
	n := strings.Count(good, "\n")
	line := func(l int) string { return "bad.yaml:" + strconv.Itoa(n+l) + ": " }
	for _, w := range []string{
		line(4) + "telemetry.tracing.sample_ratio: must be between 0 and 1, got 1.5",
		line(5) + `telemetry.tracing.exporter: unknown exporter "zipkin" (otlp-grpc, otlp-http)`,
		line(6) + `telemetry.tracing.endpoint: "nohostport" is not a host:port address`,
		line(7) + "telemetry.tracing.url_path: applies to the otlp-http exporter only",
		line(9) + "telemetry.tracing.ca_file: set with insecure: true",
		line(10) + "telemetry.tracing.timeout: must be positive",
		line(11) + `telemetry.tracing.compression: unknown compression "zstd"`,
		line(12) + "telemetry.tracing.queue_size: must be positive",
		line(13) + `telemetry.tracing.headers.bad key: invalid header`,
		line(16) + `telemetry.access_log.format: unknown format "xml" (json, logfmt)`,
		line(17) + "telemetry.access_log.sample_ratio: must be between 0 and 1, got -0.1",
		line(18) + "telemetry.access_log.max_size_mb: must be positive",
		line(19) + "telemetry.access_log.buffer: must be positive",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if _, err := Parse("bad.yaml", []byte(good+"telemetry:\n  access_log: {enabled: true, rotate: daily}\n")); err == nil ||
		!strings.Contains(err.Error(), "field rotate not found") {
		t.Errorf("unknown key: %v", err)
	}
}
