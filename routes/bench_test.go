package routes

import (
	"fmt"
	"testing"
)

// BenchmarkMatch matches one example request per route, round-robin, on
// tables of 10 to 1,000 generated routes (see genRoutes). The time per
// match should stay flat as the table grows: the trie follows literal
// segments through maps instead of scanning routes.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		routes, reqs := genRoutes(n)
		tab, _ := build(b, routes...)
		paths := make([][]byte, len(reqs))
		for i, r := range reqs {
			paths[i] = []byte(r.path)
		}
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			var p Params
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := &reqs[i]
				if _, res := tab.Match(r.method, paths[i], &p); res != Found {
					b.Fatal("no match")
				}
				if i++; i == len(reqs) {
					i = 0
				}
			}
		})
		b.Run(fmt.Sprintf("routes=%d/with-get", n), func(b *testing.B) {
			var p Params
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := &reqs[i]
				if _, res := tab.Match(r.method, paths[i], &p); res != Found {
					b.Fatal("no match")
				}
				for j := 0; j < p.Len(); j++ {
					if _, ok := p.Get(p.Name(j)); !ok {
						b.Fatal("no value")
					}
				}
				if i++; i == len(reqs) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkMatchMiss measures the 404 and 405 paths, which walk every
// branch that could match.
func BenchmarkMatchMiss(b *testing.B) {
	for _, n := range []int{10, 1000} {
		routes, _ := genRoutes(n)
		tab, _ := build(b, routes...)
		b.Run(fmt.Sprintf("routes=%d/404", n), func(b *testing.B) {
			path := []byte("/v1/nothing/abc/sub1/xyz")
			var p Params
			b.ReportAllocs()
			for b.Loop() {
				tab.Match("GET", path, &p)
			}
		})
		b.Run(fmt.Sprintf("routes=%d/405", n), func(b *testing.B) {
			path := []byte("/v1/resource1/abc/sub1/xyz")
			var p Params
			b.ReportAllocs()
			for b.Loop() {
				tab.Match("PUT", path, &p)
			}
		})
	}
}

// BenchmarkMatchDecode measures Get on a value that needs decoding, the
// one case that allocates.
func BenchmarkMatchDecode(b *testing.B) {
	tab, _ := build(b, "GET /v1/users/{id}", "GET /v1/files/{path=**}")
	path := []byte("/v1/files/dir%2Fsub/a%20file.txt")
	var p Params
	b.ReportAllocs()
	for b.Loop() {
		tab.Match("GET", path, &p)
		if _, ok := p.Get("path"); !ok {
			b.Fatal("no value")
		}
	}
}

// BenchmarkReferenceScan is the naive matcher of the tests (split the path,
// try every template, grpc-gateway style) on the same tables, for contrast:
// its cost grows with the number of routes.
func BenchmarkReferenceScan(b *testing.B) {
	for _, n := range []int{10, 1000} {
		routes, reqs := genRoutes(n)
		_, refs := build(b, routes...)
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := &reqs[i]
				if res := refMatch(refs, r.method, r.path); res.res != Found {
					b.Fatal("no match")
				}
				if i++; i == len(reqs) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkBuild measures compiling 1,000 routes, as a config reload does.
func BenchmarkBuild(b *testing.B) {
	routes, _ := genRoutes(1000)
	var bld Builder
	for i, l := range routes {
		var m, t string
		fmt.Sscan(l, &m, &t)
		if err := bld.Add(m, t, i); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bld.Build(); err != nil {
			b.Fatal(err)
		}
	}
}
