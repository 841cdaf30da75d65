package gateway

// Endpoint is one upstream address and what load balancing knows of it,
// as configuration or a registry describes it. Discovery plugins produce
// endpoints; clusters consume them.
type Endpoint struct {
	// Addr is "host:port" (or, for gRPC clusters, a grpc-go target).
	Addr string
	// Weight is the endpoint's relative share of traffic for weighted
	// policies (0: DefaultWeight).
	Weight int
	// DC is the data-centre label ("" when unknown).
	DC string
	// Group is the Motan group the endpoint registered in ("" for
	// configured endpoints).
	Group string
	// Labels are further registry attributes, read only.
	Labels map[string]string
	// Protocol is the protocol a registry entry declares (its URL's
	// scheme: "motan2", "motan", "grpc", ...); "" for configured
	// endpoints and entries that declare none (static registry nodes).
	// Discovery gives a cluster only the entries of its own protocol
	// (discovery.AcceptsProtocol); clusters do not read it.
	Protocol string
}

// DefaultWeight is the weight of an endpoint that declares none.
const DefaultWeight = 100

// EffectiveWeight returns e.Weight, or DefaultWeight when it is not
// positive.
func (e Endpoint) EffectiveWeight() int {
	if e.Weight <= 0 {
		return DefaultWeight
	}
	return e.Weight
}

// EndpointSet is a cluster's endpoints as its source sees them at one
// moment. A cluster replaces its whole set on each update.
type EndpointSet struct {
	Endpoints []Endpoint
	// GroupWeights, when not empty, splits traffic between the groups of
	// Endpoints (Endpoint.Group) by weight before the cluster's policy
	// picks within the chosen group (a traffic-switch command merging
	// groups). A group with no endpoint gets no traffic.
	GroupWeights map[string]int
}

// CallPolicy is what a route says of how its calls may be sent; the
// ingress copies it into each Call (Idempotent, HashKey).
type CallPolicy struct {
	// Idempotent marks the route's calls as safe to send again.
	Idempotent bool
	// HashKey says where the consistent-hash key comes from (From 0: no
	// key).
	HashKey KeySource
}

// KeySource names a request value: a header (HTTP header, gRPC metadata
// or Motan2 meta), a path variable, a query parameter or a bound
// argument.
type KeySource struct {
	From KeyFrom
	// Name is the header (lower-case for gRPC metadata), variable,
	// parameter or argument name.
	Name string
	// Arg is the argument's index, for KeyFromArg.
	Arg int
}

// KeyFrom is where a KeySource reads.
type KeyFrom uint8

// Key sources.
const (
	KeyNone KeyFrom = iota
	KeyFromHeader
	KeyFromPath
	KeyFromQuery
	KeyFromArg
)
