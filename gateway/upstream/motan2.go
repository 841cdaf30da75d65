// Package upstream calls services: Motan2 clusters (Cluster) and gRPC
// clusters (GRPCCluster).
package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// ClusterOptions configures a Motan2 cluster.
type ClusterOptions struct {
	// LB names the load-balancing policy (gateway/upstream/lb; "":
	// round_robin).
	LB            string
	Serialization motan2.Serialization
	// Client options applied to every endpoint's client.
	Client []motan2.ClientOption
	// HA configures failover and backup requests.
	HA HAOptions
	// EndpointChain builds each endpoint's filter chain (nil: none).
	EndpointChain EndpointChain
	Logger        *slog.Logger
}

// Cluster is a set of Motan2 endpoints serving the same services. It is a
// gateway.Invoker: each call goes to one endpoint picked by the policy
// through that endpoint's filter chain, with failover and backup requests
// as HAOptions say (cluster.go). The endpoint set changes with Update.
type Cluster struct {
	core
	ser  motan2.Serialization
	opts []motan2.ClientOption
}

// NewCluster returns a cluster over endpoints. It does not connect until
// the first call. Errors are bad options (an unknown policy).
func NewCluster(name string, endpoints []gateway.Endpoint, o ClusterOptions) (*Cluster, error) {
	c := &Cluster{ser: o.Serialization}
	if c.ser == motan2.SerializationHessian2 {
		c.ser = motan2.SerializationSimple
	}
	c.opts = o.Client
	if o.Logger != nil {
		c.opts = append([]motan2.ClientOption{motan2.WithLogger(o.Logger.With("cluster", name))}, c.opts...)
	}
	c.newClient = func(ep gateway.Endpoint) (client, error) {
		return motan2Client{motan2.NewClient(ep.Addr, c.opts...)}, nil
	}
	c.attempt = func(ep *endpoint) gateway.Invoker {
		return &motan2Attempt{c: c, cl: ep.client.(motan2Client).Client}
	}
	if err := c.init(name, "Motan2", o.LB, o.HA, o.EndpointChain, o.Logger); err != nil {
		return nil, err
	}
	if err := c.update(gateway.EndpointSet{Endpoints: endpoints}); err != nil {
		return nil, err
	}
	return c, nil
}

// motan2Client adapts a motan2.Client to the cluster's client.
type motan2Client struct{ *motan2.Client }

func (m motan2Client) State() string { return "" }
func (m motan2Client) Close()        { m.Client.Close() }

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// Close closes every endpoint's connections.
func (c *Cluster) Close() { c.close() }

// Invoke implements gateway.Invoker through the cluster core (cluster.go):
// see motan2Attempt.Invoke for what is sent.
func (c *Cluster) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	return c.invoke(ctx, call, reply)
}

// motan2Attempt sends a call to one endpoint: the innermost invoker of
// the endpoint's chain.
type motan2Attempt struct {
	c  *Cluster
	cl *motan2.Client
}

// Invoke sends one attempt. The request meta is call.Meta plus
// call.Header as gateway.MetaFromHeader adds it (neither is modified).
//
// A Frame call (the Motan2 proxy path) is sent as it is and its reply
// frame comes back in reply.Frame (exceptions included). A Simple call
// (call.Args) is sent in the cluster's serialization and its reply
// decoded into reply.Value. A payload call (call.Payload not nil) sends
// the message as the body in call.PayloadSerialization: grpc-pb (also
// when it is 0: the bytes as they are) or pb (one message value); the
// reply body, a message in grpc-pb or pb, comes back in reply.Payload. A
// reply of the other kind (a Simple value to a payload call, a message
// body to a Simple call in a Simple serialization) is an Internal error.
//
// reply.Attempts is 1 when the call may have left the gateway, 0 when it
// certainly did not (the cluster then tries the next endpoint). Errors
// are *translate.Error values.
func (a *motan2Attempt) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	err := a.send(ctx, call, reply)
	if err == nil {
		reply.Attempts = 1
		return nil
	}
	var exc *motan2.Exception
	if errors.As(err, &exc) {
		reply.Attempts = 1
		return translate.FromMotan2Exception(exc)
	}
	var ce *motan2.CallError
	if errors.As(err, &ce) && !ce.Sent {
		reply.Attempts = 0
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			// Never left: the endpoint is unreachable (refused, in
			// backoff, closed), which the cluster moves on from.
			return &translate.Error{Code: translate.Unavailable, Cause: err,
				Message: fmt.Sprintf("Motan2 endpoint %s (cluster %q) unreachable: %v", a.cl.Addr(), a.c.name, ce.Err)}
		}
	} else {
		reply.Attempts = 1
	}
	var te *translate.Error
	if errors.As(err, &te) {
		return te // the attempt's own verdict
	}
	return a.c.callError(a.c.target(call), a.cl.Addr(), call.Timeout, err)
}

func (a *motan2Attempt) send(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	if call.Frame != nil {
		f, err := a.cl.RoundTripWithin(ctx, call.Frame, call.Timeout)
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
		return a.c.invokePayload(ctx, a.cl, call, meta, reply)
	}
	req := motan2.Request{
		Service: call.Service, Method: call.Method, Group: call.Group, Version: call.Version,
		Args: call.Args, Meta: meta, Serialization: a.c.ser, Timeout: call.Timeout, SendTimeout: true,
	}
	var resp motan2.Response
	err := a.cl.CallInto(ctx, &req, &resp)
	if f := resp.Frame; f != nil && !f.IsException() && messageSerialization(f.Serialization) && !messageSerialization(a.c.ser) {
		return &translate.Error{Code: translate.Internal, HTTPStatus: 502,
			Message: fmt.Sprintf("Motan2 upstream %s.%s at %s answered a Simple call with a %s body (a protobuf message); the route sends Simple arguments and needs a Simple reply",
				call.Service, call.Method, a.cl.Addr(), f.Serialization)}
	}
	if err != nil {
		return err
	}
	reply.Value, reply.Meta = resp.Value, resp.Meta
	return nil
}

// messageSerialization reports the serializations whose body is a
// protobuf message (grpc-pb) or message values (pb).
func messageSerialization(s motan2.Serialization) bool {
	return s == motan2.SerializationGrpcPB || s == motan2.SerializationPB
}

// invokePayload sends a payload call (see Invoke).
func (c *Cluster) invokePayload(ctx context.Context, cl *motan2.Client, call *gateway.Call, meta motan2.Meta, reply *gateway.Reply) error {
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
		Meta: meta, Serialization: ser, Body: body, Timeout: call.Timeout, SendTimeout: true,
	}
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

// callError maps a failed call that may have reached the endpoint.
func (c *Cluster) callError(target, addr string, budget time.Duration, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &translate.Error{Code: translate.DeadlineExceeded, Cause: err,
			Message: fmt.Sprintf("upstream %s at %s did not answer within the call's deadline (%v)", target, addr, budget.Round(time.Millisecond))}
	case errors.Is(err, context.Canceled):
		return &translate.Error{Code: translate.Canceled, Message: "request cancelled by the caller", Cause: err}
	case errors.Is(err, motan2.ErrConnClosed):
		return &translate.Error{Code: translate.Unavailable, HTTPStatus: 502,
			Message: fmt.Sprintf("connection to %s lost during the call to %s", addr, target), Cause: err}
	}
	return &translate.Error{Code: translate.Internal, HTTPStatus: 502,
		Message: fmt.Sprintf("call to %s at %s failed: %v", target, addr, err), Cause: err}
}
