package lb_test

import (
	"fmt"
	"testing"

	"github.com/meshgate/meshgate/gateway/upstream/lb"
)

// BenchmarkPick measures one Pick for each policy and Grouped at 3, 10
// and 100 endpoints with mixed weights, sequentially and in parallel
// (the atomic counters of the round-robin policies are shared).
func BenchmarkPick(b *testing.B) {
	type bench struct {
		name  string
		build func([]lb.Endpoint) lb.Picker
		key   bool
	}
	var bs []bench
	for _, name := range builtins {
		bs = append(bs, bench{name, policy(b, name), name == lb.ConsistentHash})
	}
	bs = append(bs, bench{"grouped_random", func(eps []lb.Endpoint) lb.Picker {
		return lb.Grouped(eps, groupsOf(len(eps)), testGroupWeights, policy(b, lb.Random))
	}, false})
	for _, bc := range bs {
		for _, n := range []int{3, 10, 100} {
			weights := make([]int, n)
			for i := range weights {
				weights[i] = 50 + 50*(i%4)
			}
			eps, list := newEps(weights...)
			for i, e := range eps {
				e.active.Store(int64(i % 5))
			}
			p := bc.build(list)
			r := &lb.Request{}
			if bc.key {
				r.Key = "user-1234567"
			}
			b.Run(fmt.Sprintf("%s/n=%d", bc.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p.Pick(r)
				}
			})
			b.Run(fmt.Sprintf("%s/n=%d/parallel", bc.name, n), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					r := *r
					for pb.Next() {
						p.Pick(&r)
					}
				})
			})
		}
	}
}

// BenchmarkPickFailover measures the pick of a second attempt (one
// endpoint tried, one unavailable).
func BenchmarkPickFailover(b *testing.B) {
	for _, name := range builtins {
		for _, n := range []int{3, 10, 100} {
			eps, list := newEps(equalWeights(n, 100)...)
			eps[2].down.Store(true)
			p := policy(b, name)(list)
			var tr lb.Tried
			r := &lb.Request{Key: "user-1234567", Tried: &tr}
			tr.Add(p.Pick(r))
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p.Pick(r)
				}
			})
		}
	}
}
