package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Endpoint is one configured endpoint: an address, with the labels load
// balancing reads. In YAML it is a string ("host:port") or a map.
type Endpoint struct {
	Addr string `yaml:"addr"`
	// Weight is the endpoint's share for weighted policies (default 100).
	Weight int `yaml:"weight"`
	// DC is the data-centre label.
	DC string `yaml:"dc"`
	// Group is the group label (traffic splits between groups).
	Group string `yaml:"group"`
}

// UnmarshalYAML accepts a plain address or a map.
func (e *Endpoint) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Addr = n.Value
		return nil
	}
	type plain Endpoint
	return n.Decode((*plain)(e))
}

// BackupRequests configures backup (hedged) requests of a cluster's
// idempotent calls.
type BackupRequests struct {
	// Percentile of the method's recent latency after which the backup
	// is sent (default 0.9).
	Percentile float64 `yaml:"percentile"`
	// Ratio caps backups at this fraction of the calls (default 0.05).
	Ratio float64 `yaml:"ratio"`
	// MinDelay and MaxDelay clamp the delay (default 1ms, none).
	MinDelay time.Duration `yaml:"min_delay"`
	MaxDelay time.Duration `yaml:"max_delay"`
	// MinSamples is how many calls of a method are needed before backups
	// start for it (default 50).
	MinSamples int `yaml:"min_samples"`
}

// CallPolicy is what a route's target says of how its calls may be sent.
type CallPolicy struct {
	// Idempotent lets the cluster send a call again after an attempt that
	// may have reached an endpoint: failover (retries) and backup
	// requests. Calls that never left are failed over in any case.
	Idempotent bool `yaml:"idempotent"`
	// HashKey is the consistent_hash policy's key: "header:NAME" (an HTTP
	// header, gRPC metadata or Motan2 meta key), "path:NAME" or
	// "query:NAME" (HTTP routes) or "arg:NAME" (a bound argument of an
	// HTTP route).
	HashKey string `yaml:"hash_key"`
}

// LBPolicies are the load-balancing policies config accepts (the lb
// package registers the same names).
var LBPolicies = []string{"round_robin", "random", "weighted_round_robin", "least_active", "consistent_hash"}

// RetryCodes are the retry_on names, as translate.Code names them in
// lower case.
var RetryCodes = []string{"unavailable", "deadline_exceeded", "internal", "unknown", "resource_exhausted", "aborted"}

func (v *validator) validateHA(at func(...any) []any, cl *Cluster) {
	known := false
	for _, p := range LBPolicies {
		known = known || p == cl.LB
	}
	if !known {
		v.addf(at("lb"), "unknown load balancer %q (%s)", cl.LB, strings.Join(LBPolicies, ", "))
	}
	if cl.Retries < 0 || cl.Retries > 10 {
		v.addf(at("retries"), "must be between 0 and 10, got %d", cl.Retries)
	}
	for j, c := range cl.RetryOn {
		ok := false
		for _, k := range RetryCodes {
			ok = ok || k == c
		}
		if !ok {
			v.addf(at("retry_on", j), "unknown code %q (%s)", c, strings.Join(RetryCodes, ", "))
		}
	}
	if cl.RetryBudget < 0 || cl.RetryBudget > 1 {
		v.addf(at("retry_budget"), "must be a fraction between 0 and 1, got %v", cl.RetryBudget)
	}
	if b := cl.BackupRequests; b != nil {
		if b.Percentile < 0 || b.Percentile >= 1 {
			v.addf(at("backup_requests", "percentile"), "must be a fraction below 1 (0.9 is p90), got %v", b.Percentile)
		}
		if b.Ratio < 0 || b.Ratio > 1 {
			v.addf(at("backup_requests", "ratio"), "must be a fraction between 0 and 1, got %v", b.Ratio)
		}
		if b.MinDelay < 0 || b.MaxDelay < 0 || (b.MaxDelay > 0 && b.MaxDelay < b.MinDelay) {
			v.addf(at("backup_requests"), "min_delay and max_delay must be positive with min_delay <= max_delay")
		}
		if b.MinSamples < 0 {
			v.addf(at("backup_requests", "min_samples"), "must not be negative")
		}
	}
}

// ParseHashKey splits a hash_key ("header:x-uid") into its source and
// name; "" is no key.
func ParseHashKey(k string) (from, name string, err error) {
	if k == "" {
		return "", "", nil
	}
	from, name, ok := strings.Cut(k, ":")
	if !ok || name == "" {
		return "", "", fmt.Errorf("hash_key %q: want SOURCE:NAME (header, path, query or arg)", k)
	}
	switch from {
	case "header", "path", "query", "arg":
		return from, name, nil
	}
	return "", "", fmt.Errorf("hash_key %q: unknown source %q (header, path, query or arg)", k, from)
}

// validateCallPolicy checks a target's hash_key against the sources its
// kind of route can read.
func (v *validator) validateCallPolicy(path []any, cp *CallPolicy, sources ...string) {
	from, _, err := ParseHashKey(cp.HashKey)
	if err != nil {
		v.addf(append(path, "hash_key"), "%v", err)
		return
	}
	if from == "" {
		return
	}
	for _, s := range sources {
		if s == from {
			return
		}
	}
	v.addf(append(path, "hash_key"), "source %q is not available to this kind of route (%s)", from, strings.Join(sources, ", "))
}

// Key identifies what the filter is built from, its name and options, so
// that a reload can tell an unchanged filter (whose run-time state is then
// kept) from a changed one.
func (f *Filter) Key() string {
	if len(f.node.Content) == 0 {
		return f.Name
	}
	opts, err := yaml.Marshal(&f.node)
	if err != nil {
		return f.Name + "\x00" + fmt.Sprint(f.Line) // never equal across generations: state not kept
	}
	return f.Name + "\x00" + string(opts)
}
