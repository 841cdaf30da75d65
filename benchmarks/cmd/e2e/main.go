// Command e2e is meshgate's end-to-end HTTP -> Motan2 benchmark harness.
// Run it from the benchmarks module (`cd benchmarks && go run ./cmd/e2e`,
// or `make bench-e2e`). In one invocation it
//
//  1. builds the echo server, the direct load generator (m2load), the
//     motan-go v1.2.0 agent (with motan-go's own dependency pins, agent.mod)
//     and meshgate into a temporary directory;
//  2. starts, each as its own process on 127.0.0.1 and free ports, the
//     Motan2 echo service (bench.EchoService), the motan-go agent with a
//     refer to it, and meshgate with a route GET /bench/echo to it, and
//     waits for each by polling until it gives the right reply;
//  3. measures three paths at the same concurrency, one after the other:
//     direct Motan2 (m2load -> echo server, the ceiling), meshgate
//     (wrk -> meshgate -> echo server) and the agent (wrk -> agent
//     /proxy_to_rpc -> echo server). Each gets a warm-up run, then a
//     bounded run around which the CPU time of the gateway process and of
//     the echo server is read from /proc;
//  4. prints a table and, last, the line
//     RESULT http-motan2 meshgate_us=<x> agent_us=<y> ratio=<y/x>
//     where x and y are the gateway CPU microseconds per request.
//
// The duration of the measured runs comes from BENCH_DURATION (default
// 10s; -d overrides). Every child runs in its own process group and is
// stopped on exit, failure, SIGINT/SIGTERM or timeout; the temporary
// directory is removed unless -keep is given.
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
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

const (
	service  = "bench.EchoService"
	echoArg  = "hello"
	routeURL = "/bench/echo?msg=" + echoArg
)

type options struct {
	duration time.Duration
	warmup   time.Duration
	threads  int
	conns    int
	upConns  int
	targets  map[string]bool
	keep     bool
	agentMod string
	startup  time.Duration
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	def := 10 * time.Second
	if s := os.Getenv("BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "e2e: bad BENCH_DURATION %q (want a Go duration such as 10s)\n", s)
			return 2
		}
		def = d
	}
	flag.DurationVar(&o.duration, "d", def, "measured run per target (default from BENCH_DURATION, else 10s); whole seconds")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up run per target, not measured")
	flag.IntVar(&o.threads, "t", 1, "wrk threads; GOMAXPROCS of the direct load generator")
	flag.IntVar(&o.conns, "c", 32, "concurrent connections (wrk) / concurrent callers (direct)")
	flag.IntVar(&o.upConns, "upstream-conns", 2, "Motan2 connections from each gateway and the direct client to the echo server")
	targets := flag.String("targets", "direct,meshgate,agent", "paths to measure (comma-separated subset of direct,meshgate,agent); RESULT needs meshgate and agent")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs)")
	flag.StringVar(&o.agentMod, "agent-modfile", "agent.mod", "go.mod to build the agent with (motan-go's own pins); empty: the module's go.mod")
	flag.DurationVar(&o.startup, "startup-timeout", 20*time.Second, "how long each server may take to answer correctly")
	flag.Parse()
	o.duration = o.duration.Round(time.Second)
	if o.duration < time.Second {
		o.duration = time.Second
	}
	o.targets = map[string]bool{}
	for _, t := range strings.Split(*targets, ",") {
		switch t = strings.TrimSpace(t); t {
		case "direct", "meshgate", "agent":
			o.targets[t] = true
		default:
			fmt.Fprintf(os.Stderr, "e2e: unknown target %q\n", t)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "meshgate-bench-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	cleanup := func() {
		stopAll()
		if o.keep {
			logf("kept %s", tmp)
		} else {
			os.RemoveAll(tmp)
		}
	}
	// A last resort if something blocks beyond every context: the run
	// phase has its own deadline (below); this one covers builds too.
	hard := time.AfterFunc(buildTimeout+3*expected(o)+time.Minute, func() {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: hard time limit reached; killing everything")
		cleanup()
		os.Exit(1)
	})
	defer hard.Stop()

	rep, err := bench(ctx, o, tmp)
	cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	if rep != "" {
		// The RESULT line, last on stdout.
		fmt.Println(rep)
	}
	return 0
}

// buildTimeout bounds the builds (a cold module and build cache compiles
// motan-go's dependency tree on 2 cores).
const buildTimeout = 10 * time.Minute

// expected is how long the run phase should take: startups plus, per
// target, warm-up, run and the checks around them.
func expected(o options) time.Duration {
	return 3*o.startup/2 + time.Duration(len(o.targets))*(o.warmup+o.duration+5*time.Second)
}

type binaries struct {
	echo, load, agent, meshgate, wrk string
}

// bench builds, starts, measures, prints the table and returns the RESULT
// line ("" when meshgate or the agent was not measured).
func bench(ctx context.Context, o options, tmp string) (string, error) {
	bins, err := build(ctx, o, tmp)
	if err != nil {
		return "", err
	}
	limit := 3 * expected(o)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, err := measureAll(ctx, o, tmp, bins)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", fmt.Errorf("run phase exceeded %v (3x the expected %v): %w", limit, expected(o), err)
		}
		return "", err
	}
	printReport(os.Stdout, o, bins, res)
	mg, ag := res.byName("meshgate"), res.byName("agent")
	if mg == nil || ag == nil {
		return "", nil
	}
	x, y := mg.gatewayUs(), ag.gatewayUs()
	return fmt.Sprintf("RESULT http-motan2 meshgate_us=%.1f agent_us=%.1f ratio=%.2f", x, y, y/x), nil
}

// build compiles the four programs into tmp/bin.
func build(ctx context.Context, o options, tmp string) (binaries, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	var b binaries
	var err error
	if b.wrk, err = exec.LookPath("wrk"); err != nil {
		return b, errors.New("wrk not found in PATH (Debian/Ubuntu: apt-get install wrk)")
	}
	gomod, _, err := runBounded(ctx, "", nil, "go", "env", "GOMOD")
	if err != nil {
		return b, err
	}
	benchRoot := filepath.Dir(strings.TrimSpace(string(gomod)))
	if mod, _, err := runBounded(ctx, benchRoot, nil, "go", "list", "-m"); err != nil || strings.TrimSpace(string(mod)) != "github.com/meshgate/meshgate/benchmarks" {
		return b, fmt.Errorf("run from the benchmarks module (cd benchmarks && go run ./cmd/e2e); go.mod here is %q", strings.TrimSpace(string(gomod)))
	}
	mainDir, _, err := runBounded(ctx, benchRoot, nil, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/meshgate/meshgate")
	if err != nil {
		return b, err
	}
	mainRoot := strings.TrimSpace(string(mainDir))
	bin := filepath.Join(tmp, "bin")
	b.echo, b.load = filepath.Join(bin, "echoserver"), filepath.Join(bin, "m2load")
	b.agent, b.meshgate = filepath.Join(bin, "motanagent"), filepath.Join(bin, "meshgate")

	logf("building echoserver and m2load (%s)", benchRoot)
	if _, _, err := runBounded(ctx, benchRoot, nil, "go", "build", "-o", bin+"/", "./cmd/echoserver", "./cmd/m2load"); err != nil {
		return b, fmt.Errorf("build: %w", err)
	}
	logf("building the motan-go v1.2.0 agent (modfile %q)", o.agentMod)
	args := []string{"build", "-o", b.agent}
	if o.agentMod != "" {
		args = append(args, "-modfile="+o.agentMod)
	}
	if _, _, err := runBounded(ctx, benchRoot, nil, "go", append(args, "./cmd/motanagent")...); err != nil {
		return b, fmt.Errorf("build: %w", err)
	}
	if o.targets["meshgate"] {
		// Built in meshgate's own module, so with its own dependency
		// versions, exactly as `go build ./cmd/meshgate` there.
		logf("building meshgate (%s)", mainRoot)
		if _, _, err := runBounded(ctx, mainRoot, nil, "go", "build", "-o", b.meshgate, "github.com/meshgate/meshgate/cmd/meshgate"); err != nil {
			return b, fmt.Errorf("build: %w", err)
		}
	}
	return b, nil
}

// target is one measured path.
type target struct {
	name  string // direct, meshgate, agent
	label string
	gw    *proc // the gateway process; nil for direct
	url   string
	res   loadResult
	gwCPU cpuDelta
	upCPU cpuDelta // echo server
	calls int64    // echo calls the server counted during the run

	other time.Duration // CPU of every other process during the run
	steal time.Duration // hypervisor steal during the run
}

func (t *target) gatewayUs() float64 {
	return float64(t.gwCPU.best()) / float64(time.Microsecond) / float64(t.res.requests)
}

func (t *target) echoUs() float64 {
	return float64(t.upCPU.best()) / float64(time.Microsecond) / float64(t.res.requests)
}

type results []*target

func (rs results) byName(n string) *target {
	for _, t := range rs {
		if t.name == n {
			return t
		}
	}
	return nil
}

func measureAll(ctx context.Context, o options, tmp string, bins binaries) (results, error) {
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	echoAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	agentPort, agentMport, agentHport, agentEport, mgPort := ports[1], ports[2], ports[3], ports[4], ports[5]

	// The harness's own Motan2 client: readiness, reply checks and the
	// echo server's call counter, never during a measured run.
	client := motan2.NewClient(echoAddr, motan2.WithConnections(1),
		motan2.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer client.Close()

	logf("starting echo server on %s", echoAddr)
	echo, err := startProc("echoserver", filepath.Join(tmp, "echoserver.log"), nil, bins.echo, "-addr", echoAddr, "-service", service)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, echo, o.startup, func() error {
		if err := dial(echoAddr); err != nil {
			return err
		}
		return checkMotan(ctx, client)
	}); err != nil {
		return nil, err
	}

	var rs results
	if o.targets["direct"] {
		rs = append(rs, &target{name: "direct", label: "direct Motan2 (m2load)"})
	}
	if o.targets["meshgate"] {
		cfg := filepath.Join(tmp, "meshgate.yaml")
		if err := os.WriteFile(cfg, []byte(meshgateConfig(mgPort, echoAddr, o.upConns)), 0o644); err != nil {
			return nil, err
		}
		if out, _, err := runBounded(ctx, tmp, nil, bins.meshgate, "validate", "-c", cfg); err != nil {
			return nil, fmt.Errorf("meshgate rejects the generated config %s: %w\n%s", cfg, err, out)
		}
		logf("starting meshgate on 127.0.0.1:%d", mgPort)
		p, err := startProc("meshgate", filepath.Join(tmp, "meshgate.log"), nil, bins.meshgate, "run", "-c", cfg)
		if err != nil {
			return nil, err
		}
		u := fmt.Sprintf("http://127.0.0.1:%d%s", mgPort, routeURL)
		if err := waitReady(ctx, p, o.startup, func() error { return checkHTTP(u, `"`+echoArg+`"`) }); err != nil {
			return nil, err
		}
		rs = append(rs, &target{name: "meshgate", label: "meshgate HTTP -> Motan2", gw: p, url: u})
	}
	if o.targets["agent"] {
		dir := filepath.Join(tmp, "agent")
		logf("starting motan-go agent (http proxy 127.0.0.1:%d, files in %s)", agentHport, dir)
		p, err := startProc("motan-go agent", filepath.Join(tmp, "motanagent.log"), nil, bins.agent,
			"-bench.dir", dir, "-bench.port", strconv.Itoa(agentPort), "-bench.mport", strconv.Itoa(agentMport),
			"-bench.hport", strconv.Itoa(agentHport), "-bench.eport", strconv.Itoa(agentEport),
			"-bench.upstream", echoAddr, "-bench.service", service, "-bench.conns", strconv.Itoa(o.upConns))
		if err != nil {
			return nil, err
		}
		q := url.Values{"service": {service}, "method": {"echo"}, "arg_type": {"string"}, "arg": {echoArg}}
		u := fmt.Sprintf("http://127.0.0.1:%d/proxy_to_rpc?%s", agentHport, q.Encode())
		if err := waitReady(ctx, p, o.startup, func() error { return checkHTTP(u, echoArg) }); err != nil {
			return nil, err
		}
		rs = append(rs, &target{name: "agent", label: "motan-go agent HTTP -> Motan2", gw: p, url: u})
	}

	for _, t := range rs {
		if err := measure(ctx, o, bins, echo, client, echoAddr, t); err != nil {
			return nil, fmt.Errorf("%s: %w", t.label, err)
		}
	}
	return rs, nil
}

// measure runs the warm-up and the measured run of t.
func measure(ctx context.Context, o options, bins binaries, echo *proc, client *motan2.Client, echoAddr string, t *target) error {
	load := func(d time.Duration) (loadResult, error) {
		if t.gw == nil {
			return runM2load(ctx, bins.load, o.threads, o.conns, o.upConns, d, echoAddr, service)
		}
		return runWrk(ctx, bins.wrk, o.threads, o.conns, d, t.url)
	}
	logf("%s: warm-up %v", t.label, o.warmup)
	w, err := load(o.warmup)
	if err != nil {
		return err
	}
	if f := w.failed(); f != "" {
		return fmt.Errorf("warm-up: %s\n%s", f, w.raw)
	}

	logf("%s: measuring %v", t.label, o.duration)
	n0, err := echoCount(ctx, client)
	if err != nil {
		return err
	}
	var g0, g1 cpuSample
	if t.gw != nil {
		if g0, err = sampleCPU(t.gw.pid()); err != nil {
			return err
		}
	}
	e0, err := sampleCPU(echo.pid())
	if err != nil {
		return err
	}
	// Our processes and the harness (whose reaped children, the load
	// generators, would show in its cutime) are not "others".
	exclude := map[int]bool{os.Getpid(): true, echo.pid(): true}
	for _, p := range allChildren() {
		exclude[p.pid()] = true
	}
	m0 := sampleOthers(exclude)
	r, err := load(o.duration)
	if err != nil {
		return err
	}
	m1 := sampleOthers(exclude)
	if t.gw != nil {
		if g1, err = sampleCPU(t.gw.pid()); err != nil {
			return t.gw.failure("gone after the run")
		}
	}
	e1, err := sampleCPU(echo.pid())
	if err != nil {
		return echo.failure("gone after the run")
	}
	n1, err := echoCount(ctx, client)
	if err != nil {
		return err
	}
	if f := r.failed(); f != "" {
		return fmt.Errorf("%s\n%s", f, r.raw)
	}
	t.res, t.gwCPU, t.upCPU, t.calls = r, delta(g0, g1), delta(e0, e1), n1-n0
	// One Motan2 call per request, give or take the requests in flight
	// when the load generator stopped: more would be retries, fewer a
	// cache or a short cut.
	if per := float64(t.calls) / float64(r.requests); per < 0.99 || per > 1.01 {
		logf("WARNING: %s: %.3f Motan2 calls per request (%d calls, %d requests)", t.label, per, t.calls, r.requests)
	}
	// What every other process on the machine used meanwhile: on a shared
	// machine, the noise to watch.
	t.other, t.steal = othersDelta(m0, m1)
	if limit := time.Duration(float64(time.Second) * r.seconds * 0.05); t.other > limit {
		logf("WARNING: %s: %v of CPU went to other processes during the run (more than 5%% of one core); the numbers are disturbed", t.label, t.other.Round(time.Millisecond))
	}

	// The path still answers correctly after the load.
	if t.gw == nil {
		return checkMotan(ctx, client)
	}
	want := echoArg
	if t.name == "meshgate" {
		want = `"` + echoArg + `"`
	}
	if err := checkHTTP(t.url, want); err != nil {
		return t.gw.failure("wrong reply after the run: " + err.Error())
	}
	return nil
}

// waitReady polls check until it succeeds, p exits or the timeout passes.
func waitReady(ctx context.Context, p *proc, timeout time.Duration, check func() error) error {
	start := time.Now()
	deadline := start.Add(timeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for attempt := 1; ; attempt++ {
		err := check()
		if err == nil {
			logf("%s ready after %v (%d polls)", p.name, time.Since(start).Round(time.Millisecond), attempt)
			return nil
		}
		if p.exited() {
			return p.failure("exited during startup")
		}
		if time.Now().After(deadline) {
			return p.failure(fmt.Sprintf("no correct reply within %v: %v", timeout, err))
		}
		select {
		case <-ctx.Done():
			return p.failure("interrupted: " + ctx.Err().Error())
		case <-tick.C:
		}
	}
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// checkMotan calls echo("hello") directly and checks the reply.
func checkMotan(ctx context.Context, c *motan2.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, &motan2.Request{Service: service, Method: "echo", Args: []motan2.Value{motan2.String(echoArg)}})
	if err != nil {
		return err
	}
	if resp.Value.Kind() != motan2.KindString || resp.Value.Str() != echoArg {
		return fmt.Errorf("echo replied %v, want the string %q", resp.Value, echoArg)
	}
	return nil
}

// echoCount asks the echo server how many echo calls it has served.
func echoCount(ctx context.Context, c *motan2.Client) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, &motan2.Request{Service: service, Method: "count"})
	if err != nil {
		return 0, fmt.Errorf("echo server count: %w", err)
	}
	return resp.Value.Int(), nil
}

var httpClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// checkHTTP GETs u and wants status 200 and exactly body want.
func checkHTTP(u, want string) error {
	resp, err := httpClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != want {
		return fmt.Errorf("GET %s: %s %q, want 200 %q", u, resp.Status, b, want)
	}
	return nil
}

// meshgateConfig is meshgate's configuration: one cluster (the echo
// server) and one route GET /bench/echo?msg=... -> bench.EchoService.echo.
func meshgateConfig(port int, echoAddr string, conns int) string {
	return fmt.Sprintf(`# generated by benchmarks/cmd/e2e
http:
  listen: 127.0.0.1:%d
clusters:
  - name: echo
    endpoints: [%q]
    lb: round_robin
    connections: %d
routes:
  - name: bench-echo
    method: GET
    path: /bench/echo
    target:
      cluster: echo
      service: %s
      method: echo
      timeout: 1s
    args:
      - name: msg
        from: query
        type: string
`, port, echoAddr, conns, service)
}

func printReport(w io.Writer, o options, bins binaries, rs results) {
	fmt.Fprintf(w, "HTTP -> Motan2 end to end, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s, Go %s, %s\n", runtime.NumCPU(), cpuModel(), kernel(), goVersion(), wrkVersion(bins.wrk))
	fmt.Fprintf(w, "load: wrk -t%d -c%d -d%s --latency (direct: m2load, %d callers, GOMAXPROCS=%d); warm-up %v; %d Motan2 connections per client\n",
		o.threads, o.conns, wrkDuration(o.duration), o.conns, o.threads, o.warmup, o.upConns)
	fmt.Fprintln(w, "CPU: /proc/<pid>/task/*/schedstat around the measured run, divided by the requests completed")
	fmt.Fprintln(w)
	var direct *target
	if d := rs.byName("direct"); d != nil {
		direct = d
	}
	// Numbers align right; labels, padded to one width, read left-aligned.
	width := len("target")
	for _, t := range rs {
		width = max(width, len(t.label))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("target")+"\trps\tp50\tp99\tgateway CPU µs/req\techo-server CPU µs/req\tload-gen CPU µs/req\tMotan2 calls/req\trps vs direct\t")
	for _, t := range rs {
		gw := "-"
		if t.gw != nil {
			gw = fmt.Sprintf("%.1f", t.gatewayUs())
		}
		ratio := "-"
		if direct != nil {
			ratio = fmt.Sprintf("%.2f", t.res.rps/direct.res.rps)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.1f\t%.1f\t%.3f\t%s\t\n", pad(t.label), t.res.rps,
			fmtLatency(t.res.p50), fmtLatency(t.res.p99), gw, t.echoUs(),
			float64(t.res.loaderCPU)/float64(time.Microsecond)/float64(t.res.requests),
			float64(t.calls)/float64(t.res.requests), ratio)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, t := range rs {
		gw := ""
		if t.gw != nil {
			gw = fmt.Sprintf("gateway %v (utime+stime %v), ", t.gwCPU.sched.Round(time.Millisecond), t.gwCPU.stat)
		}
		fmt.Fprintf(w, "%s: %d requests in %.2fs; CPU: %secho server %v (utime+stime %v), load generator %v; other processes %v, steal %v\n",
			t.label, t.res.requests, t.res.seconds, gw, t.upCPU.sched.Round(time.Millisecond), t.upCPU.stat,
			t.res.loaderCPU.Round(time.Millisecond), t.other, t.steal)
	}
}

func fmtLatency(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "linux " + strings.TrimSpace(string(b))
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
}

func wrkVersion(wrk string) string {
	// wrk -v prints its version and usage, exiting non-zero.
	out, _ := exec.Command(wrk, "-v").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(first); len(f) >= 2 {
		return "wrk " + f[1]
	}
	return "wrk"
}
