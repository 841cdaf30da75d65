package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/meshgate/meshgate/internal/demo"
	"github.com/meshgate/meshgate/motan2"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// cmdRun starts meshgate on its embedded default: for now the built-in demo
// Motan2 service, which later ingresses route to.
// It serves until ctx ends (SIGINT/SIGTERM in main), then shuts down
// gracefully within --shutdown-timeout.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("motan2-addr", "127.0.0.1:9981", "listen address of the built-in demo Motan2 service")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "how long in-flight calls may run after SIGINT/SIGTERM")
	if _, err := parseInterspersed(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	srv := &motan2.Server{Handler: demo.Mux(), Logger: logger}
	logger.Info("meshgate: serving the built-in demo Motan2 service", "addr", l.Addr().String(), "service", demo.Service)
	fmt.Fprintf(stdout, "try: meshgate motan2 call %s %s hello '[\"world\"]'\n", l.Addr(), demo.Service)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("meshgate: shutting down", "timeout", *drain)
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, motan2.ErrServerClosed) && serr != nil {
		return serr
	}
	return err
}
