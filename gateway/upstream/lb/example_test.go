package lb_test

import (
	"fmt"

	"github.com/meshgate/meshgate/gateway/upstream/lb"
)

// first_available is the policy of docs/load-balancing.md ("Writing a
// policy"); being registered, it also runs through TestConformance.
func init() { lb.Register("first_available", newFirst) }

func newFirst(eps []lb.Endpoint) lb.Picker { return first(eps) }

type first []lb.Endpoint

func (f first) Pick(r *lb.Request) int {
	fallback := -1
	for i, e := range f {
		if r.Tried.Has(i) {
			continue
		}
		if e.Available() {
			return i
		}
		if fallback < 0 {
			fallback = i
		}
	}
	return fallback
}

// A call fails over: each pick skips what the call already tried.
func Example() {
	_, eps := newEps(100, 100, 100)
	p, _ := lb.Lookup("first_available")
	picker := p(eps)
	var tried lb.Tried
	r := &lb.Request{Tried: &tried}
	for {
		i := picker.Pick(r)
		fmt.Print(i, " ")
		if i < 0 {
			break
		}
		tried.Add(i)
	}
	fmt.Println()
	// Output: 0 1 2 -1
}
