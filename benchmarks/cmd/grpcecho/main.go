// Command grpcecho is the gRPC upstream of the HTTP/JSON -> gRPC end-to-end
// benchmark: a grpc-go server (default settings) serving bench.v1.Echo from
// the generated code in internal/benchpb, plaintext HTTP/2 on a loopback
// address.
//
// Methods:
//
//	Get    returns its message unchanged and counts the call
//	Count  returns the number of Get calls served so far, so the harness
//	       can check that every HTTP request through a gateway became
//	       exactly one gRPC call
//
// It prints "ready <addr>" on stdout once it listens and exits on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/meshgate/meshgate/benchmarks/internal/benchpb"
)

type echo struct {
	benchpb.UnimplementedEchoServer
	calls atomic.Int64
}

func (e *echo) Get(_ context.Context, req *benchpb.EchoRequest) (*benchpb.EchoReply, error) {
	e.calls.Add(1)
	return &benchpb.EchoReply{Msg: req.GetMsg()}, nil
}

func (e *echo) Count(context.Context, *benchpb.CountRequest) (*benchpb.CountReply, error) {
	return &benchpb.CountReply{Calls: e.calls.Load()}, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcecho:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	benchpb.RegisterEchoServer(srv, &echo{})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	fmt.Println("ready", l.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "grpcecho:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		srv.Stop()
	}
}
