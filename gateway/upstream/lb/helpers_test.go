package lb_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/meshgate/meshgate/gateway/upstream/lb"
	"github.com/meshgate/meshgate/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// ep is a test endpoint, with atomics as a cluster's endpoint would have.
type ep struct {
	addr   string
	weight int
	active atomic.Int64
	down   atomic.Bool
}

func (e *ep) Weight() int     { return e.weight }
func (e *ep) Active() int64   { return e.active.Load() }
func (e *ep) Available() bool { return !e.down.Load() }
func (e *ep) Addr() string    { return e.addr }

// anon is an endpoint without an address (no Addresser).
type anon struct{ ep }

func (*anon) Addr() {} // hides ep.Addr: anon is not an lb.Addresser

func newEps(weights ...int) ([]*ep, []lb.Endpoint) {
	eps := make([]*ep, len(weights))
	list := make([]lb.Endpoint, len(weights))
	for i, w := range weights {
		eps[i] = &ep{addr: fmt.Sprintf("10.0.%d.%d:8002", i/200, i%200), weight: w}
		list[i] = eps[i]
	}
	return eps, list
}

func equalWeights(n, w int) []int {
	ws := make([]int, n)
	for i := range ws {
		ws[i] = w
	}
	return ws
}

func policy(t testing.TB, name string) lb.Policy {
	t.Helper()
	p, ok := lb.Lookup(name)
	if !ok {
		t.Fatalf("policy %q not registered (known: %v)", name, lb.Names())
	}
	return p
}

// builtins are the policies this package registers.
var builtins = []string{lb.Random, lb.RoundRobin, lb.WeightedRoundRobin, lb.LeastActive, lb.ConsistentHash}

// foreign wraps a policy so that its pickers look like a third-party
// plugin's (only Pick): Grouped must then translate Tried itself.
func foreign(p lb.Policy) lb.Policy {
	return func(eps []lb.Endpoint) lb.Picker { return onlyPick{p(eps)} }
}

type onlyPick struct{ p lb.Picker }

func (o onlyPick) Pick(r *lb.Request) int { return o.p.Pick(r) }

// variant is a way of building a picker, for tests run over all of them:
// every registered policy, and Grouped over builtin and foreign pickers.
type variant struct {
	name  string
	build func(eps []lb.Endpoint) lb.Picker
	nilOK bool // Pick(nil) is defined (built-in pickers, Grouped)
}

// groupsOf labels endpoint i with group g<i%3> (g0 weight 1, g1 weight 2,
// g2 unweighted: the zero-weight tier).
func groupsOf(n int) []string {
	g := make([]string, n)
	for i := range g {
		g[i] = fmt.Sprintf("g%d", i%3)
	}
	return g
}

var testGroupWeights = map[string]int{"g0": 1, "g1": 2, "absent": 5}

func variants(t testing.TB) []variant {
	var vs []variant
	for _, name := range lb.Names() {
		p := policy(t, name)
		vs = append(vs, variant{name, p, slices.Contains(builtins, name)})
		vs = append(vs, variant{"grouped/" + name, func(eps []lb.Endpoint) lb.Picker {
			return lb.Grouped(eps, groupsOf(len(eps)), testGroupWeights, p)
		}, true})
	}
	for _, name := range []string{lb.LeastActive, lb.ConsistentHash} {
		p := foreign(policy(t, name))
		vs = append(vs, variant{"grouped/foreign_" + name, func(eps []lb.Endpoint) lb.Picker {
			return lb.Grouped(eps, groupsOf(len(eps)), testGroupWeights, p)
		}, true})
	}
	return vs
}

// checkPick asserts the Picker contract for one result.
func checkPick(t testing.TB, eps []lb.Endpoint, r *lb.Request, got int) {
	t.Helper()
	anyAvail, anyUntried := false, false
	for i, e := range eps {
		if r.Tried.Has(i) {
			continue
		}
		anyUntried = true
		if e.Available() {
			anyAvail = true
		}
	}
	switch {
	case !anyUntried:
		if got != -1 {
			t.Fatalf("Pick = %d with every endpoint tried (n=%d), want -1", got, len(eps))
		}
	case got < 0 || got >= len(eps):
		t.Fatalf("Pick = %d, want an index in [0,%d)", got, len(eps))
	case r.Tried.Has(got):
		t.Fatalf("Pick = %d, which is tried", got)
	case anyAvail && !eps[got].Available():
		t.Fatalf("Pick = %d, unavailable, while an available untried endpoint exists", got)
	}
}

func randKey(rng *rand.Rand) string {
	return fmt.Sprintf("user-%d", rng.Uint32())
}
