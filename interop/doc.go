// Package interop checks that meshgate's motan2 package interoperates with
// github.com/weibocom/motan-go, the reference Motan2 implementation, over
// real loopback TCP connections, and benchmarks the two against each other.
//
// It is a separate module so that the gateway module never depends on
// motan-go (and its large, dated dependency tree). Everything lives in the
// _test.go files; run it with
//
//	cd interop && go test -race ./...
//	cd interop && go test -run='^$' -bench=. ./...
package interop
