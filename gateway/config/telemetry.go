package config

// Telemetry configures observability (docs/telemetry.md): metrics with
// their Prometheus endpoint and Graphite reporter, tracing and the access
// log. It is process-wide: its state (counters, exporters, open files)
// outlives configuration generations.
type Telemetry struct {
	// Metrics configures the metrics (metrics.go).
	Metrics *Metrics `yaml:"metrics"`
	// Graphite pushes per service/method numbers to a carbon server.
	Graphite *Graphite `yaml:"graphite"`
	// Tracing configures OpenTelemetry tracing (tracing.go).
	Tracing *Tracing `yaml:"tracing"`
	// AccessLog writes one line per request.
	AccessLog *AccessLog `yaml:"access_log"`
}
