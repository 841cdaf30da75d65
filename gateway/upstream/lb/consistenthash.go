package lb

import (
	"math/bits"
	"slices"
	"strconv"
)

// VirtualNodes is the number of ring points consistent_hash gives an
// endpoint per DefaultWeight of weight (ketama uses 160 per server):
// weight 100 gets 160 points, weight 50 gets 80, weight 1 gets 2 (at
// least 1). Keys spread within a few percent of the weights with 160
// points each; far smaller weights spread less evenly.
const VirtualNodes = 160

// maxPointsPerEndpoint bounds one endpoint's ring points (weight 10000).
const maxPointsPerEndpoint = VirtualNodes * 100

// hashPicker is the consistent_hash policy: a ketama-style ring of
// virtual nodes, VirtualNodes per DefaultWeight share of weight, placed by
// each endpoint's Addr (Addresser) so that adding or removing an endpoint
// moves only the keys that land on its points. A key goes to the owner of
// the first point at or after the key's hash; when that owner is tried or
// unavailable the walk continues clockwise to the next endpoint that is
// not, so a failed endpoint's keys spread over its ring neighbours. A
// request without a Key is picked as random would.
type hashPicker struct {
	weights
	// ring holds the sorted ring points. Each is a position with its low
	// ownerBits replaced by the index of the endpoint owning it, so the
	// ring is one sorted []uint64 (8 bytes a point, fast to sort and
	// search); positions keep 64-ownerBits bits of precision (44 up to a
	// million endpoints), ample for spreading keys.
	ring      []uint64
	ownerBits uint
	ownerMask uint64
}

func newConsistentHash(eps []Endpoint) Picker {
	if len(eps) == 0 {
		return empty{}
	}
	p := &hashPicker{weights: newWeights(eps, true)}
	p.ownerBits = uint(max(bits.Len(uint(len(eps)-1)), 1))
	p.ownerMask = 1<<p.ownerBits - 1
	k := make([]int64, len(eps))
	total := 0
	for i := range eps {
		k[i] = min(max((p.w[i]*VirtualNodes+DefaultWeight/2)/DefaultWeight, 1), maxPointsPerEndpoint)
		total += int(k[i])
	}
	p.ring = make([]uint64, 0, total)
	for i, e := range eps {
		var id uint64
		if a, ok := e.(Addresser); ok {
			id = hashString(a.Addr())
		} else {
			id = hashString("#" + strconv.Itoa(i))
		}
		for v := range k[i] {
			pos := mix64(id + uint64(v+1)*0x9e3779b97f4a7c15)
			p.ring = append(p.ring, pos&^p.ownerMask|uint64(i))
		}
	}
	// Equal positions (vanishingly rare) are ordered by owner index, so
	// the ring does not depend on the order of the list.
	slices.Sort(p.ring)
	return p
}

func (p *hashPicker) owner(k int) int { return int(p.ring[k] & p.ownerMask) }

// Pick implements Picker.
func (p *hashPicker) Pick(r *Request) int {
	if r == nil {
		r = &noRequest
	}
	return p.pickView(r.Key, view{t: r.Tried})
}

func (p *hashPicker) pickView(key string, v view) int {
	if key == "" {
		if i := p.draw(); p.ok(i, v) {
			return i
		}
		return p.pickRest(v)
	}
	return p.walk(p.search(HashKey(key)), v)
}

// search returns the index of the first ring point at or after h,
// wrapping to 0.
func (p *hashPicker) search(h uint64) int {
	h &^= p.ownerMask
	lo, hi := 0, len(p.ring)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.ring[mid] < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(p.ring) {
		return 0
	}
	return lo
}

// quickWalk is how many ring points walk looks at for an available
// untried owner before it counts what is left: a failed-over key nearly
// always finds one among its next few neighbours.
const quickWalk = 32

// walk returns the first owner from ring point k on that is untried and
// available; when no untried endpoint is available, the first untried
// owner; when all are tried, -1. After quickWalk points, a count over the
// list tells which of these to look for, so the walk stops at the first
// acceptable owner instead of circling the whole ring.
func (p *hashPicker) walk(k int, v view) int {
	start := p.owner(k)
	if p.ok(start, v) {
		return start
	}
	prev, kk := start, k
	for range min(quickWalk, len(p.ring)-1) {
		if kk++; kk == len(p.ring) {
			kk = 0
		}
		if o := p.owner(kk); o != prev {
			prev = o
			if p.ok(o, v) {
				return o
			}
		}
	}
	avail, untried := 0, 0
	for i, e := range p.eps {
		if !v.has(i) {
			untried++
			if e.Available() {
				avail++
			}
		}
	}
	if untried == 0 {
		return -1
	}
	wantAvail := avail > 0
	if !wantAvail && !v.has(start) {
		return start
	}
	prev = start
	for step := 1; step < len(p.ring); step++ {
		if k++; k == len(p.ring) {
			k = 0
		}
		o := p.owner(k)
		if o == prev {
			continue
		}
		prev = o
		if !v.has(o) && (!wantAvail || p.eps[o].Available()) {
			return o
		}
	}
	return p.scan(v) // availability changed during the walk
}

// HashKey is the hash consistent_hash places a request Key with: 64-bit
// FNV-1a followed by a murmur3 finaliser, so that short, similar keys
// (user ids) still spread over the whole ring. It allocates nothing.
func HashKey(key string) uint64 { return hashString(key) }

func hashString(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return mix64(h)
}

// mix64 is murmur3's fmix64: a bijection that spreads every input bit
// over every output bit.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
