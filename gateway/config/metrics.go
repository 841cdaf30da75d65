package config

// Metrics configures metrics collection.
type Metrics struct{}

// Graphite configures the Graphite reporter.
type Graphite struct{}
