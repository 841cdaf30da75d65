// Package upstream calls services: Motan2 clusters (Cluster) and gRPC
// clusters (GRPCCluster).
package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// LB is a load-balancing policy.
type LB uint8

// Load-balancing policies.
const (
	RoundRobin LB = iota
	Random
)

// ClusterOptions configures a Motan2 cluster.
type ClusterOptions struct {
	LB            LB
	Serialization motan2.Serialization
	// Client options applied to every endpoint's client.
	Client []motan2.ClientOption
	Logger *slog.Logger
}

// Cluster is a set of Motan2 endpoints serving the same services. It is an
// gateway.Invoker: each call goes to one endpoint picked by the policy,
// skipping endpoints marked unavailable; a call that could not be sent
// (connection refused, endpoint in backoff) moves on to the next endpoint,
// because it never reached a server.
type Cluster struct {
	name    string
	clients []*motan2.Client
	ser     motan2.Serialization
	picker
}

// NewCluster returns a cluster over endpoints ("host:port"). It does not
// connect until the first call.
func NewCluster(name string, endpoints []string, o ClusterOptions) *Cluster {
	c := &Cluster{name: name, ser: o.Serialization, picker: picker{lb: o.LB}}
	if c.ser == motan2.SerializationHessian2 {
		c.ser = motan2.SerializationSimple
	}
	opts := o.Client
	if o.Logger != nil {
		opts = append([]motan2.ClientOption{motan2.WithLogger(o.Logger.With("cluster", name))}, opts...)
	}
	for _, ep := range endpoints {
		c.clients = append(c.clients, motan2.NewClient(ep, opts...))
	}
	return c
}

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// Close closes every endpoint's connections.
func (c *Cluster) Close() {
	for _, cl := range c.clients {
		cl.Close()
	}
}

// Invoke implements gateway.Invoker. The request meta is call.Meta plus
// call.Header as gateway.MetaFromHeader adds it (neither is modified).
//
// A Simple call (call.Args) is sent in the cluster's serialization and
// its reply decoded into reply.Value. A payload call (call.Payload not
// nil) sends the message as the body in call.PayloadSerialization: grpc-pb
// (also when it is 0: the bytes as they are) or pb (one message value);
// the reply body, a message in grpc-pb or pb, comes back in reply.Payload.
// A reply of the other kind (a Simple value to a payload call, a message
// body to a Simple call in a Simple serialization) is an Internal error.
func (c *Cluster) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	if call.Frame != nil {
		f, err := c.RoundTrip(ctx, call.Frame, call.Timeout)
		reply.Frame = f
		return err
	}
	meta := call.Meta
	if len(call.Header) > 0 {
		// Capacity capped: MetaFromHeader appends, never into the
		// caller's array.
		meta = gateway.MetaFromHeader(meta[:len(meta):len(meta)], call.Header)
	}
	if call.Payload != nil {
		return c.invokePayload(ctx, call, meta, reply)
	}
	req := motan2.Request{
		Service: call.Service, Method: call.Method, Group: call.Group, Version: call.Version,
		Args: call.Args, Meta: meta, Serialization: c.ser,
	}
	return c.try(call.Service, call.Method, call.Timeout, func(cl *motan2.Client, timeout time.Duration) error {
		req.Timeout, req.SendTimeout = timeout, true
		var resp motan2.Response
		err := cl.CallInto(ctx, &req, &resp)
		if f := resp.Frame; f != nil && !f.IsException() && messageSerialization(f.Serialization) && !messageSerialization(c.ser) {
			return &translate.Error{Code: translate.Internal, HTTPStatus: 502,
				Message: fmt.Sprintf("Motan2 upstream %s.%s at %s answered a Simple call with a %s body (a protobuf message); the route sends Simple arguments and needs a Simple reply",
					call.Service, call.Method, cl.Addr(), f.Serialization)}
		}
		if err != nil {
			return err
		}
		reply.Value, reply.Meta = resp.Value, resp.Meta
		return nil
	})
}

// messageSerialization reports the serializations whose body is a
// protobuf message (grpc-pb) or message values (pb).
func messageSerialization(s motan2.Serialization) bool {
	return s == motan2.SerializationGrpcPB || s == motan2.SerializationPB
}

// invokePayload sends a payload call (see Invoke).
func (c *Cluster) invokePayload(ctx context.Context, call *gateway.Call, meta motan2.Meta, reply *gateway.Reply) error {
	ser := call.PayloadSerialization
	var body []byte
	switch ser {
	case motan2.SerializationHessian2, motan2.SerializationGrpcPB:
		ser, body = motan2.SerializationGrpcPB, call.Payload
	case motan2.SerializationPB:
		var err error
		if body, err = motan2.AppendPB(make([]byte, 0, len(call.Payload)+binary.MaxVarintLen64+1), motan2.Message("", call.Payload)); err != nil {
			return &translate.Error{Code: translate.Internal, Message: "encoding the pb body: " + err.Error(), Cause: err}
		}
	default:
		return &translate.Error{Code: translate.Internal,
			Message: fmt.Sprintf("a protobuf message cannot be sent to Motan2 upstream %s.%s in %s serialization (grpc-pb or pb only)", call.Service, call.Method, ser)}
	}
	req := motan2.Request{
		Service: call.Service, Method: call.Method, Group: call.Group, Version: call.Version,
		Meta: meta, Serialization: ser, Body: body,
	}
	return c.try(call.Service, call.Method, call.Timeout, func(cl *motan2.Client, timeout time.Duration) error {
		req.Timeout, req.SendTimeout = timeout, true
		var resp motan2.Response
		if err := cl.CallInto(ctx, &req, &resp); err != nil {
			return err
		}
		payload, err := replyPayload(ser, resp.Frame)
		if err != nil {
			return &translate.Error{Code: translate.Internal, HTTPStatus: 502, Cause: err,
				Message: fmt.Sprintf("Motan2 upstream %s.%s at %s: %v", call.Service, call.Method, cl.Addr(), err)}
		}
		reply.Payload, reply.Meta = payload, resp.Meta
		return nil
	})
}

// replyPayload returns the message of the reply f to a payload call sent
// in serialization sent: a grpc-pb body as it is, the one message value of
// a pb body. An empty body (a null result, which motan-go sends without a
// body) is an empty message.
func replyPayload(sent motan2.Serialization, f *motan2.Frame) ([]byte, error) {
	if len(f.Body) == 0 {
		return []byte{}, nil
	}
	s := f.Serialization
	if s == motan2.SerializationHessian2 {
		s = sent // an agent-made frame: the body is in the request's serialization
	}
	switch s {
	case motan2.SerializationGrpcPB:
		return f.Body, nil
	case motan2.SerializationPB:
		vs, err := motan2.DecodePB(f.Body, []motan2.Kind{motan2.KindMessage})
		if err != nil {
			return nil, fmt.Errorf("malformed pb reply: %w", err)
		}
		if vs[0].IsNull() {
			return []byte{}, nil
		}
		return vs[0].Raw(), nil
	}
	return nil, fmt.Errorf("answered a %s call (a protobuf message) with a %s body; the route needs a protobuf message reply (grpc-pb or pb)", sent, s)
}

// RoundTrip serves Frame calls (see gateway.Call.Frame): req is sent as it is (body
// untouched) on a connection of the picked endpoint, under a request id of
// that connection; the reply frame carries req's id again. Exception
// replies are frames, not errors.
func (c *Cluster) RoundTrip(ctx context.Context, req *motan2.Frame, timeout time.Duration) (*motan2.Frame, error) {
	var reply *motan2.Frame
	err := c.try(req.Service(), req.Method(), timeout, func(cl *motan2.Client, timeout time.Duration) error {
		var err error
		reply, err = cl.RoundTripWithin(ctx, req, timeout)
		return err
	})
	return reply, err
}

// try runs attempt on one endpoint after another, in the policy's order:
// endpoints marked unavailable are tried only when nothing else is left,
// an attempt that never left this process (connection refused, endpoint in
// backoff) moves on to the next endpoint, and each attempt gets what is
// left of timeout (0: no limit beyond the context). Errors come back as
// *translate.Error. service and method name the call in error messages
// (joined only then: the joined string would escape, an allocation per
// call).
func (c *Cluster) try(service, method string, timeout time.Duration, attempt func(cl *motan2.Client, timeout time.Duration) error) error {
	n := len(c.clients)
	began := time.Now()
	start := c.start(n)
	var lastErr error
	tried := 0
	for i := 0; i < n; i++ {
		cl := c.clients[(start+i)%n]
		if !cl.Available() && i < n-1 {
			continue // try it only if nothing else is left
		}
		tried++
		left := time.Duration(0)
		if timeout > 0 {
			left = timeout // the first attempt gets all of it
			if tried > 1 {
				if left = timeout - time.Since(began); left <= 0 {
					return c.callError(service+"."+method, cl.Addr(), time.Since(began), context.DeadlineExceeded)
				}
			}
		}
		err := attempt(cl, left)
		if err == nil {
			return nil
		}
		var exc *motan2.Exception
		if errors.As(err, &exc) {
			return translate.FromMotan2Exception(exc)
		}
		var te *translate.Error
		if errors.As(err, &te) {
			return te // the attempt's own verdict
		}
		var ce *motan2.CallError
		if errors.As(err, &ce) && !ce.Sent && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			lastErr = err // never left: safe to try the next endpoint
			continue
		}
		return c.callError(service+"."+method, cl.Addr(), time.Since(began), err)
	}
	return &translate.Error{Code: translate.Unavailable, Cause: lastErr,
		Message: fmt.Sprintf("no reachable endpoint in cluster %q (%d endpoints, %d tried): %v", c.name, n, tried, lastErr)}
}

// picker is the load-balancing state a cluster shares between calls.
type picker struct {
	lb   LB
	next atomic.Uint64
}

// start returns the index of the first endpoint (of n) to try for a call:
// the next in turn for RoundRobin, a random one for Random.
func (p *picker) start(n int) int {
	if n <= 1 {
		return 0
	}
	if p.lb == Random {
		return rand.IntN(n)
	}
	return int(p.next.Add(1) % uint64(n))
}

// callError maps a failed call that may have reached the endpoint.
func (c *Cluster) callError(target, addr string, spent time.Duration, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &translate.Error{Code: translate.DeadlineExceeded, Cause: err,
			Message: fmt.Sprintf("upstream %s at %s did not answer within the route's deadline (waited %v)", target, addr, spent.Round(time.Millisecond))}
	case errors.Is(err, context.Canceled):
		return &translate.Error{Code: translate.Canceled, Message: "request cancelled by the caller", Cause: err}
	case errors.Is(err, motan2.ErrConnClosed):
		return &translate.Error{Code: translate.Unavailable, HTTPStatus: 502,
			Message: fmt.Sprintf("connection to %s lost during the call to %s", addr, target), Cause: err}
	}
	return &translate.Error{Code: translate.Internal, HTTPStatus: 502,
		Message: fmt.Sprintf("call to %s at %s failed: %v", target, addr, err), Cause: err}
}
