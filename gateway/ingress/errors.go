package ingress

import (
	"sync/atomic"

	"github.com/meshgate/meshgate/translate"
)

// Ingress kinds, the index of ErrorCounts.
const (
	KindHTTP = iota
	KindGRPC
	KindMotan2
	numKinds
)

var kindNames = [numKinds]string{"http", "grpc", "motan2"}

// ErrorCounts counts the requests each ingress answered with an error, by
// code, whatever stage answered: no route, a method not allowed, arguments
// that do not bind, a malformed request or one over a limit, as well as
// errors from a route's chain and upstream. Route metrics count only the
// calls that reached a route chain; these counters also see the rest.
// Counting is one atomic add. A nil *ErrorCounts counts nothing.
type ErrorCounts struct {
	n [numKinds][translate.Unauthenticated + 1]atomic.Uint64
}

func (c *ErrorCounts) add(kind int, code translate.Code) {
	if c == nil || code > translate.Unauthenticated {
		return
	}
	c.n[kind][code].Add(1)
}

// Each calls fn for every ingress and code with a count above zero.
func (c *ErrorCounts) Each(fn func(ingress string, code translate.Code, n uint64)) {
	if c == nil {
		return
	}
	for k := range c.n {
		for code := range c.n[k] {
			if n := c.n[k][code].Load(); n > 0 {
				fn(kindNames[k], translate.Code(code), n)
			}
		}
	}
}
