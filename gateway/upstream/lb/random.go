package lb

// randomPicker is the random policy: a weighted random choice, O(log n)
// per pick (O(1) when all weights are equal).
type randomPicker struct {
	weights
}

func newRandom(eps []Endpoint) Picker {
	if len(eps) == 0 {
		return empty{}
	}
	return &randomPicker{weights: newWeights(eps, true)}
}

// Pick implements Picker.
func (p *randomPicker) Pick(r *Request) int { return p.pickView("", view{t: r.tried()}) }

func (p *randomPicker) pickView(_ string, v view) int {
	if i := p.draw(); p.ok(i, v) {
		return i
	}
	return p.pickRest(v)
}
