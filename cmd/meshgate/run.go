package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/demo"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// cmdRun starts meshgate from -c FILE or, without one, from the embedded
// default. It serves until ctx ends (SIGINT/SIGTERM in main), then shuts
// down gracefully within --shutdown-timeout.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration file (default: the embedded default)")
	httpAddr := fs.String("http-addr", "", "override http.listen")
	demoAddr := fs.String("demo-addr", "", "override demo.listen (the built-in demo Motan2 service)")
	grpcAddr := fs.String("grpc-addr", "", "override grpc.listen")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "how long in-flight requests may run after SIGINT/SIGTERM")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's net/http/pprof profiles on this address (e.g. 127.0.0.1:6060); off by default")
	if _, err := parseInterspersed(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("run: --log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if os.Getenv("GOGC") == "" {
		// A gateway's live heap is small and its garbage per request is
		// fixed, so the default (GC at 100% heap growth) collects very
		// often; 400 trades a few MB for about a tenth of the CPU per
		// request (benchmarks/RESULTS.md). GOGC in the environment wins.
		debug.SetGCPercent(400)
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		cfg.HTTP.Listen = *httpAddr
	}
	if *grpcAddr != "" {
		if cfg.GRPC == nil {
			return usageErr("run: --grpc-addr: the configuration has no grpc section")
		}
		cfg.GRPC.Listen = *grpcAddr
	}
	if *demoAddr != "" {
		if cfg.Demo == nil {
			return usageErr("run: --demo-addr: the configuration has no demo section")
		}
		cfg.Demo.Listen = *demoAddr
	}
	gw, err := assembly.Start(cfg, logger)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		stopProfiles, err := serveProfiles(*pprofAddr, logger)
		if err != nil {
			gw.Shutdown(context.Background())
			return fmt.Errorf("run: --pprof-addr: %w", err)
		}
		defer stopProfiles()
	}
	logger.Info("meshgate: serving", "config", cfg.Source, "http", gw.HTTPAddr().String(), "routes", len(cfg.Routes), "clusters", len(cfg.Clusters))
	if a := gw.GRPCAddr(); a != nil {
		logger.Info("meshgate: gRPC ingress", "addr", a.String(), "routes", len(cfg.GRPCRoutes))
	}
	if a := gw.Motan2Addr(); a != nil {
		logger.Info("meshgate: Motan2 ingress", "addr", a.String(), "routes", len(cfg.Motan2Routes))
	}
	if a := gw.DemoAddr(); a != nil {
		logger.Info("meshgate: built-in demo Motan2 service", "addr", a.String())
		fmt.Fprintf(stdout, "try: curl http://%s/v1/hello/world\n", gw.HTTPAddr())
		fmt.Fprintf(stdout, "try: meshgate motan2 call %s %s hello '[\"world\"]'\n", a, demo.Service)
	}
	select {
	case err := <-gw.Err():
		sctx, cancel := context.WithTimeout(context.Background(), *drain)
		defer cancel()
		gw.Shutdown(sctx)
		return err
	case <-ctx.Done():
	}
	logger.Info("meshgate: shutting down", "timeout", *drain)
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		return config.Default(), nil
	}
	return config.Load(file)
}

// cmdValidate checks a configuration without serving.
func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration file to check (required)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *file == "" && len(pos) == 1 {
		*file = pos[0]
	}
	if *file == "" {
		return usageErr("validate: want -c FILE")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d routes, %d clusters)\n", *file, len(cfg.Routes), len(cfg.Clusters))
	return nil
}

// serveProfiles serves net/http/pprof on addr until the returned function
// is called.
func serveProfiles(addr string, logger *slog.Logger) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	logger.Info("meshgate: serving profiles", "addr", l.Addr().String())
	return func() { srv.Close() }, nil
}
