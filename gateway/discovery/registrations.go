package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/meshgate/meshgate/gateway/telemetry/metrics"
)

// EntryState is the entry an export should have in a registry.
type EntryState int8

const (
	// EntryRemoved is no entry: the export was deregistered.
	EntryRemoved EntryState = iota
	// EntryUnavailable is a registered entry that is not available
	// (Motan's unavailableServer): visible to operators, not to clients.
	EntryUnavailable
	// EntryAvailable is an available entry, which clients use.
	EntryAvailable
)

// Event returns the registry event counted when an entry of state s is
// written: "register", "available" or "unregister" (docs/discovery.md,
// Metrics).
func (s EntryState) Event() string {
	switch s {
	case EntryAvailable:
		return "available"
	case EntryUnavailable:
		return "register"
	}
	return "unregister"
}

// Registration is an export and the entry it should have, as Pending hands
// it to a registry's writer.
type Registration struct {
	Export Export
	Want   EntryState
}

// Registrations is the registration bookkeeping of a registry whose
// entries a background writer keeps written (ZooKeeper, etcd), so that
// registering never blocks on an unreachable registry. Register,
// SetAvailable and Deregister record the wanted state and wake the
// writer; the writer, woken by Wake, writes what Pending lists in its own
// way, reports each entry it wrote with Written (or, when a new session or
// lease lost every entry, calls Rewrite to have them all written again),
// and after a pass without failure calls Settle, which lets Flush return.
// WritePending is such a pass.
// Its methods are safe for concurrent use.
type Registrations struct {
	mu   sync.Mutex
	regs map[string]*registration // by export ID
	// written is the state the writer last wrote, by export ID, since the
	// last Rewrite.
	written map[string]EntryState
	wake    chan struct{}
	// idle is closed and replaced each time the writer has written every
	// registration change.
	idle chan struct{}
}

type registration struct {
	e         Export
	available bool
	removed   bool // deregistered, the entries not removed yet
}

func (reg *registration) want() EntryState {
	switch {
	case reg.removed:
		return EntryRemoved
	case reg.available:
		return EntryAvailable
	}
	return EntryUnavailable
}

// NewRegistrations returns an empty set of registrations.
func NewRegistrations() *Registrations {
	return &Registrations{regs: map[string]*registration{}, written: map[string]EntryState{},
		wake: make(chan struct{}, 1), idle: make(chan struct{})}
}

// Register records e as registered and unavailable, replacing a
// registration of the same ID, and wakes the writer. It never fails.
func (rs *Registrations) Register(e Export) error {
	rs.mu.Lock()
	rs.regs[e.ID()] = &registration{e: e}
	rs.mu.Unlock()
	rs.dirty()
	return nil
}

// SetAvailable records a registered e as available or not and wakes the
// writer. An e not registered (or deregistered) is an error naming its ID.
func (rs *Registrations) SetAvailable(e Export, available bool) error {
	rs.mu.Lock()
	reg := rs.regs[e.ID()]
	if reg != nil && !reg.removed {
		reg.available = available
	}
	rs.mu.Unlock()
	if reg == nil || reg.removed {
		return errors.New("not registered: " + e.ID())
	}
	rs.dirty()
	return nil
}

// Deregister records e as removed (the writer removes its entries, then
// forgets it) and wakes the writer. An e not registered is no error.
func (rs *Registrations) Deregister(e Export) error {
	rs.mu.Lock()
	if reg := rs.regs[e.ID()]; reg != nil {
		reg.removed = true
	}
	rs.mu.Unlock()
	rs.dirty()
	return nil
}

func (rs *Registrations) dirty() {
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// Wake returns the channel the writer waits on: it receives after
// changes (several changes may wake it once).
func (rs *Registrations) Wake() <-chan struct{} { return rs.wake }

// Pending returns a snapshot of the registrations whose entry differs
// from what was Written since the last Rewrite, removals included, in no
// set order.
func (rs *Registrations) Pending() []Registration {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []Registration
	for id, reg := range rs.regs {
		want := reg.want()
		if cur, ok := rs.written[id]; ok && cur == want {
			continue
		}
		out = append(out, Registration{Export: reg.e, Want: want})
	}
	return out
}

// WritePending is one pass of a writer: it writes each registration
// Pending lists with write, records each one written (Written) and counts
// its event (EntryState.Event) for the registry named registry, and, when
// every write succeeded, calls Settle. It returns the failures joined,
// each naming its export; the writer retries them later.
func (rs *Registrations) WritePending(registry string, write func(Registration) error) error {
	var errs []error
	for _, reg := range rs.Pending() {
		if err := write(reg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", reg.Export.ID(), err))
			continue
		}
		rs.Written(reg)
		metrics.RegistryEvent(registry, reg.Want.Event())
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	rs.Settle()
	return nil
}

// Written records that reg (from Pending) was written. A removal written
// forgets the export, unless it was registered again meanwhile.
func (rs *Registrations) Written(reg Registration) {
	id := reg.Export.ID()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.written[id] = reg.Want
	if reg.Want == EntryRemoved {
		if cur := rs.regs[id]; cur != nil && cur.removed {
			delete(rs.regs, id)
			delete(rs.written, id)
		}
	}
}

// Rewrite forgets what was written, so that Pending lists every
// registration again: for a new session or lease, whose entries are gone.
func (rs *Registrations) Rewrite() {
	rs.mu.Lock()
	clear(rs.written)
	rs.mu.Unlock()
}

// Settle ends a writer's pass that wrote everything Pending listed: when
// nothing is pending any more (no change came meanwhile), the Flush calls
// waiting return.
func (rs *Registrations) Settle() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for id, reg := range rs.regs {
		if cur, ok := rs.written[id]; !ok || cur != reg.want() || reg.removed {
			return
		}
	}
	close(rs.idle)
	rs.idle = make(chan struct{})
}

// Flush wakes the writer and waits until it has written every
// registration change (Settle), or ctx ends, which returns ctx.Err().
// With nothing registered it returns nil at once: nothing to remove.
func (rs *Registrations) Flush(ctx context.Context) error {
	rs.mu.Lock()
	idle, none := rs.idle, len(rs.regs) == 0
	rs.mu.Unlock()
	if none {
		return nil
	}
	rs.dirty()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HasRemovals reports whether the entries of a deregistered export are
// still to be removed.
func (rs *Registrations) HasRemovals() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, reg := range rs.regs {
		if reg.removed {
			return true
		}
	}
	return false
}
