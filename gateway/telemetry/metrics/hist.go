package metrics

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The latency histograms (meshgate_request_duration_seconds and
// meshgate_endpoint_duration_seconds) are kept here rather than in
// OpenTelemetry instruments. A record is a bucket search and two atomic
// adds; the SDK's Record looked its attribute set up in a map and added
// the sum with a compare-and-swap loop on every call, 2-5% of an
// HTTP -> Motan2 request's CPU (benchmarks/RESULTS.md). And the series of
// a pruned endpoint go with its stats, where the SDK's cumulative
// histograms kept every attribute set they ever saw. They are exported
// by histCollector on the registry the OpenTelemetry exporter writes to,
// under the names and labels that exporter gave them.

// buckets are the histograms' upper bounds: in seconds for export and in
// nanoseconds for recording.
type buckets struct {
	seconds []float64
	nanos   []int64
}

func newBuckets(seconds []float64) buckets {
	b := buckets{seconds: seconds, nanos: make([]int64, len(seconds))}
	for i, s := range seconds {
		b.nanos[i] = int64(math.Round(s * 1e9))
	}
	return b
}

// latencyHist is a cumulative latency histogram: counts[i] are the
// durations d with bounds[i-1] < d <= bounds[i] (the last one: above the
// last bound), as OpenTelemetry and Prometheus define buckets.
type latencyHist struct {
	counts []atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func newLatencyHist(b buckets) *latencyHist {
	return &latencyHist{counts: make([]atomic.Uint64, len(b.nanos)+1)}
}

func (h *latencyHist) record(b *buckets, d time.Duration) {
	v := int64(d)
	lo, hi := 0, len(b.nanos)
	for lo < hi { // the first bound >= v
		mid := int(uint(lo+hi) >> 1)
		if b.nanos[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	h.counts[lo].Add(1)
	h.sum.Add(v)
}

// snapshot returns the count, the sum in seconds and the cumulative
// bucket counts by upper bound, as a Prometheus histogram takes them.
// Read while records go on, the count may include a record whose sum is
// not in yet (as with the SDK's histograms).
func (h *latencyHist) snapshot(b *buckets) (uint64, float64, map[float64]uint64) {
	cum := make(map[float64]uint64, len(b.seconds))
	var n uint64
	for i, s := range b.seconds {
		n += h.counts[i].Load()
		cum[s] = n
	}
	n += h.counts[len(b.seconds)].Load()
	return n, time.Duration(h.sum.Load()).Seconds(), cum
}

// histCollector exports the latency histograms of every route method and
// endpoint with stats.
type histCollector struct {
	m                 *Metrics
	request, endpoint *prometheus.Desc
}

func newHistCollector(m *Metrics) *histCollector {
	return &histCollector{m: m,
		request: prometheus.NewDesc("meshgate_request_duration_seconds",
			"Time from when the ingress received a request to when its route chain returned, by route, service and method.",
			[]string{"route", "ingress", "service", "method"}, nil),
		endpoint: prometheus.NewDesc("meshgate_endpoint_duration_seconds",
			"Time of one attempt on one upstream endpoint, by cluster and endpoint.",
			[]string{"cluster", "endpoint"}, nil),
	}
}

func (c *histCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.request
	ch <- c.endpoint
}

func (c *histCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.collectMu.Lock()
	defer m.collectMu.Unlock()
	for _, rs := range m.routeStatsList() {
		for _, ms := range rs.methodList() {
			n, sum, cum := ms.hist.snapshot(&m.buckets)
			ch <- prometheus.MustNewConstHistogram(c.request, n, sum, cum, ms.route, rs.ingress, ms.key.service, ms.key.method)
		}
	}
	for _, es := range m.endpointStatsList() {
		n, sum, cum := es.hist.snapshot(&m.buckets)
		ch <- prometheus.MustNewConstHistogram(c.endpoint, n, sum, cum, es.key.cluster, es.key.endpoint)
	}
}
