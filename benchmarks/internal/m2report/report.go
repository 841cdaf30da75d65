// Package m2report is the JSON line the direct load generators of the
// end-to-end benchmark (cmd/m2load for Motan2, cmd/grpcload for gRPC)
// print and the harness (cmd/e2e) reads.
package m2report

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one m2load or grpcload run.
type Result struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	FirstError string  `json:"first_error,omitempty"`
}

// Run calls in a closed loop from conc goroutines for dur and reports the
// correct replies' latencies. newCall is called once per goroutine and
// returns that goroutine's call function (so per-caller state, such as a
// reusable request, needs no locking); an error counts as a failed call.
func Run(conc int, dur time.Duration, newCall func() func() error) Result {
	var (
		stop     atomic.Bool
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
		lats     = make([][]time.Duration, conc)
	)
	start := time.Now()
	time.AfterFunc(dur, func() { stop.Store(true) })
	for i := range conc {
		call := newCall()
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 1<<16)
			for !stop.Load() {
				t0 := time.Now()
				err := call()
				d := time.Since(t0)
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
	r := Result{
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
	return r
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
