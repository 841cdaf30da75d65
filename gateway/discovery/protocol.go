package discovery

import (
	"fmt"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
)

// A registry lists the entries of a service and group whatever protocol
// they speak (motan-go registers motan2 entries, a gRPC server grpc ones,
// under the same service and group); each subscription keeps the entries
// its cluster can call.

// checkClusterProtocol returns an error for a cluster protocol discovery
// cannot serve. "" is Motan2, the protocol a cluster has by default.
func checkClusterProtocol(cluster, proto string) error {
	switch proto {
	case "", config.ProtocolMotan2, config.ProtocolGRPC:
		return nil
	}
	return fmt.Errorf("cluster %s: discovery serves motan2 and grpc clusters, not %q", cluster, proto)
}

// AcceptsProtocol reports whether a cluster of protocol cluster
// (config.ProtocolMotan2, or "" which means it, or config.ProtocolGRPC)
// calls a registry entry of protocol entry: a Motan2 cluster takes motan2
// and motan entries (motan-go serves motan with motan2), a gRPC cluster
// grpc entries. An entry without a protocol (a static registry's
// configured node) is taken by every cluster.
func AcceptsProtocol(cluster, entry string) bool {
	if entry == "" {
		return true
	}
	switch cluster {
	case "", config.ProtocolMotan2:
		return entry == "motan2" || entry == "motan"
	case config.ProtocolGRPC:
		return entry == "grpc"
	}
	return false
}

// entryProtocols names the entry protocols a cluster protocol takes, for
// logs.
func entryProtocols(cluster string) string {
	if cluster == config.ProtocolGRPC {
		return "grpc"
	}
	return "motan2, motan"
}

// FilterProtocol splits eps into the entries a cluster of protocol
// cluster calls (kept, in eps' order) and the others (skipped), as
// AcceptsProtocol says. eps is not modified; when every entry is kept,
// kept is eps itself and skipped is nil (no allocation).
func FilterProtocol(cluster string, eps []gateway.Endpoint) (kept, skipped []gateway.Endpoint) {
	n := 0
	for i := range eps {
		if AcceptsProtocol(cluster, eps[i].Protocol) {
			n++
		}
	}
	if n == len(eps) {
		return eps, nil
	}
	kept = make([]gateway.Endpoint, 0, n)
	skipped = make([]gateway.Endpoint, 0, len(eps)-n)
	for _, ep := range eps {
		if AcceptsProtocol(cluster, ep.Protocol) {
			kept = append(kept, ep)
		} else {
			skipped = append(skipped, ep)
		}
	}
	return kept, skipped
}

// protocolFamily names the clusters that take the same entries: the last
// known endpoints are remembered per family, so that a Motan2 and a gRPC
// cluster subscribed to one service and group never seed each other.
func protocolFamily(cluster string) string {
	if cluster == config.ProtocolGRPC {
		return config.ProtocolGRPC
	}
	return config.ProtocolMotan2
}
