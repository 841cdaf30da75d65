// Command grpcload is the load generator of the direct gRPC path of the
// HTTP/JSON -> gRPC end-to-end benchmark, the counterpart of wrk for the
// gateway paths (and of m2load for Motan2): -c goroutines call
// bench.v1.Echo/Get with one message in a closed loop over one
// grpc.ClientConn (one HTTP/2 connection, as each gateway has) for -d, and
// every reply is checked. It prints the same JSON object as m2load:
//
//	{"requests":N,"errors":E,"seconds":S,"rps":R,"p50_us":X,"p99_us":Y,"first_error":"..."}
//
// requests counts correct replies only. The harness runs it as a separate
// process (GOMAXPROCS=1, as wrk runs one thread) so that its CPU is not
// mixed into any measured process.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshgate/meshgate/benchmarks/internal/benchpb"
	"github.com/meshgate/meshgate/benchmarks/internal/m2report"
)

func main() {
	addr := flag.String("addr", "", "gRPC server host:port (required)")
	msg := flag.String("msg", "hello", "the message; the reply must carry the same")
	conc := flag.Int("c", 32, "concurrent callers")
	dur := flag.Duration("d", 10*time.Second, "run time")
	timeout := flag.Duration("timeout", time.Second, "per-call timeout")
	flag.Parse()
	if *addr == "" || *conc < 1 {
		fmt.Fprintln(os.Stderr, "grpcload: -addr is required and -c must be positive")
		os.Exit(2)
	}

	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
	defer conn.Close()
	client := benchpb.NewEchoClient(conn)

	call := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		r, err := client.Get(ctx, &benchpb.EchoRequest{Msg: *msg})
		if err != nil {
			return err
		}
		if r.GetMsg() != *msg {
			return fmt.Errorf("wrong reply %q", r.GetMsg())
		}
		return nil
	}
	// Connect before the clock starts, and fail early on a wrong reply.
	if err := call(); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload: first call:", err)
		os.Exit(1)
	}

	r := m2report.Run(*conc, *dur, func() func() error { return call })
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		os.Exit(1)
	}
}
