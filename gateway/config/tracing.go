package config

// Tracing configures OpenTelemetry tracing.
type Tracing struct{}

// AccessLog configures the access log.
type AccessLog struct{}
