// Package procs sizes the Go runtime's processor count (GOMAXPROCS) to
// the process's load: meshgate's runtime.gomaxprocs "auto".
//
// A gateway or sidecar that uses a fraction of one CPU is cheaper per
// request with one processor: with two or more, every goroutine made
// ready while another processor is idle wakes an OS thread of its own
// (a futex wake, often an idle CPU's wake-up), threads spin looking for
// work and the runtime's monitor polls faster; on the 2-vCPU benchmark
// machine, HTTP -> Motan2 cost 21% less CPU per request with
// GOMAXPROCS=1 (benchmarks/RESULTS.md). One processor caps the process
// at about one CPU of Go code, though, so the Governor adds processors as
// soon as the ones it has are nearly saturated and takes them back,
// slowly, when the load would fit in fewer.
//
// The rule, evaluated every Interval on the process's CPU time (user plus
// system, from getrusage, so it counts every thread):
//
//   - with n processors, a CPU use above Grow×n cores (default 0.95) grows
//     n at once to the CPU use divided by Target (default 0.5), at least
//     n+1 and at most Max: a saturated process doubles. It grows only if
//     the machine had at least MinIdle cores idle (default 0.5, from
//     /proc/stat) over the interval: with every CPU busy, a second
//     processor cannot run beside the first, it only takes turns with other
//     processes, and the process pays the cost of more processors (15-20%
//     more CPU per request for the same throughput, measured on the
//     benchmark machine at wrk -c128);
//   - a CPU use below Shrink×(n-1) cores (default 0.5) for ShrinkAfter
//     intervals in a row (default 8, i.e. 2s) takes one processor away, down
//     to Min.
//
// The bands do not overlap: a process that shrinks to n-1 processors was
// using less than half a core per remaining processor, far below the 0.95
// that grows it again, and one that grows spreads a load of more than
// 0.95×n cores over at least n+1 processors, which is above the line that
// would shrink them back (0.5×n).
package procs

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of the Governor's rule.
const (
	DefaultInterval = 250 * time.Millisecond
	// DefaultGrow is close to 1 on purpose: on the benchmark machine one
	// processor at 0.8–0.9 of a core served as many requests as two
	// (benchmarks/RESULTS.md), so growing there only cost CPU.
	DefaultGrow        = 0.95
	DefaultTarget      = 0.5
	DefaultShrink      = 0.5
	DefaultShrinkAfter = 8
	DefaultMinIdle     = 0.5
)

// Governor moves runtime.GOMAXPROCS between Min and Max with the
// process's CPU use. Zero fields take the defaults above; Max defaults to
// the runtime's processor count when Run starts (Go's default: the CPUs
// the process may use, or its cgroup CPU limit).
type Governor struct {
	Min, Max    int
	Interval    time.Duration
	Grow        float64
	Target      float64
	Shrink      float64
	ShrinkAfter int
	// MinIdle is how many cores of the machine must have been idle over
	// an interval for the Governor to grow (default 0.5; negative: grow
	// whatever the machine's load).
	MinIdle float64
	// Logger gets one line per change (default: none), and at debug level
	// a line for each growth declined because the machine was busy.
	Logger *slog.Logger
	// OnChange, when set, is called after each change with the new count
	// (tests, metrics).
	OnChange func(procs int)

	// set replaces runtime.GOMAXPROCS, cpu the process CPU clock and idle
	// the machine's idle clock (all CPUs; ok false when unknown) in tests.
	set  func(int) int
	cpu  func() time.Duration
	idle func() (time.Duration, bool)

	n   atomic.Int32 // the processor count in force
	low int          // consecutive intervals under the shrink line
}

// Run sets GOMAXPROCS to Min and then adjusts it every Interval until ctx
// ends, when it leaves the count as it is.
func (g *Governor) Run(ctx context.Context) {
	g.init()
	t := time.NewTicker(g.Interval)
	defer t.Stop()
	c0, w0 := g.cpu(), time.Now()
	i0, ok0 := g.idle()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c1 := g.cpu()
			i1, ok1 := g.idle()
			idle := time.Duration(-1) // unknown
			if ok0 && ok1 {
				idle = i1 - i0
			}
			g.observe(c1-c0, idle, now.Sub(w0))
			c0, i0, ok0, w0 = c1, i1, ok1, now
		}
	}
}

// Procs returns the processor count the Governor set last (0 before Run).
func (g *Governor) Procs() int { return int(g.n.Load()) }

func (g *Governor) init() {
	if g.set == nil {
		g.set = runtime.GOMAXPROCS
	}
	if g.cpu == nil {
		g.cpu = processCPU
	}
	if g.idle == nil {
		g.idle = machineIdle
	}
	if g.MinIdle == 0 {
		g.MinIdle = DefaultMinIdle
	}
	if g.Max <= 0 {
		g.Max = g.set(0)
	}
	g.Min = min(max(g.Min, 1), g.Max)
	if g.Interval <= 0 {
		g.Interval = DefaultInterval
	}
	g.Grow = orDefault(g.Grow, DefaultGrow)
	g.Target = orDefault(g.Target, DefaultTarget)
	g.Shrink = orDefault(g.Shrink, DefaultShrink)
	if g.ShrinkAfter <= 0 {
		g.ShrinkAfter = DefaultShrinkAfter
	}
	g.n.Store(int32(g.Min))
	g.set(g.Min)
}

func orDefault(v, d float64) float64 {
	if v <= 0 {
		return d
	}
	return v
}

// observe applies the rule to cpu time used and the machine's idle time
// (negative: unknown) over wall time.
func (g *Governor) observe(cpu, idle, wall time.Duration) {
	if wall <= 0 {
		return
	}
	use := float64(cpu) / float64(wall) // cores
	n := g.Procs()
	switch {
	case n < g.Max && use > g.Grow*float64(n):
		g.low = 0
		if free := float64(idle) / float64(wall); idle >= 0 && g.MinIdle >= 0 && free < g.MinIdle {
			if g.Logger != nil {
				g.Logger.Debug("runtime: GOMAXPROCS not grown: the machine's CPUs are busy", "procs", n,
					"cpu_cores", math.Round(use*100)/100, "idle_cores", math.Round(free*100)/100)
			}
			return
		}
		to := int(math.Ceil(use / g.Target))
		g.change(min(max(to, n+1), g.Max), use)
	case n > g.Min && use < g.Shrink*float64(n-1):
		g.low++
		if g.low >= g.ShrinkAfter {
			g.low = 0
			g.change(n-1, use)
		}
	default:
		g.low = 0
	}
}

func (g *Governor) change(to int, use float64) {
	from := g.Procs()
	g.n.Store(int32(to))
	g.set(to)
	if g.Logger != nil {
		g.Logger.Info("runtime: GOMAXPROCS changed", "from", from, "to", to,
			"cpu_cores", math.Round(use*100)/100, "max", g.Max)
	}
	if g.OnChange != nil {
		g.OnChange(to)
	}
}

// processCPU is the CPU time (user + system) of every thread of the
// process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
