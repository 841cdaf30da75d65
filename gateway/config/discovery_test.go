package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/config"
)

func TestDiscoveryConfig(t *testing.T) {
	const base = `
http: {listen: "127.0.0.1:0"}
motan2:
  listen: "127.0.0.1:0"
  export: [{registry: zk, service: com.example.Orders, group: orders-yf, weight: 10, dc: yf}]
registries:
  - {name: zk, type: zookeeper, address: "127.0.0.1:2181,127.0.0.1:2182"}
  - {name: kv, type: etcd, address: "127.0.0.1:2379", session_timeout: 5s}
  - {name: local, type: static, nodes: [{group: g, service: s, addr: "10.0.0.1:1", weight: 3}]}
clusters:
  - {name: users, discovery: {registry: zk, service: com.example.Users, group: users-yf}}
`
	c, err := config.Parse("d.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	zk, kv := c.RegistryByName("zk"), c.RegistryByName("kv")
	if zk.SessionTimeout != 10*time.Second || zk.Timeout != 3*time.Second || zk.NodeData != "text" ||
		kv.Prefix != "/meshgate" || kv.SessionTimeout != 5*time.Second || c.RegistryByName("nope") != nil {
		t.Fatalf("defaults: %+v %+v", zk, kv)
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown registry", `
http: {listen: "127.0.0.1:0"}
registries: [{name: zk, type: zookeeper, address: "127.0.0.1:2181"}]
clusters: [{name: users, discovery: {registry: zk2, service: s, group: g}}]`,
			`d.yaml:4: clusters[0].discovery.registry: unknown registry "zk2" (defined: zk)`},
		{"no registries", `
http: {listen: "127.0.0.1:0"}
clusters: [{name: users, discovery: {registry: zk, service: s, group: g}}]`,
			`unknown registry "zk" (no registries are defined)`},
		{"both endpoints and discovery", `
http: {listen: "127.0.0.1:0"}
registries: [{name: zk, type: zookeeper, address: "127.0.0.1:2181"}]
clusters: [{name: users, endpoints: ["127.0.0.1:1"], discovery: {registry: zk, service: s, group: g}}]`,
			"from discovery or from endpoints, not both"},
		{"missing service and group", `
http: {listen: "127.0.0.1:0"}
registries: [{name: zk, type: zookeeper, address: "127.0.0.1:2181"}]
clusters: [{name: users, discovery: {registry: zk}}]`,
			"clusters[0].discovery.service: missing"},
		{"unknown type", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: consul, address: "127.0.0.1:8500"}]`,
			`registries[0].type: unknown registry type "consul" (static, zookeeper, etcd)`},
		{"bad address", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: zookeeper, address: "zk1"}]`,
			`registries[0].address: "zk1" is not a host:port address`},
		{"missing address", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: etcd}]`,
			"registries[0].address: missing"},
		{"duplicate name", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: static}, {name: r, type: static}]`,
			`registries[1].name: duplicate registry name "r"`},
		{"duplicate name, first without type", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r}, {name: r, type: static}]`,
			`registries[1].name: duplicate registry name "r"`},
		{"etcd ttl", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: etcd, address: "127.0.0.1:2379", session_timeout: 500ms}]`,
			"at least 1s"},
		{"node data", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: zookeeper, address: "127.0.0.1:2181", node_data: xml}]`,
			`unknown node data format "xml"`},
		{"static with nodes elsewhere", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: zookeeper, address: "127.0.0.1:2181", nodes: [{group: g, service: s, addr: "1.2.3.4:5"}]}]`,
			"nodes and commands belong to static registries"},
		{"static node", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: static, nodes: [{group: g, addr: "x"}]}]`,
			"registries[0].nodes[0]: group and service are required"},
		{"export", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: static}]
motan2: {listen: "127.0.0.1:0", export: [{registry: r, service: "a/b", group: g, weight: -1, params: {"k&": v}}]}`,
			"motan2.export[0]: group and service must not contain"},
		{"grpc cluster with endpoints too", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: static}]
clusters: [{name: c, protocol: grpc, endpoints: ["127.0.0.1:1"], discovery: {registry: r, service: s, group: g}}]`,
			"clusters[0].endpoints: a cluster takes its endpoints from discovery or from endpoints, not both"},
		{"unknown protocol with discovery", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: static}]
clusters: [{name: c, protocol: http, discovery: {registry: r, service: s, group: g}}]`,
			`clusters[0].protocol: unknown protocol "http"`},
		{"local ip", `
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: static, local_ip: "host"}]`,
			`registries[0].local_ip: "host" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("d.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// A gRPC cluster may take its endpoints from a registry: it needs no
// endpoints list and keeps its protocol.
func TestDiscoveryGRPCCluster(t *testing.T) {
	c, err := config.Parse("d.yaml", []byte(`
http: {listen: "127.0.0.1:0"}
registries: [{name: r, type: static}]
clusters: [{name: lib, protocol: grpc, discovery: {registry: r, service: shop.v1.Library, group: g}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Clusters[0]
	if cl.Protocol != config.ProtocolGRPC || cl.Discovery == nil || cl.Discovery.Service != "shop.v1.Library" || len(cl.Endpoints) != 0 {
		t.Fatalf("cluster %+v", cl)
	}
}
