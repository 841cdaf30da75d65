package concurrency

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/internal/filtertest"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// decoder decodes opts (a flow mapping's content) strictly, as the
// configuration does.
func decoder(opts string) func(any) error { return filtertest.Decode("{" + opts + "}") }

func newLimiter(t testing.TB, opts string) *Limiter {
	t.Helper()
	f, err := New(gateway.FilterSpec{Name: "concurrency", Scope: "route get-user", Route: "get-user", Decode: decoder(opts)})
	if err != nil {
		t.Fatalf("%s: %v", opts, err)
	}
	return f.(*Limiter)
}

// gate is an upstream that holds each call until the test releases it:
// calls in flight are exactly the ones the test let in and has not
// released.
type gate struct {
	entered chan *gateway.Call
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan *gateway.Call, 100), release: make(chan struct{})}
}

func (g *gate) Invoke(_ context.Context, call *gateway.Call, _ *gateway.Reply) error {
	g.entered <- call
	<-g.release
	return nil
}

// start makes a call in a goroutine; its result arrives on the channel
// returned.
func start(l *Limiter, ctx context.Context, call *gateway.Call, next gateway.Invoker) <-chan error {
	done := make(chan error, 1)
	go func() { done <- l.Filter(ctx, call, &gateway.Reply{}, next) }()
	return done
}

// hold starts n calls of call's method and waits until all are in flight.
func hold(t *testing.T, l *Limiter, g *gate, n int, method string) []<-chan error {
	t.Helper()
	var dones []<-chan error
	for range n {
		dones = append(dones, start(l, context.Background(), &gateway.Call{Service: "S", Method: method}, g))
		select {
		case <-g.entered:
		case err := <-dones[len(dones)-1]:
			t.Fatalf("call to hold %s was rejected: %v", method, err)
		}
	}
	return dones
}

// waitFor spins (yielding) until cond holds; it synchronises with the
// limiter's own state, not with time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// unsafeString views b as a string, as the Motan2 decoder reads meta.
func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }

type nopInvoker struct{}

func (nopInvoker) Invoke(context.Context, *gateway.Call, *gateway.Reply) error { return nil }

func invoke(l *Limiter, method string) error {
	return l.Filter(context.Background(), &gateway.Call{Service: "S", Method: method}, &gateway.Reply{}, nopInvoker{})
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		opts, err string
	}{
		{"", "set max (calls in flight in total), per_method (calls in flight per method) or both"},
		{"max: 0, per_method: 0", "set max"},
		{"max: -1", "max must not be negative, got -1"},
		{"per_method: -3", "per_method must not be negative, got -3"},
		{"max: 10, queue: -1", "queue must be between 0 and 100000, got -1"},
		{"max: 10, queue: 100001, wait: 1s", "queue must be between 0 and 100000"},
		{"max: 10, queue: 5", "queue 5 needs wait"},
		{"max: 10, wait: 10ms", "wait 10ms needs queue"},
		{"max: 10, queue: 5, wait: -1s", "wait must not be negative"},
		{"max: 10, queue: 5, wait: soon", "cannot unmarshal"},
		{"max: ten", "cannot unmarshal"},
		{"maximum: 10", "field maximum not found"},
		{"max: 10", ""},
		{"per_method: 3", ""},
		{"max: 200, per_method: 20, queue: 50, wait: 25ms", ""},
	} {
		_, err := New(gateway.FilterSpec{Name: "concurrency", Scope: "route r", Decode: decoder(tc.opts)})
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: error %v, want %q", tc.opts, err, tc.err)
		}
	}
	if _, err := New(gateway.FilterSpec{Name: "concurrency"}); err == nil {
		t.Error("no options accepted")
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		hold       map[string]int // calls held in flight, per method
		try        string         // then a call of this method ...
		err        string         // ... is rejected with this message ("": admitted)
	}{
		{"total under", "max: 3", map[string]int{"a": 1, "b": 1}, "c", ""},
		{"total reached", "max: 3", map[string]int{"a": 2, "b": 1}, "c",
			"3 calls in flight for all methods on route get-user (limit 3)"},
		{"method under", "per_method: 2", map[string]int{"a": 1, "b": 2}, "a", ""},
		{"method reached", "per_method: 2", map[string]int{"a": 2, "b": 1}, "a",
			"2 calls in flight for S/a on route get-user (limit 2)"},
		{"other method free", "per_method: 2", map[string]int{"a": 2}, "b", ""},
		{"both, method first", "max: 10, per_method: 1", map[string]int{"a": 1}, "a",
			"1 calls in flight for S/a on route get-user (limit 1)"},
		{"both, total", "max: 2, per_method: 1", map[string]int{"a": 1, "b": 1}, "c",
			"2 calls in flight for all methods on route get-user (limit 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, g := newLimiter(t, tc.opts), newGate()
			var dones []<-chan error
			for m, n := range tc.hold {
				dones = append(dones, hold(t, l, g, n, m)...)
			}
			err := invoke(l, tc.try)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.err != "":
				var e *translate.Error
				if !errors.As(err, &e) || e.Message != tc.err {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				if e.Code != translate.ResourceExhausted || e.Status() != 429 {
					t.Errorf("code %v status %d", e.Code, e.Status())
				}
				if ex := translate.ToMotan2Exception(e); ex.ErrCode != 429 || ex.ErrType != motan2.ErrTypeService {
					t.Errorf("motan2 exception %+v", ex)
				}
			}
			close(g.release)
			for _, d := range dones {
				if err := <-d; err != nil {
					t.Error(err)
				}
			}
			// Every slot is free again.
			if err := invoke(l, tc.try); err != nil {
				t.Errorf("after release: %v", err)
			}
			assertIdle(t, l)
		})
	}
}

// assertIdle checks that no limiter counts a call in flight or a waiter.
func assertIdle(t *testing.T, l *Limiter) {
	t.Helper()
	lims := []*limiter{l.total, l.overflow}
	if m := l.methods.Load(); m != nil {
		for _, lim := range *m {
			lims = append(lims, lim)
		}
	}
	for _, lim := range lims {
		if lim != nil && (lim.inflight.Load() != 0 || lim.waiters.Load() != 0) {
			t.Errorf("%s: %d in flight, %d waiting after every call returned", lim.err.Message, lim.inflight.Load(), lim.waiters.Load())
		}
	}
}

func TestConcurrentGoroutinesNeverExceedLimits(t *testing.T) {
	const total, perMethod = 8, 3
	l := newLimiter(t, "max: 8, per_method: 3")
	var inflight, peak atomic.Int64
	var perM [4]atomic.Int64
	var admitted, rejected atomic.Int64
	up := gateway.Invoker(invokerFunc(func(_ context.Context, call *gateway.Call, _ *gateway.Reply) error {
		m := &perM[call.Method[0]-'a']
		n := inflight.Add(1)
		if n > total {
			t.Errorf("%d calls in flight, limit %d", n, total)
		}
		if k := m.Add(1); k > perMethod {
			t.Errorf("%d calls of %s in flight, limit %d", k, call.Method, perMethod)
		}
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		runtime.Gosched()
		m.Add(-1)
		inflight.Add(-1)
		return nil
	}))
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			call := &gateway.Call{Service: "S", Method: string(rune('a' + g%4))}
			for range 300 {
				err := l.Filter(context.Background(), call, &gateway.Reply{}, up)
				if err == nil {
					admitted.Add(1)
				} else if translate.FromError(err).Code == translate.ResourceExhausted {
					rejected.Add(1)
				} else {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if admitted.Load()+rejected.Load() != 32*300 || admitted.Load() == 0 {
		t.Fatalf("%d admitted, %d rejected", admitted.Load(), rejected.Load())
	}
	t.Logf("%d admitted, %d rejected, peak %d in flight", admitted.Load(), rejected.Load(), peak.Load())
	assertIdle(t, l)
}

type invokerFunc func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error

func (f invokerFunc) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	return f(ctx, call, reply)
}

func TestWait(t *testing.T) {
	t.Run("admitted when a slot frees", func(t *testing.T) {
		l, g := newLimiter(t, "max: 1, per_method: 1, queue: 2, wait: 1h"), newGate()
		held := hold(t, l, g, 1, "a")
		call := &gateway.Call{Service: "S", Method: "a", Timeout: time.Hour}
		waiter := start(l, context.Background(), call, g)
		waitFor(t, "the call to queue", func() bool { return (*l.methods.Load())[methodKey{"S", "a"}].waiters.Load() == 1 })
		g.release <- struct{}{} // the held call returns
		if err := <-held[0]; err != nil {
			t.Fatal(err)
		}
		seen := <-g.entered // the waiter is in flight
		if seen.Timeout <= 0 || seen.Timeout > time.Hour {
			t.Errorf("the rest of the chain got timeout %v", seen.Timeout)
		}
		g.release <- struct{}{}
		if err := <-waiter; err != nil {
			t.Fatal(err)
		}
		if call.Timeout != time.Hour {
			t.Errorf("timeout not restored: %v", call.Timeout)
		}
		assertIdle(t, l)
	})
	t.Run("total limit frees", func(t *testing.T) {
		l, g := newLimiter(t, "max: 1, per_method: 5, queue: 1, wait: 1h"), newGate()
		held := hold(t, l, g, 1, "a")
		waiter := start(l, context.Background(), &gateway.Call{Service: "S", Method: "b"}, g)
		waitFor(t, "the call to queue", func() bool { return l.total.waiters.Load() == 1 })
		g.release <- struct{}{}
		<-held[0]
		<-g.entered
		g.release <- struct{}{}
		if err := <-waiter; err != nil {
			t.Fatal(err)
		}
		assertIdle(t, l)
	})

	for _, tc := range []struct {
		name, opts string
		ctx        func() (context.Context, context.CancelFunc)
		timeout    time.Duration
		code       translate.Code
	}{
		{"wait expires", "max: 1, queue: 1, wait: 20ms", nil, 0, translate.ResourceExhausted},
		{"call timeout bounds the wait", "max: 1, queue: 1, wait: 1h", nil, 20 * time.Millisecond, translate.ResourceExhausted},
		{"context deadline bounds the wait", "max: 1, queue: 1, wait: 1h", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, 0, translate.ResourceExhausted},
		{"context deadline passed", "max: 1, queue: 1, wait: 1h", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, 0, translate.ResourceExhausted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, g := newLimiter(t, tc.opts), newGate()
			held := hold(t, l, g, 1, "a")
			ctx := context.Background()
			if tc.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tc.ctx()
				defer cancel()
			}
			t0 := time.Now()
			err := l.Filter(ctx, &gateway.Call{Service: "S", Method: "a", Timeout: tc.timeout}, &gateway.Reply{}, g)
			if e := translate.FromError(err); e == nil || e.Code != tc.code || e.Message != "1 calls in flight for all methods on route get-user (limit 1)" {
				t.Fatalf("got %v", err)
			}
			if el := time.Since(t0); el > 5*time.Second || tc.ctx == nil && el < 20*time.Millisecond {
				t.Errorf("waited %v", el)
			}
			close(g.release)
			<-held[0]
			assertIdle(t, l)
		})
	}

	t.Run("queue full", func(t *testing.T) {
		l, g := newLimiter(t, "max: 1, queue: 1, wait: 1h"), newGate()
		held := hold(t, l, g, 1, "a")
		waiter := start(l, context.Background(), &gateway.Call{Method: "a"}, g)
		waitFor(t, "the call to queue", func() bool { return l.total.waiters.Load() == 1 })
		if err := invoke(l, "a"); translate.FromError(err).Code != translate.ResourceExhausted {
			t.Fatalf("a call beyond the queue: %v", err)
		}
		close(g.release)
		<-held[0]
		if err := <-waiter; err != nil {
			t.Fatal(err)
		}
		assertIdle(t, l)
	})

	t.Run("caller cancels", func(t *testing.T) {
		l, g := newLimiter(t, "per_method: 1, queue: 1, wait: 1h"), newGate()
		held := hold(t, l, g, 1, "a")
		ctx, cancel := context.WithCancel(context.Background())
		waiter := start(l, ctx, &gateway.Call{Service: "S", Method: "a"}, g)
		waitFor(t, "the call to queue", func() bool { return (*l.methods.Load())[methodKey{"S", "a"}].waiters.Load() == 1 })
		cancel()
		err := <-waiter
		if e := translate.FromError(err); e.Code != translate.Canceled || !errors.Is(err, context.Canceled) ||
			e.Message != "call canceled while waiting for a concurrency slot on route get-user" {
			t.Fatalf("got %v", err)
		}
		close(g.release)
		<-held[0]
		assertIdle(t, l)
	})

	t.Run("many waiters, every one admitted", func(t *testing.T) {
		l := newLimiter(t, "max: 2, per_method: 1, queue: 64, wait: 1h")
		var inflight atomic.Int64
		up := invokerFunc(func(_ context.Context, call *gateway.Call, _ *gateway.Reply) error {
			if n := inflight.Add(1); n > 2 {
				t.Errorf("%d in flight", n)
			}
			runtime.Gosched()
			inflight.Add(-1)
			return nil
		})
		var wg sync.WaitGroup
		for g := range 40 {
			wg.Go(func() {
				call := &gateway.Call{Service: "S", Method: strconv.Itoa(g % 3)}
				for range 50 {
					if err := l.Filter(context.Background(), call, &gateway.Reply{}, up); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		assertIdle(t, l)
	})
}

func TestReleaseAfterPanic(t *testing.T) {
	l := newLimiter(t, "max: 1, per_method: 1, queue: 1, wait: 1h")
	boom := invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { panic("boom") })
	for i := range 3 {
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v", r)
				}
			}()
			_ = l.Filter(context.Background(), &gateway.Call{Service: "S", Method: "a", Timeout: time.Second}, &gateway.Reply{}, boom)
			t.Fatalf("call %d did not panic", i)
		}()
		assertIdle(t, l)
	}
	if err := invoke(l, "a"); err != nil {
		t.Fatalf("after panics: %v", err)
	}
}

func TestTrackedMethodsAreBounded(t *testing.T) {
	l := newLimiter(t, "per_method: 1")
	for i := range MaxTrackedMethods + 10 {
		if err := invoke(l, "m"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(*l.methods.Load()); n != MaxTrackedMethods {
		t.Fatalf("%d method limiters", n)
	}
	// The methods beyond the bound share one limiter.
	g := newGate()
	held := hold(t, l, g, 1, "x1")
	err := invoke(l, "x2")
	if e := translate.FromError(err); e == nil || e.Message != "1 calls in flight for other methods on route get-user (limit 1)" {
		t.Fatalf("got %v", err)
	}
	close(g.release)
	<-held[0]
	assertIdle(t, l)
}

func TestMethodNamesAreCopied(t *testing.T) {
	l := newLimiter(t, "per_method: 1")
	buf := []byte("Svc")
	call := &gateway.Call{Service: unsafeString(buf), Method: "m"}
	if err := l.Filter(context.Background(), call, &gateway.Reply{}, nopInvoker{}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXX") // the request buffer is reused
	if _, ok := (*l.methods.Load())[methodKey{"Svc", "m"}]; !ok {
		t.Fatalf("the limiter's key changed with the request buffer: %v", *l.methods.Load())
	}
}

func TestAdmitAllocatesNothing(t *testing.T) {
	ctx, reply := context.Background(), &gateway.Reply{}
	for _, opts := range []string{"max: 1000", "per_method: 1000", "max: 1000, per_method: 100, queue: 10, wait: 1s"} {
		l := newLimiter(t, opts)
		call := &gateway.Call{Service: "S", Method: "m", Timeout: time.Second}
		_ = l.Filter(ctx, call, reply, nopInvoker{}) // the method's limiter is made once
		if n := testing.AllocsPerRun(1000, func() { _ = l.Filter(ctx, call, reply, nopInvoker{}) }); n != 0 {
			t.Errorf("%s: %v allocations per call", opts, n)
		}
	}
	// Rejections allocate nothing either.
	l, g := newLimiter(t, "max: 1, per_method: 1"), newGate()
	held := hold(t, l, g, 1, "a")
	call := &gateway.Call{Service: "S", Method: "a"}
	if n := testing.AllocsPerRun(1000, func() {
		if l.Filter(ctx, call, reply, nopInvoker{}) == nil {
			t.Fatal("admitted")
		}
	}); n != 0 {
		t.Errorf("rejection: %v allocations per call", n)
	}
	close(g.release)
	<-held[0]
}

func BenchmarkConcurrencyAdmit(b *testing.B) {
	for _, bc := range []struct{ name, opts string }{
		{"total", "max: 100000"},
		{"per-method", "per_method: 100000"},
		{"both-with-queue", "max: 100000, per_method: 100000, queue: 10, wait: 1s"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := newLimiter(b, bc.opts)
			calls := make([]*gateway.Call, 8)
			for i := range calls {
				calls[i] = &gateway.Call{Service: "S", Method: "m" + strconv.Itoa(i)}
			}
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx, reply := context.Background(), &gateway.Reply{}
				i := int(seq.Add(1))
				for pb.Next() {
					i++
					if err := l.Filter(ctx, calls[i%len(calls)], reply, nopInvoker{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
