package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startNamed starts a Motan2 server whose service answers "whoami" with
// name, "sleep" by waiting for its context, and "fail" with a business
// exception.
func startNamed(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := motan2.NewServiceMux()
	mux.HandleFunc("test.Svc", func(ctx context.Context, r *motan2.Request) (motan2.Value, error) {
		switch r.Method {
		case "sleep":
			<-ctx.Done()
			return motan2.Null, ctx.Err()
		case "fail":
			return motan2.Null, &motan2.Exception{ErrCode: 404, ErrMsg: "no such order", ErrType: motan2.ErrTypeBiz}
		}
		return motan2.String(name), nil
	})
	srv := &motan2.Server{Handler: mux, Logger: quiet}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newCluster(t *testing.T, lb LB, endpoints ...string) *Cluster {
	c := NewCluster("test", endpoints, ClusterOptions{LB: lb, Logger: quiet,
		Client: []motan2.ClientOption{motan2.WithDialTimeout(time.Second)}})
	t.Cleanup(c.Close)
	return c
}

func invoke(c *Cluster, method string, timeout time.Duration) (gateway.Reply, error) {
	var r gateway.Reply
	err := c.Invoke(context.Background(), &gateway.Call{Service: "test.Svc", Method: method, Timeout: timeout}, &r)
	return r, err
}

func count(t *testing.T, c *Cluster, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		r, err := invoke(c, "whoami", 5*time.Second)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		seen[r.Value.Str()]++
	}
	return seen
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	c := newCluster(t, RoundRobin, startNamed(t, "a"), startNamed(t, "b"), startNamed(t, "c"))
	seen := count(t, c, 30)
	if seen["a"] != 10 || seen["b"] != 10 || seen["c"] != 10 {
		t.Fatalf("round robin over 3 endpoints, 30 calls: %v", seen)
	}
}

func TestRandomReachesEveryEndpoint(t *testing.T) {
	c := newCluster(t, Random, startNamed(t, "a"), startNamed(t, "b"), startNamed(t, "c"))
	seen := count(t, c, 300)
	for _, name := range []string{"a", "b", "c"} {
		// Binomial(300, 1/3) falls under 50 with probability below 1e-8.
		if seen[name] < 50 {
			t.Fatalf("random over 3 endpoints, 300 calls: %v", seen)
		}
	}
}

// A dead endpoint is never a failed call: the request was not sent, so the
// next endpoint takes it.
func TestDeadEndpointIsSkipped(t *testing.T) {
	c := newCluster(t, RoundRobin, deadAddr(t), startNamed(t, "alive"))
	seen := count(t, c, 20)
	if seen["alive"] != 20 {
		t.Fatalf("calls: %v", seen)
	}
}

func TestErrorsMapToTheErrorModel(t *testing.T) {
	t.Run("no reachable endpoint", func(t *testing.T) {
		c := newCluster(t, RoundRobin, deadAddr(t), deadAddr(t))
		_, err := invoke(c, "whoami", 5*time.Second)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.Unavailable || e.Status() != 503 ||
			!strings.Contains(e.Message, `no reachable endpoint in cluster "test" (2 endpoints, 2 tried)`) {
			t.Fatalf("%v", err)
		}
	})
	c := newCluster(t, RoundRobin, startNamed(t, "a"))
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, err := invoke(c, "sleep", 50*time.Millisecond)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.DeadlineExceeded || e.Status() != 504 {
			t.Fatalf("%v", err)
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Fatalf("a 50ms budget took %v", waited)
		}
	})
	t.Run("business exception", func(t *testing.T) {
		_, err := invoke(c, "fail", time.Second)
		var e *translate.Error
		if !errors.As(err, &e) || e.Status() != 404 || !e.Upstream || e.UpstreamErrCode != 404 || e.UpstreamErrType != 2 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("budget already spent", func(t *testing.T) {
		_, err := invoke(c, "whoami", time.Nanosecond)
		var e *translate.Error
		if !errors.As(err, &e) || e.Code != translate.DeadlineExceeded {
			t.Fatalf("%v", err)
		}
	})
}
