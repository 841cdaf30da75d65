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
		if call.Timeout > 0 {
			// Each attempt gets what is left of the call's budget.
			if req.Timeout = call.Timeout - time.Since(began); req.Timeout <= 0 {
				return c.callError(call, cl.Addr(), time.Since(began), context.DeadlineExceeded)
			}
		}
		var resp motan2.Response
		err := cl.CallInto(ctx, &req, &resp)
		if err == nil {
			reply.Value, reply.Meta = resp.Value, resp.Meta
			return nil
		}
		var exc *motan2.Exception
		if errors.As(err, &exc) {
			return translate.FromMotan2Exception(exc)
		}
		var ce *motan2.CallError
		if errors.As(err, &ce) && !ce.Sent && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			lastErr = err // never left: safe to try the next endpoint
			continue
		}
		return c.callError(call, cl.Addr(), time.Since(began), err)
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
func (c *Cluster) callError(call *gateway.Call, addr string, spent time.Duration, err error) error {
	target := call.Service + "." + call.Method
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
