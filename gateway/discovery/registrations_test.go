package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/discovery"
)

func export(t *testing.T, addr string) discovery.Export {
	t.Helper()
	u, err := discovery.ParseURL("motan2://" + addr + "/com.example.Users?group=yf")
	if err != nil {
		t.Fatal(err)
	}
	return discovery.Export{URL: u}
}

// pending lists Pending as "ID=state" lines, sorted.
func pending(rs *discovery.Registrations) string {
	var out []string
	for _, reg := range rs.Pending() {
		out = append(out, fmt.Sprintf("%s=%s", reg.Export.ID(), reg.Want.Event()))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestRegistrations drives the bookkeeping as a writer does: each step
// changes the registrations, then the writer writes what is pending.
func TestRegistrations(t *testing.T) {
	a, b := "yf/com.example.Users/10.0.0.1:1", "yf/com.example.Users/10.0.0.2:1"
	type step struct {
		name        string
		do          func(t *testing.T, rs *discovery.Registrations, ea, eb discovery.Export)
		wantPending string // before the writer writes
		wantRemoval bool   // HasRemovals before the writer writes
	}
	steps := []step{
		{name: "nothing", do: func(*testing.T, *discovery.Registrations, discovery.Export, discovery.Export) {}},
		{name: "register", do: func(t *testing.T, rs *discovery.Registrations, ea, eb discovery.Export) {
			rs.Register(ea)
			rs.Register(eb)
		}, wantPending: a + "=register," + b + "=register"},
		{name: "written once", do: func(*testing.T, *discovery.Registrations, discovery.Export, discovery.Export) {}},
		{name: "available", do: func(t *testing.T, rs *discovery.Registrations, ea, eb discovery.Export) {
			if err := rs.SetAvailable(ea, true); err != nil {
				t.Fatal(err)
			}
		}, wantPending: a + "=available"},
		{name: "same state again", do: func(t *testing.T, rs *discovery.Registrations, ea, eb discovery.Export) {
			if err := rs.SetAvailable(ea, true); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "new session", do: func(t *testing.T, rs *discovery.Registrations, ea, eb discovery.Export) {
			rs.Rewrite()
		}, wantPending: a + "=available," + b + "=register"},
		{name: "deregister", do: func(t *testing.T, rs *discovery.Registrations, ea, eb discovery.Export) {
			rs.Deregister(eb)
			if err := rs.SetAvailable(eb, true); err == nil || err.Error() != "not registered: "+b {
				t.Fatalf("SetAvailable of a deregistered export: %v", err)
			}
		}, wantPending: b + "=unregister", wantRemoval: true},
		{name: "forgotten after removal", do: func(t *testing.T, rs *discovery.Registrations, ea, eb discovery.Export) {
			rs.Rewrite()
		}, wantPending: a + "=available"},
	}
	rs := discovery.NewRegistrations()
	ea, eb := export(t, "10.0.0.1:1"), export(t, "10.0.0.2:1")
	if err := rs.SetAvailable(ea, true); err == nil || err.Error() != "not registered: "+a {
		t.Fatalf("SetAvailable before Register: %v", err)
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t, rs, ea, eb)
			if got := pending(rs); got != st.wantPending {
				t.Fatalf("Pending = %q, want %q", got, st.wantPending)
			}
			if got := rs.HasRemovals(); got != st.wantRemoval {
				t.Fatalf("HasRemovals = %v, want %v", got, st.wantRemoval)
			}
			for _, reg := range rs.Pending() {
				rs.Written(reg)
			}
			if got := pending(rs); got != "" {
				t.Fatalf("after writing, Pending = %q", got)
			}
			if rs.HasRemovals() {
				t.Fatal("after writing, HasRemovals")
			}
		})
	}
}

// A removal written while the export was registered again does not
// forget the new registration.
func TestRegistrationsRegisteredAgain(t *testing.T) {
	rs := discovery.NewRegistrations()
	e := export(t, "10.0.0.1:1")
	rs.Register(e)
	rs.Deregister(e)
	removal := rs.Pending()
	rs.Register(e)
	for _, reg := range removal {
		rs.Written(reg)
	}
	if got, want := pending(rs), e.ID()+"=register"; got != want {
		t.Fatalf("Pending = %q, want %q", got, want)
	}
}

// startWriter runs a writer of rs until the test ends: woken, it writes
// what is pending (or, with write false, nothing) and settles.
func startWriter(t *testing.T, rs *discovery.Registrations, write bool) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-rs.Wake():
			}
			for _, reg := range rs.Pending() {
				if write {
					rs.Written(reg)
				}
			}
			rs.Settle()
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// Flush returns once a writer has written every change and settled, and
// fails with ctx's error while one is pending.
func TestRegistrationsFlush(t *testing.T) {
	rs := discovery.NewRegistrations()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rs.Flush(ctx); err != nil {
		t.Fatalf("Flush with nothing registered: %v", err)
	}
	rs.Register(export(t, "10.0.0.1:1"))

	// No writer: the change stays pending.
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if err := rs.Flush(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush without a writer: %v", err)
	}

	// A writer that writes everything pending, then settles.
	startWriter(t, rs, true)
	if err := rs.Flush(ctx); err != nil {
		t.Fatalf("Flush with a writer: %v", err)
	}
	if got := pending(rs); got != "" {
		t.Fatalf("after Flush, Pending = %q", got)
	}
}

// Settle does not release Flush while a change is still to be written:
// a writer that settles without writing leaves Flush to its deadline.
func TestRegistrationsSettlePending(t *testing.T) {
	rs := discovery.NewRegistrations()
	rs.Register(export(t, "10.0.0.1:1"))
	startWriter(t, rs, false)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := rs.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with a change never written: %v", err)
	}
}

func TestEntryStateEvent(t *testing.T) {
	for s, want := range map[discovery.EntryState]string{
		discovery.EntryRemoved: "unregister", discovery.EntryUnavailable: "register", discovery.EntryAvailable: "available",
	} {
		if got := s.Event(); got != want {
			t.Errorf("%d.Event() = %q, want %q", s, got, want)
		}
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{in: "", want: nil},
		{in: " , ,", want: nil},
		{in: "127.0.0.1:2181", want: []string{"127.0.0.1:2181"}},
		{in: " a:1 ,b:2,, c:3 ", want: []string{"a:1", "b:2", "c:3"}},
	}
	for _, tt := range tests {
		if got := discovery.Addresses(tt.in); strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Addresses(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Each malformed entry is news once per content: logged at the first
// read, again only when its data changes; the memory stays bounded.
func TestBadEntries(t *testing.T) {
	var b discovery.BadEntries
	steps := []struct {
		path, data string
		news       bool
	}{
		{"/a", "x", true},
		{"/a", "x", false},
		{"/b", "x", true},
		{"/a", "y", true},
		{"/a", "y", false},
	}
	for i, st := range steps {
		if got := b.Note(st.path, []byte(st.data)); got != st.news {
			t.Fatalf("step %d: Note(%s, %s) = %v, want %v", i, st.path, st.data, got, st.news)
		}
	}
	for i := range 1000 {
		b.Note(fmt.Sprint("/many/", i), nil)
	}
	// Past the bound everything was forgotten: /a is news again.
	if !b.Note("/a", []byte("y")) {
		t.Fatal("BadEntries kept more than its bound")
	}
}

// WritePending writes what is pending, records what was written, and
// settles (releasing Flush) only after a pass without failure.
func TestRegistrationsWritePending(t *testing.T) {
	rs := discovery.NewRegistrations()
	ea, eb := export(t, "10.0.0.1:1"), export(t, "10.0.0.2:1")
	rs.Register(ea)
	rs.Register(eb)
	refused := errors.New("refused")
	var allow atomic.Bool // eb's writes fail until set
	passes := make(chan error, 16)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // a writer, as the ZooKeeper and etcd ones
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-rs.Wake():
			}
			passes <- rs.WritePending("test", func(reg discovery.Registration) error {
				if reg.Export.ID() == eb.ID() && !allow.Load() {
					return refused
				}
				return nil
			})
		}
	}()
	defer func() { close(stop); <-done }()

	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := rs.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush while a write fails: %v", err)
	}
	if err := <-passes; !errors.Is(err, refused) || !strings.Contains(err.Error(), eb.ID()) {
		t.Fatalf("failed pass: %v, want the refusal naming %s", err, eb.ID())
	}
	if got, want := pending(rs), eb.ID()+"=register"; got != want {
		t.Fatalf("after a failed pass, Pending = %q, want %q", got, want)
	}
	allow.Store(true)
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := rs.Flush(ctx); err != nil {
		t.Fatalf("Flush once writes succeed: %v", err)
	}
	if got := pending(rs); got != "" {
		t.Fatalf("Pending = %q", got)
	}
}
