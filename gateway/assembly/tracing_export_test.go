package assembly

import (
	"io"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SetTelemetryHooks makes the gateways started next send their spans to
// p instead of the configured OTLP exporter and, when out is not nil,
// their access-log lines to out instead of the configured output. The
// returned function restores the configured behaviour. Not for parallel
// tests.
func SetTelemetryHooks(p sdktrace.SpanProcessor, out io.Writer) (restore func()) {
	testSpanProcessor, testAccessLogOut = p, out
	return func() { testSpanProcessor, testAccessLogOut = nil, nil }
}
