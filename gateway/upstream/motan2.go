// Package upstream calls services: Motan2 clusters today.
package upstream

import (
	"context"
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
	lb      LB
	ser     motan2.Serialization
	next    atomic.Uint64
}

// NewCluster returns a cluster over endpoints ("host:port"). It does not
// connect until the first call.
func NewCluster(name string, endpoints []string, o ClusterOptions) *Cluster {
	c := &Cluster{name: name, lb: o.LB, ser: o.Serialization}
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

// Invoke implements gateway.Invoker.
func (c *Cluster) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	req := motan2.Request{
		Service: call.Service, Method: call.Method, Group: call.Group, Version: call.Version,
		Args: call.Args, Meta: call.Meta, Serialization: c.ser,
	}
	return c.try(call.Service+"."+call.Method, call.Timeout, func(cl *motan2.Client, timeout time.Duration) error {
		req.Timeout = timeout
		var resp motan2.Response
		if err := cl.CallInto(ctx, &req, &resp); err != nil {
			return err
		}
		reply.Value, reply.Meta = resp.Value, resp.Meta
		return nil
	})
}

// RoundTrip implements gateway.FrameInvoker: req is sent as it is (body
// untouched) on a connection of the picked endpoint, under a request id of
// that connection; the reply frame carries req's id again. Exception
// replies are frames, not errors.
func (c *Cluster) RoundTrip(ctx context.Context, req *motan2.Frame, timeout time.Duration) (*motan2.Frame, error) {
	var reply *motan2.Frame
	err := c.try(req.Service()+"."+req.Method(), timeout, func(cl *motan2.Client, timeout time.Duration) error {
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
// *translate.Error.
func (c *Cluster) try(target string, timeout time.Duration, attempt func(cl *motan2.Client, timeout time.Duration) error) error {
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
			if left = timeout - time.Since(began); left <= 0 {
				return c.callError(target, cl.Addr(), time.Since(began), context.DeadlineExceeded)
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
		var ce *motan2.CallError
		if errors.As(err, &ce) && !ce.Sent && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			lastErr = err // never left: safe to try the next endpoint
			continue
		}
		return c.callError(target, cl.Addr(), time.Since(began), err)
	}
	return &translate.Error{Code: translate.Unavailable, Cause: lastErr,
		Message: fmt.Sprintf("no reachable endpoint in cluster %q (%d endpoints, %d tried): %v", c.name, n, tried, lastErr)}
}

func (c *Cluster) start(n int) int {
	if n == 1 {
		return 0
	}
	if c.lb == Random {
		return rand.IntN(n)
	}
	return int(c.next.Add(1) % uint64(n))
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
