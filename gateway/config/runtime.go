package config

import (
	"strconv"
)

// ProcsAuto is the runtime.gomaxprocs value that lets meshgate size its
// processor count to its load (internal/procs).
const ProcsAuto = "auto"

// Values of runtime.sysmon.
const (
	// SysmonSteady keeps the Go runtime's monitor thread at its slow beat
	// (internal/procs.SteadyGODEBUG).
	SysmonSteady = "steady"
	// SysmonGo leaves the monitor thread as Go runs it by default.
	SysmonGo = "go"
)

// Runtime configures the Go runtime of the meshgate process
// (docs/config.md#runtime). It is applied by meshgate run at start; a
// reload that changes it is refused (restart required). The GOMAXPROCS
// and GOGC environment variables, when set, win over it.
type Runtime struct {
	// GOMAXPROCS is how many threads may run Go code at once: "auto"
	// (default) starts at 1 and adds processors while the ones in use are
	// nearly saturated, up to what Go would use by default (the CPUs the
	// process may use, or its cgroup CPU limit), and takes them back when
	// the load falls; a number fixes the count.
	GOMAXPROCS string `yaml:"gomaxprocs"`
	// GCPercent is the garbage collector's target heap growth in percent
	// (GOGC; default 400: a gateway's live heap is small and its garbage
	// per request fixed, so Go's 100 collects often for little memory;
	// -1 turns the collector off, which only makes sense with a memory
	// limit).
	GCPercent int `yaml:"gc_percent"`
	// Sysmon is how the runtime's monitor thread (sysmon) runs: "steady"
	// (default) keeps it at its slow beat of 10 ms instead of letting it
	// sleep whenever the process is idle for an instant and wake, polling
	// every 20 µs, on the next system call; "go" leaves Go's default.
	// meshgate run gets steady by starting itself again once, at start,
	// with GODEBUG schedtrace=2147483647 (docs/config.md#runtime).
	Sysmon string `yaml:"sysmon"`
}

// FixedProcs returns the processor count of a numeric gomaxprocs, or 0
// for auto.
func (r *Runtime) FixedProcs() int {
	n, err := strconv.Atoi(r.GOMAXPROCS)
	if err != nil {
		return 0
	}
	return n
}

func (c *Config) applyRuntimeDefaults() {
	r := &c.Runtime
	r.GOMAXPROCS = orDefault(r.GOMAXPROCS, ProcsAuto)
	r.Sysmon = orDefault(r.Sysmon, SysmonSteady)
	if r.GCPercent == 0 {
		r.GCPercent = 400
	}
}

func (c *Config) validateRuntime(v *validator) {
	r := &c.Runtime
	if r.GOMAXPROCS != ProcsAuto {
		if n, err := strconv.Atoi(r.GOMAXPROCS); err != nil || n < 1 {
			v.addf(p("runtime", "gomaxprocs"), "must be auto or a positive number of processors, got %q", r.GOMAXPROCS)
		}
	}
	if r.Sysmon != SysmonSteady && r.Sysmon != SysmonGo {
		v.addf(p("runtime", "sysmon"), "must be %s or %s, got %q", SysmonSteady, SysmonGo, r.Sysmon)
	}
	if r.GCPercent < -1 {
		v.addf(p("runtime", "gc_percent"), "must be -1 (off) or a positive percentage, got %d", r.GCPercent)
	}
}
