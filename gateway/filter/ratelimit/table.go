package ratelimit

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/meshgate/meshgate/translate"
)

// table holds the per-caller buckets: a fixed number of shards, each a map
// under a read-write mutex with a fixed capacity, so that the table never
// holds more than max_callers identities. Looking up a known caller takes
// a shard's read lock; only a new caller takes the write lock.
//
// When a shard is full, inserting a caller evicts one: of a few entries
// sampled from the shard (map iteration starts at a random place), the one
// whose bucket is the fullest, i.e. the least recently used. Forgetting a
// caller whose bucket has refilled completely changes nothing, since a new
// caller starts with a full bucket. A caller
// that still holds a bucket pointer after its entry was evicted uses it
// once more; the cost is one call counted in a forgotten bucket.
type table struct {
	seed   maphash.Seed
	shards []shard
}

type shard struct {
	mu  sync.RWMutex
	m   map[string]*entry
	max int
	_   [64 - 40]byte // one shard per cache line (RWMutex 24, map 8, max 8)
}

// entry is one caller's bucket.
type entry struct {
	tat atomic.Int64
	err atomic.Pointer[translate.Error] // the caller's rejection, once built
	id  string
}

const (
	// maxShards bounds the number of shards; shards get at least
	// minPerShard entries, so small tables have one shard and an exact
	// bound.
	maxShards   = 64
	minPerShard = 64
	// evictSample is how many entries eviction looks at.
	evictSample = 8
)

func newTable(maxCallers int) *table {
	n := min(max(maxCallers/minPerShard, 1), maxShards)
	t := &table{seed: maphash.MakeSeed(), shards: make([]shard, n)}
	for i := range t.shards {
		s := &t.shards[i]
		s.max = maxCallers / n
		if i < maxCallers%n {
			s.max++
		}
		s.m = make(map[string]*entry)
	}
	return t
}

// get returns id's entry, creating it (with a full bucket) when it is new.
func (t *table) get(id string) *entry {
	s := &t.shards[maphash.String(t.seed, id)%uint64(len(t.shards))]
	s.mu.RLock()
	e := s.m[id]
	s.mu.RUnlock()
	if e != nil {
		return e
	}
	return s.insert(id)
}

func (s *shard) insert(id string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[id]; e != nil {
		return e
	}
	if len(s.m) >= s.max {
		s.evict()
	}
	// The identity may point into a request buffer (Motan2 meta is read
	// without copying): the table keeps a copy.
	e := &entry{id: strings.Clone(id)}
	s.m[e.id] = e
	return e
}

// evict removes the fullest-bucket entry of a sample; s.mu is held.
func (s *shard) evict() {
	var victim *entry
	n := 0
	for _, e := range s.m {
		if victim == nil || e.tat.Load() < victim.tat.Load() {
			victim = e
		}
		if n++; n == evictSample {
			break
		}
	}
	if victim != nil {
		delete(s.m, victim.id)
	}
}

// len returns the number of identities tracked.
func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
