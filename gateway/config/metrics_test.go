package config

import (
	"strings"
	"testing"
	"time"
)

func TestMetricsDefaults(t *testing.T) {
	cfg, err := Parse("m.yaml", []byte("http: {listen: 127.0.0.1:0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Telemetry.Metrics.On() || !cfg.Telemetry.Metrics.ProcessOn() || cfg.Telemetry.Graphite != nil {
		t.Fatalf("absent section: metrics %+v graphite %+v", cfg.Telemetry.Metrics, cfg.Telemetry.Graphite)
	}
	cfg, err = Parse("m.yaml", []byte("telemetry:\n  metrics: {}\n  graphite: {address: 127.0.0.1:2003}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, g := cfg.Telemetry.Metrics, cfg.Telemetry.Graphite
	if !m.On() || m.Window != time.Minute || m.MaxMethodsPerRoute != 100 {
		t.Errorf("metrics defaults: %+v", m)
	}
	if g.Protocol != "tcp" || g.Interval != 10*time.Second || g.Prefix != "meshgate" || g.Timeout != 5*time.Second {
		t.Errorf("graphite defaults: %+v", g)
	}
	cfg, err = Parse("m.yaml", []byte("telemetry: {metrics: {enabled: false, process: false}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Telemetry.Metrics.On() || cfg.Telemetry.Metrics.ProcessOn() {
		t.Errorf("enabled: false: %+v", cfg.Telemetry.Metrics)
	}
}

func TestMetricsErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want string
	}{
		"window":      {"telemetry:\n  metrics:\n    window: 1s\n", "m.yaml:3: telemetry.metrics.window: must be between 10s and 10m"},
		"methods":     {"telemetry:\n  metrics:\n    max_methods_per_route: -1\n", "m.yaml:3: telemetry.metrics.max_methods_per_route: must be at least 1"},
		"buckets":     {"telemetry:\n  metrics:\n    buckets: [0.1, 0.05]\n", "telemetry.metrics.buckets[1]: bucket bounds must be positive and increasing"},
		"unknown key": {"telemetry:\n  metrics:\n    windw: 1m\n", "m.yaml:3: field windw not found"},
		"no address":  {"telemetry:\n  graphite:\n    prefix: x\n", "telemetry.graphite.address: the carbon receiver's host:port is required"},
		"bad address": {"telemetry:\n  graphite:\n    address: carbon\n", `m.yaml:3: telemetry.graphite.address: "carbon" is not a host:port address`},
		"protocol":    {"telemetry:\n  graphite: {address: 127.0.0.1:2003, protocol: sctp}\n", `telemetry.graphite.protocol: unknown protocol "sctp" (tcp, udp)`},
		"interval":    {"telemetry:\n  graphite: {address: 127.0.0.1:2003, interval: 1500ms}\n", "telemetry.graphite.interval: must be a whole number of seconds"},
		"prefix":      {"telemetry:\n  graphite: {address: 127.0.0.1:2003, prefix: a..b}\n", `telemetry.graphite.prefix: "a..b" is not a Graphite path prefix`},
		"metrics off": {"telemetry:\n  metrics: {enabled: false}\n  graphite: {address: 127.0.0.1:2003}\n", "telemetry.graphite: needs metrics on"},
		"neg timeout": {"telemetry:\n  graphite: {address: 127.0.0.1:2003, timeout: -1s}\n", "telemetry.graphite.timeout: must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
