package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/breaker"
	"github.com/meshgate/meshgate/gateway/upstream/lb"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// A failed call reports the attempt that reached an endpoint: its error,
// its endpoint and one attempt, whether or not an unreachable endpoint
// was tried after it; and a retry is only counted (and paid from the
// budget) when an endpoint is left to take it.
func TestFailedCallReportsTheSentAttempt(t *testing.T) {
	a := startHA(t, "a")
	a.failing.Store(true)
	dead := deadAddr(t)
	for _, tc := range []struct {
		name        string
		addrs       []string
		wantRetries bool // may some calls count a retry
	}{
		{"alone", []string{a.addr}, false},
		{"with an unreachable endpoint", []string{a.addr, dead}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCluster("acct", Endpoints(tc.addrs...), ClusterOptions{Logger: quiet,
				HA:     HAOptions{Retries: 2},
				Client: []motan2.ClientOption{motan2.WithErrorThreshold(0), motan2.WithDialTimeout(time.Second)}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			const n = 6
			before := a.count("fail")
			for i := 0; i < n; i++ {
				var r gateway.Reply
				err := c.Invoke(context.Background(), &gateway.Call{Service: "test.Svc", Method: "fail", Timeout: 5 * time.Second, Idempotent: true}, &r)
				var e *translate.Error
				if !errors.As(err, &e) || e.Code != translate.Unavailable || !strings.Contains(e.Message, "overloaded") {
					t.Fatalf("call %d: %v; want a's 503 exception", i, err)
				}
				if r.Endpoint != a.addr || r.Attempts != 1 || r.Backups != 0 {
					t.Fatalf("call %d: endpoint %q, %d attempts, %d backups; want %s, 1, 0", i, r.Endpoint, r.Attempts, r.Backups, a.addr)
				}
			}
			if got := a.count("fail") - before; got != n {
				t.Fatalf("a saw %d calls, want %d", got, n)
			}
			if st := c.Stats(); !tc.wantRetries && st.Retries != 0 || st.Retries > n {
				t.Fatalf("%d retries counted for %d calls with no endpoint left to retry on", st.Retries, n)
			}
		})
	}
}

// Methods come from routes, but a Motan2 proxy frame names any method:
// the latency table stops growing at maxMethods, and a method it has no
// room for gets no backup delay.
func TestLatencyTableIsBounded(t *testing.T) {
	var l latencies
	frame := func(i int) *gateway.Call {
		f := &motan2.Frame{}
		f.Meta.Set(motan2.MetaPath, "test.Svc")
		f.Meta.Set(motan2.MetaMethod, fmt.Sprintf("m%d", i))
		return &gateway.Call{Frame: f}
	}
	for i := 0; i < maxMethods+50; i++ {
		l.record(frame(i), time.Millisecond)
	}
	if n := len(*l.m.Load()); n != maxMethods {
		t.Fatalf("%d methods kept, want %d", n, maxMethods)
	}
	if d, n := l.quantile(frame(0), 0.5); n != 1 || d <= 0 {
		t.Fatalf("a kept method: quantile %v over %d calls", d, n)
	}
	if d, n := l.quantile(frame(maxMethods+10), 0.5); n != 0 || d != 0 {
		t.Fatalf("a method beyond the bound: quantile %v over %d calls; want none", d, n)
	}
}

// A half-open breaker whose probe slots are all taken refuses calls, so
// it reports itself unhealthy (the cluster then picks another endpoint
// rather than have the call bounced); it is healthy again once closed.
func TestBreakerUnhealthyWhileProbing(t *testing.T) {
	f, err := gateway.NewFilter(gateway.FilterSpec{Name: "breaker", Scope: "test",
		Decode: func(v any) error {
			o := v.(*breaker.Options)
			o.ConsecutiveFailures, o.ErrorRate, o.OpenFor, o.MaxOpenFor = 1, 0, time.Millisecond, time.Millisecond
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	h := f.(gateway.HealthReporter)
	fail := invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error {
		return &translate.Error{Code: translate.Unavailable, Message: "down"}
	})
	ctx := context.Background()
	if err := f.Filter(ctx, &gateway.Call{}, &gateway.Reply{}, fail); err == nil {
		t.Fatal("the failing call succeeded")
	}
	for deadline := time.Now().Add(5 * time.Second); !h.Healthy(); {
		if time.Now().After(deadline) {
			t.Fatal("still unhealthy long after the 1ms pause")
		}
		time.Sleep(time.Millisecond) // polling the 1ms pause, not synchronisation
	}
	inside, release := make(chan struct{}), make(chan struct{})
	probe := invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error {
		close(inside)
		<-release
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- f.Filter(ctx, &gateway.Call{}, &gateway.Reply{}, probe) }()
	<-inside
	if h.Healthy() {
		t.Error("healthy while its only probe is in flight (every other call is refused)")
	}
	if err := f.Filter(ctx, &gateway.Call{}, &gateway.Reply{}, fail); err == nil || !strings.Contains(err.Error(), "probing") {
		t.Errorf("a call during the probe: %v; want refused", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, st := f.(gateway.StateReporter).FilterState(); !h.Healthy() || st != "closed" {
		t.Fatalf("after a good probe: healthy %v, state %s", h.Healthy(), st)
	}
}

// invokerFunc is a function as the next invoker of a filter under test.
type invokerFunc func(context.Context, *gateway.Call, *gateway.Reply) error

func (f invokerFunc) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	return f(ctx, call, reply)
}

// updateOnPick is a round_robin policy whose pickers run onPick once,
// before their first pick: it lets a test replace a cluster's endpoints
// between a call's loading of the set and its first attempt.
var onPick atomic.Pointer[func()]

func init() {
	rr, _ := lb.Lookup(lb.RoundRobin)
	lb.Register("test_update_on_pick", func(eps []lb.Endpoint) lb.Picker {
		return hookPicker{rr(eps)}
	})
}

type hookPicker struct{ lb.Picker }

func (p hookPicker) Pick(r *lb.Request) int {
	if f := onPick.Swap(nil); f != nil {
		(*f)()
	}
	return p.Picker.Pick(r)
}

// An Update that replaces every endpoint while a call is between loading
// the set and sending: the call moves to the new set instead of failing
// with no reachable endpoint, on the sequential and the hedged path.
func TestCallMovesToTheSetThatReplacedItsEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		backup *BackupOptions
	}{
		{"sequential", nil},
		{"hedged", &BackupOptions{MinSamples: 1, MinDelay: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a1, a2, b1, b2 := startHA(t, "a1"), startHA(t, "a2"), startHA(t, "b1"), startHA(t, "b2")
			c := newHACluster(t, ClusterOptions{LB: "test_update_on_pick", HA: HAOptions{Backup: tc.backup}}, a1, a2)
			if r := call(c, "whoami", true, 5*time.Second); r.err != nil { // a sample for the backup delay
				t.Fatal(r.err)
			}
			if tc.backup != nil {
				// The quantile is cached for quantileEvery: recompute it
				// now, so that the call below takes the hedged path.
				for _, ml := range *c.latency.m.Load() {
					ml.at.Store(0)
				}
				if d := c.backupDelay(&gateway.Call{Service: "test.Svc", Method: "whoami"}); d != time.Second {
					t.Fatalf("backup delay %v, want the 1s minimum: the call would not be hedged", d)
				}
			}
			update := func() { c.Update(gateway.EndpointSet{Endpoints: Endpoints(b1.addr, b2.addr)}) }
			onPick.Store(&update)
			r := call(c, "whoami", true, 5*time.Second)
			if onPick.Load() != nil {
				t.Fatal("the policy's hook did not run")
			}
			if r.err != nil || !strings.HasPrefix(r.value, "b") || r.attempts != 1 {
				t.Fatalf("%q, %d attempts, %v; want b1's or b2's answer", r.value, r.attempts, r.err)
			}
		})
	}
}
