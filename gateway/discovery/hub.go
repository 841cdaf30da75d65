package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
)

// Hub is the process-wide side of discovery: the open registries (one
// connection each, kept across configuration reloads), the last known
// endpoints of every subscribed service (so that a reload while a
// registry is unreachable starts from them), the exported services
// registered by the server-agent role, and the switches switcher commands
// set. Generations subscribe through Managers the Hub makes.
type Hub struct {
	log      *slog.Logger
	switches *gateway.Switches

	regs  map[string]*hubRegistry
	order []string

	mu  sync.Mutex
	lkg map[string][]gateway.Endpoint // "registry|group|service"
	// cmds are the command texts last accepted, by "registry|key".
	cmds map[string]string
	// overridden are the switches a switcher command set, with the value
	// each had before, to restore when no command sets them any more.
	overridden map[string]bool
	// wanted are the switch values each subscription's switcher command
	// asks for, by subscription.
	wanted  map[*subscription]map[string]bool
	exports []*exported
	closed  bool
}

type hubRegistry struct {
	cfg     config.Registry
	r       Registry
	localIP string
}

type exported struct {
	registry string
	e        Export
	state    string // registered, available, removed
}

// NewHub opens every configured registry. An error (an unknown type, a
// plugin's configuration error) closes the ones already open.
func NewHub(cfgs []config.Registry, switches *gateway.Switches, log *slog.Logger) (*Hub, error) {
	if switches == nil {
		switches = gateway.NewSwitches()
	}
	h := &Hub{log: log, switches: switches, regs: map[string]*hubRegistry{},
		lkg: map[string][]gateway.Endpoint{}, cmds: map[string]string{}, overridden: map[string]bool{}, wanted: map[*subscription]map[string]bool{}}
	for i := range cfgs {
		cfg := cfgs[i]
		r, err := Open(&cfg, log)
		if err != nil {
			h.Close()
			return nil, err
		}
		ip := cfg.LocalIP
		if ip == "" {
			ip = LocalIP()
		}
		h.regs[cfg.Name] = &hubRegistry{cfg: cfg, r: r, localIP: ip}
		h.order = append(h.order, cfg.Name)
	}
	return h, nil
}

// Registry returns the open registry named name, or nil.
func (h *Hub) Registry(name string) Registry {
	if hr := h.regs[name]; hr != nil {
		return hr.r
	}
	return nil
}

// Export registers a service entry in the named registry as unavailable
// (call SetAvailable once the ingress serves). The Hub keeps it until
// Close: it outlives configuration reloads.
func (h *Hub) Export(registry string, e Export) error {
	hr := h.regs[registry]
	if hr == nil {
		return fmt.Errorf("export %s: no registry named %q", e.ID(), registry)
	}
	if err := hr.r.Register(e); err != nil {
		return fmt.Errorf("export %s in registry %s: %w", e.ID(), registry, err)
	}
	h.mu.Lock()
	h.exports = append(h.exports, &exported{registry: registry, e: e, state: "registered"})
	h.mu.Unlock()
	return nil
}

// SetAvailable makes every exported entry available (or unavailable).
// Errors are joined; each export is tried.
func (h *Hub) SetAvailable(available bool) error {
	h.mu.Lock()
	exps := append([]*exported(nil), h.exports...)
	h.mu.Unlock()
	var errs []error
	for _, x := range exps {
		if err := h.regs[x.registry].r.SetAvailable(x.e, available); err != nil {
			errs = append(errs, fmt.Errorf("export %s in registry %s: %w", x.e.ID(), x.registry, err))
			continue
		}
		h.mu.Lock()
		x.state = "registered"
		if available {
			x.state = "available"
		}
		h.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Flush waits until the registries that write in the background
// (ZooKeeper, etcd) have written every registration change, or ctx ends.
func (h *Hub) Flush(ctx context.Context) error {
	var errs []error
	for _, name := range h.order {
		if f, ok := h.regs[name].r.(interface{ Flush(context.Context) error }); ok {
			if err := f.Flush(ctx); err != nil {
				errs = append(errs, fmt.Errorf("registry %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ExportState is an exported entry and its state, for the management API.
type ExportState struct {
	Registry string `json:"registry"`
	URL      string `json:"url"`
	// State is registered (unavailable), available or removed.
	State string `json:"state"`
}

// Exports lists the exported entries.
func (h *Hub) Exports() []ExportState {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]ExportState, 0, len(h.exports))
	for _, x := range h.exports {
		out = append(out, ExportState{Registry: x.registry, URL: x.e.URL.String(), State: x.state})
	}
	return out
}

// Close deregisters every export (marking it unavailable first, so that
// clients stop picking it before it disappears) and closes the
// registries. It is idempotent.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	exps := h.exports
	h.mu.Unlock()
	var errs []error
	for _, x := range exps {
		r := h.regs[x.registry].r
		h.mu.Lock()
		available := x.state == "available"
		h.mu.Unlock()
		if available {
			if err := r.SetAvailable(x.e, false); err != nil {
				errs = append(errs, err)
			}
		}
		if err := r.Deregister(x.e); err != nil {
			errs = append(errs, err)
		}
		h.mu.Lock()
		x.state = "removed"
		h.mu.Unlock()
	}
	for _, name := range h.order {
		if err := h.regs[name].r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("registry %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func lkgKey(registry, group, service string) string { return registry + "|" + group + "|" + service }

func (h *Hub) lastKnown(registry, group, service string) []gateway.Endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lkg[lkgKey(registry, group, service)]
}

func (h *Hub) remember(registry, group, service string, eps []gateway.Endpoint) {
	h.mu.Lock()
	h.lkg[lkgKey(registry, group, service)] = eps
	h.mu.Unlock()
}

func (h *Hub) lastCommand(registry string, k CommandKey) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cmds[registry+"|"+k.String()]
}

func (h *Hub) rememberCommand(registry string, k CommandKey, text string) {
	h.mu.Lock()
	h.cmds[registry+"|"+k.String()] = text
	h.mu.Unlock()
}

// applySwitches records what s's switcher entry asks for (nil: nothing)
// and sets the switches: a switch some command names takes the command's
// value (the first subscription's, in no set order, when they disagree);
// one no command names any more gets back the value it had before.
// Unknown switch names are logged and skipped, as motan-go sets existing
// switchers only.
func (h *Hub) applySwitches(s *subscription, want map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if want == nil {
		delete(h.wanted, s)
	} else {
		h.wanted[s] = want
	}
	union := map[string]bool{}
	for _, w := range h.wanted {
		for name, on := range w {
			if _, ok := union[name]; !ok {
				union[name] = on
			}
		}
	}
	names := make([]string, 0, len(union))
	for n := range union {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		sw := h.switches.Lookup(name)
		if sw == nil {
			h.log.Warn("switcher command names an unknown switch; skipped", "switch", name)
			continue
		}
		if _, ok := h.overridden[name]; !ok {
			h.overridden[name] = sw.On()
		}
		sw.Set(union[name])
	}
	for name, before := range h.overridden {
		if _, ok := union[name]; !ok {
			if sw := h.switches.Lookup(name); sw != nil {
				sw.Set(before)
			}
			delete(h.overridden, name)
		}
	}
}

// NewExport builds the entry of a configured export: the service served
// at addr (the ingress's, "host:port"; an unspecified host is replaced by
// the registry's local IP).
func (h *Hub) NewExport(x config.Export, ingressAddr string) (Export, error) {
	hr := h.regs[x.Registry]
	if hr == nil {
		return Export{}, fmt.Errorf("export %s/%s: no registry named %q", x.Group, x.Service, x.Registry)
	}
	addr := x.Address
	if addr == "" {
		addr = ingressAddr
	}
	u, err := ParseURL("motan2://" + addr + "/" + x.Service)
	if err != nil {
		return Export{}, fmt.Errorf("export %s/%s: %w", x.Group, x.Service, err)
	}
	if x.Address == "" && (u.Host == "" || u.Host == "0.0.0.0" || u.Host == "::") {
		u.Host = hr.localIP
	}
	u.Group = x.Group
	// The parameters a motan-go server agent writes; params override.
	u.Params = map[string]string{"nodeType": "service", "serialization": "simple"}
	for k, v := range x.Params {
		u.Params[k] = v
	}
	if x.Weight > 0 {
		u.Params["weight"] = strconv.Itoa(x.Weight)
	}
	if x.DC != "" {
		u.Params["dc"] = x.DC
	}
	if x.Application != "" {
		u.Params["application"] = x.Application
	}
	return Export{URL: u}, nil
}
