package upstream

import "github.com/meshgate/meshgate/gateway"

// EndpointState is what a cluster knows of one endpoint, for the
// management API. Reading it takes no lock and never blocks.
type EndpointState struct {
	// Address is the endpoint as configured or registered ("host:port"
	// or a gRPC target).
	Address string
	// Available is false while the cluster skips the endpoint: a Motan2
	// endpoint marked unavailable after consecutive failures (until a
	// heartbeat brings it back), a gRPC endpoint whose connection is in
	// TRANSIENT_FAILURE or shut down, or an endpoint whose breaker is
	// open.
	Available bool
	// State is a gRPC endpoint's connectivity state (IDLE, CONNECTING,
	// READY, TRANSIENT_FAILURE, SHUTDOWN); empty for Motan2 endpoints.
	State string
	// Weight, DC and Group are the endpoint's labels.
	Weight    int
	DC, Group string
	// Active is the number of calls in flight to the endpoint.
	Active int64
	// Filters are the states of the endpoint's filters that report one
	// (a breaker).
	Filters []FilterState
}

// FilterState is one filter's reported state (gateway.StateReporter).
type FilterState struct {
	Name, State string
}

// Endpoints turns addresses into endpoints with default labels.
func Endpoints(addrs ...string) []gateway.Endpoint {
	eps := make([]gateway.Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = gateway.Endpoint{Addr: a}
	}
	return eps
}
