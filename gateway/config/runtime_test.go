package config

import (
	"strings"
	"testing"
)

func TestRuntimeSection(t *testing.T) {
	c, err := Parse("r.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Runtime; r.GOMAXPROCS != ProcsAuto || r.GCPercent != 400 || r.Sysmon != SysmonSteady || r.FixedProcs() != 0 {
		t.Errorf("runtime defaults: %+v (fixed %d)", r, r.FixedProcs())
	}
	for yml, want := range map[string]Runtime{
		"runtime: {gomaxprocs: 2}":                      {GOMAXPROCS: "2", GCPercent: 400, Sysmon: SysmonSteady},
		"runtime: {gomaxprocs: \"3\", gc_percent: 100}": {GOMAXPROCS: "3", GCPercent: 100, Sysmon: SysmonSteady},
		"runtime: {gomaxprocs: auto, gc_percent: -1}":   {GOMAXPROCS: ProcsAuto, GCPercent: -1, Sysmon: SysmonSteady},
		"runtime: {sysmon: go}":                         {GOMAXPROCS: ProcsAuto, GCPercent: 400, Sysmon: SysmonGo},
	} {
		c, err := Parse("r.yaml", []byte(good+yml+"\n"))
		if err != nil {
			t.Errorf("%s: %v", yml, err)
			continue
		}
		if c.Runtime != want {
			t.Errorf("%s: %+v, want %+v", yml, c.Runtime, want)
		}
	}
	if c, _ := Parse("r.yaml", []byte(good+"runtime: {gomaxprocs: 2}\n")); c.Runtime.FixedProcs() != 2 {
		t.Errorf("FixedProcs of 2: %d", c.Runtime.FixedProcs())
	}
	for bad, want := range map[string]string{
		"runtime: {gomaxprocs: 0}":    `r.yaml:13: runtime.gomaxprocs: must be auto or a positive number of processors, got "0"`,
		"runtime: {gomaxprocs: -2}":   `runtime.gomaxprocs: must be auto or a positive number of processors, got "-2"`,
		"runtime: {gomaxprocs: many}": `runtime.gomaxprocs: must be auto or a positive number of processors, got "many"`,
		"runtime: {gc_percent: -5}":   `r.yaml:13: runtime.gc_percent: must be -1 (off) or a positive percentage, got -5`,
		"runtime: {gomaxproc: 2}":     `field gomaxproc not found`,
		"runtime: {sysmon: fast}":     `r.yaml:13: runtime.sysmon: must be steady or go, got "fast"`,
	} {
		_, err := Parse("r.yaml", []byte(good+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", bad, err, want)
		}
	}
}
