package motan2_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

// SendTimeout puts the call's time limit in M_tmo (rounded up to a
// millisecond), unless the caller's meta already has one.
func TestSendTimeoutAsMTmo(t *testing.T) {
	seen := make(chan string, 1)
	_, addr := startServer(t, motan2.HandlerFunc(func(_ context.Context, req *motan2.Frame) *motan2.Frame {
		v, ok := req.Meta.Lookup(motan2.MetaTimeout)
		if !ok {
			v = "<none>"
		}
		seen <- v
		return motan2.NewResponse(req, nil)
	}))
	c := motan2.NewClient(addr, motan2.WithLogger(quiet))
	defer c.Close()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		send    bool
		meta    motan2.Meta
		want    string
	}{
		{"sent", 300 * time.Millisecond, true, nil, "300"},
		{"rounded up", 1500 * time.Microsecond, true, nil, "2"},
		{"the caller's wins", 300 * time.Millisecond, true, motan2.Meta{{Key: motan2.MetaTimeout, Value: "50"}}, "50"},
		{"not asked", 300 * time.Millisecond, false, nil, "<none>"},
		{"no timeout", 0, true, nil, "<none>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &motan2.Request{Service: "s", Method: "m", Timeout: tc.timeout, SendTimeout: tc.send, Meta: tc.meta}
			if _, err := c.Call(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if got := <-seen; got != tc.want {
				t.Fatalf("M_tmo %q, want %q", got, tc.want)
			}
		})
	}
}

// A call whose time limit has already passed is not sent.
func TestSpentBudgetIsNotSent(t *testing.T) {
	got := make(chan struct{}, 10)
	_, addr := startServer(t, motan2.HandlerFunc(func(_ context.Context, req *motan2.Frame) *motan2.Frame {
		got <- struct{}{}
		return motan2.NewResponse(req, nil)
	}))
	c := motan2.NewClient(addr, motan2.WithLogger(quiet))
	defer c.Close()
	if _, err := c.Call(context.Background(), &motan2.Request{Service: "s", Method: "warm"}); err != nil {
		t.Fatal(err)
	}
	<-got
	for range 20 {
		_, err := c.Call(context.Background(), &motan2.Request{Service: "s", Method: "m", Timeout: time.Nanosecond})
		var ce *motan2.CallError
		if !errors.As(err, &ce) || ce.Sent || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("spent budget: %v", err)
		}
	}
	if _, err := c.Call(context.Background(), &motan2.Request{Service: "s", Method: "after"}); err != nil {
		t.Fatal(err)
	}
	<-got
	if n := len(got); n != 0 {
		t.Fatalf("%d calls with a spent budget reached the server", n)
	}
}
