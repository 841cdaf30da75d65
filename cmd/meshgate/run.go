package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/demo"
	"github.com/meshgate/meshgate/internal/procs"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// cmdRun starts meshgate from -c FILE or, without one, from the embedded
// default. It serves until ctx ends (SIGINT/SIGTERM in main), then shuts
// down gracefully within --shutdown-timeout. SIGHUP, POST /reload on the
// management API and, with --watch or admin.watch, a change of FILE's
// content reload the configuration (reload.go).
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration file (default: the embedded default)")
	var o overrides
	fs.StringVar(&o.http, "http-addr", "", "override http.listen")
	fs.StringVar(&o.demo, "demo-addr", "", "override demo.listen (the built-in demo Motan2 service)")
	fs.StringVar(&o.grpc, "grpc-addr", "", "override grpc.listen")
	fs.StringVar(&o.admin, "admin-addr", "", "override admin.listen, the management API (\"off\" turns it off)")
	fs.Var(&o.watch, "watch", "reload -c FILE when its content changes, polling every 2s (--watch=DURATION sets the interval, --watch=0 turns admin.watch off)")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "how long in-flight requests may run after SIGINT/SIGTERM")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's net/http/pprof profiles on this address (e.g. 127.0.0.1:6060); off by default")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) > 0 {
		return usageErr("run: unexpected argument %q (flags with a value: --watch=2s)", pos[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("run: --log-level: %v", err)
	}
	if o.watch.set && o.watch.every > 0 && *file == "" {
		return usageErr("run: --watch needs -c FILE: the embedded default never changes")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// SIGHUP reloads; registered before anything serves, so that a SIGHUP
	// never kills a running gateway.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg, data, err := readConfig(*file)
	if err != nil {
		return err
	}
	if err := o.apply(cfg, true); err != nil {
		return err
	}
	if cfg.Runtime.Sysmon == config.SysmonSteady && reexec != nil {
		steadySysmon(logger)
	}
	stopRuntime := applyRuntime(cfg.Runtime, logger)
	defer stopRuntime()
	gw, err := assembly.Start(cfg, logger)
	if err != nil {
		return err
	}
	rl := &reloader{file: *file, o: &o, gw: gw, log: logger, lastHash: sha256.Sum256(data)}
	var adm *admin.Server
	stopWatch := func() {}
	// stop ends what triggers reloads first (the watch, the API), then
	// the gateway.
	stop := func(d time.Duration) error {
		stopWatch()
		sctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		if adm != nil {
			adm.Shutdown(sctx)
		}
		return gw.Shutdown(sctx)
	}
	if cfg.Admin.Enabled() {
		adm = admin.New(admin.Options{Gateway: gw, Token: cfg.Admin.Token, Version: version,
			Logger: logger.With("component", "admin"),
			Reload: func(_ context.Context, body []byte) (admin.Generation, error) { return rl.reload("admin API", body) }})
		if err := adm.Start(cfg.Admin.Listen); err != nil {
			adm = nil
			stop(*drain)
			return fmt.Errorf("run: management API: %w (set admin.listen or --admin-addr, or turn it off with admin: {listen: off})", err)
		}
	}
	if *pprofAddr != "" {
		stopProfiles, err := serveProfiles(*pprofAddr, logger)
		if err != nil {
			stop(*drain)
			return fmt.Errorf("run: --pprof-addr: %w", err)
		}
		defer stopProfiles()
	}
	st := gw.Status()
	logger.Info("meshgate: serving", "config", cfg.Source, "http", gw.HTTPAddr().String(), "http_routes", st.Routes["http"], "clusters", len(cfg.Clusters))
	if a := gw.GRPCAddr(); a != nil {
		logger.Info("meshgate: gRPC ingress", "addr", a.String(), "routes", len(cfg.GRPCRoutes))
	}
	if a := gw.Motan2Addr(); a != nil {
		logger.Info("meshgate: Motan2 ingress", "addr", a.String(), "routes", len(cfg.Motan2Routes))
	}
	if adm != nil {
		logger.Info("meshgate: management API", "addr", adm.Addr().String(), "token", cfg.Admin.Token != "")
	}
	if a := gw.DemoAddr(); a != nil {
		logger.Info("meshgate: built-in demo Motan2 service", "addr", a.String())
		fmt.Fprintf(stdout, "try: curl http://%s/v1/hello/world\n", gw.HTTPAddr())
		fmt.Fprintf(stdout, "try: meshgate motan2 call %s %s hello '[\"world\"]'\n", a, demo.Service)
	}
	if every := cfg.Admin.Watch; every > 0 && *file != "" {
		wctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			rl.watch(wctx, every)
		}()
		stopWatch = func() { cancel(); <-done }
		logger.Info("meshgate: watching the configuration file", "file", *file, "every", every)
	}
serve:
	for {
		select {
		case err := <-gw.Err():
			stop(*drain)
			return err
		case <-hup:
			rl.reload("SIGHUP", nil)
		case <-ctx.Done():
			break serve
		}
	}
	logger.Info("meshgate: shutting down", "timeout", *drain)
	if err := stop(*drain); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// overrides are the run flags that replace configuration values; they
// apply to the configuration loaded at start and to every reloaded one, so
// that a reload does not see them as listener changes.
type overrides struct {
	http, demo, grpc, admin string
	watch                   watchFlag
}

// apply sets the overridden values in cfg. At start (strict) a flag for a
// section the configuration lacks is a usage error; on a reload the
// section is left absent, and the reload refuses the configuration.
func (o *overrides) apply(cfg *config.Config, strict bool) error {
	if o.http != "" {
		cfg.HTTP.Listen = o.http
	}
	if o.grpc != "" {
		if cfg.GRPC != nil {
			cfg.GRPC.Listen = o.grpc
		} else if strict {
			return usageErr("run: --grpc-addr: the configuration has no grpc section")
		}
	}
	if o.demo != "" {
		if cfg.Demo != nil {
			cfg.Demo.Listen = o.demo
		} else if strict {
			return usageErr("run: --demo-addr: the configuration has no demo section")
		}
	}
	if o.admin != "" {
		cfg.Admin.Listen = o.admin
	}
	if o.watch.set {
		cfg.Admin.Watch = o.watch.every
	}
	if strict && (o.admin != "" || o.watch.set) {
		// The flags bypass the file's validation of the admin section.
		a := cfg.Admin
		if a.Enabled() {
			host, _, err := net.SplitHostPort(a.Listen)
			if err != nil {
				return usageErr("run: --admin-addr: %q is not a host:port address (or off)", a.Listen)
			}
			if !config.IsLoopback(host) && a.Token == "" {
				return usageErr("run: --admin-addr: %q is not a loopback address and admin.token is not set", a.Listen)
			}
		}
		if a.Watch != 0 && a.Watch < config.MinWatch {
			return usageErr("run: --watch: at least %v", config.MinWatch)
		}
	}
	return nil
}

// watchFlag is --watch: alone, poll every DefaultWatch; --watch=DURATION
// sets the interval; --watch=0 or --watch=false turns admin.watch off.
type watchFlag struct {
	every time.Duration
	set   bool
}

// DefaultWatch is the interval of a bare --watch.
const DefaultWatch = 2 * time.Second

func (w *watchFlag) String() string {
	if w == nil || !w.set {
		return ""
	}
	return w.every.String()
}

func (w *watchFlag) Set(s string) error {
	switch s {
	case "true":
		w.every = DefaultWatch
	case "false":
		w.every = 0
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 2s, got %q", s)
		}
		w.every = d
	}
	w.set = true
	return nil
}

// IsBoolFlag lets --watch stand alone.
func (w *watchFlag) IsBoolFlag() bool { return true }

// readConfig loads file (the embedded default when file is "") and
// returns the bytes it was parsed from.
func readConfig(file string) (*config.Config, []byte, error) {
	if file == "" {
		return config.Default(), config.DefaultYAML, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Parse(file, data)
	return cfg, data, err
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
	fmt.Fprintf(stdout, "%s: ok (%d HTTP routes, %d gRPC routes, %d Motan2 routes, %d transcoded schemas, %d clusters)\n",
		*file, len(cfg.Routes), len(cfg.GRPCRoutes), len(cfg.Motan2Routes), len(cfg.Transcoding), len(cfg.Clusters))
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

// reexec replaces the process by the same program with the same
// arguments under env; it returns only when it cannot. main sets it:
// tests run cmdRun inside the test binary, which must not start again.
var reexec func(env []string) error

// execSelf is reexec: on Linux through /proc/self/exe, which is the
// running program even if its file was replaced or removed since.
func execSelf(env []string) error {
	exe := "/proc/self/exe"
	if runtime.GOOS != "linux" {
		p, err := os.Executable()
		if err != nil {
			return err
		}
		exe = p
	}
	return syscall.Exec(exe, os.Args, env)
}

// steadySysmon starts the process again with GODEBUG's steady monitor
// thread setting (runtime.sysmon: steady, internal/procs) unless GODEBUG
// already has a schedtrace setting, as it has after that start. It runs
// before anything listens, and returns only when the start failed.
func steadySysmon(logger *slog.Logger) {
	godebug, add := procs.SteadyGODEBUG(os.Getenv("GODEBUG"))
	if !add {
		return
	}
	env := []string{"GODEBUG=" + godebug}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	err := reexec(env)
	logger.Warn("runtime: could not start again with a steady monitor thread (runtime.sysmon: steady); running with Go's default", "err", err)
}

// applyRuntime applies the runtime section (docs/config.md#runtime): the
// garbage collector's percentage and the processor count, fixed or sized
// to the load by a procs.Governor until the returned stop is called. The
// GOGC and GOMAXPROCS environment variables win over the configuration.
func applyRuntime(rt config.Runtime, logger *slog.Logger) (stop func()) {
	if procs.SysmonSteady(os.Getenv("GODEBUG")) {
		logger.Info("runtime: steady monitor thread", "godebug", os.Getenv("GODEBUG"))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(rt.GCPercent)
	}
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	if n := rt.FixedProcs(); n > 0 {
		runtime.GOMAXPROCS(n)
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	g := &procs.Governor{Logger: logger.With("component", "runtime")}
	go func() {
		defer close(done)
		g.Run(ctx)
	}()
	return func() { cancel(); <-done }
}
