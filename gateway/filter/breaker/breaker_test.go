package breaker

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// upstream fails while failing is set and counts the calls it gets.
type upstream struct {
	mu      sync.Mutex
	failing bool
	err     error
	calls   int
}

func (u *upstream) Invoke(context.Context, *gateway.Call, *gateway.Reply) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	if u.failing {
		if u.err != nil {
			return u.err
		}
		return translate.Errorf(translate.Unavailable, "connection refused")
	}
	return nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newBreaker(t *testing.T, o func(*Options)) (*Breaker, *clock) {
	t.Helper()
	f, err := New(gateway.FilterSpec{Name: "breaker", Scope: "cluster users", Decode: func(v any) error {
		if o != nil {
			o(v.(*Options))
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	b := f.(*Breaker)
	c := &clock{t: time.Unix(1_000_000, 0)}
	b.now = c.now
	return b, c
}

func call(b *Breaker, up gateway.Invoker) error {
	return gateway.Chain(up, b).Invoke(context.Background(), &gateway.Call{Method: "m"}, &gateway.Reply{})
}

func TestOpensAfterConsecutiveFailuresAndRecovers(t *testing.T) {
	b, c := newBreaker(t, func(o *Options) { o.ErrorRate = 0 })
	up := &upstream{failing: true}
	for i := 0; i < 5; i++ {
		if err := call(b, up); translate.FromError(err).Code != translate.Unavailable {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	err := call(b, up)
	if up.calls != 5 || err == nil || !strings.Contains(err.Error(), "circuit open for cluster users (5 consecutive failures); next probe in 5s") {
		t.Fatalf("after 5 failures: %d calls, %v", up.calls, err)
	}
	if e := translate.FromError(err); e.Status() != 503 || translate.ToMotan2Exception(e).ErrCode != 503 {
		t.Fatalf("open error maps to %d", e.Status())
	}
	// The probe fails: open again for twice as long.
	c.advance(5 * time.Second)
	if s, _ := b.State(); s != HalfOpen {
		t.Fatalf("state %v", s)
	}
	_ = call(b, up)
	if up.calls != 6 {
		t.Fatalf("no probe: %d calls", up.calls)
	}
	c.advance(9 * time.Second)
	if err := call(b, up); up.calls != 6 || !strings.Contains(err.Error(), "probe failed") {
		t.Fatalf("not open for 10s after a failed probe: %v", err)
	}
	// The upstream recovers: the next probe closes the breaker.
	c.advance(time.Second)
	up.failing = false
	if err := call(b, up); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.State(); s != Closed {
		t.Fatalf("state %v after a good probe", s)
	}
	for i := 0; i < 10; i++ {
		if err := call(b, up); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpensOnErrorRate(t *testing.T) {
	b, c := newBreaker(t, func(o *Options) { o.ConsecutiveFailures = 0; o.MinRequests = 10; o.ErrorRate = 0.5 })
	up := &upstream{}
	// Alternate: never two failures in a row, but half fail.
	for i := 0; i < 9; i++ {
		up.failing = i%2 == 0
		_ = call(b, up)
		c.advance(100 * time.Millisecond)
	}
	if s, _ := b.State(); s != Closed {
		t.Fatalf("opened with only 9 calls: %v", s)
	}
	up.failing = false
	_ = call(b, up) // 10 calls, 5 failed: the rate is checked when a call fails
	up.failing = true
	_ = call(b, up) // 11 calls, 6 failed: over 0.5
	if s, why := b.State(); s != Open || !strings.Contains(why, "6 of 11 calls failed") {
		t.Fatalf("state %v (%s)", s, why)
	}
	// Old failures leave the window.
	b2, c2 := newBreaker(t, func(o *Options) { o.ConsecutiveFailures = 0; o.MinRequests = 4; o.Window = time.Second })
	up2 := &upstream{failing: true}
	_ = call(b2, up2)
	_ = call(b2, up2)
	c2.advance(2 * time.Second)
	up2.failing = false
	_ = call(b2, up2)
	_ = call(b2, up2)
	up2.failing = true
	_ = call(b2, up2)
	if s, _ := b2.State(); s != Closed {
		t.Fatalf("failures older than the window counted: %v", s)
	}
}

func TestCallerFaultsDoNotCount(t *testing.T) {
	b, _ := newBreaker(t, func(o *Options) { o.ConsecutiveFailures = 2 })
	for _, err := range []error{
		translate.Errorf(translate.InvalidArgument, "bad"),
		translate.Errorf(translate.NotFound, "no"),
		translate.FromMotan2Exception(&motan2.Exception{ErrCode: 500, ErrMsg: "biz", ErrType: motan2.ErrTypeBiz}),
	} {
		up := &upstream{failing: true, err: err}
		for i := 0; i < 3; i++ {
			_ = call(b, up)
		}
		if up.calls != 3 {
			t.Fatalf("%v opened the breaker", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	up := &upstream{failing: true, err: translate.Errorf(translate.Canceled, "gone")}
	for i := 0; i < 3; i++ {
		_ = gateway.Chain(up, b).Invoke(ctx, &gateway.Call{}, &gateway.Reply{})
	}
	if up.calls != 3 {
		t.Fatal("cancelled calls opened the breaker")
	}
}

func TestHalfOpenAdmitsOnlyProbes(t *testing.T) {
	b, c := newBreaker(t, func(o *Options) { o.ConsecutiveFailures = 1; o.Probes = 2 })
	_ = call(b, &upstream{failing: true})
	c.advance(5 * time.Second)
	hold := make(chan struct{})
	entered := make(chan struct{}, 3)
	slow := gateway.Invoker(invokerFunc(func() error { entered <- struct{}{}; <-hold; return nil }))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = call(b, slow) }()
	}
	<-entered
	<-entered
	if err := call(b, slow); err == nil || !strings.Contains(err.Error(), "probing") {
		t.Fatalf("a third call got through while 2 probes run: %v", err)
	}
	close(hold)
	wg.Wait()
	if s, _ := b.State(); s != Closed {
		t.Fatalf("state %v", s)
	}
}

type invokerFunc func() error

func (f invokerFunc) Invoke(context.Context, *gateway.Call, *gateway.Reply) error { return f() }

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		set  func(*Options)
		want string
	}{
		{func(o *Options) { o.ErrorRate = 2 }, "error_rate must be between 0 and 1"},
		{func(o *Options) { o.ErrorRate, o.ConsecutiveFailures = 0, 0 }, "would never open"},
		{func(o *Options) { o.Window = time.Millisecond }, "window must be at least"},
		{func(o *Options) { o.OpenFor = time.Hour }, "open_for must be positive and at most max_open_for"},
		{func(o *Options) { o.Probes = 0 }, "probes must be at least 1"},
		{func(o *Options) { o.MinRequests = 0 }, "min_requests"},
	} {
		_, err := New(gateway.FilterSpec{Decode: func(v any) error { tc.set(v.(*Options)); return nil }})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

func TestClosedPathAllocatesNothing(t *testing.T) {
	b, _ := newBreaker(t, nil)
	inv := gateway.Chain(&upstream{}, b)
	ctx, c, r := context.Background(), &gateway.Call{}, &gateway.Reply{}
	if n := testing.AllocsPerRun(200, func() { _ = inv.Invoke(ctx, c, r) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

func BenchmarkBreakerClosed(b *testing.B) {
	f, _ := New(gateway.FilterSpec{})
	inv := gateway.Chain(&upstream{}, f)
	ctx, c, r := context.Background(), &gateway.Call{}, &gateway.Reply{}
	b.ReportAllocs()
	for b.Loop() {
		_ = inv.Invoke(ctx, c, r)
	}
}
