// Command m2load is the load generator of the direct Motan2 path of the
// end-to-end benchmark, the counterpart of wrk for the HTTP paths: -c
// goroutines call one method with one string argument in a closed loop over
// a meshgate motan2.Client (-conns multiplexed connections) for -d, and
// every reply is checked. It prints one JSON object on stdout:
//
//	{"requests":N,"errors":E,"seconds":S,"rps":R,"p50_us":X,"p99_us":Y,"first_error":"..."}
//
// requests counts correct replies only. The harness runs it as a separate
// process so that its CPU is not mixed into any measured process.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/benchmarks/internal/m2report"
	"github.com/meshgate/meshgate/motan2"
)

func main() {
	addr := flag.String("addr", "", "Motan2 server host:port (required)")
	service := flag.String("service", "bench.EchoService", "service (M_p)")
	method := flag.String("method", "echo", "method (M_m)")
	arg := flag.String("arg", "hello", "the one string argument; the reply must be the same string")
	conc := flag.Int("c", 32, "concurrent callers")
	conns := flag.Int("conns", 2, "connections to the server")
	dur := flag.Duration("d", 10*time.Second, "run time")
	timeout := flag.Duration("timeout", time.Second, "per-call timeout")
	flag.Parse()
	if *addr == "" || *conc < 1 {
		fmt.Fprintln(os.Stderr, "m2load: -addr is required and -c must be positive")
		os.Exit(2)
	}

	client := motan2.NewClient(*addr,
		motan2.WithConnections(*conns),
		motan2.WithRequestTimeout(*timeout),
		motan2.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer client.Close()

	// Connect before the clock starts, and fail early on a wrong reply.
	if err := check(client, *service, *method, *arg); err != nil {
		fmt.Fprintln(os.Stderr, "m2load:", err)
		os.Exit(1)
	}

	var (
		stop     atomic.Bool
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
		lats     = make([][]time.Duration, *conc)
	)
	start := time.Now()
	time.AfterFunc(*dur, func() { stop.Store(true) })
	for i := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 1<<16)
			req := &motan2.Request{Service: *service, Method: *method, Args: []motan2.Value{motan2.String(*arg)}}
			for !stop.Load() {
				t0 := time.Now()
				resp, err := client.Call(context.Background(), req)
				d := time.Since(t0)
				if err == nil && (resp.Value.Kind() != motan2.KindString || resp.Value.Str() != *arg) {
					err = fmt.Errorf("wrong reply %v", resp.Value)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				own = append(own, d)
			}
			lats[i] = own
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := m2report.Result{
		Requests: int64(len(all)),
		Errors:   errs.Load(),
		Seconds:  elapsed.Seconds(),
		RPS:      float64(len(all)) / elapsed.Seconds(),
		P50us:    pct(all, 0.50),
		P99us:    pct(all, 0.99),
	}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		os.Exit(1)
	}
}

func check(c *motan2.Client, service, method, arg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, &motan2.Request{Service: service, Method: method, Args: []motan2.Value{motan2.String(arg)}})
	if err != nil {
		return fmt.Errorf("first call: %w", err)
	}
	if resp.Value.Kind() != motan2.KindString || resp.Value.Str() != arg {
		return fmt.Errorf("first call: reply %v, want the string %q", resp.Value, arg)
	}
	return nil
}

// pct returns the q-quantile of sorted (nearest rank) in microseconds.
func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Microsecond)
}
