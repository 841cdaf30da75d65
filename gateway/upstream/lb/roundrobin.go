package lb

import (
	"math/rand/v2"
	"sync/atomic"
)

// roundRobinPicker is the round_robin policy: endpoints in turn, weights
// ignored. An endpoint that is tried or unavailable when its turn comes
// gives the turn to a random other one (not to its neighbour, which would
// then take a double share).
type roundRobinPicker struct {
	weights
	next atomic.Uint64
}

func newRoundRobin(eps []Endpoint) Picker {
	if len(eps) == 0 {
		return empty{}
	}
	p := &roundRobinPicker{weights: newWeights(eps, false)}
	// A random start keeps gateways that rebuilt their pickers at the same
	// moment from sending their next calls to the same endpoint.
	p.next.Store(rand.Uint64())
	return p
}

// Pick implements Picker.
func (p *roundRobinPicker) Pick(r *Request) int { return p.pickView("", view{t: r.tried()}) }

func (p *roundRobinPicker) pickView(_ string, v view) int {
	if !v.empty() {
		// A failover or backup pick takes no turn: with two endpoints,
		// a call making two picks would otherwise always start on the
		// same one.
		return p.pickRest(v)
	}
	i := int(p.next.Add(1) % uint64(len(p.eps)))
	if p.ok(i, v) {
		return i
	}
	return p.pickRest(v)
}

// maxSchedule caps the length of a weighted_round_robin schedule (4 bytes
// per entry). Weights are first divided by their greatest common divisor;
// when their sum still exceeds the cap they are scaled down to fit (each
// endpoint keeping at least one slot), which rounds shares by at most
// one slot in maxSchedule.
const maxSchedule = 4096

// wrrPicker is the weighted_round_robin policy: a precomputed smooth
// (interleaved) schedule, the one nginx's smooth weighted round robin
// produces, indexed by an atomic counter: lock-free, O(1) per pick.
// Weights 5:1:1 give a a b a c a a, never five in a row.
type wrrPicker struct {
	weights
	schedule []int32
	next     atomic.Uint64
}

func newWeightedRoundRobin(eps []Endpoint) Picker {
	if len(eps) == 0 {
		return empty{}
	}
	p := &wrrPicker{weights: newWeights(eps, true)}
	p.schedule = smoothSchedule(p.w)
	p.next.Store(rand.Uint64())
	return p
}

// Pick implements Picker.
func (p *wrrPicker) Pick(r *Request) int { return p.pickView("", view{t: r.tried()}) }

func (p *wrrPicker) pickView(_ string, v view) int {
	if !v.empty() {
		return p.pickRest(v) // a failover or backup pick takes no turn (see round_robin)
	}
	i := int(p.schedule[p.next.Add(1)%uint64(len(p.schedule))])
	if p.ok(i, v) {
		return i
	}
	return p.pickRest(v)
}

// smoothSchedule returns one period of smooth weighted round robin over
// w (all > 0): each endpoint appears in proportion to its weight (after
// gcd reduction and, past maxSchedule, scaling) and as evenly spread as
// the algorithm allows.
func smoothSchedule(w []int64) []int32 {
	n := len(w)
	red := make([]int64, n)
	g := int64(0)
	for _, x := range w {
		g = gcd(g, x)
	}
	var sum int64
	for i, x := range w {
		red[i] = x / g
		sum += red[i]
	}
	if sum > maxSchedule {
		limit := int64(max(maxSchedule, n))
		orig := sum
		sum = 0
		g = 0
		for i, x := range red {
			// Round to nearest, keeping at least one slot.
			red[i] = max((x*limit+orig/2)/orig, 1)
			g = gcd(g, red[i])
		}
		for i := range red {
			red[i] /= g
			sum += red[i]
		}
	}
	return interleave(red, sum)
}

// interleave returns nginx's smooth weighted round robin sequence for the
// weights red (sum of them: sum). nginx adds each weight to its
// endpoint's credit every step and takes sum from the endpoint with the
// most credit (the first on ties); after t steps the credit of endpoint i
// is t*w[i] - sum*c[i], c[i] being how often it was chosen. Endpoints of
// equal weight are therefore chosen in rotation (the least chosen, first
// on ties), so the sequence is computed per weight class: O(sum x classes)
// rather than O(sum x endpoints); the number of distinct weights is small
// (fewer than 91 when sum <= maxSchedule).
func interleave(red []int64, sum int64) []int32 {
	type class struct {
		w       int64
		members []int32 // in index order
		chosen  int64   // picks so far; member chosen%len is next
	}
	var classes []*class
	byW := make(map[int64]*class)
	for i, w := range red {
		c := byW[w]
		if c == nil {
			c = &class{w: w}
			byW[w] = c
			classes = append(classes, c)
		}
		c.members = append(c.members, int32(i))
	}
	sched := make([]int32, 0, sum)
	for t := int64(1); t <= sum; t++ {
		var best *class
		var bestKey int64
		var bestIdx int32
		for _, c := range classes {
			m := int64(len(c.members))
			key := t*c.w - sum*(c.chosen/m)
			idx := c.members[c.chosen%m]
			if best == nil || key > bestKey || key == bestKey && idx < bestIdx {
				best, bestKey, bestIdx = c, key, idx
			}
		}
		best.chosen++
		sched = append(sched, bestIdx)
	}
	return sched
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
