package gateway

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Switch is a named on/off flag flipped at run time (management API,
// registry commands) and read on the hot path with one atomic load.
type Switch struct {
	name string
	on   atomic.Bool
}

// Name returns the switch's name.
func (s *Switch) Name() string { return s.name }

// On reports whether the switch is on.
func (s *Switch) On() bool { return s.on.Load() }

// Set turns the switch on or off.
func (s *Switch) Set(on bool) { s.on.Store(on) }

// Switches is the set of named switches. A switch, once created, lives as
// long as the process, so its state survives configuration reloads.
type Switches struct {
	mu sync.Mutex
	m  map[string]*Switch
}

// NewSwitches returns an empty set.
func NewSwitches() *Switches { return &Switches{m: map[string]*Switch{}} }

// Declare returns the switch named name, creating it with the value on
// when it does not exist yet; an existing switch keeps its value.
func (s *Switches) Declare(name string, on bool) *Switch {
	s.mu.Lock()
	defer s.mu.Unlock()
	sw, ok := s.m[name]
	if !ok {
		sw = &Switch{name: name}
		sw.on.Store(on)
		s.m[name] = sw
	}
	return sw
}

// Lookup returns the switch named name, or nil.
func (s *Switches) Lookup(name string) *Switch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[name]
}

// SwitchState is a switch's name and value.
type SwitchState struct {
	Name string `json:"name"`
	On   bool   `json:"on"`
}

// List returns every switch's state, sorted by name.
func (s *Switches) List() []SwitchState {
	s.mu.Lock()
	out := make([]SwitchState, 0, len(s.m))
	for _, sw := range s.m {
		out = append(out, SwitchState{sw.name, sw.On()})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
