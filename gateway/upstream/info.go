package upstream

import "google.golang.org/grpc/connectivity"

// EndpointState is what a cluster knows of one endpoint, for the
// management API. Reading it takes no lock and never blocks.
type EndpointState struct {
	// Address is the endpoint as configured ("host:port" or a gRPC
	// target).
	Address string
	// Available is false while the cluster skips the endpoint: a Motan2
	// endpoint marked unavailable after consecutive failures (until a
	// heartbeat brings it back), a gRPC endpoint whose connection is in
	// TRANSIENT_FAILURE or shut down.
	Available bool
	// State is a gRPC endpoint's connectivity state (IDLE, CONNECTING,
	// READY, TRANSIENT_FAILURE, SHUTDOWN); empty for Motan2 endpoints.
	State string
}

// EndpointStates returns the state of each endpoint, in configuration
// order.
func (c *Cluster) EndpointStates() []EndpointState {
	out := make([]EndpointState, len(c.clients))
	for i, cl := range c.clients {
		out[i] = EndpointState{Address: cl.Addr(), Available: cl.Available()}
	}
	return out
}

// EndpointStates returns the state of each endpoint, in configuration
// order.
func (c *GRPCCluster) EndpointStates() []EndpointState {
	out := make([]EndpointState, len(c.conns))
	for i, cc := range c.conns {
		st := cc.GetState()
		out[i] = EndpointState{Address: c.endpoints[i], State: st.String(),
			Available: st != connectivity.TransientFailure && st != connectivity.Shutdown}
	}
	return out
}
