package assembly

import (
	"fmt"
	"sync"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
)

// filterCache keeps a generation's filters by what they were built from
// (scope, position, name and options), so that the next generation reuses
// a filter that did not change: its run-time state (an open breaker and
// its pause, a rate limiter's tokens, a concurrency limit's calls in
// flight) survives a reload that changed something else. Filters are
// safe for concurrent use, so the old and the new generation may share
// one while the old generation's last calls finish.
type filterCache struct {
	mu sync.Mutex
	m  map[string]cachedFilter
}

// cachedFilter is a filter with the chain it serves.
type cachedFilter struct {
	f gateway.Filter
	// scope names a route or cluster chain for metrics ("route NAME",
	// "grpc route NAME", "cluster NAME"); "" for endpoint chains.
	scope string
}

// maxCachedFilters bounds a generation's cache: endpoints that discovery
// adds and removes between reloads would otherwise grow it with every
// address ever seen. Filters past the bound work as usual; only their
// state does not carry into the next generation.
const maxCachedFilters = 4096

func (c *filterCache) get(key string) (cachedFilter, bool) {
	if c == nil {
		return cachedFilter{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e, ok
}

func (c *filterCache) put(key string, e cachedFilter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedFilters {
		return
	}
	if c.m == nil {
		c.m = map[string]cachedFilter{}
	}
	c.m[key] = e
}

// chainScope names a route or cluster chain for metrics: route chains of
// the gRPC and Motan2 ingresses are prefixed with the ingress, so that
// routes of one name on two ingresses stay apart; "" for endpoint chains.
func chainScope(spec gateway.FilterSpec) string {
	switch {
	case spec.Endpoint != "":
		return ""
	case spec.Ingress != "" && spec.Ingress != "http":
		return spec.Ingress + " " + spec.Scope
	}
	return spec.Scope
}

// newFilter builds the j-th filter of a chain, or takes the previous
// generation's when its chain (scope, ingress, endpoint), position and
// options are the same.
func (b *Built) newFilter(j int, fc *config.Filter, spec gateway.FilterSpec) (gateway.Filter, error) {
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", spec.Scope, spec.Ingress, spec.Endpoint, j, fc.Key())
	if e, ok := b.prevFilters.Load().get(key); ok {
		b.filterCache.put(key, e)
		return e.f, nil
	}
	spec.Name, spec.Decode = fc.Name, fc.Decode
	f, err := gateway.NewFilter(spec)
	if err != nil {
		return nil, err
	}
	b.filterCache.put(key, cachedFilter{f: f, scope: chainScope(spec)})
	return f, nil
}
