package assembly

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/upstream"
	"github.com/meshgate/meshgate/translate"
)

// Cluster is what the assembly needs of a cluster of either protocol
// beyond gateway.Invoker.
type Cluster interface {
	gateway.Invoker
	Name() string
	// Update replaces the endpoints (discovery).
	Update(gateway.EndpointSet)
	EndpointStates() []upstream.EndpointState
	Stats() upstream.ClusterStats
}

var (
	_ Cluster = (*upstream.Cluster)(nil)
	_ Cluster = (*upstream.GRPCCluster)(nil)
)

// haOptions turns a cluster's failover and backup settings into the
// upstream's options.
func haOptions(cc *config.Cluster) upstream.HAOptions {
	ha := upstream.HAOptions{Retries: cc.Retries, RetryBudget: cc.RetryBudget, PreferDC: cc.PreferDC}
	for _, name := range cc.RetryOn {
		ha.RetryOn = append(ha.RetryOn, retryCode(name))
	}
	if br := cc.BackupRequests; br != nil {
		ha.Backup = &upstream.BackupOptions{Percentile: br.Percentile, Ratio: br.Ratio,
			MinDelay: br.MinDelay, MaxDelay: br.MaxDelay, MinSamples: br.MinSamples}
	}
	return ha
}

// retryCode maps a retry_on name (config.RetryCodes: a code's name in
// lower case, validated by config) to its code.
func retryCode(name string) translate.Code {
	if c, ok := translate.ParseCode(strings.ToUpper(name)); ok {
		return c
	}
	return translate.Unavailable
}

// endpointChain returns how the cluster's endpoints build their chains:
// telemetry first, then filters.endpoints.CLUSTER or filters.endpoint.
// Each endpoint gets filters of its own (a breaker per endpoint); they
// are built again for endpoints that discovery adds later, from the same
// validated configuration.
func (b *Built) endpointChain(cluster string) upstream.EndpointChain {
	list, ok := b.cfg.Filters.Endpoints[cluster]
	if !ok {
		list = b.cfg.Filters.Endpoint
	}
	return func(ep gateway.Endpoint, next gateway.Invoker) (gateway.Invoker, []gateway.Filter, error) {
		scope := "endpoint " + ep.Addr + " of cluster " + cluster
		spec := gateway.FilterSpec{Scope: scope, Cluster: cluster, Endpoint: ep.Addr, Env: b.env}
		fs := b.telemetryFilters(spec)
		for j := range list {
			f, err := b.newFilter(j, &list[j], spec)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", list[j].Line, err)
			}
			fs = append(fs, f)
		}
		if len(fs) == 0 {
			return next, nil, nil
		}
		return gateway.Chain(next, fs...), fs, nil
	}
}

// callPolicy compiles a target's idempotence and hash key (validated by
// config); args are an HTTP route's argument bindings, for arg keys.
func callPolicy(cp *config.CallPolicy, args []config.Arg) gateway.CallPolicy {
	p := gateway.CallPolicy{Idempotent: cp.Idempotent}
	from, name, _ := config.ParseHashKey(cp.HashKey)
	p.HashKey.Name = name
	switch from {
	case "header":
		p.HashKey.From = gateway.KeyFromHeader
	case "path":
		p.HashKey.From = gateway.KeyFromPath
	case "query":
		p.HashKey.From = gateway.KeyFromQuery
	case "arg":
		p.HashKey.From = gateway.KeyFromArg
		for i, a := range args {
			if a.Name == name {
				p.HashKey.Arg = i
			}
		}
	}
	return p
}

// ingressOf names the protocol of a configuration section's routes.
func ingressOf(section string) string {
	switch section {
	case "grpc_routes":
		return "grpc"
	case "motan2_routes":
		return "motan2"
	}
	return "http" // routes, transcoding
}
