package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/translate"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func newFakeClock() *fakeClock { return &fakeClock{base: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// invokerFunc adapts a function to gateway.Invoker.
type invokerFunc func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error

func (f invokerFunc) Invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	return f(ctx, call, reply)
}

func newTestMetrics(t testing.TB, clk *fakeClock, o Options) (*Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	o.Readers = append(o.Readers, r)
	if clk != nil {
		o.Now = clk.now
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m, r
}

// collected reads every metric once, by name.
func collected(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			out[mt.Name] = mt.Data
		}
	}
	return out
}

// attrsString leaves out ingress=http, the ingress of every route chain
// these tests build (TestIngressLabel checks the label).
func attrsString(s attribute.Set) string {
	var b strings.Builder
	for _, kv := range s.ToSlice() {
		if kv.Key == "ingress" && kv.Value.Emit() == "http" {
			continue
		}
		b.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + ",")
	}
	return strings.TrimSuffix(b.String(), ",")
}

// histograms gathers the histogram family name from m's registry, by
// label string as attrsString writes it.
func histograms(t *testing.T, m *Metrics, name string) map[string]*dto.Histogram {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.Histogram{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var kvs []attribute.KeyValue
			for _, l := range mt.GetLabel() {
				kvs = append(kvs, attribute.String(l.GetName(), l.GetValue()))
			}
			out[attrsString(attribute.NewSet(kvs...))] = mt.GetHistogram()
		}
	}
	return out
}

// intPoints returns an int metric's points by attribute string.
func intPoints(t *testing.T, data map[string]metricdata.Aggregation, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch d := data[name].(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[attrsString(p.Attributes)] = p.Value
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out[attrsString(p.Attributes)] = p.Value
		}
	case nil: // no point collected
	default:
		t.Fatalf("metric %s: unexpected data %T", name, data[name])
	}
	return out
}

func floatPoints(t *testing.T, data map[string]metricdata.Aggregation, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	d, ok := data[name].(metricdata.Gauge[float64])
	if !ok {
		t.Fatalf("metric %s: unexpected data %T", name, data[name])
	}
	for _, p := range d.DataPoints {
		out[attrsString(p.Attributes)] = p.Value
	}
	return out
}

func TestRouteFilter(t *testing.T) {
	clk := newFakeClock()
	m, r := newTestMetrics(t, clk, Options{Window: time.Minute})
	// The upstream takes the time the call says and answers what it says.
	up := invokerFunc(func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
		clk.advance(call.Timeout)
		switch call.RequestID {
		case "retried":
			reply.Attempts, reply.Backups = 3, 1
		case "hedged":
			reply.Attempts, reply.Backups = 2, 1
		case "limited":
			return &translate.Error{Code: translate.ResourceExhausted, Message: "rate limit"}
		case "unavailable":
			reply.Attempts = 1
			return &translate.Error{Code: translate.Unavailable, Message: "down"}
		case "plain-error":
			reply.Attempts = 1
			return context.DeadlineExceeded
		default:
			reply.Attempts = 1
		}
		return nil
	})
	chain := gateway.Chain(up, m.RouteFilter("users", "http"))
	calls := []struct {
		service, method, id string
		took                time.Duration
	}{
		{"UserService", "Get", "", 10 * time.Millisecond},
		{"UserService", "Get", "", 20 * time.Millisecond},
		{"UserService", "Get", "retried", 30 * time.Millisecond},
		{"UserService", "Get", "hedged", 40 * time.Millisecond},
		{"UserService", "Get", "limited", 0},
		{"UserService", "List", "unavailable", 50 * time.Millisecond},
		{"UserService", "List", "plain-error", 60 * time.Millisecond},
	}
	for _, c := range calls {
		var reply gateway.Reply
		chain.Invoke(context.Background(), &gateway.Call{Service: c.service, Method: c.method, RequestID: c.id, Timeout: c.took}, &reply)
	}
	data := collected(t, r)
	get := "method=Get,route=users,service=UserService"
	list := "method=List,route=users,service=UserService"
	wantInts := []struct {
		metric string
		want   map[string]int64
	}{
		{"meshgate.requests", map[string]int64{
			"code=OK," + get:                 4,
			"code=RESOURCE_EXHAUSTED," + get: 1,
			"code=OK," + list:                0,
			"code=UNAVAILABLE," + list:       1,
			"code=DEADLINE_EXCEEDED," + list: 1,
		}},
		{"meshgate.retries", map[string]int64{get: 1, list: 0}},
		{"meshgate.backup_requests", map[string]int64{get: 2, list: 0}},
		{"meshgate.limiter.rejections", map[string]int64{get: 1, list: 0}},
		{"meshgate.requests.in_flight", map[string]int64{"route=users": 0}},
	}
	for _, w := range wantInts {
		got := intPoints(t, data, w.metric)
		if len(got) != len(w.want) {
			t.Errorf("%s: %v, want %v", w.metric, got, w.want)
			continue
		}
		for k, v := range w.want {
			if got[k] != v {
				t.Errorf("%s{%s} = %d, want %d", w.metric, k, got[k], v)
			}
		}
	}
	// The histogram: count and sum per method.
	hist := histograms(t, m, "meshgate_request_duration_seconds")
	if p := hist[get]; p.GetSampleCount() != 5 || !near(p.GetSampleSum(), 0.1) {
		t.Errorf("duration{%s}: count %d sum %v, want 5 and 0.1", get, p.GetSampleCount(), p.GetSampleSum())
	}
	if p := hist[list]; p.GetSampleCount() != 2 || !near(p.GetSampleSum(), 0.11) {
		t.Errorf("duration{%s}: count %d sum %v, want 2 and 0.11", list, p.GetSampleCount(), p.GetSampleSum())
	}
	// Window gauges.
	succ := floatPoints(t, data, "meshgate.window.success")
	if !near(succ[get], 0.8) || !near(succ[list], 0) {
		t.Errorf("success: %v", succ)
	}
	mean := floatPoints(t, data, "meshgate.window.latency.mean")
	if !near(mean[get], 0.02) {
		t.Errorf("mean{Get} = %v, want 0.02", mean[get])
	}
	lat := floatPoints(t, data, "meshgate.window.latency")
	if q := lat["method=Get,quantile=0.999,route=users,service=UserService"]; q < 0.039 || q > 0.041 {
		t.Errorf("p999{Get} = %v, want about 0.04", q)
	}
	// The status page's numbers.
	tr := m.Traffic()
	if len(tr.Routes) != 1 || tr.Routes[0].Route != "users" || tr.Routes[0].Requests != 7 || tr.Routes[0].Failed != 3 || len(tr.Routes[0].Methods) != 2 {
		t.Fatalf("traffic: %+v", tr)
	}
	if p99 := tr.Routes[0].Methods[1].P99; p99 < 59*time.Millisecond || p99 > 61*time.Millisecond {
		t.Errorf("List p99 = %v, want about 60ms", p99)
	}
	// The window forgets; the counters do not.
	clk.advance(2 * time.Minute)
	if tr := m.Traffic(); tr.Routes[0].Requests != 0 || tr.Routes[0].SuccessRate != 1 {
		t.Errorf("after the window: %+v", tr.Routes[0].Numbers)
	}
	if got := intPoints(t, collected(t, r), "meshgate.requests")["code=OK,"+get]; got != 4 {
		t.Errorf("requests after the window: %d", got)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestInFlightAndEndpoints(t *testing.T) {
	m, r := newTestMetrics(t, nil, Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	up := invokerFunc(func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
		entered <- struct{}{}
		<-release
		if call.Method == "bad" {
			return translate.Errorf(translate.Internal, "boom")
		}
		return nil
	})
	chain := gateway.Chain(gateway.Chain(up, m.EndpointFilter("c1", "10.0.0.1:8002")), m.RouteFilter("r", "http"))
	var wg sync.WaitGroup
	for _, method := range []string{"ok", "bad"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chain.Invoke(context.Background(), &gateway.Call{Service: "S", Method: method}, &gateway.Reply{})
		}()
	}
	<-entered
	<-entered
	data := collected(t, r)
	if got := intPoints(t, data, "meshgate.requests.in_flight")["route=r"]; got != 2 {
		t.Errorf("route in flight %d, want 2", got)
	}
	if got := intPoints(t, data, "meshgate.endpoint.in_flight")["cluster=c1,endpoint=10.0.0.1:8002"]; got != 2 {
		t.Errorf("endpoint in flight %d, want 2", got)
	}
	close(release)
	wg.Wait()
	data = collected(t, r)
	eps := intPoints(t, data, "meshgate.endpoint.requests")
	if eps["cluster=c1,code=OK,endpoint=10.0.0.1:8002"] != 1 || eps["cluster=c1,code=INTERNAL,endpoint=10.0.0.1:8002"] != 1 {
		t.Errorf("endpoint requests: %v", eps)
	}
	if tr := m.Traffic(); len(tr.Endpoints) != 1 || tr.Endpoints[0].Requests != 2 || tr.Endpoints[0].Failed != 1 {
		t.Errorf("endpoint traffic: %+v", tr.Endpoints)
	}
}

func TestMethodBound(t *testing.T) {
	m, r := newTestMetrics(t, nil, Options{MaxMethodsPerRoute: 2})
	chain := gateway.Chain(invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { return nil }), m.RouteFilter("proxy", "http"))
	for _, method := range []string{"a", "b", "c", "d", "a", "c"} {
		chain.Invoke(context.Background(), &gateway.Call{Service: "S", Method: method}, &gateway.Reply{})
	}
	got := intPoints(t, collected(t, r), "meshgate.requests")
	want := map[string]int64{
		"code=OK,method=a,route=proxy,service=S":             2,
		"code=OK,method=b,route=proxy,service=S":             1,
		"code=OK,method=_other_,route=proxy,service=_other_": 3,
	}
	if len(got) != len(want) {
		t.Fatalf("requests: %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests{%s} = %d, want %d", k, got[k], v)
		}
	}
}

func TestHooks(t *testing.T) {
	m, r := newTestMetrics(t, nil, Options{})
	state := atomic.Int64{}
	m.SetBreakerSource(func(report func(string, int)) { report("route hooks-test", int(state.Load())) })
	state.Store(BreakerOpen)
	// The counters are process-wide: a registry name of this run's own.
	reg := "zk-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	RegistryEvent(reg, "notify")
	RegistryEvent(reg, "notify")
	data := collected(t, r)
	if got := intPoints(t, data, "meshgate.breaker.state")["scope=route hooks-test"]; got != BreakerOpen {
		t.Errorf("breaker state %d, want open", got)
	}
	if got := intPoints(t, data, "meshgate.registry.events")["event=notify,registry="+reg]; got != 2 {
		t.Errorf("registry events %d, want 2", got)
	}
	// The source is read at each collection.
	state.Store(BreakerHalfOpen)
	if got, ok := intPoints(t, collected(t, r), "meshgate.breaker.state")["scope=route hooks-test"]; !ok || got != BreakerHalfOpen {
		t.Errorf("after a change: %d %v", got, ok)
	}
	m.SetBreakerSource(func(func(string, int)) {})
	if _, ok := intPoints(t, collected(t, r), "meshgate.breaker.state")["scope=route hooks-test"]; ok {
		t.Errorf("breaker still reported after its source stopped reporting it")
	}
}

// TestPrometheusText reads /metrics from a real HTTP server: the names
// docs/telemetry.md documents, the runtime and process collectors.
func TestPrometheusText(t *testing.T) {
	m, _ := newTestMetrics(t, nil, Options{Process: true})
	chain := gateway.Chain(invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { return nil }), m.RouteFilter("users", "http"))
	chain.Invoke(context.Background(), &gateway.Call{Service: "UserService", Method: "Get"}, &gateway.Reply{})
	ep := gateway.Chain(invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { return nil }), m.EndpointFilter("c", "127.0.0.1:1"))
	ep.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
	m.SetBreakerSource(func(report func(string, int)) { report("route users", BreakerOpen) })
	RegistryEvent("zk-text", "notify")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{
		`meshgate_requests_total{code="OK",ingress="http",method="Get",route="users",service="UserService"} 1`,
		`meshgate_request_duration_seconds_bucket{ingress="http",method="Get",route="users",service="UserService",le="0.0005"} 1`,
		`meshgate_request_duration_seconds_count{ingress="http",method="Get",route="users",service="UserService"} 1`,
		`meshgate_requests_in_flight{ingress="http",route="users"} 0`,
		`meshgate_retries_total{ingress="http",method="Get",route="users",service="UserService"} 0`,
		`meshgate_backup_requests_total{`,
		`meshgate_limiter_rejections_total{`,
		`meshgate_window_latency_seconds{ingress="http",method="Get",quantile="0.999",route="users",service="UserService"}`,
		`meshgate_window_latency_mean_seconds{`,
		`meshgate_window_success_ratio{ingress="http",method="Get",route="users",service="UserService"} 1`,
		`meshgate_window_requests_per_second{ingress="http",method="Get",route="users",service="UserService"}`,
		`meshgate_endpoint_requests_total{cluster="c",code="OK",endpoint="127.0.0.1:1"} 1`,
		`meshgate_endpoint_duration_seconds_count{cluster="c",endpoint="127.0.0.1:1"} 1`,
		`meshgate_endpoint_in_flight{cluster="c",endpoint="127.0.0.1:1"} 0`,
		`meshgate_breaker_state{scope="route users"} 1`,
		`meshgate_registry_events_total{event="notify",registry="zk-text"}`,
		"go_goroutines ",
		"go_gc_duration_seconds",
		"process_cpu_seconds_total ",
		"process_resident_memory_bytes ",
		"process_open_fds ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	if strings.Contains(text, "otel_scope") || strings.Contains(text, "target_info") {
		t.Errorf("/metrics has scope or target info labels")
	}
}

func TestCodeOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want translate.Code
	}{
		{nil, translate.OK},
		{&translate.Error{Code: translate.NotFound}, translate.NotFound},
		{errors.Join(errors.New("x"), &translate.Error{Code: translate.Aborted}), translate.Aborted},
		{context.Canceled, translate.Canceled},
		{errors.New("plain"), translate.Unknown},
		{&translate.Error{Code: 200}, 200},
	} {
		got := codeOf(c.err)
		if got != c.want {
			t.Errorf("codeOf(%v) = %v, want %v", c.err, got, c.want)
		}
		if idx := codeIndex(got); idx < 0 || idx >= numCodes {
			t.Errorf("codeIndex(%v) = %d out of range", got, idx)
		}
	}
}

// BenchmarkChain measures what the metrics filter adds to a call: bare is
// the upstream alone, route and endpoint put one metrics filter in front.
func BenchmarkChain(b *testing.B) {
	up := invokerFunc(func(_ context.Context, _ *gateway.Call, reply *gateway.Reply) error {
		reply.Attempts = 1
		return nil
	})
	m, err := New(Options{Process: true})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, bc := range []struct {
		name  string
		chain gateway.Invoker
	}{
		{"bare", up},
		{"route", gateway.Chain(up, m.RouteFilter("bench", "http"))},
		{"route+endpoint", gateway.Chain(gateway.Chain(up, m.EndpointFilter("c", "10.0.0.1:1")), m.RouteFilter("bench2", "http"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			call := &gateway.Call{Service: "com.example.UserService", Method: "Get"}
			reply := new(gateway.Reply)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				*reply = gateway.Reply{}
				bc.chain.Invoke(ctx, call, reply)
			}
		})
	}
	// As from an ingress: Call.Start is set, the filter reads the clock
	// once.
	b.Run("route-with-start", func(b *testing.B) {
		chain := gateway.Chain(up, m.RouteFilter("bench4", "http"))
		call := &gateway.Call{Service: "com.example.UserService", Method: "Get", Start: time.Now()}
		reply := new(gateway.Reply)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			*reply = gateway.Reply{}
			chain.Invoke(ctx, call, reply)
		}
	})
	b.Run("route-parallel", func(b *testing.B) {
		chain := gateway.Chain(up, m.RouteFilter("bench3", "http"))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			call := &gateway.Call{Service: "com.example.UserService", Method: "Get"}
			reply := new(gateway.Reply)
			ctx := context.Background()
			for pb.Next() {
				*reply = gateway.Reply{}
				chain.Invoke(ctx, call, reply)
			}
		})
	})
}

// TestEndpointPruning: an endpoint idle for two windows is no longer
// exported; called again, it counts from zero.
func TestEndpointPruning(t *testing.T) {
	clk := newFakeClock()
	m, r := newTestMetrics(t, clk, Options{Window: time.Minute})
	ok := invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { return nil })
	gone := gateway.Chain(ok, m.EndpointFilter("c", "10.0.0.1:1"))
	busy := gateway.Chain(ok, m.EndpointFilter("c", "10.0.0.2:1"))
	gone.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
	for i := 0; i < 4; i++ {
		busy.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
		clk.advance(45 * time.Second)
	}
	// Collected once to prune, once to see.
	collected(t, r)
	got := intPoints(t, collected(t, r), "meshgate.endpoint.requests")
	if _, ok := got["cluster=c,code=OK,endpoint=10.0.0.1:1"]; ok || got["cluster=c,code=OK,endpoint=10.0.0.2:1"] != 4 {
		t.Fatalf("after 3 minutes: %v", got)
	}
	// Its latency histogram goes with it.
	hist := histograms(t, m, "meshgate_endpoint_duration_seconds")
	if _, ok := hist["cluster=c,endpoint=10.0.0.1:1"]; ok || hist["cluster=c,endpoint=10.0.0.2:1"].GetSampleCount() != 4 {
		t.Fatalf("histograms after 3 minutes: %v", hist)
	}
	gone.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
	got = intPoints(t, collected(t, r), "meshgate.endpoint.requests")
	if got["cluster=c,code=OK,endpoint=10.0.0.1:1"] != 1 {
		t.Fatalf("called again: %v", got)
	}
	if n := histograms(t, m, "meshgate_endpoint_duration_seconds")["cluster=c,endpoint=10.0.0.1:1"].GetSampleCount(); n != 1 {
		t.Fatalf("histogram called again: count %d, want 1", n)
	}
}

// TestHistogramBuckets: a duration equal to a bound counts in that bound's
// bucket, one nanosecond more in the next, beyond the last bound only in
// the count; bucket counts are cumulative, the sum is in seconds; and
// after Close nothing is exported.
func TestHistogramBuckets(t *testing.T) {
	clk := newFakeClock()
	m, _ := newTestMetrics(t, clk, Options{Buckets: []float64{0.001, 0.01, 0.1}})
	var d atomic.Int64
	up := invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error {
		clk.advance(time.Duration(d.Load()))
		return nil
	})
	chain := gateway.Chain(gateway.Chain(up, m.EndpointFilter("c", "e:1")), m.RouteFilter("r", "http"))
	durations := []time.Duration{0, time.Millisecond, time.Millisecond + 1, 10 * time.Millisecond, 99 * time.Millisecond, time.Second}
	for _, v := range durations {
		d.Store(int64(v))
		chain.Invoke(context.Background(), &gateway.Call{Service: "S", Method: "m"}, &gateway.Reply{})
	}
	want := map[float64]uint64{0.001: 2, 0.01: 4, 0.1: 5}
	for name, key := range map[string]string{
		"meshgate_request_duration_seconds":  "method=m,route=r,service=S",
		"meshgate_endpoint_duration_seconds": "cluster=c,endpoint=e:1",
	} {
		h := histograms(t, m, name)[key]
		if h.GetSampleCount() != 6 || !near(h.GetSampleSum(), 1.111000001) {
			t.Errorf("%s{%s}: count %d sum %v, want 6 and 1.111000001", name, key, h.GetSampleCount(), h.GetSampleSum())
		}
		if len(h.GetBucket()) != len(want) {
			t.Fatalf("%s: buckets %v", name, h.GetBucket())
		}
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() != want[b.GetUpperBound()] {
				t.Errorf("%s{%s} le=%v: %d, want %d", name, key, b.GetUpperBound(), b.GetCumulativeCount(), want[b.GetUpperBound()])
			}
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if h := histograms(t, m, "meshgate_request_duration_seconds"); len(h) != 0 {
		t.Errorf("after Close: %v", h)
	}
}

// Route chains of each ingress are told apart by the ingress label.
func TestIngressLabel(t *testing.T) {
	m, r := newTestMetrics(t, newFakeClock(), Options{})
	up := invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { return nil })
	for _, ing := range []string{"http", "grpc", "motan2"} {
		gateway.Chain(up, m.RouteFilter("same-name", ing)).Invoke(context.Background(), &gateway.Call{Service: "S", Method: "m"}, &gateway.Reply{})
	}
	got := intPoints(t, collected(t, r), "meshgate.requests")
	for _, want := range []string{"code=OK,method=m,route=same-name,service=S", "code=OK,ingress=grpc,method=m,route=same-name,service=S",
		"code=OK,ingress=motan2,method=m,route=same-name,service=S"} {
		if got[want] != 1 {
			t.Errorf("requests{%s} = %d; all: %v", want, got[want], got)
		}
	}
}
