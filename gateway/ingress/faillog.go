package ingress

import (
	"sync"
	"time"
)

// FailLogBurst is how many "request failed" / "call failed" warnings an
// ingress logs per second at most. A failing upstream fails every
// request; one line per request would flood the log (30,000 lines a
// second were measured) and spend the gateway's CPU on it. Every failure
// is still counted (meshgate_ingress_errors_total) and, with the access
// log on, written there.
const FailLogBurst = 10

// failLog limits an ingress's failure warnings to FailLogBurst a second.
// The lines it holds back are counted, and the next line it lets through
// carries the count ("suppressed", N).
type failLog struct {
	mu         sync.Mutex
	sec        int64 // the second counted
	n          int   // lines let through in it
	suppressed int   // lines held back since the last one let through
}

// allow reports whether a warning may be logged now and, if so, how many
// were held back before it.
func (f *failLog) allow(now time.Time) (suppressed int, ok bool) {
	sec := now.Unix()
	f.mu.Lock()
	defer f.mu.Unlock()
	if sec != f.sec {
		f.sec, f.n = sec, 0
	}
	if f.n >= FailLogBurst {
		f.suppressed++
		return 0, false
	}
	f.n++
	suppressed, f.suppressed = f.suppressed, 0
	return suppressed, true
}

// withSuppressed adds the count of held-back lines to a warning's
// attributes when there were any.
func withSuppressed(suppressed int, args ...any) []any {
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	return args
}
