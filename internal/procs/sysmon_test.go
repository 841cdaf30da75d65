package procs

import "testing"

func TestSteadyGODEBUG(t *testing.T) {
	for _, c := range []struct {
		in, out       string
		added, steady bool // steady: of the result
	}{
		{"", SteadySchedtrace, true, true},
		{"http2debug=1", "http2debug=1," + SteadySchedtrace, true, true},
		{"schedtrace=1000", "schedtrace=1000", false, true},
		{"schedtrace=0", "schedtrace=0", false, false},
		{"gctrace=1,schedtrace=0", "gctrace=1,schedtrace=0", false, false},
		{"schedtrace=1000,schedtrace=0", "schedtrace=1000,schedtrace=0", false, false},
		{"schedtrace=0,schedtrace=5", "schedtrace=0,schedtrace=5", false, true},
		{"schedtrace=x", "schedtrace=x", false, false},
		{"schedtrace=4294967296", "schedtrace=4294967296", false, false}, // beyond int32: ignored by the runtime
		{"xschedtrace=5", "xschedtrace=5," + SteadySchedtrace, true, true},
	} {
		out, added := SteadyGODEBUG(c.in)
		if out != c.out || added != c.added {
			t.Errorf("SteadyGODEBUG(%q) = %q, %v; want %q, %v", c.in, out, added, c.out, c.added)
		}
		if got := SysmonSteady(out); got != c.steady {
			t.Errorf("SysmonSteady(%q) = %v, want %v", out, got, c.steady)
		}
	}
	if SysmonSteady("") {
		t.Error("SysmonSteady of an empty GODEBUG")
	}
}
