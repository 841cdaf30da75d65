package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const wrkReport = `Running 10s test @ http://127.0.0.1:18080/bench/echo?msg=hello
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.33ms    2.64ms  32.92ms   85.76%
    Req/Sec    10.23k     2.54k   15.99k    66.67%
  Latency Distribution
     50%  612.00us
     75%    4.13ms
     90%    6.33ms
     99%   12.22ms
  102345 requests in 10.01s, 4.78MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  10224.30
Transfer/sec:      1.59MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 102345 || r.seconds != 10.01 || r.rps != 10224.30 {
		t.Errorf("requests %d seconds %v rps %v", r.requests, r.seconds, r.rps)
	}
	if r.p50 != 612*time.Microsecond || r.p99 != 12220*time.Microsecond {
		t.Errorf("p50 %v p99 %v", r.p50, r.p99)
	}
	if r.non2xx != 7 || r.sockErrs != 3 {
		t.Errorf("non2xx %d sockErrs %d", r.non2xx, r.sockErrs)
	}
	if r.failed() == "" {
		t.Error("a run with non-2xx replies must fail")
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parsed a report without numbers")
	}
}

func TestParseWrkTime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"612.00us": 612 * time.Microsecond, "1.50ms": 1500 * time.Microsecond,
		"2.00s": 2 * time.Second, "1.00m": time.Minute,
	} {
		if got, err := parseWrkTime(in); err != nil || got != want {
			t.Errorf("parseWrkTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ms", "1.0xs", "abc"} {
		if _, err := parseWrkTime(in); err == nil {
			t.Errorf("parseWrkTime(%q) succeeded", in)
		}
	}
}

func TestStatTicks(t *testing.T) {
	// Field 2 may contain spaces and parentheses.
	stat := "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 5 8 20 0 7 0 12345 0 0"
	if n, err := statTicks(stat); err != nil || n != 287 {
		t.Errorf("statTicks = %d, %v; want 287", n, err)
	}
	if n, err := statTicksWithChildren(stat); err != nil || n != 300 {
		t.Errorf("statTicksWithChildren = %d, %v; want 300", n, err)
	}
	a := othersCPU{ticks: map[int]int64{1: 100, 2: 50, 3: 10}}
	b := othersCPU{ticks: map[int]int64{1: 130, 3: 10, 4: 20}} // 2 exited, 4 started
	if other, _ := othersDelta(a, b); other != 500*time.Millisecond {
		t.Errorf("othersDelta = %v, want 500ms", other)
	}
}

func TestCPUDeltaBest(t *testing.T) {
	d := delta(cpuSample{schedNs: 1e9, ticks: 100}, cpuSample{schedNs: 2e9, ticks: 201})
	if d.best() != time.Second {
		t.Errorf("best = %v, want schedstat's 1s", d.best())
	}
	// Threads that exited took their schedstat with them; utime+stime kept it.
	d = delta(cpuSample{schedNs: 1e9, ticks: 100}, cpuSample{schedNs: 2e9, ticks: 300})
	if d.best() != 2*time.Second {
		t.Errorf("best = %v, want utime+stime's 2s", d.best())
	}
}

func TestWrkDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Second: "10s", 1500 * time.Millisecond: "2s", 100 * time.Millisecond: "1s", 2 * time.Minute: "120s"} {
		if got := wrkDuration(d); got != want {
			t.Errorf("wrkDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestProcsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meshgate.log")
	log := `time=2026-11-21T23:00:00.000Z level=INFO msg="meshgate: serving" config=x.yaml
time=2026-11-21T23:00:01.000Z level=INFO msg="runtime: GOMAXPROCS changed" component=runtime from=1 to=2 cpu_cores=0.93 max=2
time=2026-11-21T23:00:04.000Z level=INFO msg="runtime: GOMAXPROCS changed" component=runtime from=2 to=1 cpu_cores=0.31 max=2
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := procsChanges(path), "GOMAXPROCS changes since start: 1->2 at 0.93 cores, 2->1 at 0.31 cores"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	os.WriteFile(path, []byte(log[:strings.Index(log, "\n")+1]), 0o644)
	if got := procsChanges(path); !strings.HasPrefix(got, "no GOMAXPROCS change logged") {
		t.Errorf("no change: %q", got)
	}
	if got := procsChanges(filepath.Join(t.TempDir(), "missing")); !strings.HasPrefix(got, "GOMAXPROCS unknown") {
		t.Errorf("missing log: %q", got)
	}
}
