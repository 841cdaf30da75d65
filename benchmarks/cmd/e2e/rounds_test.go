package main

import (
	"testing"
	"time"
)

// m is a measurement of reqs requests with gateway and echo-server CPU
// in µs per request.
func m(gwUs, echoUs float64) measurement {
	const reqs = 1000
	us := func(v float64) cpuDelta {
		d := time.Duration(v * reqs * float64(time.Microsecond))
		return cpuDelta{sched: d, stat: d}
	}
	return measurement{res: loadResult{requests: reqs}, gwCPU: us(gwUs), upCPU: us(echoUs)}
}

func TestPickMedian(t *testing.T) {
	gw := &target{name: "meshgate", gw: &proc{}, runs: []measurement{m(30, 1), m(10, 2), m(20, 3)}}
	gw.pickMedian()
	if got := gw.gatewayUs(); got != 20 {
		t.Errorf("gateway target: median round %.1f µs, want 20", got)
	}
	// The direct path has no gateway: its rounds are ranked by the echo
	// server's CPU; an even count reports the lower middle one.
	direct := &target{name: "direct", runs: []measurement{m(0, 7), m(0, 5), m(0, 9), m(0, 6)}}
	direct.pickMedian()
	if got := direct.upstreamUs(); got != 6 {
		t.Errorf("direct target: median round %.1f µs, want 6", got)
	}
}

// The RESULT line reports each gateway's median round and the median of
// the per-round ratios, which can differ from the ratio of the medians.
func TestResultLineRatioOfRounds(t *testing.T) {
	mg := &target{name: "meshgate", gw: &proc{}, runs: []measurement{m(20, 0), m(10, 0), m(30, 0)}}
	ag := &target{name: "agent", gw: &proc{}, runs: []measurement{m(40, 0), m(50, 0), m(60, 0)}}
	mg.pickMedian()
	ag.pickMedian()
	// Per round: 40/20 = 2, 50/10 = 5, 60/30 = 2: median 2 (the medians' ratio would be 2.5).
	got := resultLine(results{mg, ag}, "http-motan2", "agent", "agent")
	if want := "RESULT http-motan2 meshgate_us=20.0 agent_us=50.0 ratio=2.00"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Two rounds: the mean of the two ratios.
	mg.runs, ag.runs = mg.runs[:2], ag.runs[:2]
	mg.pickMedian()
	ag.pickMedian()
	if got, want := resultLine(results{mg, ag}, "t", "agent", "agent"), "RESULT t meshgate_us=10.0 agent_us=40.0 ratio=3.50"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := resultLine(results{mg}, "t", "agent", "agent"); got != "" {
		t.Errorf("without the other gateway: %q, want none", got)
	}
}
