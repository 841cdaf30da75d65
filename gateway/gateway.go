// Package gateway holds meshgate's common request model and the contracts
// between ingresses and upstreams.
//
// Every ingress (HTTP today; gRPC and Motan2 next) turns what it receives
// into a Call, hands it to the Invoker its route points at, and writes the
// Reply, or the *translate.Error, back in its own protocol. Ingress
// packages never import upstream packages: the assembly code (package
// gateway/assembly) wires routes to invokers.
package gateway

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// Call is one request in protocol-neutral form.
//
// The request is either Args (Simple values) or Payload (one encoded
// protobuf message). Every ingress puts metadata where its protocol keeps
// it, Meta for HTTP and Motan2, Header for gRPC, and every upstream sends
// both in its own form (see MetaFromHeader and HeaderFromMeta).
type Call struct {
	// Service, Method, Group and Version name the Motan2 target; for a
	// gRPC target Service is the full service name and Method the method.
	Service, Method, Group, Version string
	// FullMethod is "/package.Service/Method", the method a gRPC upstream
	// calls (set by routes whose target may be gRPC).
	FullMethod string
	// Args are the typed arguments, in order.
	Args []motan2.Value
	// Payload, when not nil, is the request as one encoded protobuf
	// message and Args is unused. A gRPC upstream sends it as the request
	// message untouched; a Motan2 upstream sends it as the body, in
	// PayloadSerialization: grpc-pb (the default, when it is 0: the bytes
	// as they are, as motan-go's grpc-pb serialization writes a message)
	// or pb (one message value of motan-go's pb packing).
	Payload              []byte
	PayloadSerialization motan2.Serialization
	// Frame, when not nil, is a Motan2 request forwarded as it is (the
	// Motan2 proxy path: body never decoded, Args and Payload unused); a
	// Motan2 upstream sends it under a request id of its own connection
	// and returns the reply frame in Reply.Frame, exceptions included.
	Frame *motan2.Frame
	// Meta is forwarded as Motan2 meta (attachments).
	Meta motan2.Meta
	// Header is request metadata from a gRPC caller (keys lower-case).
	Header metadata.MD
	// RequestID is the caller's request id (generated when absent).
	RequestID string
	// Timeout is the time the whole upstream call may take (0: none
	// beyond the context's deadline), counted from Start.
	Timeout time.Duration
	// Start is when the ingress received the request, so that the time
	// spent in the gateway before the upstream call counts against
	// Timeout; zero: Timeout counts from when the cluster starts the call.
	Start time.Time
	// TimeoutSource names where Timeout came from, for timeout replies:
	// "route timeout", "grpc-timeout", "M_tmo" or the HTTP header's name
	// ("" is read as the route's timeout).
	TimeoutSource string
	// Idempotent marks a call that may be sent again after it may have
	// reached an upstream (failover after a sent attempt, backup
	// requests): set from the route's target.idempotent.
	Idempotent bool
	// HashKey is the consistent-hash load balancer's key (from the
	// route's target.hash_key); empty: no affinity.
	HashKey string
	// Attempt is the 1-based number of this attempt among the call's,
	// and Backup marks a backup request: the cluster sets them on each
	// attempt's copy of the call, for the endpoint chain (0 and false
	// elsewhere).
	Attempt int
	Backup  bool
}

// Reply is the answer to a Call: Value from a Simple call, Payload (an
// encoded protobuf message) from a Payload call.
type Reply struct {
	Value   motan2.Value
	Payload []byte
	// Frame is the reply frame of a Frame call, carrying the call's
	// request id again.
	Frame *motan2.Frame
	// Meta is the Motan2 reply meta.
	Meta motan2.Meta
	// Header and Trailer are a gRPC upstream's response metadata; an
	// Invoker may set them also when it returns an error.
	Header, Trailer metadata.MD
	// Endpoint is the address of the endpoint whose answer this is (also
	// set with an error when an endpoint answered it); empty when no
	// endpoint was reached.
	Endpoint string
	// Attempts counts the attempts sent for the call (failovers and
	// backup requests included; 0 when none was sent).
	Attempts int
	// Backups counts the backup (hedged) attempts among Attempts; the
	// rest beyond the first are failovers.
	Backups int
}

// Invoker sends a Call upstream. Invoke may block until ctx's deadline or
// call.Timeout; on success it fills reply (which the caller owns, so that a
// request costs no Reply allocation), otherwise it returns an error that is
// a *translate.Error, which every ingress maps to its protocol's status.
// Implementations are safe for concurrent use and keep no reference to
// call or reply after returning.
type Invoker interface {
	Invoke(ctx context.Context, call *Call, reply *Reply) error
}

// Route is a compiled route: what an ingress needs to turn a matched
// request into a Call and the reply into a response. Routes are immutable
// once built and shared by all requests of a configuration generation.
type Route struct {
	Name    string
	Service string
	Method  string
	Group   string
	Version string
	// FullMethod is the Call's FullMethod, "/package.Service/Method":
	// set on transcoded routes (Proto), whose target may be gRPC.
	FullMethod string
	// Timeout is the deadline of the whole upstream call.
	Timeout time.Duration
	Args    []ArgBinding
	// RequestHeaders are forwarded into the Call's meta; ResponseMeta keys
	// are copied from the reply's meta to response headers.
	RequestHeaders []string
	ResponseMeta   []string
	// ContentType, when set, writes string and bytes replies raw with this
	// content type instead of JSON.
	ContentType string
	JSON        translate.JSONOptions
	// NeedsBody is true when an argument reads the JSON body.
	NeedsBody bool
	// Proto, when set, makes this a transcoded route: the request message
	// of a method described by a protobuf schema is built from the path,
	// query and JSON body (Args is unused) and the reply message is
	// written as JSON.
	Proto   *ProtoRoute
	Policy  CallPolicy
	Invoker Invoker
}

// MessageMode says how a route whose request is a protobuf message
// reaches its upstream.
type MessageMode uint8

const (
	// PassPayload sends the encoded message as it is: the request message
	// of a gRPC upstream, or the body of a Motan2 call in grpc-pb or pb
	// serialization (Call.Payload). The reply is a message too.
	PassPayload MessageMode = iota
	// ConvertSimple converts the message into Simple arguments through its
	// descriptor (translate.ProtoToSimple; one map argument, or one
	// argument per field of ArgFields) and the Simple reply back into the
	// response message (translate.SimpleToProto). Only Motan2 upstreams
	// take Simple calls.
	ConvertSimple
)

// ProtoRoute is the schema side of a transcoded HTTP route.
type ProtoRoute struct {
	// Schema holds the method's descriptors. The descriptor is looked up
	// in Schema.Current() for every request, so a schema reload applies
	// to the next request and never to one in flight.
	Schema *descriptors.Registry
	// Method is the method's full name ("pkg.Service.Method").
	Method protoreflect.FullName
	// Body and ResponseBody are the HttpRule's body ("", "*" or a field
	// path) and response_body ("" or a field path).
	Body, ResponseBody string
	// JSON are the route's JSON options, for the body it reads, the reply
	// it writes and the error details.
	JSON translate.ProtoJSONOptions
	// Mode, PayloadSerialization and ArgFields say how the message
	// reaches the upstream (see MessageMode).
	Mode                 MessageMode
	PayloadSerialization motan2.Serialization
	ArgFields            []string
}

// GRPCRoute routes the gRPC calls of one service, or of one of its
// methods, to an upstream.
type GRPCRoute struct {
	Name string
	// Service is the full service name matched ("pkg.Service"); Method,
	// when not empty, restricts the route to that method.
	Service, Method string
	// TargetService is the upstream's service: the gRPC service that
	// FullMethod names (default Service), or the Motan2 service (M_p) of
	// a Motan2 target. The upstream method has the gRPC method's name.
	TargetService string
	// Group and Version complete a Motan2 target.
	Group, Version string
	// Timeout bounds the upstream call; the caller's grpc-timeout also
	// bounds it.
	Timeout time.Duration
	// Mode, PayloadSerialization and ArgFields say how the message
	// reaches the upstream (see MessageMode).
	Mode                 MessageMode
	PayloadSerialization motan2.Serialization
	ArgFields            []string
	// Schema describes the service. It is needed for ConvertSimple and
	// for serving the service in server reflection; PassPayload routes to
	// a gRPC upstream work without one.
	Schema  *descriptors.Registry
	Policy  CallPolicy
	Invoker Invoker
}

// ArgBinding says where one argument comes from.
type ArgBinding struct {
	Name string
	From Source
	Key  string
	Type translate.ArgType
	// Default is used when the input is absent (HasDefault).
	Default    motan2.Value
	HasDefault bool
}

// Source is where an argument is read from.
type Source uint8

// Argument sources.
const (
	FromPath      Source = iota // a path template variable
	FromQuery                   // a query parameter
	FromHeader                  // a request header
	FromBody                    // the whole JSON body
	FromBodyField               // one field of the JSON body, by dotted path
)

// reservedHeader reports metadata that belongs to a gRPC transport and is
// never copied into Motan2 meta: pseudo-headers, grpc-* keys (timeout,
// encoding, status), binary (-bin) values and the HTTP/2 connection
// headers grpc-go sets itself.
func reservedHeader(k string) bool {
	if k == "" || k[0] == ':' || strings.HasPrefix(k, "grpc-") || strings.HasSuffix(k, "-bin") {
		return true
	}
	switch k {
	case "content-type", "user-agent", "te", "authority", "host", "connection":
		return true
	}
	return false
}

// MetaFromHeader appends the first value of each non-reserved key of md to
// meta, for a Motan2 upstream or caller: gRPC metadata becomes Motan2 meta
// under the same (lower-case) name. Reserved keys (see reservedHeader) and
// keys already in meta are skipped.
func MetaFromHeader(meta motan2.Meta, md metadata.MD) motan2.Meta {
	for k, vs := range md {
		if len(vs) == 0 || reservedHeader(k) {
			continue
		}
		if _, ok := meta.Lookup(k); ok {
			continue
		}
		meta = append(meta, motan2.MetaPair{Key: k, Value: vs[0]})
	}
	return meta
}

// HeaderFromMeta adds the Motan2 meta pairs that are valid gRPC metadata
// (lower-cased, reserved and M_ keys skipped) to md, allocating md when it
// is nil and there is something to add.
func HeaderFromMeta(md metadata.MD, meta motan2.Meta) metadata.MD {
	for _, p := range meta {
		lk := strings.ToLower(p.Key)
		if strings.HasPrefix(p.Key, "M_") || reservedHeader(lk) || !validHeaderKey(lk) {
			continue
		}
		if md == nil {
			md = metadata.MD{}
		}
		md[lk] = append(md[lk], p.Value)
	}
	return md
}

// validHeaderKey reports whether k (lower-case) is a legal gRPC metadata
// key: digits, letters, '-', '_' and '.'.
func validHeaderKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return k != ""
}
