package interop

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

// benchPayload is the argument echoed by every benchmark call.
const benchPayload = "hello motan2"

// parallelism is the b.SetParallelism factor of the parallel benchmarks.
const parallelism = 8

// BenchmarkRoundTrip measures one echo call of a short string over
// loopback TCP for every client/server pairing:
//
//	ours              our client     → our server
//	motan-go          motan-go client → motan-go server
//	ours-to-motan-go  our client     → motan-go server
//	motan-go-to-ours  motan-go client → our server
//
// each called from one goroutine (serial) and from parallelism×GOMAXPROCS
// goroutines (parallel, b.RunParallel): a gateway shares one client among
// many concurrent requests, which keeps several calls in flight on each
// connection. Both clients use 2 connections.
//
// Client and server run in the same process, so every per-op figure is
// the cost of BOTH ends of the call: allocs/op and B/op count the
// allocations of client and server together, and cpu-ns/op is the process
// CPU time (user + system, from getrusage(RUSAGE_SELF)) spent by the
// client, the server, the kernel's loopback TCP work and the Go runtime
// (including GC) per call. ns/op is wall-clock time per call: latency in
// serial mode, inverse throughput in parallel mode.
func BenchmarkRoundTrip(b *testing.B) {
	ourSrv := startOurServer(b)
	goSrv := startMotanGoServer(b)

	ourCaller := func(addr string) func(b *testing.B) func() error {
		return func(b *testing.B) func() error {
			c := newOurClient(b, addr)
			req := &motan2.Request{Service: echoService, Method: "echo", Args: []motan2.Value{motan2.String(benchPayload)}}
			return func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, err := c.Call(ctx, req)
				cancel()
				if err != nil {
					return err
				}
				if res.Value.Str() != benchPayload {
					return errMismatch
				}
				return nil
			}
		}
	}
	goCaller := func(addr string) func(b *testing.B) func() error {
		return func(b *testing.B) func() error {
			ep := newMotanGoEndpoint(b, addr, nil)
			return func() error {
				res := motanGoCall(ep, echoService, "echo", benchPayload)
				if e := res.GetException(); e != nil {
					return fmt.Errorf("exception %+v", *e)
				}
				if s, _ := res.GetValue().(string); s != benchPayload {
					return errMismatch
				}
				return nil
			}
		}
	}
	pairs := []struct {
		name   string
		caller func(b *testing.B) func() error
	}{
		{"ours", ourCaller(ourSrv.Addr)},
		{"motan-go", goCaller(goSrv.Addr)},
		{"ours-to-motan-go", ourCaller(goSrv.Addr)},
		{"motan-go-to-ours", goCaller(ourSrv.Addr)},
	}
	for _, p := range pairs {
		b.Run(p.name, func(b *testing.B) {
			call := p.caller(b)
			b.Run("serial", func(b *testing.B) {
				if err := call(); err != nil { // connect and warm up
					b.Fatal(err)
				}
				b.ReportAllocs()
				cpu := startCPU(b)
				for i := 0; i < b.N; i++ {
					if err := call(); err != nil {
						b.Fatal(err)
					}
				}
				cpu.stop(b)
			})
			b.Run("parallel", func(b *testing.B) {
				if err := call(); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetParallelism(parallelism)
				cpu := startCPU(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := call(); err != nil {
							b.Error(err)
							return
						}
					}
				})
				cpu.stop(b)
			})
		})
	}
}

type mismatchError struct{}

func (mismatchError) Error() string { return "echo returned a different value" }

var errMismatch error = mismatchError{}

// cpuMeter measures the process CPU time (user + system) of a timed loop.
type cpuMeter struct{ start time.Duration }

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU resets the benchmark timer and starts measuring CPU time.
func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	return cpuMeter{start: processCPU(b)}
}

// stop stops the timer and reports cpu-ns/op: the CPU time of both ends of
// the call (they share this process) divided by the number of calls.
func (m cpuMeter) stop(b *testing.B) {
	b.StopTimer()
	used := processCPU(b) - m.start
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
