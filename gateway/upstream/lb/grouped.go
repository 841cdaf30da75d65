package lb

import (
	"math/rand/v2"
	"sort"
	"sync"
)

// Grouped returns a picker that first chooses a group of endpoints by
// weight and then lets policy pick within the chosen group's endpoints.
// groupOf[i] is endpoint i's group (missing entries count as ""); groupWeights
// maps group names to weights. It implements a traffic-switch split
// between Motan groups (gateway.EndpointSet.GroupWeights) and, with
// groupWeights {localDC: 1} and groupOf holding each endpoint's DC,
// data-centre preference.
//
// Groups take part in a pick in this order, so that the Picker contract
// (available untried endpoints first) holds across groups:
//
//  1. groups with a positive weight that still have an available untried
//     endpoint, chosen by weight among themselves;
//  2. the rest (endpoints whose group has no positive weight, pooled into
//     one group): a zero-weight group gets traffic only when every
//     weighted group has no available untried endpoint left;
//  3. then the same two steps for unavailable untried endpoints.
//
// So when the chosen group has nothing left, the pick falls to the other
// groups by their weights. With a Key (consistent_hash), the group is
// chosen from the key's hash rather than at random, so a key keeps to
// one group while the weights and availability stay the same.
//
// With empty groupWeights, or when no positively weighted group has an
// endpoint, Grouped returns policy(eps): there is nothing to split.
// policy is called once per group, with that group's endpoints.
func Grouped(eps []Endpoint, groupOf []string, groupWeights map[string]int, policy Policy) Picker {
	groupName := func(i int) string {
		if i < len(groupOf) {
			return groupOf[i]
		}
		return ""
	}
	byName := make(map[string]*group)
	var weighted []*group
	rest := &group{}
	for i := range eps {
		name := groupName(i)
		g := byName[name]
		if g == nil {
			if w := groupWeights[name]; w > 0 {
				g = &group{w: int64(min(w, MaxWeight))}
				weighted = append(weighted, g)
			} else {
				g = rest
			}
			byName[name] = g
		}
		g.members = append(g.members, int32(i))
		g.eps = append(g.eps, eps[i])
	}
	if len(weighted) == 0 {
		return build(policy, eps)
	}
	// Order weighted groups by name so that keyed group choices do not
	// depend on the order endpoints arrive in.
	nameOf := make(map[*group]string, len(byName))
	for name, g := range byName {
		nameOf[g] = name
	}
	sort.Slice(weighted, func(a, b int) bool { return nameOf[weighted[a]] < nameOf[weighted[b]] })
	p := &groupedPicker{eps: eps}
	for _, g := range weighted {
		g.build(policy)
		p.total += g.w
		p.cum = append(p.cum, p.total)
		p.weighted = append(p.weighted, g)
	}
	if len(rest.members) > 0 {
		rest.build(policy)
		p.rest = rest
	}
	return p
}

func build(policy Policy, eps []Endpoint) Picker {
	if pk := policy(eps); pk != nil {
		return pk
	}
	return empty{}
}

// group is one group's endpoints and the picker over them.
type group struct {
	w       int64
	members []int32 // indexes into the whole list
	eps     []Endpoint
	picker  Picker
	vp      viewPicker // picker as a viewPicker, when it is one
}

func (g *group) build(policy Policy) {
	g.picker = build(policy, g.eps)
	g.vp, _ = g.picker.(viewPicker)
}

type groupedPicker struct {
	eps      []Endpoint
	weighted []*group // positive weight, sorted by name
	cum      []int64  // cumulative weights of weighted
	total    int64
	rest     *group // the endpoints of zero-weight groups; nil if none
}

// groupSalt decorrelates the group choice from the ring position of the
// same key.
const groupSalt = 0x6a09e667f3bcc909

// draw returns a number in [0, n): from the key's hash when there is a
// key, at random otherwise.
func groupDraw(key string, n int64) int64 {
	if key == "" {
		return rand.Int64N(n)
	}
	return int64(fastRange(mix64(HashKey(key)^groupSalt), uint64(n)))
}

// Pick implements Picker.
func (p *groupedPicker) Pick(r *Request) int {
	if r == nil {
		r = &noRequest
	}
	// Fast path: the group by weight, the endpoint by policy; done when
	// the policy found an available endpoint there.
	x := groupDraw(r.Key, p.total)
	gi := 0
	for p.cum[gi] <= x {
		gi++
	}
	if i := p.weighted[gi].pick(r); i >= 0 && p.eps[i].Available() {
		return i
	}
	return p.slow(r)
}

// slow chooses among the groups that can still serve, tier by tier.
func (p *groupedPicker) slow(r *Request) int {
	v := view{t: r.Tried}
	for _, wantAvail := range [2]bool{true, false} {
		var sum int64
		for _, g := range p.weighted {
			if g.eligible(v, wantAvail) {
				sum += g.w
			}
		}
		if sum > 0 {
			x := groupDraw(r.Key, sum)
			for _, g := range p.weighted {
				if !g.eligible(v, wantAvail) {
					continue
				}
				if x -= g.w; x < 0 {
					if i := g.pick(r); i >= 0 {
						return i
					}
					break // availability changed: try the rest
				}
			}
		}
		if p.rest != nil && p.rest.eligible(v, wantAvail) {
			if i := p.rest.pick(r); i >= 0 {
				return i
			}
		}
	}
	// Availability changed under us: anything untried.
	for i := range p.eps {
		if !r.Tried.Has(i) {
			return i
		}
	}
	return -1
}

// eligible reports whether g has an untried endpoint (an available one
// when wantAvail).
func (g *group) eligible(v view, wantAvail bool) bool {
	for local, i := range g.members {
		if !v.has(int(i)) && (!wantAvail || g.eps[local].Available()) {
			return true
		}
	}
	return false
}

// pick runs the group's picker for r and returns an index into the whole
// list, or -1.
func (g *group) pick(r *Request) int {
	var local int
	switch {
	case g.vp != nil:
		local = g.vp.pickView(r.Key, view{t: r.Tried, m: g.members})
	case r.Tried.Len() == 0:
		local = g.picker.Pick(r)
	default:
		local = g.pickTranslated(r)
	}
	if local < 0 || local >= len(g.members) {
		return -1
	}
	i := int(g.members[local])
	if r.Tried.Has(i) {
		return -1 // a foreign picker broke its contract
	}
	return i
}

// scratch is the translated request a foreign picker (one that is not
// built into this package) gets inside a group.
type scratch struct {
	req   Request
	tried Tried
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// pickTranslated gives a foreign picker r with Tried translated to the
// group's indexes. The scratch comes from a pool: no allocation in the
// steady state.
func (g *group) pickTranslated(r *Request) int {
	s := scratchPool.Get().(*scratch)
	s.tried.Reset()
	for local, i := range g.members {
		if r.Tried.Has(int(i)) {
			s.tried.Add(local)
		}
	}
	s.req = Request{Key: r.Key, Tried: &s.tried}
	local := g.picker.Pick(&s.req)
	s.req = Request{}
	scratchPool.Put(s)
	return local
}
