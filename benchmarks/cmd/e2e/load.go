package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/benchmarks/internal/m2report"
)

// loadResult is one bounded load run as the load generator saw it.
type loadResult struct {
	requests  int64         // completed requests (wrk: all responses; m2load, grpcload: correct replies)
	seconds   float64       // run time as measured by the load generator
	rps       float64       // requests / seconds
	p50, p99  time.Duration // latency percentiles
	non2xx    int64         // wrk: responses with a status outside 2xx/3xx
	sockErrs  int64         // wrk: connect+read+write+timeout errors; m2load: failed calls
	firstErr  string        // m2load, grpcload: the first failure
	loaderCPU time.Duration // user+sys CPU of the load generator process
	raw       string        // the load generator's output
}

// failed reports a run whose replies were wrong or that lost too many
// requests to measure: any non-2xx reply or failed Motan2 call, or socket
// errors above 0.1% of the requests (wrk may count a few at the very end).
func (r loadResult) failed() string {
	switch {
	case r.requests == 0:
		return "no request completed"
	case r.non2xx > 0:
		return fmt.Sprintf("%d non-2xx responses", r.non2xx)
	case r.firstErr != "":
		return fmt.Sprintf("%d failed calls, first: %s", r.sockErrs, r.firstErr)
	case r.sockErrs*1000 > r.requests:
		return fmt.Sprintf("%d socket errors", r.sockErrs)
	}
	return ""
}

// runWrk runs wrk for d against url and parses its report.
func runWrk(ctx context.Context, wrk string, threads, conns int, d time.Duration, url string) (loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + wrkDuration(d), "--timeout", "2s", "--latency", url}
	out, st, err := runBounded(ctx, "", nil, wrk, args...)
	if err != nil {
		return loadResult{}, err
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, fmt.Errorf("%w; wrk said:\n%s", err, out)
	}
	r.loaderCPU = st.UserTime() + st.SystemTime()
	return r, nil
}

// wrkDuration formats d for wrk's -d, which takes an integer with an
// optional unit (s, m, h): whole seconds, at least 1.
func wrkDuration(d time.Duration) string {
	s := int64((d + time.Second/2) / time.Second)
	return strconv.FormatInt(max(s, 1), 10) + "s"
}

var (
	reWrkTotal   = regexp.MustCompile(`^\s*(\d+) requests in ([0-9.]+[a-z]+),`)
	reWrkRPS     = regexp.MustCompile(`^Requests/sec:\s*([0-9.]+)`)
	reWrkPct     = regexp.MustCompile(`^\s*(50|99)(?:\.0+)?%\s+([0-9.]+[a-z]+)`)
	reWrkNon2xx  = regexp.MustCompile(`^\s*Non-2xx or 3xx responses:\s*(\d+)`)
	reWrkSockErr = regexp.MustCompile(`^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads the report of wrk 4.x run with --latency.
func parseWrk(out string) (loadResult, error) {
	r := loadResult{raw: out}
	var haveTotal, haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := reWrkTotal.FindStringSubmatch(line); m != nil {
			r.requests, _ = strconv.ParseInt(m[1], 10, 64)
			d, err := parseWrkTime(m[2])
			if err != nil {
				return r, err
			}
			r.seconds = d.Seconds()
			haveTotal = true
		} else if m := reWrkRPS.FindStringSubmatch(line); m != nil {
			r.rps, _ = strconv.ParseFloat(m[1], 64)
			haveRPS = true
		} else if m := reWrkPct.FindStringSubmatch(line); m != nil {
			d, err := parseWrkTime(m[2])
			if err != nil {
				return r, err
			}
			if m[1] == "50" {
				r.p50, have50 = d, true
			} else {
				r.p99, have99 = d, true
			}
		} else if m := reWrkNon2xx.FindStringSubmatch(line); m != nil {
			r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
		} else if m := reWrkSockErr.FindStringSubmatch(line); m != nil {
			for _, s := range m[1:] {
				n, _ := strconv.ParseInt(s, 10, 64)
				r.sockErrs += n
			}
		}
	}
	if !haveTotal || !haveRPS || !have50 || !have99 {
		return r, fmt.Errorf("cannot parse wrk report (requests/duration %v, Requests/sec %v, 50%% %v, 99%% %v)", haveTotal, haveRPS, have50, have99)
	}
	return r, nil
}

// parseWrkTime parses wrk's times: a number with unit us, ms, s, m or h.
func parseWrkTime(s string) (time.Duration, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' })
	if i <= 0 {
		return 0, fmt.Errorf("bad wrk time %q", s)
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("bad wrk time %q", s)
	}
	var unit time.Duration
	switch s[i:] {
	case "us":
		unit = time.Microsecond
	case "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	default:
		return 0, fmt.Errorf("bad wrk time unit in %q", s)
	}
	return time.Duration(v * float64(unit)), nil
}

// runM2load runs the direct Motan2 load generator for d.
func runM2load(ctx context.Context, bin string, threads, conc, conns int, d time.Duration, addr, service string) (loadResult, error) {
	return runDirect(ctx, bin, threads, d, "-addr", addr, "-service", service, "-method", "echo",
		"-arg", "hello", "-c", strconv.Itoa(conc), "-conns", strconv.Itoa(conns), "-d", d.String())
}

// runGRPCLoad runs the direct gRPC load generator for d.
func runGRPCLoad(ctx context.Context, bin string, threads, conc int, d time.Duration, addr string) (loadResult, error) {
	return runDirect(ctx, bin, threads, d, "-addr", addr, "-msg", "hello", "-c", strconv.Itoa(conc), "-d", d.String())
}

// runDirect runs a direct load generator (m2load, grpcload) for d and
// reads its JSON report.
func runDirect(ctx context.Context, bin string, threads int, d time.Duration, args ...string) (loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	// GOMAXPROCS matches wrk's -t: the load generator gets as many
	// threads running Go code as wrk gets event loops.
	env := []string{"GOMAXPROCS=" + strconv.Itoa(threads)}
	out, st, err := runBounded(ctx, "", env, bin, args...)
	if err != nil {
		return loadResult{}, err
	}
	var j m2report.Result
	if err := json.Unmarshal(out, &j); err != nil {
		return loadResult{}, fmt.Errorf("%s output %q: %w", filepath.Base(bin), out, err)
	}
	return loadResult{
		requests:  j.Requests,
		seconds:   j.Seconds,
		rps:       j.RPS,
		p50:       time.Duration(j.P50us * float64(time.Microsecond)),
		p99:       time.Duration(j.P99us * float64(time.Microsecond)),
		sockErrs:  j.Errors,
		firstErr:  j.FirstError,
		loaderCPU: st.UserTime() + st.SystemTime(),
		raw:       string(out),
	}, nil
}

// logf writes a progress line to stderr (stdout carries the report).
func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", a...)
}
