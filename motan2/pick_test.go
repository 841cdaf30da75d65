package motan2

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
)

// While the connection picked last is forming a write (its flusher lets
// other callers queue frames), new calls join it instead of going on
// round-robin to the next connection; otherwise calls alternate.
func TestPickJoinsTheWriteBeingFormed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: HandlerFunc(func(_ context.Context, req *Frame) *Frame {
		return NewResponse(req, nil)
	}), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	c := NewClient(l.Addr().String(), WithConnections(2))
	defer c.Close()
	ctx := context.Background()
	for i := 0; i < 2; i++ { // one call per slot: both connections dialed
		if _, err := c.Call(ctx, &Request{Service: "s", Method: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	pick := func() *conn {
		t.Helper()
		cn, err := c.pick(budget{ctx: ctx})
		if err != nil {
			t.Fatal(err)
		}
		cn.release()
		return cn
	}
	a := pick()
	if b := pick(); b == a {
		t.Fatal("round-robin picked the same connection twice without a write being formed")
	}
	last := c.slots[c.next.Load()%2].cur.Load()
	last.w.forming.Store(true)
	for i := 0; i < 3; i++ {
		if cn := pick(); cn != last {
			t.Fatalf("call %d while a write is being formed went to another connection", i)
		}
	}
	last.w.forming.Store(false)
	if cn := pick(); cn == last {
		t.Fatal("after the write, the next call did not move on")
	}
}
