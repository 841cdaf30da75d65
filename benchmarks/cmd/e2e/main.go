// Command e2e is meshgate's end-to-end benchmark harness. Run it from the
// benchmarks module (`cd benchmarks && go run ./cmd/e2e`, or
// `make bench-e2e`). In one invocation it runs two scenarios, one after the
// other (-scenarios selects):
//
//   - http-motan2: HTTP -> Motan2 through meshgate and through the motan-go
//     v1.2.0 agent, next to direct Motan2 calls, against our Motan2 echo
//     service (bench.EchoService);
//   - http-grpc: HTTP/JSON -> gRPC transcoding (GET /v1/echo/{msg} mapped
//     by a google.api.http annotation to bench.v1.Echo/Get) through
//     meshgate and through grpc-gateway v2.28.0's generated handlers, next
//     to direct gRPC calls, against a grpc-go echo server.
//
// For each scenario it
//
//  1. builds (once, up front, into a temporary directory) the upstream,
//     the direct load generator and the gateways; meshgate in its own
//     module, the motan-go agent with motan-go's own dependency pins
//     (agent.mod);
//  2. starts, each as its own process on 127.0.0.1 and free ports, the
//     upstream and the gateways, and waits for each by polling until it
//     gives the right reply;
//  3. measures the paths at the same concurrency, one after the other:
//     direct (the ceiling), meshgate, and the other gateway. Each gets a
//     warm-up run, then a bounded run around which the CPU time of the
//     gateway process and of the upstream is read from /proc, and the
//     upstream's call counter is read to check one upstream call per
//     request;
//  4. prints a table, and stops the scenario's processes.
//
// Last, it prints one line per scenario:
//
//	RESULT http-motan2 meshgate_us=<x> agent_us=<y> ratio=<y/x>
//	RESULT http-grpc meshgate_us=<x> grpcgateway_us=<y> ratio=<y/x>
//
// where x and y are the gateway CPU microseconds per request.
//
// The duration of the measured runs comes from BENCH_DURATION (default
// 10s; -d overrides). Every child runs in its own process group and is
// stopped on exit, failure, SIGINT/SIGTERM or timeout; the temporary
// directory is removed unless -keep is given.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type options struct {
	duration  time.Duration
	warmup    time.Duration
	threads   int
	conns     int
	upConns   int
	scenarios []string
	targets   map[string]bool
	keep      bool
	agentMod  string
	startup   time.Duration
	profile   string // directory for CPU profiles of the gateways; "" off
	rounds    int    // measured runs per target, interleaved
}

// scenario is one comparison: an upstream, the direct path to it and the
// gateways in front of it.
type scenario struct {
	name    string   // the RESULT line's tag: http-motan2, http-grpc
	title   string   // the report's heading
	targets []string // the target names it measures, in order
	calls   string   // the upstream protocol, for "<calls> calls/req"
	// run starts the scenario's processes and measures its targets.
	run func(ctx context.Context, s *scenario, o options, tmp string, bins binaries) (results, error)
	// loadLine describes the load of the report's header.
	loadLine func(o options) string
	// result is the RESULT line, "" when a gateway was not measured.
	result func(rs results) string
}

var scenarios = []*scenario{motan2Scenario, grpcScenario}

func scenarioByName(n string) *scenario {
	for _, s := range scenarios {
		if s.name == n {
			return s
		}
	}
	return nil
}

// allTargets are the valid -targets names: direct and meshgate are
// measured in every scenario, agent in http-motan2, grpc-gateway in
// http-grpc.
var allTargets = []string{"direct", "meshgate", "agent", "grpc-gateway"}

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
	defRounds := 3
	if s := os.Getenv("BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 50 {
			fmt.Fprintf(os.Stderr, "e2e: bad BENCH_ROUNDS %q (want 1 to 50)\n", s)
			return 2
		}
		defRounds = n
	}
	flag.DurationVar(&o.duration, "d", def, "measured run per target (default from BENCH_DURATION, else 10s); whole seconds")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up run per target, not measured")
	flag.IntVar(&o.rounds, "rounds", defRounds, "measured runs per target (default from BENCH_ROUNDS, else 3), interleaved in an order that rotates from round to round; the median round is reported")
	flag.IntVar(&o.threads, "t", 1, "wrk threads; GOMAXPROCS of the direct load generators")
	flag.IntVar(&o.conns, "c", 32, "concurrent connections (wrk) / concurrent callers (direct)")
	flag.IntVar(&o.upConns, "upstream-conns", 2, "http-motan2: Motan2 connections from each gateway and the direct client to the echo server (gRPC clients use one HTTP/2 connection each)")
	scens := flag.String("scenarios", "http-motan2,http-grpc", "scenarios to run, in this order (comma-separated subset of http-motan2,http-grpc)")
	targets := flag.String("targets", strings.Join(allTargets, ","), "paths to measure (comma-separated subset of direct,meshgate,agent,grpc-gateway; agent belongs to http-motan2, grpc-gateway to http-grpc); a RESULT line needs meshgate and the scenario's other gateway")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs)")
	flag.StringVar(&o.agentMod, "agent-modfile", "agent.mod", "go.mod to build the agent with (motan-go's own pins); empty: the module's go.mod")
	flag.DurationVar(&o.startup, "startup-timeout", 20*time.Second, "how long each server may take to answer correctly")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of meshgate and of grpc-gateway over each measured run into this directory (<scenario>-<target>.pprof; profiling adds to the CPU measured)")
	flag.Parse()
	o.duration = o.duration.Round(time.Second)
	if o.duration < time.Second {
		o.duration = time.Second
	}
	if o.rounds < 1 || o.rounds > 50 {
		fmt.Fprintf(os.Stderr, "e2e: -rounds %d: want 1 to 50\n", o.rounds)
		return 2
	}
	o.targets = map[string]bool{}
	for _, t := range strings.Split(*targets, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(allTargets, t) {
			fmt.Fprintf(os.Stderr, "e2e: unknown target %q\n", t)
			return 2
		}
		o.targets[t] = true
	}
	for _, s := range strings.Split(*scens, ",") {
		s = strings.TrimSpace(s)
		if scenarioByName(s) == nil {
			fmt.Fprintf(os.Stderr, "e2e: unknown scenario %q\n", s)
			return 2
		}
		if !slices.Contains(o.scenarios, s) {
			o.scenarios = append(o.scenarios, s)
		}
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		if abs, err := filepath.Abs(o.profile); err == nil {
			o.profile = abs
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

	reps, err := bench(ctx, o, tmp)
	cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	// The RESULT lines, last on stdout.
	for _, r := range reps {
		fmt.Println(r)
	}
	return 0
}

// buildTimeout bounds the builds (a cold module and build cache compiles
// motan-go's and grpc-go's dependency trees on 2 cores).
const buildTimeout = 10 * time.Minute

// measured returns the targets of s that o selects.
func (o options) measured(s *scenario) []string {
	var out []string
	for _, t := range s.targets {
		if o.targets[t] {
			out = append(out, t)
		}
	}
	return out
}

// expected is how long the run phase should take: per scenario, startups
// plus, per target, warm-up, run and the checks around them.
func expected(o options) time.Duration {
	var d time.Duration
	for _, n := range o.scenarios {
		s := scenarioByName(n)
		d += 3*o.startup/2 + time.Duration(len(o.measured(s)))*(o.warmup+time.Duration(o.rounds)*(o.duration+5*time.Second))
	}
	return d
}

type binaries struct {
	echo, load, agent, meshgate, wrk string // http-motan2 (and meshgate, wrk for both)
	grpcEcho, grpcLoad, grpcGateway  string // http-grpc
}

// bench builds, then runs each scenario (starting its processes, measuring,
// printing its table, stopping its processes) and returns the RESULT lines
// of the scenarios whose two gateways were measured.
func bench(ctx context.Context, o options, tmp string) ([]string, error) {
	bins, err := build(ctx, o, tmp)
	if err != nil {
		return nil, err
	}
	limit := 3 * expected(o)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var reps []string
	for i, n := range o.scenarios {
		s := scenarioByName(n)
		if len(o.measured(s)) == 0 {
			logf("%s: no target selected; skipped", s.name)
			continue
		}
		logf("=== scenario %s: %s", s.name, s.title)
		started := len(allChildren())
		rs, err := s.run(ctx, s, o, tmp, bins)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("run phase exceeded %v (3x the expected %v): %w", limit, expected(o), err)
			}
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		// The next scenario runs without this one's processes.
		stopFrom(started)
		if i > 0 {
			fmt.Println()
		}
		printReport(os.Stdout, o, s, bins, rs)
		if r := s.result(rs); r != "" {
			reps = append(reps, r)
		}
	}
	return reps, nil
}

// build compiles the programs the selected scenarios need into tmp/bin.
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
	b.grpcEcho, b.grpcLoad, b.grpcGateway = filepath.Join(bin, "grpcecho"), filepath.Join(bin, "grpcload"), filepath.Join(bin, "grpcgateway")

	runs := func(s *scenario) bool { return slices.Contains(o.scenarios, s.name) && len(o.measured(s)) > 0 }
	motan, grpcs := runs(motan2Scenario), runs(grpcScenario)
	var pkgs []string
	if motan {
		pkgs = append(pkgs, "./cmd/echoserver", "./cmd/m2load")
	}
	if grpcs {
		// grpc-gateway v2.28.0, grpc-go and protobuf at this module's
		// versions (go.mod), the generated code in internal/benchpb.
		pkgs = append(pkgs, "./cmd/grpcecho", "./cmd/grpcload")
		if o.targets["grpc-gateway"] {
			pkgs = append(pkgs, "./cmd/grpcgateway")
		}
	}
	if len(pkgs) > 0 {
		logf("building %s (%s)", strings.Join(pkgs, " "), benchRoot)
		if _, _, err := runBounded(ctx, benchRoot, nil, "go", append([]string{"build", "-o", bin + "/"}, pkgs...)...); err != nil {
			return b, fmt.Errorf("build: %w", err)
		}
	}
	if motan && o.targets["agent"] {
		logf("building the motan-go v1.2.0 agent (modfile %q)", o.agentMod)
		args := []string{"build", "-o", b.agent}
		if o.agentMod != "" {
			args = append(args, "-modfile="+o.agentMod)
		}
		if _, _, err := runBounded(ctx, benchRoot, nil, "go", append(args, "./cmd/motanagent")...); err != nil {
			return b, fmt.Errorf("build: %w", err)
		}
	}
	if o.targets["meshgate"] && (motan || grpcs) {
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
	name  string // direct, meshgate, agent, grpc-gateway
	label string
	gw    *proc // the gateway process; nil for direct
	url   string
	want  string // the exact body the gateway answers url with
	// direct runs the direct path's load generator (gw == nil).
	direct func(ctx context.Context, d time.Duration) (loadResult, error)
	// pprof is the gateway's CPU profile URL without ?seconds (-profile).
	pprof string

	runs        []measurement // the measured runs, one per round
	measurement               // the median one: what the report shows
}

// measurement is one measured run of a target.
type measurement struct {
	res   loadResult
	gwCPU cpuDelta
	upCPU cpuDelta // the upstream (echo server)
	calls int64    // upstream calls the server counted during the run

	other time.Duration // CPU of every other process during the run
	steal time.Duration // hypervisor steal during the run
}

func (r *measurement) gatewayUs() float64 {
	return float64(r.gwCPU.best()) / float64(time.Microsecond) / float64(r.res.requests)
}

func (r *measurement) upstreamUs() float64 {
	return float64(r.upCPU.best()) / float64(time.Microsecond) / float64(r.res.requests)
}

// key is what a target's runs are ranked by: the gateway's CPU per
// request, or for the direct path (no gateway) the echo server's.
func (t *target) key(r *measurement) float64 {
	if t.gw == nil {
		return r.upstreamUs()
	}
	return r.gatewayUs()
}

// pickMedian makes the median of t's runs (by key; the lower middle one
// for an even count) the one reported.
func (t *target) pickMedian() {
	sorted := slices.Clone(t.runs)
	slices.SortStableFunc(sorted, func(a, b measurement) int { return cmp.Compare(t.key(&a), t.key(&b)) })
	t.measurement = sorted[(len(sorted)-1)/2]
}

// measureAll measures every target of rs o.rounds times, warming each up
// before its first run. Round r starts with target r (mod the count) and
// goes on in order, so no target always runs first or after the same
// one: the machine's drift and what a previous run leaves behind (caches,
// a warm or cold CPU) spread over all of them.
func measureAll(ctx context.Context, o options, s *scenario, bins binaries, up upstream, rs results) error {
	for r := 0; r < o.rounds; r++ {
		for i := range rs {
			t := rs[(r+i)%len(rs)]
			if o.rounds > 1 {
				logf("round %d of %d", r+1, o.rounds)
			}
			m, err := measure(ctx, o, s, bins, up, t, r)
			if err != nil {
				return fmt.Errorf("%s: %w", t.label, err)
			}
			t.runs = append(t.runs, m)
		}
	}
	for _, t := range rs {
		t.pickMedian()
	}
	return nil
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

// resultLine is the RESULT line comparing meshgate with the gateway named
// other (key: its name in the line), "" unless both were measured: each
// one's CPU per request in its median round, and the ratio other/meshgate
// as the median of the rounds' ratios (the two measured a few seconds
// apart in each round, so that the machine's slower drift cancels out).
func resultLine(rs results, tag, other, key string) string {
	mg, ot := rs.byName("meshgate"), rs.byName(other)
	if mg == nil || ot == nil {
		return ""
	}
	ratios := make([]float64, 0, len(mg.runs))
	for i := range min(len(mg.runs), len(ot.runs)) {
		ratios = append(ratios, ot.runs[i].gatewayUs()/mg.runs[i].gatewayUs())
	}
	slices.Sort(ratios)
	ratio := ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		ratio = (ratios[len(ratios)/2-1] + ratio) / 2
	}
	return fmt.Sprintf("RESULT %s meshgate_us=%.1f %s_us=%.1f ratio=%.2f", tag, mg.gatewayUs(), key, ot.gatewayUs(), ratio)
}

// upstream is a scenario's echo server as the harness sees it.
type upstream struct {
	p *proc
	// count returns how many echo calls the server has served.
	count func(context.Context) (int64, error)
	// check makes one direct call and checks the reply.
	check func(context.Context) error
}

// measure runs the measured run of t in round (from 0), after a warm-up
// in the first round.
func measure(ctx context.Context, o options, s *scenario, bins binaries, up upstream, t *target, round int) (measurement, error) {
	load := func(d time.Duration) (loadResult, error) {
		if t.gw == nil {
			return t.direct(ctx, d)
		}
		return runWrk(ctx, bins.wrk, o.threads, o.conns, d, t.url)
	}
	var m measurement
	if round == 0 {
		logf("%s: warm-up %v", t.label, o.warmup)
		w, err := load(o.warmup)
		if err != nil {
			return m, err
		}
		if f := w.failed(); f != "" {
			return m, fmt.Errorf("warm-up: %s\n%s", f, w.raw)
		}
	}

	logf("%s: measuring %v", t.label, o.duration)
	n0, err := up.count(ctx)
	if err != nil {
		return m, err
	}
	var g0, g1 cpuSample
	if t.gw != nil {
		if g0, err = sampleCPU(t.gw.pid()); err != nil {
			return m, err
		}
	}
	e0, err := sampleCPU(up.p.pid())
	if err != nil {
		return m, err
	}
	// Our processes and the harness (whose reaped children, the load
	// generators, would show in its cutime) are not "others".
	exclude := map[int]bool{os.Getpid(): true, up.p.pid(): true}
	for _, p := range allChildren() {
		exclude[p.pid()] = true
	}
	var prof chan error
	if o.profile != "" && t.pprof != "" {
		prof = make(chan error, 1)
		file := filepath.Join(o.profile, s.name+"-"+t.name+".pprof")
		if o.rounds > 1 {
			file = filepath.Join(o.profile, fmt.Sprintf("%s-%s-r%d.pprof", s.name, t.name, round+1))
		}
		go func() { prof <- fetchProfile(ctx, t.pprof, o.duration, file) }()
	}
	m0 := sampleOthers(exclude)
	r, err := load(o.duration)
	if err != nil {
		return m, err
	}
	m1 := sampleOthers(exclude)
	if t.gw != nil {
		if g1, err = sampleCPU(t.gw.pid()); err != nil {
			return m, t.gw.failure("gone after the run")
		}
	}
	e1, err := sampleCPU(up.p.pid())
	if err != nil {
		return m, up.p.failure("gone after the run")
	}
	n1, err := up.count(ctx)
	if err != nil {
		return m, err
	}
	if prof != nil {
		if err := <-prof; err != nil {
			logf("WARNING: %s: CPU profile: %v", t.label, err)
		}
	}
	if f := r.failed(); f != "" {
		return m, fmt.Errorf("%s\n%s", f, r.raw)
	}
	m.res, m.gwCPU, m.upCPU, m.calls = r, delta(g0, g1), delta(e0, e1), n1-n0
	// One upstream call per request, give or take the requests in flight
	// when the load generator stopped: more would be retries, fewer a
	// cache or a short cut.
	if per := float64(m.calls) / float64(r.requests); per < 0.99 || per > 1.01 {
		logf("WARNING: %s: %.3f %s calls per request (%d calls, %d requests)", t.label, per, s.calls, m.calls, r.requests)
	}
	// What every other process on the machine used meanwhile: on a shared
	// machine, the noise to watch.
	m.other, m.steal = othersDelta(m0, m1)
	if limit := time.Duration(float64(time.Second) * r.seconds * 0.05); m.other > limit {
		logf("WARNING: %s: %v of CPU went to other processes during the run (more than 5%% of one core); the numbers are disturbed", t.label, m.other.Round(time.Millisecond))
	}

	// The path still answers correctly after the load.
	if t.gw == nil {
		return m, up.check(ctx)
	}
	if err := checkHTTP(t.url, t.want); err != nil {
		return m, t.gw.failure("wrong reply after the run: " + err.Error())
	}
	if t.name == "meshgate" {
		logf("%s: %s", t.label, procsChanges(t.gw.logPath))
	}
	return m, nil
}

// procsChanges summarises the processor count changes meshgate logged
// (runtime.gomaxprocs: auto) so far: CPU per request depends on it.
func procsChanges(logPath string) string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return "GOMAXPROCS unknown: " + err.Error()
	}
	var changes []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "GOMAXPROCS changed") {
			continue
		}
		var from, to, cores string
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "from":
				from = v
			case "to":
				to = v
			case "cpu_cores":
				cores = v
			}
		}
		changes = append(changes, fmt.Sprintf("%s->%s at %s cores", from, to, cores))
	}
	if len(changes) == 0 {
		return "no GOMAXPROCS change logged (runtime.gomaxprocs auto starts at 1)"
	}
	return "GOMAXPROCS changes since start: " + strings.Join(changes, ", ")
}

// fetchProfile writes the CPU profile of the next d from url (a
// net/http/pprof /debug/pprof/profile) to file.
func fetchProfile(ctx context.Context, url string, d time.Duration, file string) error {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s?seconds=%d", url, int(d/time.Second)), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	logf("CPU profile: %s", file)
	return os.WriteFile(file, b, 0o644)
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

// startGateway starts a gateway and waits until url answers want.
// where says where it listens, for the log.
// startUpstream starts an echo server and waits until check passes
// against it; count reads its call counter.
func startUpstream(ctx context.Context, o options, tmp, name, bin string, args []string, addr string,
	check func(context.Context) error, count func(context.Context) (int64, error)) (upstream, error) {
	logf("starting %s on %s", name, addr)
	p, err := startProc(name, filepath.Join(tmp, name+".log"), nil, bin, args...)
	if err != nil {
		return upstream{}, err
	}
	if err := waitReady(ctx, p, o.startup, func() error {
		if err := dial(addr); err != nil {
			return err
		}
		return check(ctx)
	}); err != nil {
		return upstream{}, err
	}
	return upstream{p: p, count: count, check: check}, nil
}

// startMeshgate writes config as NAME.yaml, has meshgate validate it and
// starts meshgate on it (with a profile endpoint when o.profile is set),
// serving path on port with the reply want.
func startMeshgate(ctx context.Context, o options, tmp, bin, name, config string, port, pprofPort int, label, path, want string) (*target, error) {
	cfg := filepath.Join(tmp, name+".yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		return nil, err
	}
	if out, _, err := runBounded(ctx, tmp, nil, bin, "validate", "-c", cfg); err != nil {
		return nil, fmt.Errorf("meshgate rejects the generated config %s: %w\n%s", cfg, err, out)
	}
	args := []string{"run", "-c", cfg}
	t := &target{name: "meshgate", label: label, url: fmt.Sprintf("http://127.0.0.1:%d%s", port, path), want: want}
	if o.profile != "" {
		args = append(args, "--pprof-addr", fmt.Sprintf("127.0.0.1:%d", pprofPort))
		t.pprof = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile", pprofPort)
	}
	var err error
	if t.gw, err = startGateway(ctx, o, "meshgate", fmt.Sprintf("HTTP on 127.0.0.1:%d", port),
		filepath.Join(tmp, name+".log"), bin, args, t.url, t.want); err != nil {
		return nil, err
	}
	return t, nil
}

func startGateway(ctx context.Context, o options, name, where, logPath string, bin string, args []string, url, want string) (*proc, error) {
	logf("starting %s (%s)", name, where)
	p, err := startProc(name, logPath, nil, bin, args...)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p, o.startup, func() error { return checkHTTP(url, want) }); err != nil {
		return nil, err
	}
	return p, nil
}

func printReport(w io.Writer, o options, s *scenario, bins binaries, rs results) {
	fmt.Fprintf(w, "%s end to end, %s\n", s.title, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s, Go %s, %s\n", runtime.NumCPU(), cpuModel(), kernel(), goVersion(), wrkVersion(bins.wrk))
	fmt.Fprintln(w, "load: "+s.loadLine(o))
	fmt.Fprintf(w, "CPU: /proc/<pid>/task/*/schedstat around the measured run, divided by the requests completed; %d round(s) per target, interleaved, the median round shown\n", o.rounds)
	fmt.Fprintln(w)
	direct := rs.byName("direct")
	// Numbers align right; labels, padded to one width, read left-aligned.
	width := len("target")
	for _, t := range rs {
		width = max(width, len(t.label))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("target")+"\trps\tp50\tp99\tgateway CPU µs/req\techo-server CPU µs/req\tload-gen CPU µs/req\t"+s.calls+" calls/req\trps vs direct\t")
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
			fmtLatency(t.res.p50), fmtLatency(t.res.p99), gw, t.upstreamUs(),
			float64(t.res.loaderCPU)/float64(time.Microsecond)/float64(t.res.requests),
			float64(t.calls)/float64(t.res.requests), ratio)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if o.rounds > 1 {
		fmt.Fprintf(w, "per round, in the order run (CPU µs/req: the gateway's, or the echo server's for the direct path; the median round is the one above):\n")
		for _, t := range rs {
			fmt.Fprintf(w, "  %s:", pad(t.label))
			for i := range t.runs {
				fmt.Fprintf(w, " %.1f", t.key(&t.runs[i]))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
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
