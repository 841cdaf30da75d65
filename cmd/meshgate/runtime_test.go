package main

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/meshgate/meshgate/gateway/config"
)

// applyRuntime sets the configured processor count and GC percentage,
// starts (and stops) the governor for auto, and leaves both to the
// environment variables when they are set.
func TestApplyRuntime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gcPercent := func() int { p := debug.SetGCPercent(0); debug.SetGCPercent(p); return p }

	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GOGC", "")
	applyRuntime(config.Runtime{GOMAXPROCS: "3", GCPercent: 250}, log)()
	if n, p := runtime.GOMAXPROCS(0), gcPercent(); n != 3 || p != 250 {
		t.Fatalf("fixed: GOMAXPROCS %d, GC percent %d; want 3 and 250", n, p)
	}

	stop := applyRuntime(config.Runtime{GOMAXPROCS: config.ProcsAuto, GCPercent: 400}, log)
	stop() // returns once the governor has stopped; it starts at one processor
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("auto: GOMAXPROCS %d, want 1 (the governor's start)", n)
	}

	t.Setenv("GOMAXPROCS", "2")
	t.Setenv("GOGC", "50")
	runtime.GOMAXPROCS(2)
	debug.SetGCPercent(50)
	applyRuntime(config.Runtime{GOMAXPROCS: "1", GCPercent: 400}, log)()
	if n, p := runtime.GOMAXPROCS(0), gcPercent(); n != 2 || p != 50 {
		t.Fatalf("environment set: GOMAXPROCS %d, GC percent %d; want the environment's 2 and 50", n, p)
	}
}
