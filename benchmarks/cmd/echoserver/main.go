// Command echoserver is the Motan2 upstream of the end-to-end benchmark: a
// meshgate motan2.Server with a ServiceMux serving one service (default
// bench.EchoService) on a loopback address.
//
// Methods:
//
//	echo   returns its first argument unchanged (type kept; null when
//	       there are no arguments) and counts the call
//	count  returns the number of echo calls served so far (int64), so the
//	       harness can check that every HTTP request through a gateway
//	       became exactly one Motan2 call
//
// It prints "ready <addr>" on stdout once it listens and exits on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	service := flag.String("service", "bench.EchoService", "service name (M_p)")
	verbose := flag.Bool("v", false, "log connection-level events to stderr")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	mux := motan2.NewServiceMux()
	mux.HandleFunc(*service, echo)

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	srv := &motan2.Server{Handler: mux, Logger: logger}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	fmt.Println("ready", l.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}

// echoCalls counts the echo calls served.
var echoCalls atomic.Int64

func echo(_ context.Context, req *motan2.Request) (motan2.Value, error) {
	switch req.Method {
	case "echo":
		echoCalls.Add(1)
		if len(req.Args) == 0 {
			return motan2.Null, nil
		}
		return req.Args[0], nil
	case "count":
		return motan2.Int64(echoCalls.Load()), nil
	default:
		return motan2.Null, &motan2.Exception{ErrCode: 404, ErrMsg: "no such method: " + req.Method, ErrType: motan2.ErrTypeBiz}
	}
}
