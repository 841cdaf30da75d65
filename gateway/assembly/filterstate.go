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
	m  map[string]gateway.Filter
}

func (c *filterCache) get(key string) gateway.Filter {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *filterCache) put(key string, f gateway.Filter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]gateway.Filter{}
	}
	c.m[key] = f
}

// newFilter builds the j-th filter of a chain, or takes the previous
// generation's when its scope, position and options are the same.
func (b *Built) newFilter(j int, fc *config.Filter, spec gateway.FilterSpec) (gateway.Filter, error) {
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%s", spec.Scope, spec.Endpoint, j, fc.Key())
	if f := b.prevFilters.get(key); f != nil {
		b.filterCache.put(key, f)
		return f, nil
	}
	spec.Name, spec.Decode = fc.Name, fc.Decode
	f, err := gateway.NewFilter(spec)
	if err != nil {
		return nil, err
	}
	b.filterCache.put(key, f)
	return f, nil
}
