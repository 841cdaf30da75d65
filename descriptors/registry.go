package descriptors

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds the snapshot in force. The zero value is ready to use and
// holds no snapshot.
//
// Readers call Current, which is one atomic load, and keep the snapshot for
// the whole request. Writers (Swap, Reload) are serialized so that versions
// are published in increasing order.
type Registry struct {
	cur  atomic.Pointer[Snapshot]
	mu   sync.Mutex // serializes writers
	next uint64     // guarded by mu: last version assigned
}

// Current returns the snapshot in force, or nil before the first Swap. It
// never blocks.
func (r *Registry) Current() *Snapshot {
	return r.cur.Load()
}

// Swap publishes s and returns the published snapshot: a copy of s whose
// Version is one more than the last version this registry assigned (s
// itself is not modified, so a snapshot may be published by more than one
// registry). Requests holding the previous snapshot keep it; new calls to
// Current see the new one. Swap panics if s is nil.
func (r *Registry) Swap(s *Snapshot) *Snapshot {
	if s == nil {
		panic("descriptors: Registry.Swap(nil)")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.swapLocked(s)
}

func (r *Registry) swapLocked(s *Snapshot) *Snapshot {
	r.next++
	pub := *s
	pub.Version = r.next
	r.cur.Store(&pub)
	return &pub
}

// Reload runs load and, when it succeeds, publishes its snapshot as Swap
// does. When load fails (returns an error, returns a nil snapshot, or
// panics) the snapshot in force stays in force and Reload returns the
// error, wrapped so that errors.As still finds an ErrorList or
// *SchemaError. load runs without any lock held, so a slow load (a
// compilation, a reflection round trip) never delays readers; concurrent
// Reloads each publish in turn.
func (r *Registry) Reload(load func() (*Snapshot, error)) (err error) {
	s, err := callLoad(load)
	if err != nil {
		if cur := r.Current(); cur != nil {
			return fmt.Errorf("descriptors: reload rejected, version %d (%s) stays in force: %w", cur.Version, cur.Source, err)
		}
		return fmt.Errorf("descriptors: load failed: %w", err)
	}
	r.Swap(s)
	return nil
}

func callLoad(load func() (*Snapshot, error)) (s *Snapshot, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("schema loader panicked: %v", p)
		}
	}()
	s, err = load()
	if err == nil && s == nil {
		err = fmt.Errorf("schema loader returned no snapshot")
	}
	return s, err
}

// Refresh calls Reload(load) every interval until ctx is done, and returns
// ctx's error then. It is meant for sources that change under the gateway
// (gRPC reflection of an upstream, a descriptor set on disk). A failed load
// keeps the snapshot in force and is passed to onErr, if not nil; onErr is
// called on Refresh's goroutine and should not block for long. Refresh does
// not load once before waiting: load synchronously first so that startup
// fails loudly on a bad schema.
func (r *Registry) Refresh(ctx context.Context, interval time.Duration, load func() (*Snapshot, error), onErr func(error)) error {
	if interval <= 0 {
		return fmt.Errorf("descriptors: Refresh interval must be positive, got %v", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := r.Reload(load); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
