// Package lb holds meshgate's load-balancing policies: pluggable pickers a
// cluster uses to choose one endpoint per call (and per failover or backup
// attempt) from an immutable endpoint list.
//
// A cluster builds a Picker with a Policy whenever its endpoint set
// changes (off the hot path) and swaps it in atomically; Pick then runs on
// every call, never blocks and allocates nothing. The picker reads only
// what the Endpoint interface exposes (weight, calls in flight,
// availability), so the cluster keeps that state in atomics.
//
// Policies register by name (Register, Lookup); the built-in ones are
// random, round_robin, weighted_round_robin, least_active and
// consistent_hash. Grouped layers a weighted split between endpoint groups
// (a traffic-switch command, or data-centre preference) over any policy.
// docs/load-balancing.md describes each policy and its measured cost.
//
// This package imports only the standard library, so discovery, clusters
// and tests can all use it.
package lb

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
)

// Names of the built-in policies, as configuration spells them.
const (
	Random             = "random"
	RoundRobin         = "round_robin"
	WeightedRoundRobin = "weighted_round_robin"
	LeastActive        = "least_active"
	ConsistentHash     = "consistent_hash"
)

// DefaultWeight is the weight of a "normal" endpoint; it equals
// gateway.DefaultWeight (a test keeps them in step). consistent_hash gives
// an endpoint VirtualNodes ring points per DefaultWeight of weight.
const DefaultWeight = 100

// MaxWeight caps the weight a picker reads from an endpoint, so that sums
// over thousands of endpoints cannot overflow and ring sizes stay bounded.
// Larger weights are treated as MaxWeight, non-positive ones as 1.
const MaxWeight = 1 << 20

// Endpoint is what a picker reads of one endpoint at pick time. The
// cluster's endpoint objects implement it with atomics (no locks): Active
// and Available are called on the hot path, possibly several times per
// pick and concurrently from many goroutines.
type Endpoint interface {
	// Weight is the endpoint's static weight, > 0. It is read once, when
	// the picker is built.
	Weight() int
	// Active is the number of calls in flight to the endpoint now.
	Active() int64
	// Available is false while the cluster would rather not use the
	// endpoint (failed health check, open circuit breaker). Pickers still
	// return an unavailable endpoint when no available one is left, so
	// that a call is attempted rather than failed outright.
	Available() bool
}

// Addresser is optionally implemented by an Endpoint to give it a stable
// identity (normally its "host:port"). consistent_hash places an
// endpoint's ring points by this identity, so keys stay on their endpoint
// when others are added, removed or reordered; an endpoint without it is
// identified by its index in the list, which moves keys whenever the list
// is reordered.
type Addresser interface {
	Addr() string
}

// Tried is the set of endpoint indexes a call has already used (failover,
// backup requests). The zero value is empty and ready to use. Indexes
// below 128 live in an inline bitset (no allocation); larger ones are kept
// correctly in a slice that Add may allocate. Negative indexes are
// ignored. A Tried is not safe for concurrent use: it belongs to one call.
type Tried struct {
	lo [2]uint64 // indexes 0..127
	hi []uint64  // indexes 128.., bit (i-128)
	n  int
}

// Add puts index i in the set.
func (t *Tried) Add(i int) {
	if i < 0 {
		return
	}
	if i < 128 {
		bit := uint64(1) << (uint(i) & 63)
		if t.lo[i>>6]&bit == 0 {
			t.lo[i>>6] |= bit
			t.n++
		}
		return
	}
	i -= 128
	w := i >> 6
	if w >= len(t.hi) {
		if w < cap(t.hi) {
			t.hi = t.hi[:w+1]
		} else {
			t.hi = append(t.hi, make([]uint64, w+1-len(t.hi))...)
		}
	}
	bit := uint64(1) << (uint(i) & 63)
	if t.hi[w]&bit == 0 {
		t.hi[w] |= bit
		t.n++
	}
}

// Has reports whether index i is in the set. A nil *Tried is empty.
func (t *Tried) Has(i int) bool {
	if t == nil || t.n == 0 || i < 0 {
		return false
	}
	if i < 128 {
		return t.lo[i>>6]&(uint64(1)<<(uint(i)&63)) != 0
	}
	i -= 128
	w := i >> 6
	return w < len(t.hi) && t.hi[w]&(uint64(1)<<(uint(i)&63)) != 0
}

// Len returns the number of indexes in the set. A nil *Tried is empty.
func (t *Tried) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Reset empties the set, keeping any storage for reuse.
func (t *Tried) Reset() {
	t.lo = [2]uint64{}
	clear(t.hi)
	t.hi = t.hi[:0]
	t.n = 0
}

// Request is one pick. A picker does not keep r or modify it. Pick is an
// interface call, so a *Request built on the caller's stack escapes to the
// heap: a cluster keeps the Request in its per-call state (and reuses it
// for failover attempts) to keep the hot path allocation-free.
type Request struct {
	// Key is the affinity key for consistent_hash ("" = none: the policy
	// then picks as random does). Other policies ignore it.
	Key string
	// Tried holds the indexes the call already used; they are not picked
	// again. May be nil.
	Tried *Tried
}

// noRequest stands in for a nil *Request (read only).
var noRequest Request

// tried returns r.Tried; nil for a nil r.
func (r *Request) tried() *Tried {
	if r == nil {
		return nil
	}
	return r.Tried
}

// Picker picks over one immutable endpoint list. It is safe for
// concurrent use; Pick never blocks and allocates nothing.
type Picker interface {
	// Pick returns the index of the endpoint for r: an Available endpoint
	// not in r.Tried if there is one, else an unavailable one not in
	// r.Tried, else -1 (also for an empty list). Availability may change
	// while Pick runs; the preference is then best effort, but the result
	// is never a tried index and never out of range. Callers never pass
	// a nil r (the built-in pickers treat one as an empty Request).
	Pick(r *Request) int
}

// Policy builds a picker for an endpoint list. It is called off the hot
// path, on every endpoint-set change. eps is not modified and stays valid
// (same elements, same order) for the picker's life. A Policy accepts any
// list, including an empty one.
type Policy func(eps []Endpoint) Picker

var registry = struct {
	sync.RWMutex
	m map[string]Policy
}{m: make(map[string]Policy)}

// Register makes a policy available under name. It is meant for init
// functions and panics when name is empty, p is nil or name is already
// registered (a programming error, never caused by configuration).
func Register(name string, p Policy) {
	if name == "" || p == nil {
		panic("lb: Register with an empty name or a nil policy")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		panic(fmt.Sprintf("lb: policy %q registered twice", name))
	}
	registry.m[name] = p
}

// Lookup returns the policy registered under name.
func Lookup(name string) (Policy, bool) {
	registry.RLock()
	defer registry.RUnlock()
	p, ok := registry.m[name]
	return p, ok
}

// Names returns the registered policy names, sorted, for error messages
// such as `unknown lb "x" (known: ...)`.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnknownError returns the error configuration validation reports for a
// policy name that is not registered: `unknown lb "x" (known: a, b, c)`.
func UnknownError(name string) error {
	return fmt.Errorf("unknown lb %q (known: %s)", name, strings.Join(Names(), ", "))
}

func init() {
	Register(Random, newRandom)
	Register(RoundRobin, newRoundRobin)
	Register(WeightedRoundRobin, newWeightedRoundRobin)
	Register(LeastActive, newLeastActive)
	Register(ConsistentHash, newConsistentHash)
}

// view is a Tried seen through an optional index mapping: local index i
// of a sub-list stands for m[i] in the list the Tried indexes. Grouped
// passes views to the built-in pickers of its groups so that nothing is
// translated or allocated per pick. It is passed by value.
type view struct {
	t *Tried
	m []int32
}

// empty reports whether nothing at all is tried (the common first pick).
func (v view) empty() bool { return v.t == nil || v.t.n == 0 }

func (v view) has(i int) bool {
	if v.t == nil || v.t.n == 0 {
		return false
	}
	if v.m != nil {
		i = int(v.m[i])
	}
	return v.t.Has(i)
}

// viewPicker is implemented by the built-in pickers: Pick with a mapped
// Tried, used by Grouped.
type viewPicker interface {
	pickView(key string, v view) int
}

// clampWeight returns the weight a picker uses for e.
func clampWeight(e Endpoint) int64 {
	w := e.Weight()
	switch {
	case w <= 0:
		return 1
	case w > MaxWeight:
		return MaxWeight
	}
	return int64(w)
}

// weights is a weight table with an alias table (Vose) for O(1)
// weighted draws; it also provides the exact (slow-path) weighted pick
// over the endpoints that are not tried.
type weights struct {
	eps     []Endpoint
	w       []int64 // per endpoint, clamped
	total   int64
	uniform bool     // all weights equal: draws need no table
	thr     []uint64 // alias method: keep slot i when the fraction < thr[i] ...
	alias   []int32  // ... else take alias[i]
}

func newWeights(eps []Endpoint, useWeights bool) weights {
	ws := weights{eps: eps, w: make([]int64, len(eps)), uniform: true}
	for i, e := range eps {
		w := int64(1)
		if useWeights {
			w = clampWeight(e)
		}
		ws.w[i] = w
		ws.total += w
		if w != ws.w[0] {
			ws.uniform = false
		}
	}
	if !ws.uniform {
		ws.buildAlias()
	}
	return ws
}

// buildAlias builds Vose's alias table in integers: slot i holds
// scaled[i] = w[i]*n out of total, topped up from one heavier endpoint.
func (ws *weights) buildAlias() {
	n := len(ws.w)
	ws.thr = make([]uint64, n)
	ws.alias = make([]int32, n)
	scaled := make([]int64, n)
	var small, large []int32
	for i, w := range ws.w {
		scaled[i] = w * int64(n)
		ws.alias[i] = int32(i)
		if scaled[i] < ws.total {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		// thr = scaled[s] / total as a 64-bit fraction.
		ws.thr[s], _ = bits.Div64(uint64(scaled[s]), 0, uint64(ws.total))
		ws.alias[s] = l
		scaled[l] -= ws.total - scaled[s]
		if scaled[l] < ws.total {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What is left keeps its slot (up to rounding, exactly full).
	for _, i := range append(small, large...) {
		ws.thr[i] = math.MaxUint64
	}
}

// draw returns an index with probability proportional to its weight, in
// O(1) from one random number: its high part (times n) chooses the slot,
// its low part is the fraction compared with the slot's threshold.
// len(eps) must be > 0.
func (ws *weights) draw() int {
	hi, lo := bits.Mul64(rand.Uint64(), uint64(len(ws.w)))
	if ws.uniform || lo < ws.thr[hi] {
		return int(hi)
	}
	return int(ws.alias[hi])
}

// ok reports whether index i may be picked in the first tier.
func (ws *weights) ok(i int, v view) bool {
	return !v.has(i) && ws.eps[i].Available()
}

// rejectionTries is how many weighted draws a picker makes before an exact
// scan when its first choice is tried or unavailable. Rejection sampling
// keeps the weighted distribution over the remaining endpoints exact and
// costs O(1) per draw; the scan is O(n).
const rejectionTries = 3

// pickRest is the slow path shared by the policies: a weighted random
// choice among the untried endpoints, available ones first. It first
// tries rejection sampling, then scans.
func (ws *weights) pickRest(v view) int {
	n := len(ws.eps)
	if n == 0 {
		return -1
	}
	for range rejectionTries {
		if i := ws.draw(); ws.ok(i, v) {
			return i
		}
	}
	return ws.scan(v)
}

// scan is the exact weighted choice among untried endpoints, available
// ones first, in two passes over the list.
func (ws *weights) scan(v view) int {
	var sumAvail, sumOther int64
	for i, e := range ws.eps {
		if v.has(i) {
			continue
		}
		if e.Available() {
			sumAvail += ws.w[i]
		} else {
			sumOther += ws.w[i]
		}
	}
	wantAvail, total := true, sumAvail
	if total == 0 {
		wantAvail, total = false, sumOther
	}
	if total == 0 {
		return -1
	}
	r := rand.Int64N(total)
	last := -1
	for i, e := range ws.eps {
		if v.has(i) || e.Available() != wantAvail {
			continue
		}
		last = i
		if r -= ws.w[i]; r < 0 {
			return i
		}
	}
	if last >= 0 {
		return last // availability changed between the passes
	}
	for i := range ws.eps {
		if !v.has(i) {
			return i
		}
	}
	return -1
}

// fastRange maps a uniform 64-bit x onto [0, n) (Lemire), without the
// division of x % n; its bias is negligible for the n used here.
func fastRange(x uint64, n uint64) uint64 {
	hi, _ := bits.Mul64(x, n)
	return hi
}

// empty is the picker over an empty list.
type empty struct{}

func (empty) Pick(*Request) int         { return -1 }
func (empty) pickView(string, view) int { return -1 }
