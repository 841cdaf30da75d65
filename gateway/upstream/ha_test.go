package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/breaker"
	"github.com/meshgate/meshgate/internal/testgrpc"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// haServer is a Motan2 server that fails in the ways production fails,
// under the test's control: calls to "hold" wait until the server is
// killed (or their M_tmo ends), "hang" until it is killed, "slow" sleeps
// every slowEvery-th call, "fail" answers a 503 service
// exception while failing is set. It counts the calls of each method.
type haServer struct {
	name string
	addr string
	srv  *motan2.Server

	mu    sync.Mutex
	calls map[string]int
	// arrived receives the method of every call as it arrives.
	arrived chan string

	slowEvery int           // 0: never slow
	slowFor   time.Duration // how long a slow call takes
	failing   atomic.Bool
	done      chan struct{}
	killed    chan struct{}
	killOnce  sync.Once
}

func startHA(t *testing.T, name string) *haServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &haServer{name: name, addr: l.Addr().String(), calls: map[string]int{},
		arrived: make(chan string, 1024), done: make(chan struct{}), killed: make(chan struct{})}
	mux := motan2.NewServiceMux()
	mux.HandleFunc("test.Svc", func(ctx context.Context, r *motan2.Request) (motan2.Value, error) {
		s.mu.Lock()
		s.calls[r.Method]++
		n := s.calls[r.Method]
		s.mu.Unlock()
		select {
		case s.arrived <- r.Method:
		default:
		}
		switch strings.TrimSuffix(r.Method, "-idem") {
		case "hold":
			// Until the connection closes (kill) or the caller's M_tmo
			// runs out: no answer reaches the caller either way.
			<-ctx.Done()
			return motan2.Null, ctx.Err()
		case "hang":
			<-s.killed // ignores the caller's M_tmo: only the client's timer ends the call
			return motan2.Null, errors.New("killed")
		case "slow":
			if s.slowEvery > 0 && n%s.slowEvery == 0 {
				t := time.NewTimer(s.slowFor)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
			}
		case "fail":
			if s.failing.Load() {
				return motan2.Null, &motan2.Exception{ErrCode: 503, ErrMsg: "overloaded", ErrType: motan2.ErrTypeService}
			}
		}
		return motan2.String(s.name), nil
	})
	s.srv = &motan2.Server{Handler: mux, Logger: quiet}
	go func() { s.srv.Serve(l); close(s.done) }()
	t.Cleanup(s.kill)
	return s
}

// kill closes the listener and every connection at once, as a crashed
// process would.
func (s *haServer) kill() {
	s.killOnce.Do(func() {
		close(s.killed)
		s.srv.Close()
		<-s.done
	})
}

func (s *haServer) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func newHACluster(t *testing.T, o ClusterOptions, servers ...*haServer) *Cluster {
	t.Helper()
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = s.addr
	}
	o.Logger = quiet
	o.Client = append(o.Client, motan2.WithDialTimeout(time.Second))
	c, err := NewCluster("ha", Endpoints(addrs...), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type result struct {
	value    string
	attempts int
	err      error
}

func call(c gateway.Invoker, method string, idempotent bool, timeout time.Duration) result {
	var r gateway.Reply
	err := c.Invoke(context.Background(), &gateway.Call{Service: "test.Svc", Method: method, Timeout: timeout, Idempotent: idempotent}, &r)
	return result{value: r.Value.Str(), attempts: r.Attempts, err: err}
}

// A killed endpoint mid-run: the calls it held fail if they are not
// idempotent (they reached it, so they are never sent again) and move to
// the other endpoint if they are; every call after the kill succeeds.
func TestKilledEndpointMidRun(t *testing.T) {
	a, b := startHA(t, "a"), startHA(t, "b")
	c := newHACluster(t, ClusterOptions{HA: HAOptions{Retries: 1}}, a, b)

	// Calls spread over both: those on b answer "killed" at the end (b
	// is killed only at cleanup: its holds end with the test), so hold
	// calls are sent until a has some of each kind.
	const each = 4
	results := make(chan result, 4*each)
	var wg sync.WaitGroup
	send := func(method string, idem bool) {
		wg.Add(1)
		go func() { defer wg.Done(); results <- call(c, method, idem, 10*time.Second) }()
	}
	onA := map[string]int{}
	for onA["hold"] < each || onA["hold-idem"] < each {
		m := "hold"
		if onA["hold"] >= each {
			m = "hold-idem"
		}
		before := a.count(m)
		send(m, m == "hold-idem")
		// The call lands on a or b; wait for it to arrive somewhere.
		select {
		case <-a.arrived:
		case <-b.arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("a call never arrived")
		}
		if a.count(m) > before {
			onA[m]++
		}
	}
	bHoldBefore, bIdemBefore := b.count("hold"), b.count("hold-idem")
	a.kill()

	// The idempotent calls a held are retried on b, where they hold
	// again: wait for them to arrive, then release b's holds.
	for i := 0; i < onA["hold-idem"]; i++ {
		select {
		case <-b.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d idempotent calls were retried on b", i, onA["hold-idem"])
		}
	}
	if got := b.count("hold"); got != bHoldBefore {
		t.Errorf("b got %d non-idempotent calls after a was killed, want none (it had %d)", got-bHoldBefore, bHoldBefore)
	}
	if got := b.count("hold-idem") - bIdemBefore; got != onA["hold-idem"] {
		t.Errorf("b got %d retried idempotent calls, want %d", got, onA["hold-idem"])
	}
	// Every call after the kill goes to b: a's endpoint refuses
	// connections, so the calls never leave and move on.
	for i := 0; i < 50; i++ {
		if r := call(c, "whoami", false, 5*time.Second); r.err != nil || r.value != "b" {
			t.Fatalf("call %d after the kill: %q %v", i, r.value, r.err)
		}
	}
	b.kill()
	wg.Wait()
	close(results)
	lost := 0
	for r := range results {
		if r.err == nil {
			continue
		}
		var e *translate.Error
		if !errors.As(r.err, &e) {
			t.Fatalf("not a translate.Error: %v", r.err)
		}
		if strings.Contains(e.Message, "lost") || e.Code == translate.Unavailable {
			lost++
		}
	}
	// Each non-idempotent call a held failed (the connection was lost);
	// the retried ones failed on b only when b was killed in turn.
	if lost < onA["hold"] {
		t.Errorf("%d calls failed with a lost connection, want at least the %d non-idempotent ones a held", lost, onA["hold"])
	}
}

// A call that never left moves on whatever its idempotence; one that
// reached an endpoint is retried only when idempotent, and only within
// the retry budget.
func TestRetryBudgetCapsRetries(t *testing.T) {
	a, b := startHA(t, "a"), startHA(t, "b")
	a.failing.Store(true)
	b.failing.Store(true)
	// The clients' own error threshold (which marks an endpoint down
	// after consecutive failures) is off: the budget alone limits.
	c := newHACluster(t, ClusterOptions{HA: HAOptions{Retries: 1, RetryBudget: 0.1},
		Client: []motan2.ClientOption{motan2.WithErrorThreshold(0)}}, a, b)
	const n = 200
	for i := 0; i < n; i++ {
		r := call(c, "fail", true, 5*time.Second)
		var e *translate.Error
		if !errors.As(r.err, &e) || e.Code != translate.Unavailable {
			t.Fatalf("call %d: %v", i, r.err)
		}
	}
	st := c.Stats()
	// A budget of 10% plus the reserve of BudgetReserve.
	if max := uint64(n/10 + BudgetReserve); st.Retries > max || st.Retries < BudgetReserve {
		t.Fatalf("retries %d of %d calls: want between %d and %d", st.Retries, n, BudgetReserve, max)
	}
	if got := a.count("fail") + b.count("fail"); got != n+int(st.Retries) {
		t.Fatalf("servers saw %d calls, want %d calls + %d retries", got, n, st.Retries)
	}
	// Not idempotent: never retried.
	before := c.Stats().Retries
	for i := 0; i < 20; i++ {
		if r := call(c, "fail", false, 5*time.Second); r.attempts != 1 {
			t.Fatalf("a non-idempotent call was sent %d times", r.attempts)
		}
	}
	if c.Stats().Retries != before {
		t.Fatal("a non-idempotent call was retried")
	}
}

// An endpoint that returns errors trips its own breaker: the cluster
// stops picking it (its calls go to the healthy endpoint, none fails),
// and it comes back after the breaker's pause.
func TestErroringEndpointBreakerOpensAndRecovers(t *testing.T) {
	a, b := startHA(t, "a"), startHA(t, "b")
	a.failing.Store(true)
	var breakers sync.Map // endpoint -> FilterState reader
	chain := func(ep gateway.Endpoint, next gateway.Invoker) (gateway.Invoker, []gateway.Filter, error) {
		f, err := gateway.NewFilter(gateway.FilterSpec{Name: "breaker", Endpoint: ep.Addr, Scope: "endpoint " + ep.Addr,
			Decode: func(v any) error {
				o := v.(*breaker.Options)
				o.ConsecutiveFailures, o.ErrorRate, o.OpenFor = 3, 0, 200*time.Millisecond
				return nil
			}})
		if err != nil {
			return nil, nil, err
		}
		breakers.Store(ep.Addr, f)
		return gateway.Chain(next, f), []gateway.Filter{f}, nil
	}
	c := newHACluster(t, ClusterOptions{EndpointChain: chain}, a, b)
	failures := 0
	for i := 0; i < 100; i++ {
		if r := call(c, "fail", false, 5*time.Second); r.err != nil {
			failures++
		}
	}
	if failures != 3 {
		t.Fatalf("%d calls failed; want 3 (a's breaker opens after 3 consecutive failures)", failures)
	}
	states := c.EndpointStates()
	i := slices.IndexFunc(states, func(s EndpointState) bool { return s.Address == a.addr })
	if states[i].Available || len(states[i].Filters) != 1 || !strings.HasPrefix(states[i].Filters[0].State, "open (3 consecutive failures)") {
		t.Fatalf("a's state: %+v", states[i])
	}
	// Recovery: a heals; after the pause a probe reaches it and closes
	// the breaker.
	a.failing.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := call(c, "fail", false, 5*time.Second); r.err != nil {
			t.Fatalf("call failed while a recovers: %v", r.err)
		} else if r.value == "a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a never came back")
		}
		time.Sleep(5 * time.Millisecond) // pacing the probe loop, not synchronisation
	}
	f, _ := breakers.Load(a.addr)
	if _, st := f.(gateway.StateReporter).FilterState(); st != "closed" {
		t.Fatalf("a's breaker after recovery: %s", st)
	}
}

// A slow endpoint: backup requests cut the tail (no call waits for the
// slow answers) while staying within their budget; the same run without
// backups shows the tail they cut.
func TestBackupRequestsCutTheTail(t *testing.T) {
	a, b := startHA(t, "a"), startHA(t, "b")
	a.slowEvery, a.slowFor = 4, 300*time.Millisecond
	// run makes 200 calls and counts those (after a warm-up of 40) that
	// waited for a slow answer: over 250ms. Counting rather than taking
	// the worst call keeps one scheduling stall of a loaded test machine
	// from deciding the result.
	run := func(backup *BackupOptions) (tail int, c *Cluster) {
		c = newHACluster(t, ClusterOptions{HA: HAOptions{Backup: backup}}, a, b)
		for i := 0; i < 200; i++ {
			start := time.Now()
			if r := call(c, "slow", true, 5*time.Second); r.err != nil {
				t.Fatal(r.err)
			}
			if i >= 40 && time.Since(start) > 250*time.Millisecond {
				tail++
			}
		}
		return tail, c
	}
	// Round robin sends every other call to a, a's every fourth is slow:
	// about 20 of the 160 counted calls.
	without, _ := run(nil)
	if without < 10 {
		t.Fatalf("without backups %d calls waited for the slow endpoint; about 20 should", without)
	}
	with, c := run(&BackupOptions{Percentile: 0.75, Ratio: 0.3, MinSamples: 20, MinDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond})
	if with > 2 {
		t.Fatalf("with backups %d calls still waited for the slow endpoint (without: %d)", with, without)
	}
	st := c.Stats()
	if st.Backups == 0 || st.Backups > uint64(float64(st.Calls)*0.3)+BudgetReserve {
		t.Fatalf("%d backups for %d calls (budget 30%% + %d)", st.Backups, st.Calls, BudgetReserve)
	}
	t.Logf("calls over 250ms: %d without backups, %d with (%d backups for %d calls)", without, with, st.Backups, st.Calls)
}

// On gRPC the slower attempt is cancelled: the server sees its stream
// end.
func TestGRPCBackupCancelsTheSlowerAttempt(t *testing.T) {
	s := newShop(t)
	slow := testgrpc.Start(t, testgrpc.WithDelay(5*time.Second))
	fast := testgrpc.Start(t)
	c := newGRPC(t, GRPCClusterOptions{HA: HAOptions{Backup: &BackupOptions{MinSamples: 5, Ratio: 0.9, MaxDelay: 10 * time.Millisecond}}},
		fast.Addr())
	// Warm up on the fast endpoint alone, so the method has a p90, then
	// add the slow one: its calls get a backup on the fast one.
	for i := 0; i < 25; i++ {
		if i == 5 {
			c.Update(gateway.EndpointSet{Endpoints: Endpoints(fast.Addr(), slow.Addr())})
		}
		call := getBook(s, "b")
		call.Idempotent = true
		var r gateway.Reply
		start := time.Now()
		if err := c.Invoke(context.Background(), call, &r); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("call %d took %v: the backup did not answer", i, d)
		}
		if servedBy(&r) != fast.Addr() {
			t.Fatalf("served by %s", servedBy(&r))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if slow.CallCount() == 0 {
		t.Fatal("no call reached the slow endpoint")
	}
	if err := slow.WaitCanceled(ctx, slow.CallCount()); err != nil {
		t.Fatalf("the slow endpoint's %d calls were not all cancelled (%d were): %v", slow.CallCount(), slow.CanceledCount(), err)
	}
	if st := c.Stats(); st.Backups == 0 {
		t.Fatalf("no backups: %+v", st)
	}
}

// The deadline budget: time spent before the cluster counts, no attempt
// starts after it is spent, and the timeout says which stage used it.
func TestDeadlineBudgetSaysWhereTheTimeWent(t *testing.T) {
	a := startHA(t, "a")
	c := newHACluster(t, ClusterOptions{}, a)
	t.Run("spent before the call", func(t *testing.T) {
		var r gateway.Reply
		err := c.Invoke(context.Background(), &gateway.Call{Service: "test.Svc", Method: "whoami",
			Start: time.Now().Add(-2 * time.Second), Timeout: time.Second, TimeoutSource: "X-Timeout"}, &r)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.DeadlineExceeded ||
			!strings.Contains(e.Message, "deadline of 1s (X-Timeout) exceeded") || !strings.Contains(e.Message, "no attempt started") {
			t.Fatalf("%v", err)
		}
		if a.count("whoami") != 0 {
			t.Fatal("an attempt was sent after the budget was spent")
		}
	})
	t.Run("spent upstream", func(t *testing.T) {
		var r gateway.Reply
		err := c.Invoke(context.Background(), &gateway.Call{Service: "test.Svc", Method: "hang",
			Start: time.Now().Add(-50 * time.Millisecond), Timeout: 150 * time.Millisecond}, &r)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.DeadlineExceeded {
			t.Fatalf("%v", err)
		}
		for _, want := range []string{"deadline of 150ms (route timeout) exceeded", "in the gateway before the upstream call", "attempt 1 to " + a.addr + " (sent) took"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("%q does not say %q", e.Message, want)
			}
		}
		// The attempt got what was left (at most 100ms), not the whole
		// 150ms: its own error names its budget.
		cause := e.Cause.Error()
		i := strings.Index(cause, "within the call's deadline (")
		if i < 0 {
			t.Fatalf("attempt error: %s", cause)
		}
		d, err := time.ParseDuration(strings.TrimSuffix(strings.Fields(cause[i+len("within the call's deadline ("):])[0], "):"))
		if err != nil || d > 100*time.Millisecond || d <= 0 {
			t.Errorf("the attempt's budget was %v (%v); want what was left of 150ms after 50ms", d, err)
		}
	})
}

// Update replaces endpoints while calls run: kept endpoints keep their
// connections, added ones take traffic, removed ones are closed after
// their calls, and no call fails.
func TestUpdateUnderTraffic(t *testing.T) {
	a, b, d := startHA(t, "a"), startHA(t, "b"), startHA(t, "d")
	c := newHACluster(t, ClusterOptions{}, a, b)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				calls.Add(1)
				if r := call(c, "whoami", false, 5*time.Second); r.err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, r.err)
				}
			}
		}()
	}
	sets := [][]*haServer{{a, b, d}, {b, d}, {d}, {a, d}, {a, b}}
	for _, set := range sets {
		eps := make([]gateway.Endpoint, len(set))
		for i, s := range set {
			eps[i] = gateway.Endpoint{Addr: s.addr}
		}
		before := map[*haServer]int{a: a.count("whoami"), b: b.count("whoami"), d: d.count("whoami")}
		c.Update(gateway.EndpointSet{Endpoints: eps})
		// Each endpoint of the set takes calls.
		for _, s := range set {
			deadline := time.After(10 * time.Second)
			for s.count("whoami") <= before[s]+5 {
				select {
				case <-s.arrived:
				case <-deadline:
					t.Fatalf("endpoint %s of set %d took no calls", s.name, len(set))
				}
			}
		}
	}
	stop()
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d calls failed during updates; first: %v", failed.Load(), calls.Load(), firstErr.Load())
	}
	if got := fmt.Sprint(c.EndpointStates()[0].Address, c.EndpointStates()[1].Address); got != fmt.Sprint(a.addr, b.addr) {
		t.Fatalf("endpoints after the updates: %s", got)
	}
}

// prefer_dc keeps calls in the preferred data centre while it has an
// endpoint left, and fails over to the other one when it has none.
func TestPreferDCFailsOverAcrossDataCentres(t *testing.T) {
	yf1, yf2, tc := startHA(t, "yf1"), startHA(t, "yf2"), startHA(t, "tc")
	c, err := NewCluster("dc", []gateway.Endpoint{{Addr: yf1.addr, DC: "yf"}, {Addr: tc.addr, DC: "tc"}, {Addr: yf2.addr, DC: "yf"}},
		ClusterOptions{Logger: quiet, HA: HAOptions{PreferDC: "yf", Retries: 2}, Client: []motan2.ClientOption{motan2.WithDialTimeout(time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	seen := map[string]int{}
	for i := 0; i < 40; i++ {
		r := call(c, "whoami", false, 5*time.Second)
		if r.err != nil {
			t.Fatal(r.err)
		}
		seen[r.value]++
	}
	if seen["tc"] != 0 || seen["yf1"] == 0 || seen["yf2"] == 0 {
		t.Fatalf("with yf preferred: %v", seen)
	}
	yf1.kill()
	yf2.kill()
	// Idempotent: a call sent on a connection the kill has not yet shown
	// to be dead is retried.
	for i := 0; i < 10; i++ {
		if r := call(c, "whoami", true, 5*time.Second); r.err != nil || r.value != "tc" {
			t.Fatalf("after yf went down: %q %v", r.value, r.err)
		}
	}
}
