package ingress

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/translate"
)

// failLog lets FailLogBurst lines through per second; the next line let
// through carries the count of those held back.
func TestFailLogLimitsAndCounts(t *testing.T) {
	var f failLog
	t0 := time.Unix(1000, 0)
	for i := 0; i < FailLogBurst; i++ {
		if n, ok := f.allow(t0.Add(time.Duration(i) * time.Millisecond)); !ok || n != 0 {
			t.Fatalf("line %d: allow = %d, %v; want 0, true", i, n, ok)
		}
	}
	for i := 0; i < 25; i++ {
		if _, ok := f.allow(t0.Add(900 * time.Millisecond)); ok {
			t.Fatalf("line %d beyond the burst let through", FailLogBurst+i)
		}
	}
	if n, ok := f.allow(t0.Add(time.Second)); !ok || n != 25 {
		t.Fatalf("first line of the next second: allow = %d, %v; want 25, true", n, ok)
	}
	if n, ok := f.allow(t0.Add(1100 * time.Millisecond)); !ok || n != 0 {
		t.Fatalf("second line of the next second: allow = %d, %v; want 0, true", n, ok)
	}
}

type failInvoker struct{}

func (failInvoker) Invoke(context.Context, *gateway.Call, *gateway.Reply) error {
	return &translate.Error{Code: translate.Unavailable, Message: "no reachable endpoint", Cause: errors.New("down")}
}

// An HTTP ingress whose upstream fails every request logs FailLogBurst
// warnings, not one per request, and every request still gets its 503.
func TestHTTPFailureWarningsAreLimited(t *testing.T) {
	table := oneRouteTable(t, "GET", "/down")
	var logs bytes.Buffer
	h := NewHTTP(&Snapshot{Table: table, Routes: []*gateway.Route{{Name: "down", Service: "s", Method: "m", Invoker: failInvoker{}}}},
		HTTPOptions{RequestIDHeader: "X-Request-Id", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	start := time.Now()
	const requests = 200
	for i := 0; i < requests; i++ {
		ctx := newCtx("/down")
		h.handle(ctx)
		if ctx.Response.StatusCode() != 503 {
			t.Fatalf("request %d: status %d, want 503", i, ctx.Response.StatusCode())
		}
	}
	seconds := int(time.Since(start)/time.Second) + 2 // the requests may span a second's boundary
	lines := strings.Count(logs.String(), `msg="http: request failed"`)
	if lines < FailLogBurst || lines > seconds*FailLogBurst {
		t.Fatalf("%d warnings for %d failed requests, want %d to %d:\n%s", lines, requests, FailLogBurst, seconds*FailLogBurst, logs.String())
	}
}
