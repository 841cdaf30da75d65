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

	r := m2report.Run(*conc, *dur, func() func() error {
		req := &motan2.Request{Service: *service, Method: *method, Args: []motan2.Value{motan2.String(*arg)}}
		return func() error {
			resp, err := client.Call(context.Background(), req)
			if err == nil && (resp.Value.Kind() != motan2.KindString || resp.Value.Str() != *arg) {
				err = fmt.Errorf("wrong reply %v", resp.Value)
			}
			return err
		}
	})
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
