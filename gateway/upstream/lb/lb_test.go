package lb_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/upstream/lb"
)

func TestDefaultWeightMatchesGateway(t *testing.T) {
	if lb.DefaultWeight != gateway.DefaultWeight {
		t.Fatalf("lb.DefaultWeight = %d, gateway.DefaultWeight = %d: keep them equal", lb.DefaultWeight, gateway.DefaultWeight)
	}
}

func TestRegistry(t *testing.T) {
	names := lb.Names()
	for _, b := range builtins {
		if !slices.Contains(names, b) {
			t.Errorf("Names() = %v, missing %q", names, b)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names() = %v, not sorted", names)
	}
	if _, ok := lb.Lookup("nope"); ok {
		t.Error(`Lookup("nope") found a policy`)
	}
	err := lb.UnknownError("nope")
	if want := `unknown lb "nope" (known: ` + strings.Join(names, ", ") + ")"; err.Error() != want {
		t.Errorf("UnknownError = %q, want %q", err, want)
	}
	for _, tc := range []struct {
		name string
		p    lb.Policy
	}{
		{lb.Random, policy(t, lb.Random)},
		{"", policy(t, lb.Random)},
		{"x_nil", nil},
	} {
		t.Run("panics/"+tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", tc.name)
				}
			}()
			lb.Register(tc.name, tc.p)
		})
	}
}

func TestTried(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  []int
		want []int // members, sorted
	}{
		{"empty", nil, nil},
		{"small", []int{0, 5, 63, 64, 127, 5}, []int{0, 5, 63, 64, 127}},
		{"negative ignored", []int{-1, 3}, []int{3}},
		{"beyond the bitset", []int{128, 1000, 191, 192, 2, 1000}, []int{2, 128, 191, 192, 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr lb.Tried
			for _, i := range tc.add {
				tr.Add(i)
			}
			if tr.Len() != len(tc.want) {
				t.Errorf("Len = %d, want %d", tr.Len(), len(tc.want))
			}
			for i := -2; i < 1100; i++ {
				if got, want := tr.Has(i), slices.Contains(tc.want, i); got != want {
					t.Errorf("Has(%d) = %v, want %v", i, got, want)
				}
			}
			tr.Reset()
			if tr.Len() != 0 {
				t.Errorf("Len after Reset = %d", tr.Len())
			}
			for _, i := range tc.want {
				if tr.Has(i) {
					t.Errorf("Has(%d) after Reset", i)
				}
			}
		})
	}
	var nilTried *lb.Tried
	if nilTried.Has(1) || nilTried.Len() != 0 {
		t.Error("a nil *Tried is not empty")
	}
	var tr lb.Tried
	if a := testing.AllocsPerRun(100, func() {
		for i := range 128 {
			tr.Add(i)
		}
		_ = tr.Has(77)
		tr.Reset()
	}); a != 0 {
		t.Errorf("Tried below 128 allocates %.1f times per run", a)
	}
}

// TestConformance runs the Picker contract over every registered policy
// and Grouped: a call that fails over until nothing is left must visit
// each endpoint exactly once, available ones before unavailable ones, and
// then get -1; every single pick must satisfy checkPick.
func TestConformance(t *testing.T) {
	for _, v := range variants(t) {
		for _, tc := range []struct {
			name    string
			weights []int
			down    func(i int) bool
		}{
			{"empty", nil, nil},
			{"one", []int{100}, nil},
			{"one down", []int{100}, func(int) bool { return true }},
			{"three", []int{100, 200, 300}, nil},
			{"three first down", []int{100, 200, 300}, func(i int) bool { return i == 0 }},
			{"ten half down", equalWeights(10, 100), func(i int) bool { return i%2 == 1 }},
			{"ten all down", equalWeights(10, 100), func(int) bool { return true }},
			{"twenty weighted", []int{1, 1000, 5, 100, 100, 7, 300, 100, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, func(i int) bool { return i%7 == 0 }},
			{"130 beyond the bitset", equalWeights(130, 100), func(i int) bool { return i < 64 }},
			{"zero and huge weights", []int{0, -5, 1 << 40, 100}, func(i int) bool { return i == 2 }},
		} {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				eps, list := newEps(tc.weights...)
				for i, e := range eps {
					e.down.Store(tc.down != nil && tc.down(i))
				}
				p := v.build(list)
				rng := rand.New(rand.NewPCG(1, uint64(len(list))))
				for run := range 20 {
					var tr lb.Tried
					r := &lb.Request{Tried: &tr}
					if run%2 == 1 {
						r.Key = randKey(rng)
					}
					sawDown := false
					for range len(list) {
						got := p.Pick(r)
						checkPick(t, list, r, got)
						if !list[got].Available() {
							sawDown = true
						} else if sawDown {
							t.Fatalf("run %d: available endpoint %d picked after an unavailable one", run, got)
						}
						tr.Add(got)
					}
					if got := p.Pick(r); got != -1 {
						t.Fatalf("run %d: Pick = %d after every endpoint was tried, want -1", run, got)
					}
				}
				// A nil Request (built-in pickers) and a nil Tried are empty ones.
				if v.nilOK {
					if got := p.Pick(nil); len(list) == 0 && got != -1 || len(list) > 0 && (got < 0 || got >= len(list)) {
						t.Fatalf("Pick(nil) = %d", got)
					}
				}
				checkPick(t, list, &lb.Request{}, p.Pick(&lb.Request{}))
			})
		}
	}
}

// share picks n times and returns each endpoint's share of the picks.
func share(p lb.Picker, nEps, n int, keyed bool) []float64 {
	counts := make([]int, nEps)
	rng := rand.New(rand.NewPCG(7, 7))
	r := &lb.Request{}
	for range n {
		if keyed {
			r.Key = randKey(rng)
		}
		counts[p.Pick(r)]++
	}
	s := make([]float64, nEps)
	for i, c := range counts {
		s[i] = float64(c) / float64(n)
	}
	return s
}

// TestDistribution: each policy sends every endpoint its share of 100k
// picks. Statistical policies must be within one percentage point (over 6
// standard deviations at these shares); consistent_hash, whose spread
// comes from where the ring points fall (fixed for given addresses),
// within three.
func TestDistribution(t *testing.T) {
	const picks = 100_000
	weighted := []int{100, 200, 300, 400}
	for _, tc := range []struct {
		policy  string
		weights []int
		keyed   bool
		uniform bool // the policy ignores weights
		tol     float64
	}{
		{lb.Random, weighted, false, false, 0.01},
		{lb.Random, equalWeights(10, 100), false, false, 0.01},
		{lb.Random, []int{1, 1000, 10, 5000, 7, 3000}, false, false, 0.01},
		{lb.RoundRobin, weighted, false, true, 0.001},
		{lb.WeightedRoundRobin, weighted, false, false, 0.001},
		{lb.WeightedRoundRobin, []int{3, 7, 1, 100}, false, false, 0.001},
		{lb.LeastActive, weighted, false, false, 0.01},
		{lb.LeastActive, append(equalWeights(20, 100), 600, 600, 600, 600), false, false, 0.01}, // power of two choices
		{lb.ConsistentHash, weighted, true, false, 0.03},
		{lb.ConsistentHash, equalWeights(10, 100), true, false, 0.03},
		{lb.ConsistentHash, weighted, false, false, 0.01}, // no key: random
	} {
		t.Run(fmt.Sprintf("%s/%v/keyed=%v", tc.policy, tc.weights, tc.keyed), func(t *testing.T) {
			_, list := newEps(tc.weights...)
			got := share(policy(t, tc.policy)(list), len(list), picks, tc.keyed)
			total := 0
			for _, w := range tc.weights {
				total += w
			}
			for i, w := range tc.weights {
				want := float64(w) / float64(total)
				if tc.uniform {
					want = 1 / float64(len(list))
				}
				if d := got[i] - want; d > tc.tol || d < -tc.tol {
					t.Errorf("endpoint %d (weight %d): share %.4f, want %.4f ± %.3f", i, w, got[i], want, tc.tol)
				}
			}
		})
	}
}

// TestUnavailableShare: an unavailable endpoint's traffic goes to the
// others in proportion to their weights (not all to its neighbour).
func TestUnavailableShare(t *testing.T) {
	for _, name := range builtins {
		t.Run(name, func(t *testing.T) {
			eps, list := newEps(100, 100, 100, 100)
			eps[1].down.Store(true)
			got := share(policy(t, name)(list), len(list), 60_000, name == lb.ConsistentHash)
			tol := 0.015
			if name == lb.ConsistentHash {
				tol = 0.08 // the down endpoint's keys go to its ring neighbours
			}
			if got[1] != 0 {
				t.Errorf("unavailable endpoint got share %.4f", got[1])
			}
			for _, i := range []int{0, 2, 3} {
				if d := got[i] - 1.0/3; d > tol || d < -tol {
					t.Errorf("endpoint %d: share %.4f, want 0.333 ± %.3f", i, got[i], tol)
				}
			}
		})
	}
}

func maxRun(seq []int) int {
	best := 0
	for start := range seq {
		run := 0
		for k := range len(seq) {
			if seq[(start+k)%len(seq)] != seq[start] {
				break
			}
			run++
		}
		best = max(best, run)
	}
	return best
}

// TestWeightedRoundRobinSmooth: weighted_round_robin interleaves, so a
// heavy endpoint does not take its whole share in a row; every period of
// the schedule holds each endpoint exactly its (gcd-reduced) weight.
func TestWeightedRoundRobinSmooth(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		period  int
		maxRun  int // longest run of one endpoint, counted cyclically
	}{
		{[]int{5, 1, 1}, 7, 4},
		{[]int{500, 100, 100}, 7, 4},
		{[]int{1, 1, 1}, 3, 1},
		{[]int{100, 200, 300}, 6, 2},
		{[]int{3, 2}, 5, 2},
		{[]int{1, 1, 1, 1, 10}, 14, 4},
	} {
		t.Run(fmt.Sprint(tc.weights), func(t *testing.T) {
			_, list := newEps(tc.weights...)
			p := policy(t, lb.WeightedRoundRobin)(list)
			seq := make([]int, 3*tc.period)
			for k := range seq {
				seq[k] = p.Pick(&lb.Request{})
			}
			if got := maxRun(seq); got > tc.maxRun {
				t.Errorf("sequence %v has a run of %d, want at most %d", seq, got, tc.maxRun)
			}
			g := 0
			for _, w := range tc.weights {
				g = gcdInt(g, w)
			}
			for start := 0; start+tc.period <= len(seq); start++ {
				counts := make([]int, len(list))
				for _, i := range seq[start : start+tc.period] {
					counts[i]++
				}
				for i, w := range tc.weights {
					if counts[i] != w/g {
						t.Fatalf("window %v: endpoint %d picked %d times, want %d", seq[start:start+tc.period], i, counts[i], w/g)
					}
				}
			}
		})
	}
}

func gcdInt(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// TestWeightedRoundRobinLargeWeights: weights whose reduced sum exceeds
// the schedule cap are scaled, keeping shares close.
func TestWeightedRoundRobinLargeWeights(t *testing.T) {
	weights := []int{997, 1009, 2003, 4001, 7}
	_, list := newEps(weights...)
	got := share(policy(t, lb.WeightedRoundRobin)(list), len(list), 50_000, false)
	for i, w := range weights {
		want := float64(w) / 8017
		if d := got[i] - want; d > 0.002 || d < -0.002 {
			t.Errorf("endpoint %d (weight %d): share %.4f, want %.4f", i, w, got[i], want)
		}
	}
}

// TestLeastActive: the endpoint with the fewest calls in flight per unit of
// weight wins; with many endpoints (power of two choices) the idle ones
// take most of the traffic.
func TestLeastActive(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []int
		active  []int64
		want    int     // the endpoint that must win every pick, or -1
		idle    []int   // with want -1: these endpoints ...
		minIdle float64 // ... get at least this share
	}{
		{"idle wins", []int{100, 100, 100}, []int64{3, 0, 5}, 1, nil, 0},
		{"per weight", []int{300, 100}, []int64{2, 1}, 0, nil, 0},
		{"per weight, busy heavy", []int{300, 100}, []int64{4, 1}, 1, nil, 0},
		{"seven (scan)", equalWeights(7, 100), []int64{9, 9, 9, 9, 9, 1, 9}, 5, nil, 0},
		// P(at least one of two samples idle) = 1 - 0.5² = 0.75.
		{"p2c half idle", equalWeights(40, 100), alternate(40, 0, 10), -1, evens(40), 0.72},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eps, list := newEps(tc.weights...)
			for i, a := range tc.active {
				eps[i].active.Store(a)
			}
			p := policy(t, lb.LeastActive)(list)
			const n = 20_000
			idle := 0
			for range n {
				got := p.Pick(&lb.Request{})
				if tc.want >= 0 && got != tc.want {
					t.Fatalf("Pick = %d (active %d), want %d (active %d)", got, tc.active[got], tc.want, tc.active[tc.want])
				}
				if slices.Contains(tc.idle, got) {
					idle++
				}
			}
			if tc.want < 0 && float64(idle)/n < tc.minIdle {
				t.Errorf("idle endpoints got %.3f of picks, want at least %.2f", float64(idle)/n, tc.minIdle)
			}
		})
	}
}

func alternate(n int, a, b int64) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = a
		if i%2 == 1 {
			s[i] = b
		}
	}
	return s
}

func evens(n int) []int {
	var s []int
	for i := 0; i < n; i += 2 {
		s = append(s, i)
	}
	return s
}

func mapping(p lb.Picker, keys []string) []int {
	m := make([]int, len(keys))
	for k, key := range keys {
		m[k] = p.Pick(&lb.Request{Key: key})
	}
	return m
}

func testKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("session-%d", i)
	}
	return keys
}

// TestConsistentHashStable: the same key goes to the same endpoint, also
// from a picker rebuilt over the same endpoints in another order.
func TestConsistentHashStable(t *testing.T) {
	eps, list := newEps(100, 200, 100, 50, 100)
	keys := testKeys(5000)
	ch := policy(t, lb.ConsistentHash)
	first := mapping(ch(list), keys)
	again := mapping(ch(list), keys)
	rev := slices.Clone(eps)
	slices.Reverse(rev)
	revList := make([]lb.Endpoint, len(rev))
	for i, e := range rev {
		revList[i] = e
	}
	reversed := mapping(ch(revList), keys)
	for k := range keys {
		if first[k] != again[k] {
			t.Fatalf("key %q: endpoint %d, then %d from a rebuilt picker", keys[k], first[k], again[k])
		}
		if eps[first[k]] != rev[reversed[k]] {
			t.Fatalf("key %q: %s, but %s once the list is reversed", keys[k], eps[first[k]].addr, rev[reversed[k]].addr)
		}
	}
	// Without Addr, identity is the index: stable for the same list.
	anons := make([]lb.Endpoint, 4)
	for i := range anons {
		anons[i] = &anon{ep{weight: 100}}
	}
	if a, b := mapping(ch(anons), keys), mapping(ch(anons), keys); !slices.Equal(a, b) {
		t.Fatal("endpoints without Addr: mapping differs between two builds of the same list")
	}
}

// TestConsistentHashRemap: adding an endpoint to ten moves about 1/11 of
// the keys, all to the new endpoint; removing one moves only its keys.
func TestConsistentHashRemap(t *testing.T) {
	ch := policy(t, lb.ConsistentHash)
	keys := testKeys(20_000)
	eps, list := newEps(equalWeights(11, 100)...)
	ten := mapping(ch(list[:10]), keys)
	eleven := mapping(ch(list), keys)
	moved := 0
	for k := range keys {
		if ten[k] != eleven[k] {
			moved++
			if eleven[k] != 10 {
				t.Fatalf("key %q moved from %s to %s, not to the added endpoint", keys[k], eps[ten[k]].addr, eps[eleven[k]].addr)
			}
		}
	}
	frac := float64(moved) / float64(len(keys))
	if frac < 0.5/11 || frac > 1.5/11 {
		t.Errorf("adding one endpoint to ten moved %.3f of the keys, want about 1/11 = %.3f (0.5x-1.5x)", frac, 1.0/11)
	}
	t.Logf("adding one endpoint to ten moved %.4f of keys (ideal %.4f)", frac, 1.0/11)

	// Remove endpoint 4 from the eleven.
	without := append(slices.Clone(list[:4]), list[5:]...)
	after := mapping(ch(without), keys)
	for k := range keys {
		was := eleven[k]
		now := after[k]
		if now >= 4 {
			now++ // index in the eleven
		}
		if was != 4 && now != was {
			t.Fatalf("key %q moved from %s to %s though only %s was removed", keys[k], eps[was].addr, eps[now].addr, eps[4].addr)
		}
		if was == 4 && now == 4 {
			t.Fatalf("key %q still on the removed endpoint", keys[k])
		}
	}
}

// TestConsistentHashFailover: when a key's endpoint is tried or
// unavailable, the key goes to the next endpoint on the ring, and back
// once it recovers.
func TestConsistentHashFailover(t *testing.T) {
	eps, list := newEps(equalWeights(8, 100)...)
	p := policy(t, lb.ConsistentHash)(list)
	for _, key := range testKeys(200) {
		owner := p.Pick(&lb.Request{Key: key})
		var tr lb.Tried
		tr.Add(owner)
		next := p.Pick(&lb.Request{Key: key, Tried: &tr})
		if next == owner || next < 0 {
			t.Fatalf("key %q: failover from %d picked %d", key, owner, next)
		}
		eps[owner].down.Store(true)
		if got := p.Pick(&lb.Request{Key: key}); got != next {
			t.Fatalf("key %q: owner %d down: picked %d, want the ring successor %d (as with it tried)", key, owner, got, next)
		}
		eps[owner].down.Store(false)
		if got := p.Pick(&lb.Request{Key: key}); got != owner {
			t.Fatalf("key %q: owner %d back: picked %d", key, owner, got)
		}
	}
}

// TestGrouped: groups get traffic by weight; a group without available
// endpoints gives its share to the others; zero-weight and unlisted
// groups serve only when the weighted ones cannot.
func TestGrouped(t *testing.T) {
	// g1: endpoints 0-3, g2: 4-5, g3 (unlisted): 6, g0 (weight 0): 7.
	groups := []string{"g1", "g1", "g1", "g1", "g2", "g2", "g3", "g0"}
	weights := map[string]int{"g1": 1, "g2": 3, "g0": 0, "nobody": 10}
	for _, name := range builtins {
		t.Run(name, func(t *testing.T) {
			eps, list := newEps(equalWeights(8, 100)...)
			p := lb.Grouped(list, groups, weights, policy(t, name))
			keyed := name == lb.ConsistentHash
			groupShare := func() map[string]float64 {
				s := share(p, len(list), 40_000, keyed)
				m := make(map[string]float64)
				for i, x := range s {
					m[groups[i]] += x
				}
				return m
			}
			got := groupShare()
			if d := got["g1"] - 0.25; d > 0.015 || d < -0.015 {
				t.Errorf("g1 share %.4f, want 0.25", got["g1"])
			}
			if got["g3"] != 0 || got["g0"] != 0 {
				t.Errorf("zero-weight groups got traffic: g3 %.4f, g0 %.4f", got["g3"], got["g0"])
			}
			// g2 down: all to g1.
			eps[4].down.Store(true)
			eps[5].down.Store(true)
			if got := groupShare(); got["g1"] < 0.9999 {
				t.Errorf("g2 down: g1 share %.4f, want 1", got["g1"])
			}
			// g1 and g2 down: the zero-weight tier, both endpoints.
			for i := range 4 {
				eps[i].down.Store(true)
			}
			if got := groupShare(); got["g3"]+got["g0"] < 0.9999 || got["g3"] < 0.3 || got["g0"] < 0.3 {
				t.Errorf("weighted groups down: g3 %.4f, g0 %.4f, want both about 0.5", got["g3"], got["g0"])
			}
			// Failover order with everything up: weighted groups first.
			for _, e := range eps {
				e.down.Store(false)
			}
			var tr lb.Tried
			r := &lb.Request{Key: "k", Tried: &tr}
			var order []string
			for range len(list) {
				i := p.Pick(r)
				order = append(order, groups[i])
				tr.Add(i)
			}
			for k, g := range order {
				if (g == "g3" || g == "g0") && k < 6 {
					t.Errorf("failover order %v: zero-weight group before the weighted ones ran out", order)
					break
				}
			}
		})
	}
}

// TestGroupedDegenerate: with no split to make, Grouped is the policy.
func TestGroupedDegenerate(t *testing.T) {
	_, list := newEps(100, 300)
	for _, tc := range []struct {
		name    string
		groupOf []string
		weights map[string]int
	}{
		{"no weights", []string{"a", "b"}, nil},
		{"weights for absent groups", []string{"a", "b"}, map[string]int{"c": 1}},
		{"short groupOf", nil, map[string]int{"x": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := lb.Grouped(list, tc.groupOf, tc.weights, policy(t, lb.Random))
			got := share(p, 2, 40_000, false)
			if d := got[1] - 0.75; d > 0.015 || d < -0.015 {
				t.Errorf("weight 300 endpoint share %.4f, want 0.75 (plain random)", got[1])
			}
		})
	}
	// Data-centre preference: the local DC weighted, the rest as backup.
	eps, list := newEps(100, 100, 100, 100)
	dc := []string{"dc-a", "dc-b", "dc-a", "dc-b"}
	p := lb.Grouped(list, dc, map[string]int{"dc-a": 1}, policy(t, lb.RoundRobin))
	for range 100 {
		if i := p.Pick(&lb.Request{}); dc[i] != "dc-a" {
			t.Fatalf("picked %d in %s while the local DC is up", i, dc[i])
		}
	}
	eps[0].down.Store(true)
	eps[2].down.Store(true)
	for range 100 {
		if i := p.Pick(&lb.Request{}); dc[i] != "dc-b" {
			t.Fatalf("picked %d in %s (down) while dc-b is up", i, dc[i])
		}
	}
}

// TestGroupedKeyAffinity: with a key, Grouped keeps it in one group and
// consistent_hash keeps it on one endpoint.
func TestGroupedKeyAffinity(t *testing.T) {
	_, list := newEps(equalWeights(9, 100)...)
	groups := groupsOf(9)
	ch := policy(t, lb.ConsistentHash)
	p1 := lb.Grouped(list, groups, map[string]int{"g0": 1, "g1": 1, "g2": 2}, ch)
	p2 := lb.Grouped(list, groups, map[string]int{"g0": 1, "g1": 1, "g2": 2}, ch)
	for _, key := range testKeys(500) {
		a := p1.Pick(&lb.Request{Key: key})
		for range 3 {
			if b := p2.Pick(&lb.Request{Key: key}); b != a {
				t.Fatalf("key %q: %d then %d", key, a, b)
			}
		}
	}
}

// TestConcurrentPicks: many goroutines pick while others flip
// availability and load; every result must stay in range and untried.
func TestConcurrentPicks(t *testing.T) {
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) {
			eps, list := newEps(append(equalWeights(20, 100), 50, 300, 7)...)
			p := v.build(list)
			var wg sync.WaitGroup
			stop := make(chan struct{})
			var flip sync.WaitGroup
			flip.Add(1)
			go func() {
				defer flip.Done()
				rng := rand.New(rand.NewPCG(3, 3))
				for {
					select {
					case <-stop:
						return
					default:
					}
					e := eps[rng.IntN(len(eps))]
					e.down.Store(rng.IntN(3) == 0)
					e.active.Store(rng.Int64N(10))
				}
			}()
			errs := make(chan string, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 9))
					var tr lb.Tried
					r := &lb.Request{Tried: &tr}
					for k := range 2000 {
						tr.Reset()
						r.Key = ""
						if k%2 == 0 {
							r.Key = randKey(rng)
						}
						for range rng.IntN(4) {
							tr.Add(rng.IntN(len(list)))
						}
						i := p.Pick(r)
						if i < 0 || i >= len(list) || tr.Has(i) {
							errs <- fmt.Sprintf("Pick = %d with tried %d endpoints", i, tr.Len())
							return
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			flip.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
		})
	}
}

// TestPickAllocs: Pick allocates nothing, for every policy, size and
// state (failover with tried endpoints, unavailable endpoints, keys).
func TestPickAllocs(t *testing.T) {
	for _, v := range variants(t) {
		for _, n := range []int{3, 10, 100} {
			eps, list := newEps(equalWeights(n, 100)...)
			eps[0].down.Store(true)
			p := v.build(list)
			var tr lb.Tried
			tr.Add(1)
			tr.Add(n - 1)
			for _, tc := range []struct {
				name string
				r    *lb.Request
			}{
				{"plain", &lb.Request{}},
				{"keyed", &lb.Request{Key: "user-42"}},
				{"tried", &lb.Request{Tried: &tr}},
				{"keyed tried", &lb.Request{Key: "user-42", Tried: &tr}},
			} {
				if a := testing.AllocsPerRun(200, func() { p.Pick(tc.r) }); a != 0 {
					t.Errorf("%s n=%d %s: %.2f allocs per Pick, want 0", v.name, n, tc.name, a)
				}
			}
		}
	}
}

// A call that makes a second pick (failover, backup request) must not
// shift the turns: with two endpoints and two picks per call, the first
// pick of each call would otherwise land on the same endpoint forever.
func TestRetryPicksTakeNoTurn(t *testing.T) {
	for _, name := range []string{lb.RoundRobin, lb.WeightedRoundRobin} {
		t.Run(name, func(t *testing.T) {
			p, _ := lb.Lookup(name)
			picker := p([]lb.Endpoint{&ep{weight: 100}, &ep{weight: 100}})
			first := map[int]int{}
			for i := 0; i < 100; i++ {
				var tried lb.Tried
				r := &lb.Request{Tried: &tried}
				a := picker.Pick(r)
				first[a]++
				tried.Add(a)
				if b := picker.Pick(r); b == a || b < 0 {
					t.Fatalf("second pick %d after %d", b, a)
				}
			}
			if first[0] != 50 || first[1] != 50 {
				t.Fatalf("first picks: %v", first)
			}
		})
	}
}
