package config

import (
	"strconv"
)

// ProcsAuto is the runtime.gomaxprocs value that lets meshgate size its
// processor count to its load (internal/procs).
const ProcsAuto = "auto"

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
	if r.GCPercent < -1 {
		v.addf(p("runtime", "gc_percent"), "must be -1 (off) or a positive percentage, got %d", r.GCPercent)
	}
}
