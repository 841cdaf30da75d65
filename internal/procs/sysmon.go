package procs

import (
	"strconv"
	"strings"
)

// The Go runtime's monitor thread, sysmon, polls every 20 µs while the
// process is busy, backing off to 10 ms after 1 ms without anything to
// do. When every processor is idle, even for an instant between two
// requests, it goes to sleep (a "deep sleep") and the next system call of
// any goroutine wakes it with a futex, after which it polls at 20 µs
// again. A gateway at partial load goes idle and busy thousands of times
// a second, so its monitor never backs off: on the benchmark machine it
// cost 15–35% of meshgate's CPU per request (benchmarks/RESULTS.md,
// "A steady monitor thread"; upstream: golang.org/issue/18236).
//
// The runtime skips the deep sleep when GODEBUG schedtrace is above 0 (so
// that the trace keeps its beat); with the largest period, 2147483647 ms
// (24.8 days), the monitor stays at its slow 10 ms beat and the trace line
// ("SCHED ...") is written to standard error only once the machine's
// uptime passes a multiple of 24.8 days. The runtime reads GODEBUG once,
// at start, so the process has to be started with it: meshgate run starts
// itself again (exec, same process id) when its configuration asks for a
// steady monitor and GODEBUG does not say otherwise.

// SteadySchedtrace is the GODEBUG setting that keeps the monitor thread
// steady.
const SteadySchedtrace = "schedtrace=2147483647"

// SysmonSteady reports whether a process started with this GODEBUG value
// runs a steady monitor thread: its last schedtrace setting (the runtime
// reads them left to right) is above 0.
func SysmonSteady(godebug string) bool {
	v, ok := schedtrace(godebug)
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	return err == nil && n > 0
}

// SteadyGODEBUG returns godebug with SteadySchedtrace added and true, or
// godebug unchanged and false when it already has a schedtrace setting
// (whoever set it chose; 0 asks for Go's default).
func SteadyGODEBUG(godebug string) (string, bool) {
	if _, ok := schedtrace(godebug); ok {
		return godebug, false
	}
	if godebug == "" {
		return SteadySchedtrace, true
	}
	return godebug + "," + SteadySchedtrace, true
}

// schedtrace returns the value of the last schedtrace setting of godebug.
func schedtrace(godebug string) (value string, ok bool) {
	for _, field := range strings.Split(godebug, ",") {
		if k, v, found := strings.Cut(field, "="); found && k == "schedtrace" {
			value, ok = v, true
		}
	}
	return value, ok
}
