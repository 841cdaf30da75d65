package lb

import "math/rand/v2"

// p2cThreshold is the list length from which least_active samples two
// endpoints (power of two choices) instead of scanning them all. A scan
// reads every endpoint's Active and Available on each pick: exact, and
// cheaper than sampling for short lists, but linear (see
// docs/load-balancing.md for the measurements behind the value).
const p2cThreshold = 8

// leastActivePicker is the least_active policy: the endpoint with the
// fewest calls in flight per unit of weight (Active/Weight, compared by
// cross-multiplication). Ties, notably between idle endpoints, are broken
// by weighted random choice, so that under light load traffic still
// follows the weights. Short lists are scanned; from p2cThreshold
// endpoints on, two weighted random samples are compared instead.
type leastActivePicker struct {
	weights
}

func newLeastActive(eps []Endpoint) Picker {
	if len(eps) == 0 {
		return empty{}
	}
	return &leastActivePicker{weights: newWeights(eps, true)}
}

// Pick implements Picker.
func (p *leastActivePicker) Pick(r *Request) int { return p.pickView("", view{t: r.tried()}) }

func (p *leastActivePicker) pickView(_ string, v view) int {
	if len(p.eps) < p2cThreshold {
		if i := p.scanLeast(v, true); i >= 0 {
			return i
		}
		return p.scanLeast(v, false)
	}
	return p.p2c(v)
}

func (p *leastActivePicker) active(i int) int64 {
	return max(p.eps[i].Active(), 0)
}

// scanLeast returns the untried endpoint with availability avail that has
// the least Active/Weight, ties broken by weighted reservoir sampling
// (one pass), or -1.
func (p *leastActivePicker) scanLeast(v view, avail bool) int {
	best := -1
	var bestA, bestW, tieW int64
	for i, e := range p.eps {
		if v.has(i) || e.Available() != avail {
			continue
		}
		a, w := p.active(i), p.w[i]
		if best < 0 {
			best, bestA, bestW, tieW = i, a, w, w
			continue
		}
		switch l, r := a*bestW, bestA*w; {
		case l < r:
			best, bestA, bestW, tieW = i, a, w, w
		case l == r:
			// Keep each tied endpoint with probability weight/tie weight.
			tieW += w
			if int64(fastRange(rand.Uint64(), uint64(tieW))) < w {
				best, bestA, bestW = i, a, w
			}
		}
	}
	return best
}

// p2cTries is how many pairs p2c samples before it falls back to a scan
// when samples are tried or unavailable.
const p2cTries = 3

// p2c compares two weighted random samples. Drawing both by weight and
// choosing between equals at random keeps the weighted distribution exact
// when all endpoints are idle.
func (p *leastActivePicker) p2c(v view) int {
	for range p2cTries {
		i, j := p.draw(), p.draw()
		oki, okj := p.ok(i, v), i != j && p.ok(j, v)
		switch {
		case oki && okj:
			l, r := p.active(i)*p.w[j], p.active(j)*p.w[i]
			if l < r || l == r && rand.Uint64()&1 == 0 {
				return i
			}
			return j
		case oki:
			return i
		case okj:
			return j
		}
	}
	if i := p.scanLeast(v, true); i >= 0 {
		return i
	}
	return p.scanLeast(v, false)
}
