package config

import (
	"net"
	"strings"
	"time"
)

// Metrics configures metrics collection (docs/telemetry.md): per route,
// service method and endpoint counters, latency histograms and
// last-minute statistics, served in Prometheus format at /metrics on the
// management listener and on the status page. Metrics are on unless
// enabled: false.
type Metrics struct {
	// Enabled turns metrics on (default true: absent section included).
	Enabled *bool `yaml:"enabled"`
	// Window is the span of the sliding statistics (the status page's
	// "last minute", the quantile and success-rate gauges): default 1m,
	// between 10s and 10m.
	Window time.Duration `yaml:"window"`
	// MaxMethodsPerRoute bounds the (service, method) label pairs one
	// route may create; calls of further methods are counted under
	// service and method "_other_" (default 100).
	MaxMethodsPerRoute int `yaml:"max_methods_per_route"`
	// Buckets are the latency histograms' bucket upper bounds in seconds,
	// increasing (default metrics.DefaultBuckets: 0.0005 0.001 0.0025
	// 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30).
	Buckets []float64 `yaml:"buckets"`
	// Process exports Go runtime and process metrics (go_*, process_*)
	// (default true).
	Process *bool `yaml:"process"`
}

// On reports whether metrics are on: an absent section or enabled unset
// means on.
func (m *Metrics) On() bool { return m == nil || m.Enabled == nil || *m.Enabled }

// ProcessOn reports whether process and runtime metrics are exported.
func (m *Metrics) ProcessOn() bool { return m == nil || m.Process == nil || *m.Process }

// Graphite protocols (Graphite.Protocol).
const (
	GraphiteTCP = "tcp"
	GraphiteUDP = "udp"
)

// Graphite configures the Graphite reporter (docs/telemetry.md): every
// interval it sends, per upstream service and method, the QPS, average
// latency, success rate and p999 of the interval in the plaintext
// protocol ("PREFIX.SERVICE.METHOD.METRIC VALUE TIMESTAMP"), as the Weibo
// motan agent does. Absent: no reporter. It needs metrics on.
type Graphite struct {
	// Address is the carbon receiver's host:port (required; carbon's
	// plaintext port is 2003).
	Address string `yaml:"address"`
	// Protocol is tcp (default) or udp.
	Protocol string `yaml:"protocol"`
	// Interval is how often numbers are sent, a whole number of seconds
	// from 1s to 10m (default 10s). Each report covers the metrics
	// window's periods that ended since the previous report: exactly the
	// interval when it is shorter than the window's period (Window/6, which
	// then shrinks to it) or a multiple of it.
	Interval time.Duration `yaml:"interval"`
	// Prefix starts every metric path (default "meshgate"); dots separate
	// path nodes. "{host}" in it is replaced by the host name (dots turned
	// into underscores).
	Prefix string `yaml:"prefix"`
	// Timeout bounds a connection attempt and a write (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

// applyMetricsDefaults fills the metrics and Graphite defaults.
func (c *Config) applyMetricsDefaults() {
	if m := c.Telemetry.Metrics; m != nil {
		m.Window = orDefaultDur(m.Window, time.Minute)
		m.MaxMethodsPerRoute = orDefaultInt(m.MaxMethodsPerRoute, 100)
	}
	if g := c.Telemetry.Graphite; g != nil {
		g.Protocol = orDefault(g.Protocol, GraphiteTCP)
		g.Interval = orDefaultDur(g.Interval, 10*time.Second)
		g.Prefix = orDefault(g.Prefix, "meshgate")
		g.Timeout = orDefaultDur(g.Timeout, 5*time.Second)
	}
}

// validateMetrics checks telemetry.metrics and telemetry.graphite.
func (c *Config) validateMetrics(v *validator) {
	if m := c.Telemetry.Metrics; m != nil {
		at := func(k string) []any { return p("telemetry", "metrics", k) }
		if m.Window < 10*time.Second || m.Window > 10*time.Minute {
			v.addf(at("window"), "must be between 10s and 10m, got %v", m.Window)
		}
		if m.MaxMethodsPerRoute < 1 {
			v.addf(at("max_methods_per_route"), "must be at least 1, got %d", m.MaxMethodsPerRoute)
		}
		for i, b := range m.Buckets {
			if !(b > 0) || (i > 0 && b <= m.Buckets[i-1]) {
				v.addf(p("telemetry", "metrics", "buckets", i), "bucket bounds must be positive and increasing, got %v", b)
				break
			}
		}
	}
	g := c.Telemetry.Graphite
	if g == nil {
		return
	}
	at := func(k string) []any { return p("telemetry", "graphite", k) }
	if !c.Telemetry.Metrics.On() {
		v.addf(p("telemetry", "graphite"), "needs metrics on (telemetry.metrics.enabled is false)")
	}
	if g.Address == "" {
		v.addf(at("address"), "the carbon receiver's host:port is required (carbon's plaintext port is 2003)")
	} else if _, port, err := net.SplitHostPort(g.Address); err != nil || port == "" {
		v.addf(at("address"), "%q is not a host:port address", g.Address)
	}
	switch g.Protocol {
	case GraphiteTCP, GraphiteUDP:
	default:
		v.addf(at("protocol"), "unknown protocol %q (tcp, udp)", g.Protocol)
	}
	if g.Interval < time.Second || g.Interval > 10*time.Minute || g.Interval%time.Second != 0 {
		v.addf(at("interval"), "must be a whole number of seconds from 1s to 10m, got %v", g.Interval)
	}
	if g.Timeout <= 0 {
		v.addf(at("timeout"), "must be positive, got %v", g.Timeout)
	}
	if g.Prefix == "" || strings.ContainsAny(g.Prefix, " \t\r\n") || strings.HasPrefix(g.Prefix, ".") || strings.HasSuffix(g.Prefix, ".") || strings.Contains(g.Prefix, "..") {
		v.addf(at("prefix"), "%q is not a Graphite path prefix (dot-separated nodes, no spaces)", g.Prefix)
	}
}
