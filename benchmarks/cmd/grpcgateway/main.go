// Command grpcgateway is the grpc-gateway v2 side of the HTTP/JSON -> gRPC
// end-to-end benchmark: the handlers protoc-gen-grpc-gateway generated for
// bench.v1.Echo (internal/benchpb/echo.pb.gw.go) on a runtime.NewServeMux
// with its defaults, registered with RegisterEchoHandlerFromEndpoint (one
// grpc.NewClient to -upstream, plaintext), served by net/http's
// http.Server. This is grpc-gateway's documented setup; nothing is tuned.
//
// GET /v1/echo/{msg} calls bench.v1.Echo/Get and answers {"msg":"..."}.
// With -pprof-addr it also serves net/http/pprof there (the benchmark
// harness's -profile). It exits on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshgate/meshgate/benchmarks/internal/benchpb"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "HTTP listen address")
	upstream := flag.String("upstream", "", "gRPC server host:port (required)")
	pprofAddr := flag.String("pprof-addr", "", "serve /debug/pprof/ on this address (off when empty)")
	flag.Parse()
	if *upstream == "" {
		fmt.Fprintln(os.Stderr, "grpcgateway: -upstream is required")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	mux := runtime.NewServeMux()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := benchpb.RegisterEchoHandlerFromEndpoint(ctx, mux, *upstream, opts); err != nil {
		fmt.Fprintln(os.Stderr, "grpcgateway:", err)
		os.Exit(1)
	}
	if *pprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() {
			if err := http.ListenAndServe(*pprofAddr, pm); err != nil {
				fmt.Fprintln(os.Stderr, "grpcgateway: pprof:", err)
			}
		}()
	}

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcgateway:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	fmt.Println("ready", l.Addr())

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "grpcgateway:", err)
			os.Exit(1)
		}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}
