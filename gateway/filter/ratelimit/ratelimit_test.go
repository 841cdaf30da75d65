package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/internal/filtertest"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// decoder decodes opts strictly, as the configuration does.
func decoder(opts string) func(any) error { return filtertest.Decode("{" + opts + "}") }

// fakeClock is the injected monotonic clock: nanoseconds set by the test.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newLimiter(t testing.TB, opts string) (*Limiter, *fakeClock) {
	t.Helper()
	f, err := New(gateway.FilterSpec{Name: "ratelimit", Scope: "route get-user", Route: "get-user", Decode: decoder(opts)})
	if err != nil {
		t.Fatalf("%s: %v", opts, err)
	}
	l := f.(*Limiter)
	c := &fakeClock{}
	c.ns.Store(int64(time.Hour)) // any start: buckets start full
	l.clock = c.ns.Load
	return l, c
}

// upstream counts the calls that reach it.
type upstream struct{ calls atomic.Int64 }

func (u *upstream) Invoke(context.Context, *gateway.Call, *gateway.Reply) error {
	u.calls.Add(1)
	return nil
}

func invoke(l *Limiter, call *gateway.Call) error {
	return l.Filter(context.Background(), call, &gateway.Reply{}, &upstream{})
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		opts    string
		err     string // "" when valid
		burst   int64  // expected burst when valid
		perCall bool
	}{
		{opts: "", err: "rate is required"},
		{opts: "burst: 3", err: "rate is required"},
		{opts: "rate: 0", err: "rate must be greater than 0"},
		{opts: "rate: -1", err: "rate must be greater than 0"},
		{opts: "rate: .nan", err: "rate must be greater than 0"},
		{opts: "rate: 2e9", err: "at most 1e+09 calls per second, got 2e+09"},
		{opts: "rate: fast", err: "cannot unmarshal"},
		{opts: "rat: 10", err: "field rat not found"},
		{opts: "rate: 10, burst: 0", err: "burst must be at least 1, got 0"},
		{opts: "rate: 10, burst: -2", err: "burst must be at least 1"},
		{opts: "rate: 1e-9, burst: 1000000000", err: "too large"},
		{opts: "rate: 10, max_callers: 5", err: "max_callers applies with per"},
		{opts: "rate: 10, per: {}", err: "per: set meta"},
		{opts: "rate: 10, per: {meta: a, header: b}", err: "not both"},
		{opts: "rate: 10, per: {meta: 'a b'}", err: `per.meta: invalid key "a b"`},
		{opts: "rate: 10, per: {header: 'x:y'}", err: `per.header: invalid key`},
		{opts: "rate: 10, per: {cookie: a}", err: "field cookie not found"},
		{opts: "rate: 10, per: {meta: a}, max_callers: 0", err: "max_callers must be between 1 and 10000000, got 0"},
		{opts: "rate: 10, methods: ['']", err: "methods[0] is empty"},
		{opts: "rate: 10, methods: [a, a]", err: `methods[1]: "a" is listed twice`},
		{opts: "rate: 10, methods: [/pkg.S]", err: "neither a method name nor a full method"},
		{opts: "rate: 10", burst: 10},
		{opts: "rate: 2.5", burst: 3},
		{opts: "rate: 0.5", burst: 1},
		{opts: "rate: 100, burst: 20", burst: 20},
		{opts: "rate: 1e9", burst: 1e9},
		{opts: "rate: 10, per: {meta: X-Caller}", burst: 10, perCall: true},
		{opts: "rate: 10, per: {header: X-Caller}, max_callers: 1", burst: 10, perCall: true},
		{opts: "rate: 10, methods: [get, /pkg.S/Put]", burst: 10},
	} {
		f, err := New(gateway.FilterSpec{Name: "ratelimit", Scope: "route r", Decode: decoder(tc.opts)})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.opts, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.opts, err)
			continue
		}
		l := f.(*Limiter)
		if got := l.tolerance / l.interval; got != tc.burst {
			t.Errorf("%q: burst %d, want %d", tc.opts, got, tc.burst)
		}
		if (l.callers != nil) != tc.perCall {
			t.Errorf("%q: per-caller %v", tc.opts, l.callers != nil)
		}
	}
	// A spec without options (the entry "- ratelimit") lacks the rate.
	if _, err := New(gateway.FilterSpec{Name: "ratelimit"}); err == nil || !strings.Contains(err.Error(), "rate is required") {
		t.Errorf("no options: %v", err)
	}
}

// step advances the clock, then makes calls calls and expects allowed of
// them through.
type step struct {
	advance        time.Duration
	calls, allowed int
}

func TestRefillAndBurst(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  string
		steps []step
	}{
		{"burst defaults to the rate", "rate: 10", []step{
			{0, 15, 10},
			{99 * time.Millisecond, 1, 0},  // not yet one token
			{1 * time.Millisecond, 2, 1},   // one token per 100ms
			{250 * time.Millisecond, 3, 2}, // two more, half a token left
			{50 * time.Millisecond, 1, 1},  // the half completes
			{time.Hour, 20, 10},            // an idle bucket holds burst tokens, no more
		}},
		{"explicit burst", "rate: 100, burst: 3", []step{
			{0, 5, 3},
			{10 * time.Millisecond, 5, 1},
			{20 * time.Millisecond, 5, 2},
			{time.Second, 100, 3},
		}},
		{"burst of one", "rate: 1000, burst: 1", []step{
			{0, 3, 1},
			{999 * time.Microsecond, 1, 0},
			{time.Microsecond, 2, 1},
		}},
		{"fractional rate", "rate: 0.5", []step{
			{0, 2, 1},
			{1999 * time.Millisecond, 1, 0},
			{time.Millisecond, 1, 1},
		}},
		{"sustained rate over a minute", "rate: 50, burst: 5", []step{
			{0, 5, 5},
			{time.Minute, 10_000, 5},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, clock := newLimiter(t, tc.opts)
			for i, s := range tc.steps {
				clock.advance(s.advance)
				allowed := 0
				for range s.calls {
					if invoke(l, &gateway.Call{Method: "m"}) == nil {
						allowed++
					}
				}
				if allowed != s.allowed {
					t.Fatalf("step %d (+%v): %d of %d calls allowed, want %d", i, s.advance, allowed, s.calls, s.allowed)
				}
			}
		})
	}
}

func TestSustainedRateWithSteadyCalls(t *testing.T) {
	// A call every millisecond for ten seconds at 200/s: the burst, then
	// exactly one call per 5ms.
	l, clock := newLimiter(t, "rate: 200, burst: 10")
	allowed := 0
	for range 10_000 {
		if invoke(l, &gateway.Call{}) == nil {
			allowed++
		}
		clock.advance(time.Millisecond)
	}
	if want := 10 + 10_000/5 - 1; allowed < want-1 || allowed > want+1 {
		t.Fatalf("%d calls allowed in 10s, want about %d", allowed, want)
	}
}

func TestRejection(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		call       *gateway.Call
		msg        string
	}{
		{"route", "rate: 1", &gateway.Call{},
			"rate limit of 1/s exceeded for route get-user"},
		{"meta caller", "rate: 2.5, burst: 1, per: {meta: X-Caller}", &gateway.Call{Meta: motan2.Meta{{Key: "x-caller", Value: "alice"}}},
			`rate limit of 2.5/s exceeded for route get-user (caller "alice")`},
		{"header caller", "rate: 1, per: {header: X-Caller}", &gateway.Call{Header: metadata.Pairs("x-caller", "bob")},
			`rate limit of 1/s exceeded for route get-user (caller "bob")`},
		{"no identity", "rate: 1, per: {meta: X-Caller}", &gateway.Call{},
			`rate limit of 1/s exceeded for route get-user (no meta X-Caller)`},
		{"long identity", "rate: 1, per: {header: x-caller}", &gateway.Call{Header: metadata.Pairs("x-caller", strings.Repeat("k", 100))},
			`(caller "` + strings.Repeat("k", 64) + `...")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newLimiter(t, tc.opts)
			if err := invoke(l, tc.call); err != nil {
				t.Fatalf("first call: %v", err)
			}
			err := invoke(l, tc.call)
			var e *translate.Error
			if !errors.As(err, &e) {
				t.Fatalf("second call: %v", err)
			}
			if !strings.HasSuffix(e.Message, tc.msg) {
				t.Errorf("message %q, want suffix %q", e.Message, tc.msg)
			}
			if e.Code != translate.ResourceExhausted || e.Status() != 429 {
				t.Errorf("code %v status %d", e.Code, e.Status())
			}
			ex := translate.ToMotan2Exception(e)
			if ex.ErrCode != 429 || ex.ErrType != motan2.ErrTypeService || ex.ErrMsg != e.Message {
				t.Errorf("motan2 exception %+v", ex)
			}
			// The same caller's next rejection is the same shared error.
			if again := invoke(l, tc.call); again != err {
				t.Errorf("rejection rebuilt: %v", again)
			}
		})
	}
}

func TestPerCallerIsolation(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		as         func(id string) *gateway.Call
	}{
		{"meta", "rate: 10, burst: 2, per: {meta: X-Caller}", func(id string) *gateway.Call {
			if id == "" {
				return &gateway.Call{Meta: motan2.Meta{{Key: "X-Request-Id", Value: "r"}}}
			}
			return &gateway.Call{Meta: motan2.Meta{{Key: "X-Request-Id", Value: "r"}, {Key: "X-Caller", Value: id}}}
		}},
		{"header", "rate: 10, burst: 2, per: {header: X-Caller}", func(id string) *gateway.Call {
			if id == "" {
				return &gateway.Call{Header: metadata.Pairs("other", "x")}
			}
			return &gateway.Call{Header: metadata.Pairs("x-caller", id)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, clock := newLimiter(t, tc.opts)
			count := func(id string, n int) int {
				ok := 0
				for range n {
					if invoke(l, tc.as(id)) == nil {
						ok++
					}
				}
				return ok
			}
			if n := count("alice", 5); n != 2 {
				t.Fatalf("alice: %d allowed", n)
			}
			if n := count("bob", 5); n != 2 {
				t.Fatalf("bob is limited by alice's calls: %d allowed", n)
			}
			if n := count("", 5); n != 2 {
				t.Fatalf("calls without identity: %d allowed", n)
			}
			if n := count("alice", 1); n != 0 {
				t.Fatalf("alice refilled without time passing")
			}
			clock.advance(100 * time.Millisecond)
			for _, id := range []string{"alice", "bob", ""} {
				if n := count(id, 2); n != 1 {
					t.Fatalf("%q after 100ms: %d allowed", id, n)
				}
			}
			if n := l.callers.len(); n != 2 {
				t.Fatalf("%d callers tracked", n)
			}
		})
	}
}

func TestMetaKeyIgnoresCaseAndLastPairWins(t *testing.T) {
	l, _ := newLimiter(t, "rate: 1, per: {meta: X-Caller}")
	call := &gateway.Call{Meta: motan2.Meta{{Key: "x-caller", Value: "old"}, {Key: "X-CALLER", Value: "new"}}}
	if err := invoke(l, call); err != nil {
		t.Fatal(err)
	}
	if err := invoke(l, &gateway.Call{Meta: motan2.Meta{{Key: "X-Caller", Value: "old"}}}); err != nil {
		t.Fatalf("old was charged: %v", err)
	}
	if err := invoke(l, &gateway.Call{Meta: motan2.Meta{{Key: "X-Caller", Value: "new"}}}); err == nil {
		t.Fatal("new was not charged")
	}
}

func TestMaxCallers(t *testing.T) {
	t.Run("evicts the fullest bucket", func(t *testing.T) {
		l, clock := newLimiter(t, "rate: 1, burst: 3, per: {meta: id}, max_callers: 2")
		as := func(id string) *gateway.Call { return &gateway.Call{Meta: motan2.Meta{{Key: "id", Value: id}}} }
		for range 3 {
			_ = invoke(l, as("heavy")) // an empty bucket
		}
		_ = invoke(l, as("light")) // two tokens left
		clock.advance(time.Millisecond)
		_ = invoke(l, as("new")) // evicts light, whose bucket is the fullest
		if n := l.callers.len(); n != 2 {
			t.Fatalf("%d callers tracked, max 2", n)
		}
		if err := invoke(l, as("heavy")); err == nil {
			t.Fatal("heavy was forgotten: its empty bucket was evicted")
		}
	})
	for _, tc := range []struct{ max, callers int }{{1, 10}, {64, 1000}, {100, 5000}, {1000, 20_000}, {10_000, 30_000}} {
		t.Run("bound "+strconv.Itoa(tc.max), func(t *testing.T) {
			l, _ := newLimiter(t, "rate: 1, per: {header: id}, max_callers: "+strconv.Itoa(tc.max))
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := g; i < tc.callers; i += 4 {
						_ = invoke(l, &gateway.Call{Header: metadata.Pairs("id", "caller-"+strconv.Itoa(i))})
					}
				})
			}
			wg.Wait()
			if n := l.callers.len(); n > tc.max || n < tc.max*9/10 {
				t.Fatalf("%d callers tracked after %d distinct ones, max %d", n, tc.callers, tc.max)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	l, _ := newLimiter(t, "rate: 1, methods: [write, /pkg.S/Put]")
	free := []*gateway.Call{{Method: "read"}, {Method: "Put"}, {Method: "Put", FullMethod: "/pkg.S/Get"}}
	for range 3 {
		for _, c := range free {
			if err := invoke(l, c); err != nil {
				t.Fatalf("%s is not limited: %v", c.Method, err)
			}
		}
	}
	if err := invoke(l, &gateway.Call{Method: "write"}); err != nil {
		t.Fatal(err)
	}
	// The listed methods share the bucket.
	if err := invoke(l, &gateway.Call{Method: "Put", FullMethod: "/pkg.S/Put"}); err == nil {
		t.Fatal("/pkg.S/Put not limited")
	}
}

func TestConcurrentCallsTakeExactlyTheBurst(t *testing.T) {
	for _, opts := range []string{"rate: 1, burst: 1000", "rate: 1, burst: 1000, per: {meta: id}"} {
		l, _ := newLimiter(t, opts)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				call := &gateway.Call{Meta: motan2.Meta{{Key: "id", Value: "same"}}}
				for range 200 {
					if invoke(l, call) == nil {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != 1000 {
			t.Errorf("%s: %d of 3200 concurrent calls allowed, want the burst of 1000", opts, n)
		}
	}
}

func TestRealClockRefills(t *testing.T) {
	// Without the injected clock: a fresh bucket admits its burst.
	f, err := New(gateway.FilterSpec{Name: "ratelimit", Route: "r", Decode: decoder("rate: 1000000, burst: 5")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := f.Filter(context.Background(), &gateway.Call{}, &gateway.Reply{}, &upstream{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if l := f.(*Limiter); l.scope != "route r" {
		t.Fatalf("scope %q", l.scope)
	}
}

func TestAdmitAllocatesNothing(t *testing.T) {
	ctx, reply, up := context.Background(), &gateway.Reply{}, &upstream{}
	for _, tc := range []struct {
		name, opts string
		call       *gateway.Call
	}{
		{"route", "rate: 1e9", &gateway.Call{Method: "m"}},
		{"methods", "rate: 1e9, methods: [a, b, m]", &gateway.Call{Method: "m", FullMethod: "/p.S/m"}},
		{"unlisted method", "rate: 1, methods: [a]", &gateway.Call{Method: "m"}},
		{"meta caller", "rate: 1e9, per: {meta: X-Caller}", &gateway.Call{Meta: motan2.Meta{{Key: "x-request-id", Value: "1"}, {Key: "X-Caller", Value: "alice"}}}},
		{"header caller", "rate: 1e9, per: {header: X-Caller}", &gateway.Call{Header: metadata.Pairs("x-caller", "alice")}},
		{"no identity", "rate: 1e9, per: {header: X-Caller}", &gateway.Call{}},
		{"route rejection", "rate: 1, burst: 1", &gateway.Call{}},
		{"caller rejection", "rate: 1, burst: 1, per: {meta: c}", &gateway.Call{Meta: motan2.Meta{{Key: "c", Value: "x"}}}},
	} {
		l, _ := newLimiter(t, tc.opts)
		_ = l.Filter(ctx, tc.call, reply, up) // a new caller is added once
		_ = l.Filter(ctx, tc.call, reply, up) // a rejection is built once
		if n := testing.AllocsPerRun(1000, func() { _ = l.Filter(ctx, tc.call, reply, up) }); n != 0 {
			t.Errorf("%s: %v allocations per call", tc.name, n)
		}
	}
}

func BenchmarkRateLimitAllow(b *testing.B) {
	for _, bc := range []struct {
		name, opts string
		callers    int
	}{
		{"route", "rate: 1e9", 0},
		{"per-caller-1", "rate: 1e9, per: {header: x-caller}", 1},
		{"per-caller-1000", "rate: 1e9, per: {header: x-caller}", 1000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := New(gateway.FilterSpec{Name: "ratelimit", Route: "bench", Decode: decoder(bc.opts)})
			if err != nil {
				b.Fatal(err)
			}
			calls := make([]*gateway.Call, max(bc.callers, 1))
			for i := range calls {
				calls[i] = &gateway.Call{Method: "m", Header: metadata.Pairs("x-caller", "caller-"+strconv.Itoa(i))}
			}
			var seq atomic.Int64
			up := &nopInvoker{}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx, reply := context.Background(), &gateway.Reply{}
				i := int(seq.Add(7919))
				for pb.Next() {
					i++
					if err := f.Filter(ctx, calls[i%len(calls)], reply, up); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

type nopInvoker struct{}

func (nopInvoker) Invoke(context.Context, *gateway.Call, *gateway.Reply) error { return nil }
