// Package leakcheck fails a test binary that leaves goroutines running.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// After all tests pass it waits (up to a deadline, polling) for goroutines
// started by the tests to end, and reports the stacks of those that do not.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// Timeout is how long Main waits for goroutines to finish.
var Timeout = 10 * time.Second

// Main runs the tests and then the leak check.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := Wait(Timeout); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutine(s) still running after the tests:\n\n%s\n",
				len(leaks), strings.Join(leaks, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// Wait polls until no unexpected goroutine is left or timeout passes, and
// returns the stacks of the goroutines still running.
func Wait(timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		leaks := Running()
		if len(leaks) == 0 || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(delay) // polling an external condition, not synchronising
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// Running returns the stacks of goroutines other than the caller's and
// those of the runtime and the testing framework.
func Running() []string {
	var out []string
	for i, g := range stacks() {
		if i == 0 || ignored(g) { // the first is the calling goroutine
			continue
		}
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// WaitMatching polls until no goroutine whose stack contains substr is
// left or timeout passes, and returns the stacks of those still running.
// It serves tests that share the process with code known to leave its own
// goroutines behind (e.g. a third-party peer) and check only their own.
func WaitMatching(substr string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		var out []string
		for _, g := range stacks() {
			if strings.Contains(g, substr) {
				out = append(out, g)
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond) // polling an external condition, not synchronising
	}
}

func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Split(string(buf), "\n\n")
}

func ignored(stack string) bool {
	if !strings.Contains(stack, "created by ") {
		return true // the main goroutine
	}
	for _, s := range []string{
		"testing.(*M).", "testing.tRunner(", "testing.(*T).Run(", "testing.runFuzzing(", "testing.(*F).",
		"os/signal.", "runtime.ensureSigM",
		// Process-wide goroutines libraries start once and keep by design.
		"fasthttp.updateServerDate",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
