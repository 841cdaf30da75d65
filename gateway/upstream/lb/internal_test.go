package lb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

type benchEp struct {
	w      int
	active atomic.Int64
}

func (e *benchEp) Weight() int     { return e.w }
func (e *benchEp) Active() int64   { return e.active.Load() }
func (e *benchEp) Available() bool { return true }

// BenchmarkLeastActiveStrategy compares the full scan with the power of
// two choices at several list lengths; p2cThreshold is set from it.
func BenchmarkLeastActiveStrategy(b *testing.B) {
	for _, n := range []int{3, 8, 16, 32, 100} {
		eps := make([]Endpoint, n)
		for i := range eps {
			e := &benchEp{w: 100}
			e.active.Store(int64(i % 3))
			eps[i] = e
		}
		p := newLeastActive(eps).(*leastActivePicker)
		b.Run(fmt.Sprintf("scan/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.scanLeast(view{}, true)
			}
		})
		b.Run(fmt.Sprintf("p2c/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.p2c(view{})
			}
		})
	}
}

func TestSmoothScheduleCap(t *testing.T) {
	for _, w := range [][]int64{
		{1, 1 << 20},
		{997, 1009, 2003, 4001, 7},
		make([]int64, 3*maxSchedule), // more endpoints than the cap
	} {
		for i := range w {
			if w[i] == 0 {
				w[i] = int64(1 + i%3)
			}
		}
		s := smoothSchedule(w)
		if len(s) > max(maxSchedule, len(w))+len(w) {
			t.Errorf("%d weights: schedule of %d entries", len(w), len(s))
		}
		seen := make([]bool, len(w))
		for _, i := range s {
			seen[i] = true
		}
		for i, ok := range seen {
			if !ok {
				t.Errorf("%d weights: endpoint %d (weight %d) never scheduled", len(w), i, w[i])
				break
			}
		}
	}
}

// nginxSmooth is nginx's smooth weighted round robin as nginx writes it,
// O(sum x n): the reference interleave must match.
func nginxSmooth(w []int64) []int32 {
	var sum int64
	for _, x := range w {
		sum += x
	}
	cur := make([]int64, len(w))
	var seq []int32
	for range sum {
		best := 0
		for i := range cur {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		seq = append(seq, int32(best))
	}
	return seq
}

func TestInterleaveMatchesNginx(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	cases := [][]int64{{5, 1, 1}, {1, 1, 1}, {1, 2, 3}, {3, 2}, {1, 1, 1, 1, 10}, {7}, {2, 2, 1, 1, 2, 1}}
	for range 200 {
		w := make([]int64, 1+rng.IntN(12))
		for i := range w {
			w[i] = 1 + rng.Int64N(int64(1+rng.IntN(20)))
		}
		cases = append(cases, w)
	}
	for _, w := range cases {
		var sum int64
		for _, x := range w {
			sum += x
		}
		if got, want := interleave(w, sum), nginxSmooth(w); !slices.Equal(got, want) {
			t.Fatalf("weights %v: interleave %v, nginx %v", w, got, want)
		}
	}
}
