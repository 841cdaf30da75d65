package upstream

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/stats"
)

// latencies keeps each method's recent latency, for backup-request
// delays. Methods are few, so the table is an immutable map replaced on
// the first call of a new method: a lookup is one atomic load and no
// lock. Routes bound the methods of most calls, but a Motan2 proxy frame
// names any method its caller likes: the table stops growing at
// maxMethods, and the methods it has no room for get no backup requests
// (get returns nil).
type latencies struct {
	mu sync.Mutex
	m  atomic.Pointer[map[methodKey]*methodLatency]
}

type methodKey struct{ service, method string }

// methodLatency is one method's window with its percentile cached for
// quantileEvery: computing it merges the window's buckets.
type methodLatency struct {
	win *stats.Window
	at  atomic.Int64 // when q and n were computed (unix ns)
	q   atomic.Int64 // the cached quantile (ns)
	n   atomic.Uint64
}

const (
	latencyWindow = time.Minute
	quantileEvery = 100 * time.Millisecond
	// maxMethods bounds the table: a window is about 15 KiB, so a cluster
	// keeps at most about 4 MiB of latencies.
	maxMethods = 256
)

func keyOf(call *gateway.Call) methodKey {
	if call.Frame != nil {
		return methodKey{call.Frame.Service(), call.Frame.Method()}
	}
	if call.FullMethod != "" {
		return methodKey{method: call.FullMethod}
	}
	return methodKey{call.Service, call.Method}
}

// get returns the call's method's latencies; nil when the table is full
// and the method is not in it.
func (l *latencies) get(call *gateway.Call) *methodLatency {
	k := keyOf(call)
	if m := l.m.Load(); m != nil {
		if ml := (*m)[k]; ml != nil {
			return ml
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.m.Load()
	if old != nil {
		if ml := (*old)[k]; ml != nil {
			return ml
		}
	}
	var next map[methodKey]*methodLatency
	if old != nil {
		if len(*old) >= maxMethods {
			return nil
		}
		next = maps.Clone(*old)
	} else {
		next = make(map[methodKey]*methodLatency, 1)
	}
	ml := &methodLatency{win: stats.NewWindow(6, latencyWindow/6)}
	next[k] = ml
	l.m.Store(&next)
	return ml
}

func (l *latencies) record(call *gateway.Call, d time.Duration) {
	if ml := l.get(call); ml != nil {
		ml.win.Record(d, false)
	}
}

// quantile returns the method's q-quantile latency over the window and
// how many calls it holds, recomputed at most every quantileEvery; 0, 0
// for a method the table has no room for.
func (l *latencies) quantile(call *gateway.Call, q float64) (time.Duration, uint64) {
	ml := l.get(call)
	if ml == nil {
		return 0, 0
	}
	now := time.Now().UnixNano()
	if at := ml.at.Load(); now-at < int64(quantileEvery) && at != 0 {
		return time.Duration(ml.q.Load()), ml.n.Load()
	}
	s := ml.win.Snapshot()
	d := s.Quantile(q)
	ml.q.Store(int64(d))
	ml.n.Store(s.Count)
	ml.at.Store(now)
	return d, s.Count
}
