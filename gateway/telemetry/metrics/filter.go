package metrics

import (
	"context"
	"sync/atomic"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/translate"
)

// RouteFilter returns the filter that starts the chain of the route named
// route: it counts each call by service, method and code, its retries,
// backup requests and limiter rejections, the calls in flight, and
// records its latency in the histogram and the route's window: from when
// the ingress received the request (Call.Start; when the filter is
// entered if that is unset) to when the chain returns. It allocates nothing
// per call; the first call of a new service method builds that method's
// label sets once.
func (m *Metrics) RouteFilter(route, ingress string) gateway.Filter {
	return &routeFilter{m: m, rs: m.route(route, ingress)}
}

type routeFilter struct {
	m  *Metrics
	rs *routeStats
	// last is the method stats of the previous call: most routes call one
	// method, which then costs two string comparisons to find.
	last atomic.Pointer[methodStats]
}

func (f *routeFilter) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	ms := f.last.Load()
	if ms == nil || ms.key.method != call.Method || ms.key.service != call.Service {
		ms = f.rs.method(call.Service, call.Method)
		if ms.key.method == call.Method && ms.key.service == call.Service {
			f.last.Store(ms)
		}
	}
	// The ingress's receive time when it set one (it saves a clock read
	// and counts the gateway's own time before the chain), unless a test
	// clock is in use.
	start := call.Start
	if start.IsZero() || !f.m.realClock {
		start = f.m.now()
	}
	f.rs.inFlight.Add(1)
	err := next.Invoke(ctx, call, reply)
	end := f.m.now()
	f.rs.inFlight.Add(-1)
	d := end.Sub(start)
	code := codeOf(err)
	ms.counts[codeIndex(code)].Add(1)
	ms.window.RecordAt(end, d, err != nil)
	ms.hist.record(&f.m.buckets, d)
	if reply.Backups > 0 {
		ms.backups.Add(uint64(reply.Backups))
	}
	if r := reply.Attempts - 1 - reply.Backups; r > 0 {
		ms.retries.Add(uint64(r))
	}
	if code == translate.ResourceExhausted && reply.Attempts == 0 {
		ms.rejected.Add(1)
	}
	return err
}

// EndpointFilter returns the filter that starts the per-endpoint chain of
// endpoint (an address) in cluster, run once per attempt: it counts the
// attempts by code, those in flight, and records their latency in the
// endpoint histogram and window.
func (m *Metrics) EndpointFilter(cluster, endpoint string) gateway.Filter {
	f := &endpointFilter{m: m, cluster: cluster, endpoint: endpoint}
	f.es.Store(m.endpoint(cluster, endpoint))
	return f
}

type endpointFilter struct {
	m                 *Metrics
	cluster, endpoint string
	// es are the endpoint's stats, replaced when idle ones were pruned.
	es atomic.Pointer[endpointStats]
}

func (f *endpointFilter) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	es := f.es.Load()
	if es.retired.Load() {
		es = f.m.endpoint(f.cluster, f.endpoint)
		f.es.Store(es)
	}
	start := f.m.now()
	es.inFlight.Add(1)
	err := next.Invoke(ctx, call, reply)
	end := f.m.now()
	es.inFlight.Add(-1)
	d := end.Sub(start)
	es.counts[codeIndex(codeOf(err))].Add(1)
	es.window.RecordAt(end, d, err != nil)
	es.hist.record(&f.m.buckets, d)
	return err
}
