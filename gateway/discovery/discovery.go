// Package discovery connects meshgate to service registries: clusters
// subscribe to the endpoints of a Motan service and group, the Motan2
// ingress registers the services it exports, and operators steer traffic
// between groups (data centres) or degrade a service with commands
// written in the registry, in Motan's command format.
//
// A registry is a plugin registered by type name (static, zookeeper,
// etcd; see the subpackages); the configuration's registries section
// names instances of them. docs/discovery.md describes each registry's
// layout and the command format.
//
// The guarantees every plugin and the Manager give together:
//
//   - a change of a service's entries reaches the cluster's endpoint set
//     within a second (ZooKeeper and etcd watches deliver at once);
//   - a failed read, a registry that cannot be reached, and an empty
//     entry list never replace a cluster's last known endpoints;
//   - after a reconnection or a new session, watches are set again and
//     registrations written again;
//   - a malformed entry or command is logged with its path and skipped.
package discovery

import (
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
)

// Registry is one connection to one registry. Its methods are safe for
// concurrent use. Watches deliver on goroutines of their own, one update
// at a time per watch; a stop function stops its watch and returns once
// no callback of that watch runs or will run.
type Registry interface {
	// WatchNodes calls fn with the available entries of service in group
	// when they are first read and every time they change, until stop.
	// Only successful reads are delivered, with the entries that parsed
	// (malformed ones are logged and skipped), whatever their protocol
	// (Endpoint.Protocol: the subscription filters); fn may receive an empty
	// list (the caller decides what it means). Watching a service nobody
	// registered yet is not an error: fn gets an empty list, then the
	// entries once they appear.
	WatchNodes(group, service string, fn func([]gateway.Endpoint)) (stop func())
	// WatchCommand calls fn with the command text at key ("" when there
	// is none) when first read and every time it changes, until stop.
	WatchCommand(key CommandKey, fn func(string)) (stop func())
	// Register writes e as an unavailable entry (Motan's
	// unavailableServer): visible to operators, not to clients. The
	// registry keeps e and writes it again after a session loss.
	Register(e Export) error
	// SetAvailable moves a registered e to the available entries, or
	// back.
	SetAvailable(e Export, available bool) error
	// Deregister removes e's entries and forgets it.
	Deregister(e Export) error
	// Close stops every watch, removes the entries this connection wrote
	// (ephemeral ones go with the session) and disconnects.
	Close() error
}

// CommandKey names where a command lives: the command of a group (the
// group's clusters obey it) or the agent command of an application,
// which takes precedence. Exactly one is set.
type CommandKey struct {
	Group       string
	Application string
}

func (k CommandKey) String() string {
	if k.Application != "" {
		return "agent " + k.Application
	}
	return "group " + k.Group
}

// Export is a service entry meshgate writes.
type Export struct {
	URL *URL
}

// ID identifies an export: its group, service and address.
func (e Export) ID() string { return e.URL.Group + "/" + e.URL.Path + "/" + e.URL.Address() }

// Opener opens a registry from its configuration. It validates what is
// specific to the plugin and may return before the registry is reached:
// reads retry in the background.
type Opener func(cfg *config.Registry, log *slog.Logger) (Registry, error)

var (
	pluginsMu sync.RWMutex
	plugins   = map[string]Opener{}
)

// RegisterPlugin makes a registry type available under name. It panics
// on a duplicate name (a programming error, at init).
func RegisterPlugin(name string, open Opener) {
	pluginsMu.Lock()
	defer pluginsMu.Unlock()
	if _, dup := plugins[name]; dup {
		panic("discovery: registry plugin " + name + " registered twice")
	}
	plugins[name] = open
}

// Plugins returns the registered type names, sorted.
func Plugins() []string {
	pluginsMu.RLock()
	defer pluginsMu.RUnlock()
	out := make([]string, 0, len(plugins))
	for n := range plugins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Open opens the registry cfg describes with its type's plugin.
func Open(cfg *config.Registry, log *slog.Logger) (Registry, error) {
	pluginsMu.RLock()
	open := plugins[cfg.Type]
	pluginsMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("registry %s: unknown type %q (registered: %v)", cfg.Name, cfg.Type, Plugins())
	}
	r, err := open(cfg, log.With("registry", cfg.Name))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", cfg.Name, err)
	}
	return r, nil
}

// Addresses splits a registry's address list: comma-separated, spaces
// around an address and empty items ignored.
func Addresses(list string) []string {
	var out []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// LocalIP returns the first non-loopback IPv4 address of this host, or
// 127.0.0.1 when there is none: Motan's default for the advertised host
// and the source side of route rules.
func LocalIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// maxBadEntries bounds what BadEntries remembers.
const maxBadEntries = 1000

// BadEntries remembers the malformed entries a registry plugin logged, so
// that each is logged once (again only when its data changes) rather than
// at every read of its service. It remembers at most 1000 entries, then
// forgets them all. The zero value is ready; it is safe for concurrent
// use.
type BadEntries struct {
	mu   sync.Mutex
	seen map[string]string // path -> data
}

// Note records the malformed entry at path holding data and reports
// whether it is news: not noted yet with this data.
func (b *BadEntries) Note(path string, data []byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if prev, ok := b.seen[path]; ok && prev == string(data) {
		return false
	}
	if b.seen == nil || len(b.seen) >= maxBadEntries {
		b.seen = map[string]string{}
	}
	b.seen[path] = string(data)
	return true
}
