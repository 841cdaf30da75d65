package assembly

// Discovery wiring (docs/discovery.md).
//
// The registries are process-wide (a discovery.Hub opened at Start,
// closed last at Shutdown): their connections, the last known endpoints
// of every subscribed service and the exported services' registrations
// outlive configuration reloads. Each generation subscribes its clusters
// through a discovery.Manager of its own, started after its build and
// before the swap (waiting, bounded, for the first endpoint sets, so that
// a reload never serves from empty clusters) and closed with the
// generation. A cluster with a discovery section sits behind a
// discovery.Gate, the cluster-level degrade registry commands turn on.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"

	// The registry plugins the configuration can name.
	_ "github.com/meshgate/meshgate/gateway/discovery/etcd"
	_ "github.com/meshgate/meshgate/gateway/discovery/static"
	_ "github.com/meshgate/meshgate/gateway/discovery/zookeeper"
)

// openDiscovery opens the configured registries.
func (g *Gateway) openDiscovery(cfg *config.Config) error {
	hub, err := discovery.NewHub(cfg.Registries, g.env.Switches, g.log.With("component", "discovery"))
	if err != nil {
		return err
	}
	g.hub = hub
	return nil
}

// gateDiscovered puts every cluster that takes its endpoints from a
// registry behind a degrade gate. Called by build before the chains are
// built on the invokers.
func (b *Built) gateDiscovered() {
	for _, cc := range b.cfg.Clusters {
		if cc.Discovery == nil || b.invokers[cc.Name] == nil {
			continue
		}
		gate := discovery.NewGate(cc.Name, b.invokers[cc.Name])
		if b.gates == nil {
			b.gates = map[string]*discovery.Gate{}
		}
		b.gates[cc.Name], b.invokers[cc.Name] = gate, gate
	}
}

// readyWait bounds how long a build waits for the first endpoint sets.
func readyWait(cfg *config.Config) time.Duration {
	d := time.Duration(0)
	for _, r := range cfg.Registries {
		d = max(d, r.Timeout)
	}
	return d
}

// subscribe starts the subscriptions of built's clusters and waits
// (bounded by the registries' timeouts) for their first endpoint sets; a
// cluster still empty then is logged and fills when its registry answers.
func (g *Gateway) subscribe(built *Built) {
	if g.hub == nil {
		return
	}
	mgr := g.hub.NewManager()
	n := 0
	for _, cc := range built.cfg.Clusters {
		d := cc.Discovery
		if d == nil {
			continue
		}
		target, ok := any(built.clusters[cc.Name]).(discovery.Target)
		if !ok {
			g.log.Error("cluster cannot take endpoints from a registry", "cluster", cc.Name)
			continue
		}
		// The cluster's protocol picks the entries it takes: motan2 (and
		// motan) entries for a Motan2 cluster, grpc entries for a gRPC one.
		if err := mgr.Subscribe(discovery.Subscription{Cluster: cc.Name, Registry: d.Registry, Service: d.Service,
			Group: d.Group, Protocol: cc.Protocol, Target: target, Gate: built.gates[cc.Name]}); err != nil {
			g.log.Error("cluster not subscribed", "cluster", cc.Name, "error", err)
			continue
		}
		n++
	}
	built.disc = mgr
	// The subscriptions stop before the clusters close.
	built.closers = append([]func(){mgr.Close}, built.closers...)
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyWait(built.cfg))
	defer cancel()
	if waiting := mgr.WaitReady(ctx); len(waiting) > 0 {
		g.log.Warn("no endpoints from the registry yet; these clusters answer UNAVAILABLE until their registry answers",
			"clusters", waiting)
	}
}

// exportServices registers the Motan2 ingress's exports (unavailable),
// then marks them available: the ingress serves from here on. Writing to
// a registry happens in the background: an unreachable registry delays
// the entries, never the start.
func (g *Gateway) exportServices(cfg *config.Config) error {
	if g.hub == nil || cfg.Motan2 == nil || len(cfg.Motan2.Export) == 0 {
		return nil
	}
	addr := g.motan2Ln.Addr().String()
	if host, port, err := net.SplitHostPort(addr); err == nil && net.ParseIP(host).IsUnspecified() {
		addr = net.JoinHostPort("", port) // the registry's local IP is advertised
	}
	for _, x := range cfg.Motan2.Export {
		e, err := g.hub.NewExport(x, addr)
		if err != nil {
			return err
		}
		if err := g.hub.Export(x.Registry, e); err != nil {
			return err
		}
		g.log.Info("service exported", "registry", x.Registry, "entry", e.URL.String())
	}
	return g.hub.SetAvailable(true)
}

// unexport marks the exported entries unavailable: the first step of a
// graceful shutdown, so that clients stop picking this agent while its
// ingress drains.
func (g *Gateway) unexport() {
	if g.hub == nil {
		return
	}
	if len(g.hub.Exports()) == 0 {
		return
	}
	if err := g.hub.SetAvailable(false); err != nil {
		g.log.Warn("exported services not marked unavailable", "error", err)
	}
	// Written before the ingress drains (bounded), so clients see the
	// entries unavailable before they disappear.
	ctx, cancel := context.WithTimeout(context.Background(), readyWait(g.cur.Load().cfg))
	defer cancel()
	if err := g.hub.Flush(ctx); err != nil {
		g.log.Warn("exported services not marked unavailable in time", "error", err)
	}
}

// closeDiscovery deregisters the exports and closes the registries.
func (g *Gateway) closeDiscovery() {
	if g.hub == nil {
		return
	}
	if err := g.hub.Close(); err != nil {
		g.log.Warn("registries closed with errors", "error", err)
	}
}

// registryChanges reports a change of the registries section, which a
// reload cannot apply (connections and registrations are process-wide).
func registryChanges(old, new *config.Config) []string {
	if reflect.DeepEqual(old.Registries, new.Registries) {
		return nil
	}
	return []string{"registries changed: restart required"}
}

var _ admin.Commander = (*Gateway)(nil)

// Commands implements admin.Commander: the discovery state of every
// subscribed cluster of the generation in force and the exported entries.
func (g *Gateway) Commands() admin.CommandsState {
	st := admin.CommandsState{Clusters: []discovery.ClusterState{}, Exports: []discovery.ExportState{}}
	if mgr := g.cur.Load().built.disc; mgr != nil {
		st.Clusters = mgr.States()
	}
	if g.hub != nil {
		st.Exports = g.hub.Exports()
	}
	return st
}

// DryRunCommand implements admin.Commander.
func (g *Gateway) DryRunCommand(ctx context.Context, cluster, command string) (*discovery.DryRun, error) {
	mgr := g.cur.Load().built.disc
	if mgr == nil {
		return nil, &admin.Error{Status: 404, Message: "no cluster takes its endpoints from a registry"}
	}
	dr, err := mgr.DryRun(ctx, cluster, command)
	if errors.Is(err, discovery.ErrNotSubscribed) {
		return nil, &admin.Error{Status: 404, Message: err.Error()}
	}
	if err != nil {
		return nil, &admin.Error{Status: 400, Message: err.Error()}
	}
	return dr, nil
}

// commandSetter is a registry whose commands meshgate may write (static).
type commandSetter interface {
	SetCommand(key discovery.CommandKey, text string) error
}

// ApplyCommand implements admin.Commander: it sets the command of the
// group of the named cluster's subscription, in a registry that accepts
// commands from meshgate (static). Commands of ZooKeeper and etcd are
// written there by operators' tools, not through meshgate.
func (g *Gateway) ApplyCommand(cluster, command string) error {
	mgr := g.cur.Load().built.disc
	if mgr == nil {
		return &admin.Error{Status: 404, Message: "no cluster takes its endpoints from a registry"}
	}
	reg, group, ok := mgr.Registry(cluster)
	if !ok {
		return &admin.Error{Status: 404, Message: fmt.Sprintf("cluster %q %v", cluster, discovery.ErrNotSubscribed)}
	}
	cs, ok := g.hub.Registry(reg).(commandSetter)
	if !ok {
		return &admin.Error{Status: 409, Message: fmt.Sprintf("registry %s holds its own commands: write the command at its command node (docs/discovery.md)", reg)}
	}
	events := mgr.Events()
	if err := cs.SetCommand(discovery.CommandKey{Group: group}, command); err != nil {
		var ae *admin.Error
		if errors.As(err, &ae) {
			return err
		}
		return &admin.Error{Status: 400, Message: err.Error()}
	}
	// Answer once the subscription applied it (bounded), so that the
	// caller reads the new state.
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	for !commandInForce(mgr, cluster, group, command) {
		select {
		case <-events:
			events = mgr.Events()
		case <-deadline.C:
			return nil
		}
	}
	return nil
}

func commandInForce(mgr *discovery.Manager, cluster, group, text string) bool {
	for _, st := range mgr.States() {
		if st.Cluster != cluster {
			continue
		}
		for _, c := range st.Commands {
			if c.Source == (discovery.CommandKey{Group: group}).String() {
				return c.Text == text
			}
		}
	}
	return false
}
