package procs

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// fake returns a Governor whose GOMAXPROCS calls are recorded instead of
// applied, with Max processors.
func fake(maxProcs int) (*Governor, *[]int) {
	var sets []int
	g := &Governor{Max: maxProcs, set: func(n int) int {
		if n > 0 {
			sets = append(sets, n)
		}
		return maxProcs
	}, cpu: func() time.Duration { return 0 }}
	g.init()
	return g, &sets
}

const tick = 250 * time.Millisecond

// use feeds one interval at cores of CPU use, the machine's idle time
// unknown.
func use(g *Governor, cores float64) {
	g.observe(time.Duration(cores*float64(tick)), -1, tick)
}

// useFor feeds intervals intervals at cores of CPU use.
func useFor(g *Governor, cores float64, intervals int) {
	for i := 0; i < intervals; i++ {
		use(g, cores)
	}
}

func TestStartsAtMin(t *testing.T) {
	g, sets := fake(8)
	if g.Procs() != 1 || len(*sets) != 1 || (*sets)[0] != 1 {
		t.Fatalf("procs %d, GOMAXPROCS calls %v; want 1 and [1]", g.Procs(), *sets)
	}
}

func TestGrowsWhenSaturated(t *testing.T) {
	for _, c := range []struct {
		name       string
		max        int
		from       int
		cores      float64
		want       int
		wantChange bool
	}{
		{"under the grow line", 8, 1, 0.90, 1, false},
		{"one saturated processor doubles", 8, 1, 0.99, 2, true},
		{"just over the line still adds one", 8, 1, 0.96, 2, true},
		{"four saturated become eight", 16, 4, 3.9, 8, true},
		{"capped at max", 3, 2, 1.95, 3, true},
		{"at max nothing grows", 2, 2, 2.0, 2, false},
		{"more CPU than processors (threads outside Go code)", 16, 2, 3.2, 7, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, sets := fake(c.max)
			g.n.Store(int32(c.from))
			*sets = nil
			use(g, c.cores)
			if g.Procs() != c.want {
				t.Fatalf("procs %d, want %d", g.Procs(), c.want)
			}
			if changed := len(*sets) > 0; changed != c.wantChange {
				t.Fatalf("GOMAXPROCS calls %v; want a change: %v", *sets, c.wantChange)
			}
		})
	}
}

// A saturated process grows only when the machine has MinIdle cores idle:
// with every CPU busy a second processor would only take turns.
func TestGrowsOnlyWithIdleCPUs(t *testing.T) {
	for _, c := range []struct {
		name     string
		minIdle  float64
		idle     float64 // cores; negative: unknown
		wantGrow bool
	}{
		{"a core idle", 0, 1.0, true},
		{"exactly the default", 0, DefaultMinIdle, true},
		{"a fifth of a core idle", 0, 0.2, false},
		{"nothing idle", 0, 0, false},
		{"idle unknown", 0, -1, true},
		{"check off", -1, 0, true},
		{"a higher bar", 1.5, 1.0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, _ := fake(8)
			if c.minIdle != 0 {
				g.MinIdle = c.minIdle
			}
			idle := time.Duration(-1)
			if c.idle >= 0 {
				idle = time.Duration(c.idle * float64(tick))
			}
			g.observe(time.Duration(0.99*float64(tick)), idle, tick)
			if grew := g.Procs() > 1; grew != c.wantGrow {
				t.Fatalf("procs %d; want growth: %v", g.Procs(), c.wantGrow)
			}
		})
	}
}

func TestParseIdle(t *testing.T) {
	stat := []byte("cpu  4705 150 1120 16250 520 0 12 0 0 0\ncpu0 2000 75 560 8125 260 0 6 0 0 0\n")
	if d, ok := parseIdle(stat); !ok || d != (16250+520)*10*time.Millisecond {
		t.Errorf("parseIdle = %v, %v; want %v", d, ok, (16250+520)*10*time.Millisecond)
	}
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu 1 2 3\n", "cpu 1 2 3 x 5\n"} {
		if d, ok := parseIdle([]byte(bad)); ok {
			t.Errorf("parseIdle(%q) = %v, true; want false", bad, d)
		}
	}
}

// machineIdle reads this machine's idle clock, which never goes back.
func TestMachineIdle(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/stat")
	}
	a, ok := machineIdle()
	if !ok || a <= 0 {
		t.Fatalf("machineIdle = %v, %v", a, ok)
	}
	if b, ok := machineIdle(); !ok || b < a {
		t.Fatalf("machineIdle went from %v to %v (%v)", a, b, ok)
	}
}

func TestShrinksSlowly(t *testing.T) {
	g, sets := fake(4)
	g.n.Store(4)
	*sets = nil
	// 1.0 core is under 0.5×3: one processor goes after 8 low intervals.
	useFor(g, 1.0, DefaultShrinkAfter-1)
	if g.Procs() != 4 {
		t.Fatalf("shrank after %d intervals: procs %d", DefaultShrinkAfter-1, g.Procs())
	}
	use(g, 1.0)
	if g.Procs() != 3 || len(*sets) != 1 || (*sets)[0] != 3 {
		t.Fatalf("procs %d, calls %v; want 3 after %d low intervals", g.Procs(), *sets, DefaultShrinkAfter)
	}
	// 1.0 is not under 0.5×2: it stays at 3.
	useFor(g, 1.0, 3*DefaultShrinkAfter)
	if g.Procs() != 3 {
		t.Fatalf("procs %d, want 3 (1 core is not under 0.5×2)", g.Procs())
	}
}

func TestShrinkNeedsConsecutiveLowIntervals(t *testing.T) {
	g, _ := fake(2)
	g.n.Store(2)
	for round := 0; round < 5; round++ {
		useFor(g, 0.1, DefaultShrinkAfter-1)
		use(g, 0.7) // one busier interval restarts the count
	}
	if g.Procs() != 2 {
		t.Fatalf("procs %d: a busy interval in every 8 must keep 2", g.Procs())
	}
	useFor(g, 0.1, DefaultShrinkAfter)
	if g.Procs() != 1 {
		t.Fatalf("procs %d, want 1", g.Procs())
	}
	useFor(g, 0, 3*DefaultShrinkAfter)
	if g.Procs() != 1 {
		t.Fatalf("procs %d: never below Min", g.Procs())
	}
}

func TestNoOscillationAtTheBoundary(t *testing.T) {
	// A load that saturates one processor: the governor grows; with two
	// the same work costs a bit more and must not make it shrink back.
	g, sets := fake(2)
	*sets = nil
	use(g, 0.97)
	useFor(g, 1.0, 10*DefaultShrinkAfter)
	if g.Procs() != 2 || len(*sets) != 1 {
		t.Fatalf("procs %d, GOMAXPROCS calls %v; want one change to 2", g.Procs(), *sets)
	}
}

func TestMaxOneDoesNothing(t *testing.T) {
	g, sets := fake(1)
	*sets = nil
	use(g, 1.5)
	if g.Procs() != 1 || len(*sets) != 0 {
		t.Fatalf("procs %d, calls %v", g.Procs(), *sets)
	}
}

// TestRunFollowsRealCPU runs the Governor on the real runtime: two
// goroutines that keep CPUs busy saturate one processor, so it must grow
// to two; when they stop it must come back to one.
func TestRunFollowsRealCPU(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	changes := make(chan int, 16)
	// Grow at 0.4 of a core: on a CI machine busy with other packages'
	// tests the burning goroutines may get well under a whole CPU.
	// MinIdle off: the test burns the CPUs whose idle time it would read.
	g := &Governor{Max: 2, Interval: 50 * time.Millisecond, Grow: 0.4, ShrinkAfter: 2, MinIdle: -1,
		OnChange: func(n int) { changes <- n }}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	stop := make(chan struct{})
	var burn sync.WaitGroup
	for i := 0; i < 2; i++ {
		burn.Add(1)
		go func() {
			defer burn.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for j := 0; j < 1e5; j++ {
				}
			}
		}()
	}
	wait := func(want int) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case n := <-changes:
				if n == want {
					return
				}
			case <-timeout:
				t.Fatalf("GOMAXPROCS did not become %d (now %d)", want, runtime.GOMAXPROCS(0))
			}
		}
	}
	wait(2)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("runtime.GOMAXPROCS = %d after the change to 2", got)
	}
	close(stop)
	burn.Wait()
	wait(1)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("runtime.GOMAXPROCS = %d after the change to 1", got)
	}
}
