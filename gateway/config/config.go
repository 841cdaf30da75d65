// Package config loads, validates and documents meshgate's configuration.
//
// A configuration is YAML decoded strictly: unknown keys and values of the
// wrong type are errors. After decoding, the whole configuration is
// validated at once and every problem is reported with the file and line
// it comes from, e.g.
//
//	meshgate.yaml:14: routes[2].target.cluster: unknown cluster "users" (defined: demo)
//
// The reference of every key is docs/config.md; the embedded default is
// default.yaml in this package.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

// DefaultYAML is the embedded default configuration: HTTP on
// 127.0.0.1:8080 in front of the built-in demo Motan2 service.
//
//go:embed default.yaml
var DefaultYAML []byte

// DemoEndpoint is the endpoint name that stands for the built-in demo
// service's address in a cluster's endpoint list.
const DemoEndpoint = "demo"

// Config is a whole meshgate configuration.
type Config struct {
	HTTP     HTTP      `yaml:"http"`
	Demo     *Demo     `yaml:"demo"`
	Clusters []Cluster `yaml:"clusters"`
	Routes   []Route   `yaml:"routes"`
	// Motan2 starts the Motan2 ingress (the agent role) when set.
	Motan2       *Motan2Ingress `yaml:"motan2"`
	Motan2Routes []Motan2Route  `yaml:"motan2_routes"`
	// GRPC starts the gRPC ingress when set.
	GRPC       *GRPCIngress `yaml:"grpc"`
	GRPCRoutes []GRPCRoute  `yaml:"grpc_routes"`
	// Schemas are named protobuf schema sources (docs/descriptors.md).
	Schemas []Schema `yaml:"schemas"`
	// Transcoding generates HTTP/JSON routes from google.api.http
	// annotations (docs/transcoding.md).
	Transcoding []Transcoding `yaml:"transcoding"`
	// Filters are the governance chains' defaults (docs/filters.md).
	Filters Filters `yaml:"filters"`
	// Admin is the management API (docs/admin.md).
	Admin Admin `yaml:"admin"`
	// Telemetry is metrics, tracing and access logging (telemetry.go).
	Telemetry Telemetry `yaml:"telemetry"`
	// Registries are the service registries (discovery.go, docs/discovery.md).
	Registries []Registry `yaml:"registries"`
	// Runtime is the Go runtime of the process: processors and garbage
	// collection (runtime.go).
	Runtime Runtime `yaml:"runtime"`

	// protocols maps cluster names to protocols, for validation.
	protocols map[string]string

	// Source names where the configuration came from (a file path, or
	// "<embedded default>"); set by Load and Parse.
	Source string `yaml:"-"`
}

// HTTP configures the HTTP/1.1 ingress.
type HTTP struct {
	// Listen is the TCP address to serve on (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// MaxBodyBytes limits request bodies; larger ones get 413 (default 4 MiB).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxHeaderBytes limits the request line and headers; larger ones get
	// 431 (default 16 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ReadTimeout bounds reading one request, headers and body (default 30s).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing one response (default 30s).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long (default 120s).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections caps concurrent client connections (default 10,000).
	MaxConnections int `yaml:"max_connections"`
	// RequestIDHeader is read for the caller's request id and set on every
	// response; a missing id is generated (default X-Request-Id).
	RequestIDHeader string `yaml:"request_id_header"`
	// TimeoutHeader names a request header carrying the caller's time
	// budget ("250ms", "2s" or milliseconds), which shortens the route's
	// timeout (default: none).
	TimeoutHeader string `yaml:"timeout_header"`
}

// Admin configures the management API (docs/admin.md): status, routes,
// clusters, switches, reload and explain, served by meshgate run.
type Admin struct {
	// Listen is the API's TCP address (default 127.0.0.1:8002, the
	// motan-go agent's management port); "off" turns the API off.
	Listen string `yaml:"listen"`
	// Token, when set, must be sent as "Authorization: Bearer TOKEN" with
	// every request. It is required when Listen is not a loopback address.
	Token string `yaml:"token"`
	// Watch, when positive, polls the configuration file at this interval
	// and reloads it when its content changes (default 0: no watch; at
	// least 100ms).
	Watch time.Duration `yaml:"watch"`
}

// AdminOff is the admin.listen value that turns the management API off.
const AdminOff = "off"

// Enabled reports whether the management API is served.
func (a *Admin) Enabled() bool { return a.Listen != AdminOff }

// MinWatch is the shortest admin.watch interval.
const MinWatch = 100 * time.Millisecond

// Motan2Ingress configures the Motan2 listener existing Motan2 clients
// call, as they would call a motan-go agent.
type Motan2Ingress struct {
	// Listen is the TCP address (default 127.0.0.1:9982, the agent port).
	Listen string `yaml:"listen"`
	// MaxBodyBytes limits request meta and body sizes (default 10 MiB, as motan-go).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxConcurrentRequests caps requests in flight (default 10,000).
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// ProxyBit sets the proxy bit on replies, as a motan-go agent does
	// (default true).
	ProxyBit *bool `yaml:"proxy_bit"`
	// Export registers services served here in registries (discovery.go).
	Export []Export `yaml:"export"`
}

// Motan2Route forwards Motan2 requests for one service (and group) to a
// cluster: frames untouched to a Motan2 cluster, or converted through a
// schema to a gRPC cluster.
type Motan2Route struct {
	// Name identifies the route (default "service" or "group/service").
	Name string `yaml:"name"`
	// Service is the M_p to match (required).
	Service string `yaml:"service"`
	// Group is the M_g to match; empty matches any group.
	Group string `yaml:"group"`
	// Schema names the schema describing the gRPC target service
	// (required when the cluster is a gRPC one).
	Schema string       `yaml:"schema"`
	Target Motan2Target `yaml:"target"`
	// Filters is the route's chain (default: filters.default).
	Filters []Filter `yaml:"filters"`
}

// Motan2Target is where a Motan2 route forwards to.
type Motan2Target struct {
	Cluster string `yaml:"cluster"`
	// Service and Group rewrite M_p and M_g upstream (default: unchanged).
	// For a gRPC cluster Service is the full gRPC service name (default:
	// the matched service) and Group is unused.
	Service string `yaml:"service"`
	Group   string `yaml:"group"`
	// Args maps the Motan2 arguments, in order, to request message
	// fields (gRPC clusters; default: one map argument is the message).
	Args []string `yaml:"args"`
	// Timeout bounds each forwarded call (default 1s); the caller's M_tmo
	// also bounds it.
	Timeout    time.Duration `yaml:"timeout"`
	CallPolicy `yaml:",inline"`
}

// GRPCIngress configures the gRPC listener (HTTP/2: h2c, or TLS when a
// certificate is given).
type GRPCIngress struct {
	// Listen is the TCP address (default 127.0.0.1:9090).
	Listen string     `yaml:"listen"`
	TLS    *ServerTLS `yaml:"tls"`
	// MaxRecvMsgBytes limits request messages (default 4 MiB); larger
	// ones fail with RESOURCE_EXHAUSTED.
	MaxRecvMsgBytes int `yaml:"max_recv_msg_bytes"`
	// MaxConcurrentStreams caps calls in flight per connection (default 1000).
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// Reflection serves gRPC server reflection for every routed service a
	// schema describes (default true).
	Reflection *bool `yaml:"reflection"`
}

// ServerTLS is a listener's certificate.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ClientTLS makes a gRPC cluster dial with TLS.
type ClientTLS struct {
	// CAFile verifies the servers (default: the system roots).
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name verified (default: the endpoint host).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns verification off (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// GRPCRoute sends the gRPC calls of one service (or one method) to a
// cluster.
type GRPCRoute struct {
	// Name identifies the route (default "service" or "service/method").
	Name string `yaml:"name"`
	// Service is the full gRPC service name to match (required).
	Service string `yaml:"service"`
	// Method restricts the route to one method (default: every method).
	Method string `yaml:"method"`
	// Schema names the schema describing the service: required for
	// encoding simple, and what gRPC server reflection serves.
	Schema string      `yaml:"schema"`
	Target ProtoTarget `yaml:"target"`
	// Filters is the route's chain (default: filters.default).
	Filters []Filter `yaml:"filters"`
}

// ProtoTarget is the upstream of a route whose requests are protobuf
// messages (gRPC routes and transcoding).
type ProtoTarget struct {
	Cluster string `yaml:"cluster"`
	// Service is the upstream service: a gRPC service full name, or the
	// Motan2 service (M_p) (default: the gRPC service's full name).
	Service string `yaml:"service"`
	// Group and Version complete a Motan2 target.
	Group   string `yaml:"group"`
	Version string `yaml:"version"`
	// Encoding says how a message reaches a Motan2 cluster: grpc-pb (the
	// message bytes as the body; default), pb (one message value in
	// motan-go's pb packing) or simple (converted to Simple values through
	// the schema; sent in the cluster's serialization). gRPC clusters take
	// the bytes as they are.
	Encoding string `yaml:"encoding"`
	// Args maps request message fields, in order, to the Motan2 arguments
	// of encoding simple (default: one map argument holding the message).
	Args []string `yaml:"args"`
	// Timeout bounds the upstream call (default 1s).
	Timeout    time.Duration `yaml:"timeout"`
	CallPolicy `yaml:",inline"`
}

// Encodings of ProtoTarget.
const (
	EncodingGrpcPB = "grpc-pb"
	EncodingPB     = "pb"
	EncodingSimple = "simple"
)

// Schema is a named protobuf schema source: exactly one of
// descriptor_set, protos, reflection and builtin.
type Schema struct {
	Name string `yaml:"name"`
	// DescriptorSet is a file written by protoc --descriptor_set_out
	// --include_imports.
	DescriptorSet string `yaml:"descriptor_set"`
	// Protos are .proto sources compiled in-process.
	Protos *ProtoSources `yaml:"protos"`
	// Reflection reads the schema from a gRPC cluster's server reflection.
	Reflection *ReflectionSource `yaml:"reflection"`
	// Builtin names a schema compiled into meshgate: "demo", the built-in
	// demo service's (meshgate.demo.v1.Demo).
	Builtin string `yaml:"builtin"`
}

// BuiltinDemoSchema is the one builtin schema.
const BuiltinDemoSchema = "demo"

// ProtoSources lists .proto files and where their imports are found.
type ProtoSources struct {
	// ImportPaths are searched for the files and their imports (default:
	// the configuration file's directory); google/api/annotations.proto,
	// google/api/http.proto and the well-known types are built in.
	ImportPaths []string `yaml:"import_paths"`
	// Files are paths relative to an import path.
	Files []string `yaml:"files"`
}

// ReflectionSource loads a schema from an upstream's gRPC reflection.
type ReflectionSource struct {
	// Cluster is a gRPC cluster (required).
	Cluster string `yaml:"cluster"`
	// Services limits the schema to these services (default: all but the
	// reflection and health services).
	Services []string `yaml:"services"`
	// Refresh reloads the schema this often (default 60s; 0s in the file
	// is the default, use a negative value never to refresh).
	Refresh time.Duration `yaml:"refresh"`
	// Timeout bounds one load (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// Transcoding serves the google.api.http bindings of a schema's services
// over HTTP/JSON, the job grpc-gateway and Envoy's transcoder do.
type Transcoding struct {
	// Schema names the schema (required).
	Schema string `yaml:"schema"`
	// Services limits which services are served (default: all).
	Services []string `yaml:"services"`
	// GenericPost also serves every method at POST /pkg.Service/Method
	// with the request message as the JSON body (default false).
	GenericPost bool        `yaml:"generic_post"`
	Target      ProtoTarget `yaml:"target"`
	JSON        ProtoJSON   `yaml:"json"`
	// Filters is the chain of every generated route (default:
	// filters.default).
	Filters []Filter `yaml:"filters"`
}

// Filters holds the chains' defaults.
type Filters struct {
	// Default is the chain of every route that declares no filters.
	Default []Filter `yaml:"default"`
	// Clusters maps a cluster name to a chain run on every call to that
	// cluster, after the route's chain.
	Clusters map[string][]Filter `yaml:"clusters"`
	// Endpoint is the chain of every endpoint of every cluster that
	// Endpoints does not name: run once per attempt (failover and backup
	// requests included), with state of its own per endpoint (a
	// per-endpoint breaker or concurrency limit).
	Endpoint []Filter `yaml:"endpoint"`
	// Endpoints maps a cluster name to its endpoints' chain.
	Endpoints map[string][]Filter `yaml:"endpoints"`
}

// Filter is one entry of a chain: the filter's registered name and its
// options, decoded by the filter itself at load time.
type Filter struct {
	Name string
	// Line is where the entry starts in the configuration.
	Line int
	node yaml.Node
}

// UnmarshalYAML keeps the entry's node for Decode.
func (f *Filter) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode { // "- name" is a filter without options
		f.Name, f.Line = n.Value, n.Line
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a filter is a name or a map with a name key", n.Line)
	}
	f.Line = n.Line
	opts := yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			f.Name = n.Content[i+1].Value
			continue
		}
		opts.Content = append(opts.Content, n.Content[i], n.Content[i+1])
	}
	f.node = opts
	return nil
}

// Decode decodes the filter's options (the entry without its name) into
// v strictly: unknown keys and values of the wrong type are errors that
// carry the line they are on.
func (f *Filter) Decode(v any) error {
	if len(f.node.Content) == 0 {
		return nil
	}
	// Node.Decode has no strict mode; decoding the re-encoded options
	// with KnownFields does, and the lines are mapped back below.
	data, err := yaml.Marshal(&f.node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// Lines in err are the re-encoded document's: drop them.
		var te *yaml.TypeError
		msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
		if errors.As(err, &te) {
			msgs = msgs[:0]
			for _, m := range te.Errors {
				if _, rest, ok := strings.Cut(m, ": "); ok && strings.HasPrefix(m, "line ") {
					m = rest
				}
				m, _, _ = strings.Cut(m, " in type ")
				msgs = append(msgs, m)
			}
		}
		return fmt.Errorf("bad options: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// ProtoJSON are the JSON options of transcoded routes.
type ProtoJSON struct {
	// ProtoNames writes fields under their .proto names instead of
	// lowerCamelCase (input accepts both).
	ProtoNames bool `yaml:"proto_names"`
	// EmitUnpopulated writes fields holding their zero value.
	EmitUnpopulated bool `yaml:"emit_unpopulated"`
	// EnumsAsNumbers writes enums as numbers instead of names.
	EnumsAsNumbers bool `yaml:"enums_as_numbers"`
	// Int64AsNumbers writes 64-bit integers as JSON numbers instead of strings.
	Int64AsNumbers bool `yaml:"int64_as_numbers"`
	// DiscardUnknown drops unknown request fields instead of answering 400.
	DiscardUnknown bool `yaml:"discard_unknown"`
}

// Demo starts the built-in demo Motan2 service.
type Demo struct {
	// Listen is the demo service's TCP address (default 127.0.0.1:9981).
	Listen string `yaml:"listen"`
}

// Cluster is a named group of Motan2 endpoints serving the same services.
type Cluster struct {
	Name string `yaml:"name"`
	// Endpoints are host:port addresses ("demo" = the built-in demo
	// service), each a string or a map with addr, weight, dc and group.
	Endpoints []Endpoint `yaml:"endpoints"`
	// LB picks an endpoint per call (docs/load-balancing.md): round_robin
	// (default), random, weighted_round_robin, least_active or
	// consistent_hash.
	LB string `yaml:"lb"`
	// Retries, RetryOn, RetryBudget and BackupRequests configure failover
	// and backup requests (docs/high-availability.md).
	Retries        int             `yaml:"retries"`
	RetryOn        []string        `yaml:"retry_on"`
	RetryBudget    float64         `yaml:"retry_budget"`
	BackupRequests *BackupRequests `yaml:"backup_requests"`
	// PreferDC keeps calls on the endpoints labelled with this data
	// centre while any is available; the others are the fallback.
	PreferDC string `yaml:"prefer_dc"`
	// Connections per endpoint (default 2), each multiplexing many calls.
	Connections int `yaml:"connections"`
	// MaxInFlight caps pending calls per connection (default 1024).
	MaxInFlight int `yaml:"max_in_flight"`
	// DialTimeout bounds connecting to an endpoint (default 1s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// Serialization of arguments sent to this cluster: simple (default) or breeze.
	Serialization string `yaml:"serialization"`
	// GzipThreshold compresses request bodies longer than this many bytes (default 0: off).
	GzipThreshold int `yaml:"gzip_threshold"`
	// MaxBodyBytes limits reply sizes from this cluster (default 10 MiB).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// Protocol is the endpoints' protocol: motan2 (default) or grpc.
	// Connections, max_in_flight, serialization and gzip_threshold apply
	// to Motan2 clusters only; tls to gRPC clusters only.
	Protocol string     `yaml:"protocol"`
	TLS      *ClientTLS `yaml:"tls"`
	// Discovery takes the endpoints from a registry (discovery.go).
	Discovery *ClusterDiscovery `yaml:"discovery"`
}

// Cluster protocols.
const (
	ProtocolMotan2 = "motan2"
	ProtocolGRPC   = "grpc"
)

// Route maps an HTTP method and path template to a Motan2 call.
type Route struct {
	// Name identifies the route in logs and errors (default "METHOD path").
	Name string `yaml:"name"`
	// Method is the HTTP method (GET, POST, ...; "*" for any).
	Method string `yaml:"method"`
	// Path is a path template with grpc-gateway semantics (docs/routes.md).
	Path   string `yaml:"path"`
	Target Target `yaml:"target"`
	// Args build the Motan2 arguments, in order.
	Args []Arg `yaml:"args"`
	// RequestHeaders are request headers forwarded into the Motan2 meta
	// under the same name.
	RequestHeaders []string `yaml:"request_headers"`
	// ResponseMeta are reply meta keys copied back as response headers.
	ResponseMeta []string `yaml:"response_meta"`
	Reply        Reply    `yaml:"reply"`
	// Filters is the route's chain (default: filters.default).
	Filters []Filter `yaml:"filters"`
}

// Target is the Motan2 call a route makes.
type Target struct {
	Cluster string `yaml:"cluster"`
	Service string `yaml:"service"`
	Method  string `yaml:"method"`
	Group   string `yaml:"group"`
	Version string `yaml:"version"`
	// Timeout is the whole upstream call's deadline (default 1s).
	Timeout    time.Duration `yaml:"timeout"`
	CallPolicy `yaml:",inline"`
}

// Arg binds one Motan2 argument.
type Arg struct {
	Name string `yaml:"name"`
	// From is path, query, header, body (the whole JSON body) or
	// body_field (one field of the JSON body, by dotted path).
	From string `yaml:"from"`
	// Key is the path variable, query parameter, header or body field
	// name (default: Name).
	Key string `yaml:"key"`
	// Type is the Simple type: string, bool, int32, int64, float64, bytes,
	// string_map, map, array (also int16, byte, float32, string_array).
	Type string `yaml:"type"`
	// Default is used when the input is absent; without one, absence is a
	// 400. Written as the text form of the value (JSON for containers).
	Default *string `yaml:"default"`
}

// Reply shapes the HTTP response.
type Reply struct {
	// ContentType, when set, writes a string or bytes reply as the raw
	// body with this content type instead of JSON.
	ContentType string `yaml:"content_type"`
	// Int64AsString writes int64 values as JSON strings (for JavaScript
	// callers that lose precision beyond 2^53).
	Int64AsString bool `yaml:"int64_as_string"`
}

// Arg sources.
const (
	FromPath      = "path"
	FromQuery     = "query"
	FromHeader    = "header"
	FromBody      = "body"
	FromBodyField = "body_field"
)

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Default returns the embedded default configuration.
func Default() *Config {
	c, err := Parse("<embedded default>", DefaultYAML)
	if err != nil {
		panic("config: embedded default is invalid: " + err.Error()) // caught by tests
	}
	return c
}

// Parse decodes and validates a configuration; source names it in errors.
func Parse(source string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(source, err)
	}
	c := &Config{Source: source}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, errEOF) || err.Error() == "EOF" {
			return nil, fmt.Errorf("%s: empty configuration", source)
		}
		return nil, yamlError(source, err)
	}
	c.applyDefaults()
	v := validator{source: source, root: &root}
	c.validate(&v)
	if len(v.errs) > 0 {
		return nil, &Error{Problems: v.errs}
	}
	return c, nil
}

var errEOF = errors.New("EOF")

// yamlError prefixes the decoder's "yaml: line N: ..." messages with the
// source, as "file:N: ...".
func yamlError(source string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		probs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			probs = append(probs, source+":"+strings.TrimPrefix(e, "line "))
		}
		return &Error{Problems: probs}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		return &Error{Problems: []string{source + ":" + rest}}
	}
	return &Error{Problems: []string{source + ": " + msg}}
}

// Error lists every problem found in a configuration, one per line.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0]
	}
	return fmt.Sprintf("invalid configuration, %d problems:\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

func (c *Config) applyDefaults() {
	c.applyRuntimeDefaults()
	h := &c.HTTP
	h.Listen = orDefault(h.Listen, "127.0.0.1:8080")
	h.MaxBodyBytes = orDefaultInt(h.MaxBodyBytes, 4<<20)
	h.MaxHeaderBytes = orDefaultInt(h.MaxHeaderBytes, 16<<10)
	h.MaxConnections = orDefaultInt(h.MaxConnections, 10000)
	h.ReadTimeout = orDefaultDur(h.ReadTimeout, 30*time.Second)
	h.WriteTimeout = orDefaultDur(h.WriteTimeout, 30*time.Second)
	h.IdleTimeout = orDefaultDur(h.IdleTimeout, 120*time.Second)
	h.RequestIDHeader = orDefault(h.RequestIDHeader, "X-Request-Id")
	c.Admin.Listen = orDefault(c.Admin.Listen, "127.0.0.1:8002")
	if c.Demo != nil {
		c.Demo.Listen = orDefault(c.Demo.Listen, "127.0.0.1:9981")
	}
	if m := c.Motan2; m != nil {
		m.Listen = orDefault(m.Listen, "127.0.0.1:9982")
		m.MaxBodyBytes = orDefaultInt(m.MaxBodyBytes, motan2.DefaultMaxSize)
		m.MaxConcurrentRequests = orDefaultInt(m.MaxConcurrentRequests, 10000)
		if m.ProxyBit == nil {
			on := true
			m.ProxyBit = &on
		}
	}
	for i := range c.Motan2Routes {
		r := &c.Motan2Routes[i]
		if r.Name == "" {
			r.Name = r.Service
			if r.Group != "" {
				r.Name = r.Group + "/" + r.Service
			}
		}
		r.Target.Timeout = orDefaultDur(r.Target.Timeout, time.Second)
	}
	if g := c.GRPC; g != nil {
		g.Listen = orDefault(g.Listen, "127.0.0.1:9090")
		g.MaxRecvMsgBytes = orDefaultInt(g.MaxRecvMsgBytes, 4<<20)
		g.MaxConcurrentStreams = orDefaultInt(g.MaxConcurrentStreams, 1000)
		if g.Reflection == nil {
			on := true
			g.Reflection = &on
		}
		if g.TLS != nil {
			g.TLS.CertFile, g.TLS.KeyFile = c.path(g.TLS.CertFile), c.path(g.TLS.KeyFile)
		}
	}
	protoTarget := func(t *ProtoTarget, service string) {
		t.Service = orDefault(t.Service, service)
		t.Encoding = orDefault(t.Encoding, EncodingGrpcPB)
		t.Timeout = orDefaultDur(t.Timeout, time.Second)
	}
	for i := range c.GRPCRoutes {
		r := &c.GRPCRoutes[i]
		r.Name = orDefault(r.Name, r.Service)
		if r.Method != "" && r.Name == r.Service {
			r.Name = r.Service + "/" + r.Method
		}
		protoTarget(&r.Target, r.Service)
	}
	for i := range c.Transcoding {
		protoTarget(&c.Transcoding[i].Target, "")
	}
	for i := range c.Schemas {
		sc := &c.Schemas[i]
		if sc.DescriptorSet != "" {
			sc.DescriptorSet = c.path(sc.DescriptorSet)
		}
		if ps := sc.Protos; ps != nil {
			if len(ps.ImportPaths) == 0 {
				ps.ImportPaths = []string{"."}
			}
			for j, ip := range ps.ImportPaths {
				ps.ImportPaths[j] = c.path(ip)
			}
		}
		if rs := sc.Reflection; rs != nil {
			rs.Refresh = orDefaultDur(rs.Refresh, time.Minute)
			rs.Timeout = orDefaultDur(rs.Timeout, 10*time.Second)
		}
	}
	for i := range c.Clusters {
		cl := &c.Clusters[i]
		cl.Protocol = orDefault(cl.Protocol, ProtocolMotan2)
		if cl.TLS != nil && cl.TLS.CAFile != "" {
			cl.TLS.CAFile = c.path(cl.TLS.CAFile)
		}
		cl.LB = orDefault(cl.LB, "round_robin")
		cl.Connections = orDefaultInt(cl.Connections, 2)
		cl.MaxInFlight = orDefaultInt(cl.MaxInFlight, 1024)
		cl.DialTimeout = orDefaultDur(cl.DialTimeout, time.Second)
		cl.Serialization = orDefault(cl.Serialization, "simple")
		cl.MaxBodyBytes = orDefaultInt(cl.MaxBodyBytes, motan2.DefaultMaxSize)
	}
	c.applyTracingDefaults() // tracing.go
	c.applyMetricsDefaults() // metrics.go
	for i := range c.Routes {
		r := &c.Routes[i]
		r.Method = strings.ToUpper(r.Method)
		r.Name = orDefault(r.Name, r.Method+" "+r.Path)
		r.Target.Timeout = orDefaultDur(r.Target.Timeout, time.Second)
		for j := range r.Args {
			a := &r.Args[j]
			a.Key = orDefault(a.Key, a.Name)
		}
	}
}

// path resolves a file path written in the configuration: relative paths
// are relative to the configuration file's directory (the working
// directory for the embedded default).
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Source == "" || strings.HasPrefix(c.Source, "<") {
		return p
	}
	return filepath.Join(filepath.Dir(c.Source), p)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func orDefaultInt(n, d int) int {
	if n == 0 {
		return d
	}
	return n
}

func orDefaultDur(n, d time.Duration) time.Duration {
	if n == 0 {
		return d
	}
	return n
}

// validator collects problems with the line each one comes from.
type validator struct {
	source string
	root   *yaml.Node
	errs   []string
}

// addf records a problem at the node found by path (map keys and sequence
// indices), falling back to the nearest existing ancestor's line.
func (v *validator) addf(path []any, format string, args ...any) {
	line := lineOf(v.root, path)
	v.errs = append(v.errs, fmt.Sprintf("%s:%d: %s: %s", v.source, line, pathString(path), fmt.Sprintf(format, args...)))
}

func pathString(path []any) string {
	var sb strings.Builder
	for i, p := range path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&sb, "[%d]", p)
		case string:
			if i > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(p)
		}
	}
	return sb.String()
}

func lineOf(root *yaml.Node, path []any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						line = n.Content[i].Line
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func p(path ...any) []any { return path }

var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "*": true,
}

func (c *Config) validate(v *validator) {
	validAddr := func(path []any, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			v.addf(path, "%q is not a host:port address: %v", addr, err)
		}
	}
	validAddr(p("http", "listen"), c.HTTP.Listen)
	for _, f := range []struct {
		key string
		n   int
	}{{"max_body_bytes", c.HTTP.MaxBodyBytes}, {"max_header_bytes", c.HTTP.MaxHeaderBytes}, {"max_connections", c.HTTP.MaxConnections}} {
		if f.n < 0 {
			v.addf(p("http", f.key), "must be positive, got %d", f.n)
		}
	}
	if c.HTTP.MaxHeaderBytes > 0 && c.HTTP.MaxHeaderBytes < 1024 {
		v.addf(p("http", "max_header_bytes"), "must be at least 1024, got %d", c.HTTP.MaxHeaderBytes)
	}
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"read_timeout", c.HTTP.ReadTimeout}, {"write_timeout", c.HTTP.WriteTimeout}, {"idle_timeout", c.HTTP.IdleTimeout}} {
		if f.d < 0 {
			v.addf(p("http", f.key), "must be positive, got %v", f.d)
		}
	}
	if c.Demo != nil {
		validAddr(p("demo", "listen"), c.Demo.Listen)
	}

	clusters := map[string]bool{}
	c.protocols = map[string]string{}
	for i, cl := range c.Clusters {
		at := func(rest ...any) []any { return append(p("clusters", i), rest...) }
		switch {
		case cl.Name == "":
			v.addf(at("name"), "missing")
		case clusters[cl.Name]:
			v.addf(at("name"), "duplicate cluster name %q", cl.Name)
		}
		clusters[cl.Name] = true
		c.protocols[cl.Name] = cl.Protocol
		if len(cl.Endpoints) == 0 && cl.Discovery == nil {
			v.addf(at("endpoints"), "at least one endpoint is needed (or a discovery section)")
		}
		for j, e := range cl.Endpoints {
			ep := e.Addr
			if e.Weight < 0 {
				v.addf(at("endpoints", j, "weight"), "must not be negative, got %d", e.Weight)
			}
			if ep == DemoEndpoint {
				if c.Demo == nil {
					v.addf(at("endpoints", j), "endpoint %q needs the demo section (the built-in demo service)", ep)
				} else if cl.Protocol != ProtocolMotan2 {
					v.addf(at("endpoints", j), "the demo service speaks Motan2; this cluster's protocol is %s", cl.Protocol)
				}
				continue
			}
			validAddr(at("endpoints", j), ep)
		}
		v.validateHA(at, &cl)
		if cl.DialTimeout < 0 {
			v.addf(at("dial_timeout"), "must be positive, got %v", cl.DialTimeout)
		}
		if cl.GzipThreshold < 0 || cl.MaxBodyBytes < 0 {
			v.addf(at(), "gzip_threshold and max_body_bytes must not be negative")
		}
		switch cl.Protocol {
		case ProtocolMotan2:
			if cl.Connections < 1 || cl.Connections > 64 {
				v.addf(at("connections"), "must be between 1 and 64, got %d", cl.Connections)
			}
			if cl.MaxInFlight < 1 {
				v.addf(at("max_in_flight"), "must be positive, got %d", cl.MaxInFlight)
			}
			if s, err := motan2.ParseSerialization(cl.Serialization); err != nil || (s != motan2.SerializationSimple && s != motan2.SerializationBreeze) {
				v.addf(at("serialization"), "unsupported serialization %q (simple, breeze)", cl.Serialization)
			}
			if cl.TLS != nil {
				v.addf(at("tls"), "applies to gRPC clusters only")
			}
		case ProtocolGRPC:
			if cl.GzipThreshold != 0 {
				v.addf(at("gzip_threshold"), "applies to Motan2 clusters only")
			}
		default:
			v.addf(at("protocol"), "unknown protocol %q (motan2, grpc)", cl.Protocol)
		}
	}
	c.validateSchemas(v)

	names := map[string]int{}
	b := &routes.Builder{}
	for i := range c.Routes {
		r := &c.Routes[i]
		at := func(rest ...any) []any { return append(p("routes", i), rest...) }
		if j, dup := names[r.Name]; dup {
			v.addf(at("name"), "duplicate route name %q (also routes[%d])", r.Name, j)
		}
		names[r.Name] = i
		if !httpMethods[r.Method] {
			v.addf(at("method"), "unknown HTTP method %q", r.Method)
		}
		var vars []string
		if tpl, err := routes.ParseTemplate(r.Path); err != nil {
			v.addf(at("path"), "%v", err)
		} else {
			vars = tpl.Vars()
			if err := b.Add(r.Method, r.Path, i); err != nil {
				v.addf(at("path"), "%v", err)
			}
		}
		t := r.Target
		switch {
		case t.Cluster == "":
			v.addf(at("target", "cluster"), "missing")
		case !clusters[t.Cluster]:
			v.addf(at("target", "cluster"), "unknown cluster %q (%s)", t.Cluster, definedClusters(clusters))
		case c.protocols[t.Cluster] != ProtocolMotan2:
			v.addf(at("target", "cluster"), "cluster %q is a %s cluster; routes with args call Motan2 clusters (serve gRPC methods over HTTP with transcoding)", t.Cluster, c.protocols[t.Cluster])
		}
		if t.Service == "" {
			v.addf(at("target", "service"), "missing")
		}
		if t.Method == "" {
			v.addf(at("target", "method"), "missing")
		}
		if t.Timeout < 0 {
			v.addf(at("target", "timeout"), "must be positive, got %v", t.Timeout)
		}
		argNames := map[string]bool{}
		bodies := 0
		for j, a := range r.Args {
			aat := func(rest ...any) []any { return append(at("args", j), rest...) }
			if a.Name == "" {
				v.addf(aat("name"), "missing")
			} else if argNames[a.Name] {
				v.addf(aat("name"), "duplicate argument %q", a.Name)
			}
			argNames[a.Name] = true
			typ, err := translate.ParseArgType(a.Type)
			if err != nil {
				v.addf(aat("type"), "%v", err)
			}
			switch a.From {
			case FromPath:
				if !contains(vars, a.Key) && vars != nil {
					v.addf(aat("key"), "path variable %q is not in %q (variables: %s)", a.Key, r.Path, strings.Join(vars, ", "))
				}
				if a.Default != nil {
					v.addf(aat("default"), "a path variable is always present; a default makes no sense")
				}
			case FromQuery, FromHeader, FromBodyField:
			case FromBody:
				bodies++
				if bodies > 1 {
					v.addf(aat("from"), "only one argument can take the whole body")
				}
			case "":
				v.addf(aat("from"), "missing (path, query, header, body, body_field)")
			default:
				v.addf(aat("from"), "unknown source %q (path, query, header, body, body_field)", a.From)
			}
			if a.Default != nil && err == nil {
				if _, derr := translate.FromString(a.Name, *a.Default, typ); derr != nil {
					v.addf(aat("default"), "%v", derr)
				}
			}
		}
		for j, h := range r.RequestHeaders {
			if h == "" || strings.ContainsAny(h, " \t\r\n:") {
				v.addf(at("request_headers", j), "invalid header name %q", h)
			}
		}
		for j, m := range r.ResponseMeta {
			if m == "" || strings.ContainsAny(m, " \t\r\n:") {
				v.addf(at("response_meta", j), "invalid meta key %q for a header name", m)
			}
		}
	}
	if _, err := b.Build(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			v.addf(p("routes"), "%s", line)
		}
	}
	c.validateMotan2(v, clusters)
	c.validateGRPC(v, clusters)
	c.validateFilters(v)
	c.validateAdmin(v)
	c.validateRuntime(v)
	c.validateDiscovery(v)
	c.validateTracing(v) // tracing.go
	c.validateMetrics(v) // metrics.go
}

// validateAdmin checks the management API's section: an address that is
// not loopback needs a token, since the API can reload the configuration
// and flip switches.
func (c *Config) validateAdmin(v *validator) {
	a := &c.Admin
	if a.Enabled() {
		if host, _, err := net.SplitHostPort(a.Listen); err != nil {
			v.addf(p("admin", "listen"), "%q is not a host:port address (or off): %v", a.Listen, err)
		} else if !IsLoopback(host) && a.Token == "" {
			v.addf(p("admin", "listen"), "%q is not a loopback address: set admin.token, which every request must then send as \"Authorization: Bearer TOKEN\"", a.Listen)
		}
	}
	for _, r := range a.Token {
		if r <= ' ' || r == 0x7f {
			v.addf(p("admin", "token"), "must not contain spaces or control characters")
			break
		}
	}
	if a.Watch < 0 || (a.Watch > 0 && a.Watch < MinWatch) {
		v.addf(p("admin", "watch"), "must be 0 (off) or at least %v, got %v", MinWatch, a.Watch)
	}
}

// IsLoopback reports whether host (of a host:port address) names the
// loopback interface only: "localhost" or a loopback IP. An empty host
// (every interface) and other names are not.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateFilters builds every filter once, so that unknown names and bad
// options are reported with their line before anything serves.
func (c *Config) validateFilters(v *validator) {
	env := gateway.NewFilterEnv()
	checkSpec := func(path []any, list []Filter, endpoint string) {
		for j := range list {
			f := &list[j]
			at := append(append([]any{}, path...), j)
			if f.Name == "" {
				v.addf(at, "a filter needs a name")
				continue
			}
			if _, err := gateway.NewFilter(gateway.FilterSpec{Name: f.Name, Scope: pathString(path), Endpoint: endpoint, Decode: f.Decode, Env: env}); err != nil {
				v.addf(at, "%v", err)
			}
		}
	}
	check := func(path []any, list []Filter) { checkSpec(path, list, "") }
	check(p("filters", "default"), c.Filters.Default)
	for _, name := range sortedKeys(boolKeys(c.Filters.Clusters)) {
		if c.protocols[name] == "" {
			v.addf(p("filters", "clusters", name), "unknown cluster %q", name)
		}
		check(p("filters", "clusters", name), c.Filters.Clusters[name])
	}
	// Endpoint chains are built with FilterSpec.Endpoint set: a filter
	// may refuse options that make no sense per endpoint.
	checkEndpoint := func(path []any, list []Filter) { checkSpec(path, list, "endpoint") }
	checkEndpoint(p("filters", "endpoint"), c.Filters.Endpoint)
	for _, name := range sortedKeys(boolKeys(c.Filters.Endpoints)) {
		if c.protocols[name] == "" {
			v.addf(p("filters", "endpoints", name), "unknown cluster %q", name)
		}
		checkEndpoint(p("filters", "endpoints", name), c.Filters.Endpoints[name])
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		v.validateCallPolicy(p("routes", i, "target"), &r.Target.CallPolicy, "header", "path", "query", "arg")
		if from, name, _ := ParseHashKey(r.Target.HashKey); from == "arg" {
			found := false
			for _, a := range r.Args {
				found = found || a.Name == name
			}
			if !found {
				v.addf(p("routes", i, "target", "hash_key"), "no argument named %q in this route's args", name)
			}
		}
	}
	for i := range c.GRPCRoutes {
		v.validateCallPolicy(p("grpc_routes", i, "target"), &c.GRPCRoutes[i].Target.CallPolicy, "header")
	}
	for i := range c.Motan2Routes {
		v.validateCallPolicy(p("motan2_routes", i, "target"), &c.Motan2Routes[i].Target.CallPolicy, "header")
	}
	for i := range c.Transcoding {
		v.validateCallPolicy(p("transcoding", i, "target"), &c.Transcoding[i].Target.CallPolicy, "header", "path", "query")
	}
	for i := range c.Routes {
		check(p("routes", i, "filters"), c.Routes[i].Filters)
	}
	for i := range c.GRPCRoutes {
		check(p("grpc_routes", i, "filters"), c.GRPCRoutes[i].Filters)
	}
	for i := range c.Motan2Routes {
		check(p("motan2_routes", i, "filters"), c.Motan2Routes[i].Filters)
	}
	for i := range c.Transcoding {
		check(p("transcoding", i, "filters"), c.Transcoding[i].Filters)
	}
}

func boolKeys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func (c *Config) validateMotan2(v *validator, clusters map[string]bool) {
	if m := c.Motan2; m != nil {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			v.addf(p("motan2", "listen"), "%q is not a host:port address: %v", m.Listen, err)
		}
		if m.MaxBodyBytes < 0 || m.MaxConcurrentRequests < 0 {
			v.addf(p("motan2"), "max_body_bytes and max_concurrent_requests must not be negative")
		}
	} else if len(c.Motan2Routes) > 0 {
		v.addf(p("motan2_routes"), "routes without a motan2 listener: add a motan2 section")
	}
	seen := map[[2]string]int{}
	for i, r := range c.Motan2Routes {
		at := func(rest ...any) []any { return append(p("motan2_routes", i), rest...) }
		if r.Service == "" {
			v.addf(at("service"), "missing")
		}
		key := [2]string{r.Service, r.Group}
		if j, dup := seen[key]; dup {
			v.addf(at("service"), "service %q group %q is already routed by motan2_routes[%d]", r.Service, r.Group, j)
		}
		seen[key] = i
		switch {
		case r.Target.Cluster == "":
			v.addf(at("target", "cluster"), "missing")
		case !clusters[r.Target.Cluster]:
			v.addf(at("target", "cluster"), "unknown cluster %q (%s)", r.Target.Cluster, definedClusters(clusters))
		case c.protocols[r.Target.Cluster] == ProtocolGRPC:
			if r.Schema == "" {
				v.addf(at("schema"), "missing: a route to a gRPC cluster converts Motan2 arguments through a schema")
			}
			if r.Target.Group != "" {
				v.addf(at("target", "group"), "gRPC clusters have no groups")
			}
		case len(r.Target.Args) > 0 || r.Schema != "":
			v.addf(at("target"), "schema and args apply to routes to gRPC clusters; Motan2 clusters get the frames as they are")
		}
		if r.Schema != "" && !c.hasSchema(r.Schema) {
			v.addf(at("schema"), "unknown schema %q (%s)", r.Schema, c.definedSchemas())
		}
		if r.Target.Timeout < 0 {
			v.addf(at("target", "timeout"), "must be positive, got %v", r.Target.Timeout)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func definedClusters(clusters map[string]bool) string {
	if len(clusters) == 0 {
		return "no clusters are defined"
	}
	return "defined: " + strings.Join(sortedKeys(clusters), ", ")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *Config) hasSchema(name string) bool {
	for _, sc := range c.Schemas {
		if sc.Name == name {
			return true
		}
	}
	return false
}

func (c *Config) definedSchemas() string {
	if len(c.Schemas) == 0 {
		return "no schemas are defined"
	}
	names := make([]string, 0, len(c.Schemas))
	for _, sc := range c.Schemas {
		names = append(names, sc.Name)
	}
	sort.Strings(names)
	return "defined: " + strings.Join(names, ", ")
}

func (c *Config) validateSchemas(v *validator) {
	seen := map[string]bool{}
	for i, sc := range c.Schemas {
		at := func(rest ...any) []any { return append(p("schemas", i), rest...) }
		switch {
		case sc.Name == "":
			v.addf(at("name"), "missing")
		case seen[sc.Name]:
			v.addf(at("name"), "duplicate schema name %q", sc.Name)
		}
		seen[sc.Name] = true
		n := 0
		if sc.DescriptorSet != "" {
			n++
		}
		if sc.Protos != nil {
			n++
			if len(sc.Protos.Files) == 0 {
				v.addf(at("protos", "files"), "at least one .proto file is needed")
			}
		}
		if rs := sc.Reflection; rs != nil {
			n++
			switch {
			case rs.Cluster == "":
				v.addf(at("reflection", "cluster"), "missing")
			case c.protocols[rs.Cluster] == "":
				v.addf(at("reflection", "cluster"), "unknown cluster %q", rs.Cluster)
			case c.protocols[rs.Cluster] != ProtocolGRPC:
				v.addf(at("reflection", "cluster"), "cluster %q is not a gRPC cluster", rs.Cluster)
			}
			if rs.Timeout < 0 {
				v.addf(at("reflection", "timeout"), "must be positive, got %v", rs.Timeout)
			}
		}
		if sc.Builtin != "" {
			n++
			if sc.Builtin != BuiltinDemoSchema {
				v.addf(at("builtin"), "unknown builtin schema %q (demo)", sc.Builtin)
			}
		}
		if n != 1 {
			v.addf(at(), "needs exactly one of descriptor_set, protos, reflection and builtin (has %d)", n)
		}
	}
}

// validateProtoTarget checks the target of a gRPC route or a transcoding
// entry; schema is the route's schema name ("" for none).
func (c *Config) validateProtoTarget(v *validator, at func(rest ...any) []any, t *ProtoTarget, schema string, clusters map[string]bool) {
	switch {
	case t.Cluster == "":
		v.addf(at("target", "cluster"), "missing")
		return
	case !clusters[t.Cluster]:
		v.addf(at("target", "cluster"), "unknown cluster %q (%s)", t.Cluster, definedClusters(clusters))
		return
	}
	switch t.Encoding {
	case EncodingGrpcPB, EncodingPB, EncodingSimple:
	default:
		v.addf(at("target", "encoding"), "unknown encoding %q (grpc-pb, pb, simple)", t.Encoding)
	}
	if c.protocols[t.Cluster] == ProtocolGRPC {
		if t.Encoding != EncodingGrpcPB {
			v.addf(at("target", "encoding"), "gRPC clusters take messages as they are; encoding %q applies to Motan2 clusters", t.Encoding)
		}
		if t.Group != "" || t.Version != "" || len(t.Args) > 0 {
			v.addf(at("target"), "group, version and args apply to Motan2 clusters only")
		}
	} else if t.Encoding == EncodingSimple && schema == "" {
		v.addf(at("schema"), "missing: encoding simple converts messages through a schema")
	} else if t.Encoding != EncodingSimple && len(t.Args) > 0 {
		v.addf(at("target", "args"), "args apply to encoding simple only")
	}
	if t.Timeout < 0 {
		v.addf(at("target", "timeout"), "must be positive, got %v", t.Timeout)
	}
}

func (c *Config) validateGRPC(v *validator, clusters map[string]bool) {
	if g := c.GRPC; g != nil {
		if _, _, err := net.SplitHostPort(g.Listen); err != nil {
			v.addf(p("grpc", "listen"), "%q is not a host:port address: %v", g.Listen, err)
		}
		if g.MaxRecvMsgBytes < 0 || g.MaxConcurrentStreams < 0 {
			v.addf(p("grpc"), "max_recv_msg_bytes and max_concurrent_streams must not be negative")
		}
		if t := g.TLS; t != nil && (t.CertFile == "" || t.KeyFile == "") {
			v.addf(p("grpc", "tls"), "needs both cert_file and key_file")
		}
	} else if len(c.GRPCRoutes) > 0 {
		v.addf(p("grpc_routes"), "routes without a grpc listener: add a grpc section")
	}
	seen := map[[2]string]int{}
	for i := range c.GRPCRoutes {
		r := &c.GRPCRoutes[i]
		at := func(rest ...any) []any { return append(p("grpc_routes", i), rest...) }
		if r.Service == "" {
			v.addf(at("service"), "missing")
		} else if strings.ContainsAny(r.Service, "/ ") {
			v.addf(at("service"), "%q is not a full service name (package.Service)", r.Service)
		}
		key := [2]string{r.Service, r.Method}
		if j, dup := seen[key]; dup {
			v.addf(at("service"), "service %q method %q is already routed by grpc_routes[%d]", r.Service, r.Method, j)
		}
		seen[key] = i
		if r.Schema != "" && !c.hasSchema(r.Schema) {
			v.addf(at("schema"), "unknown schema %q (%s)", r.Schema, c.definedSchemas())
		}
		c.validateProtoTarget(v, at, &r.Target, r.Schema, clusters)
	}
	for i := range c.Transcoding {
		tc := &c.Transcoding[i]
		at := func(rest ...any) []any { return append(p("transcoding", i), rest...) }
		switch {
		case tc.Schema == "":
			v.addf(at("schema"), "missing")
		case !c.hasSchema(tc.Schema):
			v.addf(at("schema"), "unknown schema %q (%s)", tc.Schema, c.definedSchemas())
		}
		c.validateProtoTarget(v, at, &tc.Target, tc.Schema, clusters)
	}
}
