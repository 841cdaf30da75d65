package config

import (
	"net"
	"strings"
	"time"
)

// Registry is one service registry (docs/discovery.md): where clusters
// find their endpoints and the Motan2 ingress registers the services it
// exports. Registries are process-wide: their connections outlive
// configuration reloads, and changing this section needs a restart.
type Registry struct {
	// Name identifies the registry for clusters and exports (required).
	Name string `yaml:"name"`
	// Type is the plugin: static, zookeeper or etcd (required).
	Type string `yaml:"type"`
	// Address lists the registry's servers, "host:port" separated by
	// commas (zookeeper, etcd; required for them).
	Address string `yaml:"address"`
	// SessionTimeout is the ZooKeeper session timeout, or the etcd lease
	// TTL of registered entries (default 10s; at least 1s for etcd).
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Timeout bounds connecting and each request (default 3s).
	Timeout time.Duration `yaml:"timeout"`
	// Prefix is the etcd key prefix (default /meshgate); ZooKeeper always
	// uses Motan's /motan root.
	Prefix string `yaml:"prefix"`
	// NodeData is how ZooKeeper node data is written: text (default, as
	// motan-go writes it) or java (a Java-serialized string, as Java
	// Motan's ZkClient writes it). Both are always read.
	NodeData string `yaml:"node_data"`
	// LocalIP is this host's address for route rules ("A to B": A is
	// matched against it) and the default advertised host of exports
	// (default: the first non-loopback IPv4 address).
	LocalIP string `yaml:"local_ip"`
	// Application, when set, also subscribes the agent command at
	// /motan/agent/APPLICATION/command (ZooKeeper; etcd:
	// PREFIX/agent-commands/APPLICATION), which takes precedence over the
	// groups' commands, as in motan-go.
	Application string `yaml:"application"`
	// Nodes are the entries of a static registry.
	Nodes []StaticNode `yaml:"nodes"`
	// Commands are a static registry's commands by group (JSON in Motan's
	// command format); the management API can replace them at run time.
	Commands map[string]string `yaml:"commands"`
}

// StaticNode is one entry of a static registry.
type StaticNode struct {
	Group   string `yaml:"group"`
	Service string `yaml:"service"`
	// Addr is "host:port".
	Addr   string `yaml:"addr"`
	Weight int    `yaml:"weight"`
	DC     string `yaml:"dc"`
}

// Registry types.
const (
	RegistryStatic    = "static"
	RegistryZooKeeper = "zookeeper"
	RegistryEtcd      = "etcd"
)

// ClusterDiscovery makes a cluster take its endpoints from a registry
// instead of a fixed endpoint list: a motan2 cluster the service's motan2
// (and motan) entries, a grpc cluster its grpc entries
// (docs/discovery.md).
type ClusterDiscovery struct {
	// Registry names an entry of registries (required).
	Registry string `yaml:"registry"`
	// Service is the Motan service (path) subscribed (required).
	Service string `yaml:"service"`
	// Group is the Motan group subscribed (required); registry commands
	// of this group apply to the cluster.
	Group string `yaml:"group"`
}

// Export registers a service the Motan2 ingress serves in a registry, as
// a motan-go server agent does: unavailable first, available once the
// ingress serves, unavailable then removed on graceful shutdown.
type Export struct {
	// Registry names an entry of registries (required).
	Registry string `yaml:"registry"`
	// Service and Group are the Motan service and group registered
	// (required).
	Service string `yaml:"service"`
	Group   string `yaml:"group"`
	// Address is the advertised "host:port" (default: the registry's
	// local_ip and the ingress's port).
	Address string `yaml:"address"`
	// Weight is the entry's weight parameter (default 0: not written).
	Weight int `yaml:"weight"`
	// DC is the entry's data-centre label ("dc" parameter).
	DC string `yaml:"dc"`
	// Application is the entry's "application" parameter.
	Application string `yaml:"application"`
	// Params are further URL parameters written in the entry.
	Params map[string]string `yaml:"params"`
}

// applyDiscoveryDefaults fills in the registries' defaults.
func (c *Config) applyDiscoveryDefaults() {
	for i := range c.Registries {
		r := &c.Registries[i]
		r.SessionTimeout = orDefaultDur(r.SessionTimeout, 10*time.Second)
		r.Timeout = orDefaultDur(r.Timeout, 3*time.Second)
		if r.Type == RegistryEtcd {
			r.Prefix = orDefault(r.Prefix, "/meshgate")
		}
		if r.Type == RegistryZooKeeper {
			r.NodeData = orDefault(r.NodeData, "text")
		}
	}
}

// RegistryByName returns the registry named name, or nil.
func (c *Config) RegistryByName(name string) *Registry {
	for i := range c.Registries {
		if c.Registries[i].Name == name {
			return &c.Registries[i]
		}
	}
	return nil
}

// validateDiscovery checks registries, the clusters' discovery sections
// and the Motan2 ingress's exports.
func (c *Config) validateDiscovery(v *validator) {
	c.applyDiscoveryDefaults()
	names := map[string]string{}
	for i := range c.Registries {
		r := &c.Registries[i]
		at := func(rest ...any) []any { return append(p("registries", i), rest...) }
		_, dup := names[r.Name]
		switch {
		case r.Name == "":
			v.addf(at("name"), "missing")
		case dup:
			v.addf(at("name"), "duplicate registry name %q", r.Name)
		}
		if r.Name != "" {
			names[r.Name] = r.Type
		}
		switch r.Type {
		case RegistryZooKeeper, RegistryEtcd:
			if r.Address == "" {
				v.addf(at("address"), "missing: the %s servers as host:port[,host:port...]", r.Type)
			}
			for _, a := range strings.Split(r.Address, ",") {
				if a = strings.TrimSpace(a); a == "" {
					continue
				}
				if _, _, err := net.SplitHostPort(a); err != nil {
					v.addf(at("address"), "%q is not a host:port address: %v", a, err)
				}
			}
			if len(r.Nodes) > 0 || len(r.Commands) > 0 {
				v.addf(at("nodes"), "nodes and commands belong to static registries; a %s registry holds its own", r.Type)
			}
		case RegistryStatic:
			if r.Address != "" {
				v.addf(at("address"), "a static registry has no servers (its nodes are listed under nodes)")
			}
			for j, n := range r.Nodes {
				if n.Group == "" || n.Service == "" {
					v.addf(at("nodes", j), "group and service are required")
				}
				if _, _, err := net.SplitHostPort(n.Addr); err != nil {
					v.addf(at("nodes", j, "addr"), "%q is not a host:port address: %v", n.Addr, err)
				}
				if n.Weight < 0 {
					v.addf(at("nodes", j, "weight"), "must not be negative, got %d", n.Weight)
				}
			}
		case "":
			v.addf(at("type"), "missing (static, zookeeper, etcd)")
		default:
			v.addf(at("type"), "unknown registry type %q (static, zookeeper, etcd)", r.Type)
		}
		if r.SessionTimeout < 0 || r.Timeout < 0 {
			v.addf(at(), "session_timeout and timeout must not be negative (0 or unset takes the default), got %v and %v", r.SessionTimeout, r.Timeout)
		}
		if r.Type == RegistryEtcd && r.SessionTimeout > 0 && r.SessionTimeout < time.Second {
			v.addf(at("session_timeout"), "an etcd lease TTL is whole seconds: at least 1s, got %v", r.SessionTimeout)
		}
		if r.Type == RegistryEtcd && !strings.HasPrefix(r.Prefix, "/") {
			v.addf(at("prefix"), "must start with /, got %q", r.Prefix)
		}
		if r.NodeData != "" && r.NodeData != "text" && r.NodeData != "java" {
			v.addf(at("node_data"), "unknown node data format %q (text, java)", r.NodeData)
		}
		if r.LocalIP != "" && net.ParseIP(r.LocalIP) == nil {
			v.addf(at("local_ip"), "%q is not an IP address", r.LocalIP)
		}
	}
	known := func() string {
		if len(names) == 0 {
			return "no registries are defined"
		}
		return "defined: " + strings.Join(sortedKeys(boolKeys(names)), ", ")
	}
	for i := range c.Clusters {
		cl := &c.Clusters[i]
		d := cl.Discovery
		if d == nil {
			continue
		}
		at := func(rest ...any) []any { return append(p("clusters", i, "discovery"), rest...) }
		validateRegistryRef(v, at, d.Registry, d.Service, d.Group, names, known)
		if len(cl.Endpoints) > 0 {
			v.addf(p("clusters", i, "endpoints"), "a cluster takes its endpoints from discovery or from endpoints, not both")
		}
		// Both cluster protocols take discovery (motan2: motan2 and motan
		// entries; grpc: grpc entries); an unknown protocol is reported
		// with the cluster's protocol key.
	}
	if c.Motan2 == nil {
		return
	}
	for i, e := range c.Motan2.Export {
		at := func(rest ...any) []any { return append(p("motan2", "export", i), rest...) }
		validateRegistryRef(v, at, e.Registry, e.Service, e.Group, names, known)
		if e.Address != "" {
			if _, _, err := net.SplitHostPort(e.Address); err != nil {
				v.addf(at("address"), "%q is not a host:port address: %v", e.Address, err)
			}
		}
		if e.Weight < 0 {
			v.addf(at("weight"), "must not be negative, got %d", e.Weight)
		}
		for k, val := range e.Params {
			if k == "" || strings.ContainsAny(k+val, "&=? ") {
				v.addf(at("params", k), "URL parameter keys and values must not contain '&', '=', '?' or spaces")
			}
		}
	}
}

// validateRegistryRef checks what a cluster's discovery section or an
// export names: a defined registry (names maps the registries' names to
// their types; known lists them for the message), a service and a group,
// neither holding '/' (a path separator in every registry layout) nor
// spaces.
func validateRegistryRef(v *validator, at func(...any) []any, registry, service, group string,
	names map[string]string, known func() string) {
	if registry == "" {
		v.addf(at("registry"), "missing")
	} else if _, ok := names[registry]; !ok {
		v.addf(at("registry"), "unknown registry %q (%s)", registry, known())
	}
	if service == "" {
		v.addf(at("service"), "missing")
	}
	if group == "" {
		v.addf(at("group"), "missing")
	}
	if strings.ContainsAny(group+service, "/ ") {
		v.addf(at(), "group and service must not contain '/' or spaces")
	}
}
