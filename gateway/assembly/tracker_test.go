package assembly

import (
	"context"
	"sync"
	"testing"

	"github.com/meshgate/meshgate/gateway"
)

type nopInvoker struct{}

func (nopInvoker) Invoke(context.Context, *gateway.Call, *gateway.Reply) error { return nil }

func TestTracker(t *testing.T) {
	tr := newTracker()
	for range 2 {
		if !tr.enter() {
			t.Fatal("enter")
		}
	}
	if tr.inFlight() != 2 {
		t.Fatal("in flight")
	}
	tr.retire()
	if tr.tryClose() {
		t.Fatal("closed with calls inside")
	}
	tr.exit()
	select {
	case <-tr.idle:
		t.Fatal("idle with a call inside")
	default:
	}
	tr.exit()
	<-tr.idle // the last call out signals
	if tr.inFlight() != 0 || !tr.tryClose() {
		t.Fatal("not closed when idle")
	}
	if tr.enter() || tr.inFlight() != 0 {
		t.Fatal("entered a closed generation")
	}
}

// Calls entering and leaving while the retirer tries to close: once
// tryClose succeeds no call is inside, and none enters afterwards.
func TestTrackerCloseRace(t *testing.T) {
	for range 50 {
		tr := newTracker()
		var inside sync.WaitGroup
		var violations sync.Map
		closed := make(chan struct{})
		for w := range 4 {
			inside.Add(1)
			go func() {
				defer inside.Done()
				for range 20000 { // bounded: the retirer closes at the latest when they stop
					if !tr.enter() {
						return
					}
					select {
					case <-closed:
						violations.Store(w, true)
					default:
					}
					tr.exit()
				}
			}()
		}
		tr.retire()
		for !tr.tryClose() {
			<-tr.idle
		}
		close(closed)
		inside.Wait()
		violations.Range(func(k, v any) bool { t.Fatalf("worker %v was inside after the close", k); return false })
	}
}

func TestTrackedAllocatesNothing(t *testing.T) {
	c := &tracked{t: newTracker(), key: "routes/r", route: "r", next: nopInvoker{}}
	call, reply, ctx := &gateway.Call{}, &gateway.Reply{}, context.Background()
	if n := testing.AllocsPerRun(1000, func() { c.Invoke(ctx, call, reply) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}
