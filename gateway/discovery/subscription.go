package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/telemetry/metrics"
)

// Target is a cluster that takes its endpoints from discovery: both
// *upstream.Cluster and *upstream.GRPCCluster implement it. Update
// replaces the whole set; it is called one at a time per target and must
// not block on traffic.
type Target interface {
	Update(set gateway.EndpointSet)
}

// Subscription is what a cluster subscribes to.
type Subscription struct {
	// Cluster names the cluster, for logs and the management API.
	Cluster string
	// Registry names an open registry of the Hub.
	Registry string
	Service  string
	Group    string
	// Protocol is the cluster's protocol (config.Cluster.Protocol:
	// "motan2", the default "" meaning it, or "grpc"). The cluster gets
	// only the entries of that protocol (AcceptsProtocol); the others are
	// logged once and skipped.
	Protocol string
	// Target receives the cluster's endpoint sets.
	Target Target
	// Gate, when set, is turned on and off by degrade commands.
	Gate *Gate
}

// Manager holds one configuration generation's subscriptions. It is made
// by Hub.NewManager and closed with the generation.
type Manager struct {
	hub *Hub
	log *slog.Logger

	mu     sync.Mutex
	subs   []*subscription
	closed bool
	// applied is closed and replaced each time a subscription processes
	// a registry delivery (Events).
	applied chan struct{}
}

// NewManager returns an empty manager of the Hub's registries.
func (h *Hub) NewManager() *Manager {
	return &Manager{hub: h, log: h.log, applied: make(chan struct{})}
}

// Events returns a channel closed when any subscription has processed
// its next registry delivery (entries, or a command applied or
// rejected): a way to wait for a change's effect.
func (m *Manager) Events() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applied
}

func (m *Manager) event() {
	m.mu.Lock()
	close(m.applied)
	m.applied = make(chan struct{})
	m.mu.Unlock()
}

// subscription is one cluster's subscription: the watches of its own
// group, of the groups its traffic command merges and of its commands.
type subscription struct {
	m   *Manager
	cfg Subscription
	hr  *hubRegistry
	// ready is closed at the first endpoint set delivered to the target.
	ready     chan struct{}
	readyOnce sync.Once

	mu sync.Mutex
	// groups are the watched groups (the own group and merged ones) and
	// each one's last known endpoints.
	groups   map[string]*groupWatch
	commands map[CommandKey]*commandState
	active   Active
	set      gateway.EndpointSet // last set given to the target
	// deliveries counts the entry lists the registry delivered.
	deliveries uint64
	sent       bool
	stops      []func() // command watches
	closed     bool

	// skipped remembers the entries of another protocol already logged.
	skipped BadEntries
}

type groupWatch struct {
	eps  []gateway.Endpoint
	stop func()
}

type commandState struct {
	text   string
	parsed *Command
	err    string // why the latest text was rejected ("" when accepted)
}

// Subscribe starts watching what sub names. The registry's last known
// endpoints for the service (from an earlier generation) are given to the
// target at once; registry reads follow in the background (see WaitReady).
func (m *Manager) Subscribe(sub Subscription) error {
	hr := m.hub.regs[sub.Registry]
	if hr == nil {
		return fmt.Errorf("cluster %s: no registry named %q", sub.Cluster, sub.Registry)
	}
	if err := checkClusterProtocol(sub.Cluster, sub.Protocol); err != nil {
		return err
	}
	s := &subscription{m: m, cfg: sub, hr: hr, ready: make(chan struct{}),
		groups: map[string]*groupWatch{}, commands: map[CommandKey]*commandState{}}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("cluster %s: subscriptions closed", sub.Cluster)
	}
	m.subs = append(m.subs, s)
	m.mu.Unlock()
	metrics.RegistryEvent(sub.Registry, "subscribe")

	s.mu.Lock()
	if lkg := m.hub.lastKnown(sub.Registry, sub.Group, s.lkgService()); len(lkg) > 0 {
		s.groups[sub.Group] = &groupWatch{eps: lkg}
		s.recompute()
	}
	s.watchGroup(sub.Group)
	keys := []CommandKey{{Group: sub.Group}}
	if app := hr.cfg.Application; app != "" {
		keys = append([]CommandKey{{Application: app}}, keys...)
	}
	for _, k := range keys {
		s.commands[k] = &commandState{}
	}
	s.mu.Unlock()
	// The commands last known (from an earlier generation) apply first,
	// so that a reload while the registry is unreachable keeps them; the
	// watches, started after, deliver what the registry holds now.
	for _, k := range keys {
		if text := m.hub.lastCommand(sub.Registry, k); text != "" {
			s.onCommand(k, text)
		}
	}
	s.mu.Lock()
	for _, k := range keys {
		s.stops = append(s.stops, hr.r.WatchCommand(k, func(text string) { s.onCommand(k, text) }))
	}
	s.mu.Unlock()
	return nil
}

// watchGroup starts watching group's entries. Called with s.mu held.
func (s *subscription) watchGroup(group string) {
	gw := s.groups[group]
	if gw == nil {
		gw = &groupWatch{eps: s.m.hub.lastKnown(s.cfg.Registry, group, s.lkgService())}
		s.groups[group] = gw
	}
	if gw.stop != nil {
		return
	}
	gw.stop = s.hr.r.WatchNodes(group, s.cfg.Service, func(eps []gateway.Endpoint) { s.onNodes(group, gw, eps) })
}

func (s *subscription) onNodes(group string, gw *groupWatch, eps []gateway.Endpoint) {
	s.mu.Lock()
	defer s.m.event()
	defer s.mu.Unlock()
	if s.closed || s.groups[group] != gw {
		return // a watch being stopped
	}
	s.deliveries++
	metrics.RegistryEvent(s.cfg.Registry, "notify")
	listed := len(eps)
	eps = s.filter(group, eps)
	if len(eps) == 0 {
		// No entry of the cluster's protocol counts as an empty list: the
		// last known endpoints stay.
		metrics.RegistryEvent(s.cfg.Registry, "empty_kept")
		if len(gw.eps) > 0 {
			s.m.log.Warn("registry lists no available entry the cluster calls; the last known endpoints keep serving",
				"cluster", s.cfg.Cluster, "group", group, "service", s.cfg.Service, "kept", len(gw.eps),
				"listed", listed, "protocols", entryProtocols(s.cfg.Protocol))
		}
		return
	}
	for i := range eps {
		eps[i].Group = group
	}
	sortEndpoints(eps)
	gw.eps = eps
	s.m.hub.remember(s.cfg.Registry, group, s.lkgService(), eps)
	s.recompute()
}

// filter returns the entries of eps the cluster calls (FilterProtocol),
// logging each entry of another protocol once (again when its protocol
// changes). Called with s.mu held.
func (s *subscription) filter(group string, eps []gateway.Endpoint) []gateway.Endpoint {
	kept, skipped := FilterProtocol(s.cfg.Protocol, eps)
	for _, ep := range skipped {
		if s.skipped.Note(group+"/"+ep.Addr, []byte(ep.Protocol)) {
			s.m.log.Warn("registry entry of another protocol skipped", "cluster", s.cfg.Cluster, "group", group,
				"service", s.cfg.Service, "entry", ep.Addr, "protocol", ep.Protocol, "cluster_protocol", protocolFamily(s.cfg.Protocol),
				"takes", entryProtocols(s.cfg.Protocol))
		}
	}
	return kept
}

// lkgService is the service name under which the Hub remembers the
// subscription's last known endpoints: one memory per protocol family.
func (s *subscription) lkgService() string {
	return s.cfg.Service + "|" + protocolFamily(s.cfg.Protocol)
}

func (s *subscription) onCommand(key CommandKey, text string) {
	s.mu.Lock()
	cs := s.commands[key]
	if s.closed || cs == nil {
		s.mu.Unlock()
		return
	}
	if text == cs.text && cs.err == "" {
		s.mu.Unlock()
		return
	}
	parsed, err := ParseCommand(text)
	if err != nil {
		s.m.log.Error("malformed registry command skipped; the command in force stays", "cluster", s.cfg.Cluster,
			"command", key.String(), "path", commandPath(s.hr.r, key), "error", err)
		cs.err = err.Error()
		s.mu.Unlock()
		metrics.RegistryEvent(s.cfg.Registry, "command_rejected")
		s.m.event()
		return
	}
	cs.text, cs.parsed, cs.err = text, parsed, ""
	s.m.hub.rememberCommand(s.cfg.Registry, key, text)
	var cmds []*Command
	if app := s.hr.cfg.Application; app != "" {
		cmds = append(cmds, s.commands[CommandKey{Application: app}].parsed)
	}
	cmds = append(cmds, s.commands[CommandKey{Group: s.cfg.Group}].parsed)
	s.active = Resolve(s.cfg.Service, cmds...)
	metrics.RegistryEvent(s.cfg.Registry, "command")
	s.m.log.Info("registry command applied", "cluster", s.cfg.Cluster, "command", key.String(),
		"traffic", s.active.Traffic != nil, "degrade", s.active.Degrade != nil, "switcher", s.active.Switcher != nil)

	// Watch the groups the traffic entry merges; stop the others.
	want := map[string]bool{s.cfg.Group: true}
	if tc := s.active.Traffic; tc != nil {
		groups, _ := tc.Groups()
		for _, g := range groups {
			want[g.Name] = true
		}
	}
	var stops []func()
	for g, gw := range s.groups {
		if !want[g] {
			if gw.stop != nil {
				stops = append(stops, gw.stop)
			}
			delete(s.groups, g)
		}
	}
	for g := range want {
		s.watchGroup(g)
	}
	if g := s.cfg.Gate; g != nil {
		if dc := s.active.Degrade; dc != nil {
			g.SetDegraded(fmt.Sprintf("%s, index %d: %s", key, dc.Index, dc.Remark))
		} else {
			g.SetDegraded("")
		}
	}
	var switches map[string]bool
	if sc := s.active.Switcher; sc != nil {
		switches, _ = parseSwitches(sc.Pattern)
	}
	s.recompute()
	s.mu.Unlock()
	s.m.hub.applySwitches(s, switches)
	for _, stop := range stops {
		stop() // outside s.mu: the watch's callback may be waiting for it
	}
	s.m.event()
}

// commandPath names where a command lives, for logs: the registry's own
// path when it can say (ZooKeeper, etcd), else the key.
func commandPath(r Registry, k CommandKey) string {
	if p, ok := r.(interface{ CommandPath(CommandKey) string }); ok {
		return p.CommandPath(k)
	}
	return k.String()
}

// recompute gives the target the set the groups' endpoints and the
// traffic entry make, when it changed. Called with s.mu held.
func (s *subscription) recompute() {
	known := make(map[string][]gateway.Endpoint, len(s.groups))
	for g, gw := range s.groups {
		known[g] = gw.eps
	}
	set, ok := ApplyTraffic(s.cfg.Group, s.active.Traffic, known, s.hr.localIP)
	if !ok {
		s.m.log.Warn("traffic command leaves no endpoint; the own group serves", "cluster", s.cfg.Cluster,
			"group", s.cfg.Group, "merge_groups", s.active.Traffic.MergeGroups, "route_rules", s.active.Traffic.RouteRules)
	}
	if len(set.Endpoints) == 0 {
		return // never wipe: nothing known yet
	}
	if s.sent && reflect.DeepEqual(set, s.set) {
		return
	}
	s.set, s.sent = set, true
	s.cfg.Target.Update(set)
	s.readyOnce.Do(func() { close(s.ready) })
	s.m.log.Debug("cluster endpoints updated from the registry", "cluster", s.cfg.Cluster, "endpoints", len(set.Endpoints),
		"group_weights", set.GroupWeights)
}

func sortEndpoints(eps []gateway.Endpoint) {
	sort.Slice(eps, func(i, j int) bool { return eps[i].Addr < eps[j].Addr })
}

// WaitReady waits until every subscription has given its target a first
// endpoint set, or ctx ends; it returns the clusters still waiting.
// A build waits (bounded) so that a new generation does not start with
// empty clusters.
func (m *Manager) WaitReady(ctx context.Context) []string {
	m.mu.Lock()
	subs := append([]*subscription(nil), m.subs...)
	m.mu.Unlock()
	var waiting []string
	for _, s := range subs {
		select {
		case <-s.ready:
		case <-ctx.Done():
			waiting = append(waiting, s.cfg.Cluster)
		}
	}
	return waiting
}

// Close stops every watch and waits for their callbacks. It leaves the
// targets with the endpoints they have.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	subs := m.subs
	m.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.closed = true
		stops := s.stops
		for _, gw := range s.groups {
			if gw.stop != nil {
				stops = append(stops, gw.stop)
			}
		}
		s.mu.Unlock()
		for _, stop := range stops {
			stop()
		}
		m.hub.applySwitches(s, nil)
	}
}

// ClusterState is a subscribed cluster's discovery state, for the
// management API.
type ClusterState struct {
	Cluster  string `json:"cluster"`
	Registry string `json:"registry"`
	Service  string `json:"service"`
	Group    string `json:"group"`
	// Commands are the command texts in force by where they come from
	// ("group G", "agent A"), with the error of a rejected newer text.
	Commands []CommandText `json:"commands"`
	Active   Active        `json:"active"`
	// Degraded is the degrade's reason while the cluster is degraded.
	Degraded string `json:"degraded,omitempty"`
	// Split is how the endpoint set in force divides traffic.
	Split     []GroupShare `json:"split"`
	Endpoints int          `json:"endpoints"`
	// Deliveries counts the entry lists the registry delivered (empty and
	// unchanged ones included).
	Deliveries uint64 `json:"deliveries"`
}

// CommandText is a command in force.
type CommandText struct {
	Source string `json:"source"`
	Text   string `json:"text"`
	// Rejected is why the latest text written there was not applied.
	Rejected string `json:"rejected,omitempty"`
}

// States returns every subscription's state.
func (m *Manager) States() []ClusterState {
	m.mu.Lock()
	subs := append([]*subscription(nil), m.subs...)
	m.mu.Unlock()
	out := make([]ClusterState, 0, len(subs))
	for _, s := range subs {
		s.mu.Lock()
		st := ClusterState{Cluster: s.cfg.Cluster, Registry: s.cfg.Registry, Service: s.cfg.Service, Group: s.cfg.Group,
			Active: s.active, Split: Split(s.set), Endpoints: len(s.set.Endpoints), Deliveries: s.deliveries}
		for k, cs := range s.commands {
			st.Commands = append(st.Commands, CommandText{Source: k.String(), Text: cs.text, Rejected: cs.err})
		}
		sort.Slice(st.Commands, func(i, j int) bool { return st.Commands[i].Source < st.Commands[j].Source })
		if s.cfg.Gate != nil {
			st.Degraded = s.cfg.Gate.Degraded()
		}
		s.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// DryRun is what a command would do to a cluster.
type DryRun struct {
	Cluster string       `json:"cluster"`
	Active  Active       `json:"active"`
	Degrade bool         `json:"degrade"`
	Split   []GroupShare `json:"split"`
	// Fallback is true when the command leaves no endpoint and the own
	// group would keep serving.
	Fallback  bool     `json:"fallback"`
	Endpoints []string `json:"endpoints"`
}

// ErrNotSubscribed is the error (wrapped, naming the cluster) of a
// Manager asked about a cluster it holds no subscription of.
var ErrNotSubscribed = errors.New("does not take its endpoints from a registry")

// DryRun computes the split text would produce on the named cluster,
// without applying it: the endpoints of groups the cluster does not watch
// yet are read from the registry (waiting up to its timeout). An unknown
// cluster is an ErrNotSubscribed; a malformed text, ParseCommand's error.
func (m *Manager) DryRun(ctx context.Context, cluster, text string) (*DryRun, error) {
	s := m.find(cluster)
	if s == nil {
		return nil, fmt.Errorf("cluster %q %w", cluster, ErrNotSubscribed)
	}
	cmd, err := ParseCommand(text)
	if err != nil {
		return nil, err
	}
	active := Resolve(s.cfg.Service, cmd)
	s.mu.Lock()
	known := map[string][]gateway.Endpoint{}
	for g, gw := range s.groups {
		known[g] = gw.eps
	}
	s.mu.Unlock()
	if tc := active.Traffic; tc != nil {
		groups, _ := tc.Groups()
		for _, g := range groups {
			if _, ok := known[g.Name]; !ok {
				known[g.Name] = s.readOnce(ctx, g.Name)
			}
		}
	}
	set, ok := ApplyTraffic(s.cfg.Group, active.Traffic, known, s.hr.localIP)
	dr := &DryRun{Cluster: cluster, Active: active, Degrade: active.Degrade != nil, Split: Split(set), Fallback: !ok}
	for _, ep := range set.Endpoints {
		dr.Endpoints = append(dr.Endpoints, ep.Group+"/"+ep.Addr)
	}
	return dr, nil
}

// readOnce reads a group's entries with a watch stopped after its first
// delivery, within the registry's timeout.
func (s *subscription) readOnce(ctx context.Context, group string) []gateway.Endpoint {
	got := make(chan []gateway.Endpoint, 1)
	stop := s.hr.r.WatchNodes(group, s.cfg.Service, func(eps []gateway.Endpoint) {
		select {
		case got <- eps:
		default:
		}
	})
	defer stop()
	t := time.NewTimer(s.hr.cfg.Timeout)
	defer t.Stop()
	select {
	case eps := <-got:
		eps, _ = FilterProtocol(s.cfg.Protocol, eps)
		for i := range eps {
			eps[i].Group = group
		}
		return eps
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

func (m *Manager) find(cluster string) *subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if s.cfg.Cluster == cluster {
			return s
		}
	}
	return nil
}

// Registry returns the registry and group of the named cluster's
// subscription, for applying a command to it.
func (m *Manager) Registry(cluster string) (registry, group string, ok bool) {
	s := m.find(cluster)
	if s == nil {
		return "", "", false
	}
	return s.cfg.Registry, s.cfg.Group, true
}
