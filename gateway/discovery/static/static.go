// Package static is the registry plugin "static": entries and commands
// listed in the configuration, kept in memory. It needs no server; it
// serves tests, single-host setups and trying commands out: the
// management API can set its commands at run time (PUT /commands), and
// services the Motan2 ingress exports are added to its entries, so a
// meshgate can discover what it serves itself.
package static

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
)

func init() { discovery.RegisterPlugin(config.RegistryStatic, Open) }

// Registry is a static registry.
type Registry struct {
	log *slog.Logger

	mu       sync.Mutex
	nodes    map[string]map[string]*node // "group/service" -> addr -> entry
	commands map[discovery.CommandKey]string
	watches  map[*watch]struct{}
}

type node struct {
	ep        gateway.Endpoint
	available bool
}

type watch struct {
	read   func() // delivers the current state
	wake   chan struct{}
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

// stop ends the watch and waits for its goroutine.
func (w *watch) stop() {
	w.once.Do(func() { close(w.done) })
	<-w.exited
}

// Open returns the static registry cfg lists.
func Open(cfg *config.Registry, log *slog.Logger) (discovery.Registry, error) {
	r := &Registry{log: log, nodes: map[string]map[string]*node{}, commands: map[discovery.CommandKey]string{},
		watches: map[*watch]struct{}{}}
	for i, n := range cfg.Nodes {
		if _, _, err := net.SplitHostPort(n.Addr); err != nil {
			return nil, fmt.Errorf("nodes[%d]: %q is not host:port", i, n.Addr)
		}
		r.put(n.Group, n.Service, &node{ep: gateway.Endpoint{Addr: n.Addr, Weight: n.Weight, DC: n.DC, Group: n.Group}, available: true})
	}
	for g, text := range cfg.Commands {
		if _, err := discovery.ParseCommand(text); err != nil {
			return nil, fmt.Errorf("commands.%s: %w", g, err)
		}
		r.commands[discovery.CommandKey{Group: g}] = text
	}
	return r, nil
}

func (r *Registry) put(group, service string, n *node) {
	k := group + "/" + service
	if r.nodes[k] == nil {
		r.nodes[k] = map[string]*node{}
	}
	r.nodes[k][n.ep.Addr] = n
}

func (r *Registry) start(read func()) func() {
	w := &watch{read: read, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	w.wake <- struct{}{}
	r.mu.Lock()
	r.watches[w] = struct{}{}
	r.mu.Unlock()
	go func() {
		defer close(w.exited)
		for {
			select {
			case <-w.done:
				return
			case <-w.wake:
				w.read()
			}
		}
	}()
	return func() {
		r.mu.Lock()
		delete(r.watches, w)
		r.mu.Unlock()
		w.stop()
	}
}

// changed wakes every watch (each reads what concerns it).
func (r *Registry) changed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for w := range r.watches {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// WatchNodes implements discovery.Registry.
func (r *Registry) WatchNodes(group, service string, fn func([]gateway.Endpoint)) func() {
	var last []gateway.Endpoint
	first := true
	return r.start(func() {
		r.mu.Lock()
		var eps []gateway.Endpoint
		for _, n := range r.nodes[group+"/"+service] {
			if n.available {
				eps = append(eps, n.ep)
			}
		}
		r.mu.Unlock()
		if !first && sameEndpoints(last, eps) {
			return
		}
		first, last = false, eps
		fn(append([]gateway.Endpoint(nil), eps...))
	})
}

func sameEndpoints(a, b []gateway.Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]gateway.Endpoint{}
	for _, e := range a {
		m[e.Addr] = e
	}
	for _, e := range b {
		o, ok := m[e.Addr]
		if !ok || o.Weight != e.Weight || o.DC != e.DC {
			return false
		}
	}
	return true
}

// WatchCommand implements discovery.Registry.
func (r *Registry) WatchCommand(key discovery.CommandKey, fn func(string)) func() {
	last, first := "", true
	return r.start(func() {
		r.mu.Lock()
		text := r.commands[key]
		r.mu.Unlock()
		if !first && text == last {
			return
		}
		first, last = false, text
		fn(text)
	})
}

// SetCommand sets (or, with "", removes) the command at key. A malformed
// command is refused.
func (r *Registry) SetCommand(key discovery.CommandKey, text string) error {
	if _, err := discovery.ParseCommand(text); err != nil {
		return err
	}
	r.mu.Lock()
	if text == "" {
		delete(r.commands, key)
	} else {
		r.commands[key] = text
	}
	r.mu.Unlock()
	r.changed()
	return nil
}

// Register implements discovery.Registry.
func (r *Registry) Register(e discovery.Export) error {
	r.mu.Lock()
	r.put(e.URL.Group, e.URL.Path, &node{ep: e.URL.Endpoint()})
	r.mu.Unlock()
	r.changed()
	return nil
}

// SetAvailable implements discovery.Registry.
func (r *Registry) SetAvailable(e discovery.Export, available bool) error {
	r.mu.Lock()
	n := r.nodes[e.URL.Group+"/"+e.URL.Path][e.URL.Address()]
	if n != nil {
		n.available = available
	}
	r.mu.Unlock()
	if n == nil {
		return errors.New("not registered: " + e.ID())
	}
	r.changed()
	return nil
}

// Deregister implements discovery.Registry.
func (r *Registry) Deregister(e discovery.Export) error {
	r.mu.Lock()
	delete(r.nodes[e.URL.Group+"/"+e.URL.Path], e.URL.Address())
	r.mu.Unlock()
	r.changed()
	return nil
}

// Close implements discovery.Registry: it stops the watches.
func (r *Registry) Close() error {
	r.mu.Lock()
	ws := make([]*watch, 0, len(r.watches))
	for w := range r.watches {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		w.stop()
	}
	r.mu.Lock()
	r.watches = map[*watch]struct{}{}
	r.mu.Unlock()
	return nil
}
