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
	"time"

	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// Call is one request in protocol-neutral form.
type Call struct {
	// Service, Method, Group and Version name the Motan2 target.
	Service, Method, Group, Version string
	// Args are the typed arguments, in order.
	Args []motan2.Value
	// Meta is forwarded as Motan2 meta (attachments).
	Meta motan2.Meta
	// RequestID is the caller's request id (generated when absent).
	RequestID string
	// Timeout is the time the whole upstream call may take (0: none
	// beyond the context's deadline).
	Timeout time.Duration
}

// Reply is the answer to a Call.
type Reply struct {
	Value motan2.Value
	Meta  motan2.Meta
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

// FrameInvoker sends a Motan2 request frame upstream unchanged (the proxy
// path: the body is never decoded) and returns the reply frame, whose
// request id is req's again. Exception replies are frames; errors are
// *translate.Error values for calls that got no reply. timeout bounds the
// whole call in addition to ctx (0: none).
type FrameInvoker interface {
	RoundTrip(ctx context.Context, req *motan2.Frame, timeout time.Duration) (*motan2.Frame, error)
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
	Invoker   Invoker
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
