package motan2_test

import (
	"context"
	"net"
	"syscall"
	"testing"

	"github.com/meshgate/meshgate/motan2"
)

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRoundTrip measures one echo call of a short string through our
// client and server on loopback. cpu-ns/op is the process CPU per call,
// client and server together (both run in this process). The side-by-side
// comparison with motan-go is in the interop module.
func BenchmarkRoundTrip(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	mux := motan2.NewServiceMux()
	mux.HandleFunc("bench.Echo", func(_ context.Context, r *motan2.Request) (motan2.Value, error) { return r.Args[0], nil })
	srv := &motan2.Server{Handler: mux, Logger: quiet}
	go srv.Serve(l)
	defer srv.Close()
	c := motan2.NewClient(l.Addr().String(), motan2.WithLogger(quiet))
	defer c.Close()
	req := &motan2.Request{Service: "bench.Echo", Method: "echo", Args: []motan2.Value{motan2.String("hello motan2")}}
	ctx := context.Background()
	if _, err := c.Call(ctx, req); err != nil {
		b.Fatal(err)
	}
	// parallelism 0: one caller; p: p callers per P (RunParallel).
	run := func(b *testing.B, parallelism int) {
		b.ReportAllocs()
		start := cpuTime(b)
		b.ResetTimer()
		if parallelism > 0 {
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Call(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for i := 0; i < b.N; i++ {
				if _, err := c.Call(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("serial", func(b *testing.B) { run(b, 0) })
	b.Run("parallel", func(b *testing.B) { run(b, 1) })
	// 16 callers per P: calls queue on the two connections as they do
	// behind a gateway serving many requests at once.
	b.Run("parallel16", func(b *testing.B) { run(b, 16) })
}
