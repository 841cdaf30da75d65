package assembly_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/testgrpc"
	"github.com/meshgate/meshgate/motan2"
)

// traceB: a Motan2 ingress bridging com.example.Library to the gRPC
// Library.
const traceB = `
motan2: {listen: "127.0.0.1:0"}
http: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: ["%[1]s"], files: [shop/v1/shop.proto]}}
clusters:
  - {name: lib-grpc, protocol: grpc, endpoints: ["%[2]s"]}
motan2_routes:
  - {name: m2-library, service: com.example.Library, schema: shop, target: {cluster: lib-grpc, service: shop.v1.Library, args: [name], timeout: 5s}}
telemetry:
  tracing: {enabled: true, service_name: gw-b, sample_ratio: %[3]s}
  access_log: {enabled: true}
`

// traceA: an HTTP route to meshgate B's Motan2 ingress.
const traceA = `
http: {listen: "127.0.0.1:0"}
clusters:
  - {name: gw-b, endpoints: ["%[1]s"]}
routes:
  - name: get-book
    method: GET
    path: /v1/books/{name}
    target: {cluster: gw-b, service: com.example.Library, method: GetBook, timeout: 5s}
    args: [{name: name, from: path, type: string}]
telemetry:
  tracing: {enabled: true, service_name: gw-a, sample_ratio: %[2]s}
  access_log: {enabled: true, format: logfmt}
`

// lockedBuffer is an access-log output that tells of each write.
type lockedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{wrote: make(chan struct{}, 1)} }

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

// waitFor waits until cond holds of the output, for up to 10s.
func (l *lockedBuffer) waitFor(t *testing.T, cond func(string) bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !cond(l.String()) {
		select {
		case <-l.wrote:
		case <-deadline.C:
			t.Fatalf("access log output:\n%s", l.String())
		}
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func serviceOf(s sdktrace.ReadOnlySpan) string {
	v, _ := s.Resource().Set().Value(attribute.Key("service.name"))
	return v.AsString()
}

// findSpan returns the one span of service and kind, or nil.
func findSpan(t *testing.T, spans []sdktrace.ReadOnlySpan, service string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	for _, s := range spans {
		if serviceOf(s) == service && s.SpanKind() == kind {
			if found != nil {
				t.Fatalf("two %v spans of %s", kind, service)
			}
			found = s
		}
	}
	return found
}

// One trace crosses HTTP -> meshgate A -> Motan2 -> meshgate B -> gRPC:
// every span shares the caller's trace id, each is the child of the one
// before, the gRPC server sees B's last span as its parent, and both
// access logs carry the trace id.
func TestTracePropagatesAcrossProtocols(t *testing.T) {
	const callerTID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		name     string
		ratio    string
		incoming string // the HTTP caller's traceparent
		recorded bool
	}{
		{"caller's sampled trace", "0", "00-" + callerTID + "-00f067aa0ba902b7-01", true},
		{"new trace", "1", "", true},
		{"caller's unsampled trace", "1", "00-" + callerTID + "-00f067aa0ba902b7-00", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			logs := newLockedBuffer()
			defer assembly.SetTelemetryHooks(rec, logs)()
			lib := testgrpc.Start(t)
			b := startYAML(t, fmt.Sprintf(traceB, protoDir(t), lib.Addr(), tc.ratio))
			a := startYAML(t, fmt.Sprintf(traceA, b.Motan2Addr(), tc.ratio))
			httpServing(t, b)

			req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr().String()+"/v1/books/b1", nil)
			if tc.incoming != "" {
				req.Header.Set("traceparent", tc.incoming)
			}
			c := &http.Client{Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			last, ok := lib.LastCall()
			if !ok {
				t.Fatal("the gRPC server saw no call")
			}
			tps := last.Metadata.Get("traceparent")
			if len(tps) != 1 {
				t.Fatalf("gRPC server got traceparent %q, want exactly one", tps)
			}
			seen, err := parseTraceparent(tps[0])
			if err != nil {
				t.Fatal(err)
			}
			if tc.incoming != "" && seen.TraceID().String() != callerTID {
				t.Fatalf("gRPC server saw trace %s, want the caller's %s", seen.TraceID(), callerTID)
			}
			if seen.IsSampled() != tc.recorded {
				t.Fatalf("gRPC server saw sampled=%v", seen.IsSampled())
			}
			// The spans end before each gateway answers: all are in.
			spans := rec.Ended()
			if !tc.recorded {
				if len(spans) != 0 {
					t.Fatalf("%d spans recorded for an unsampled caller", len(spans))
				}
				return
			}
			aSrv := findSpan(t, spans, "gw-a", trace.SpanKindServer)
			bSrv := findSpan(t, spans, "gw-b", trace.SpanKindServer)
			if aSrv == nil || bSrv == nil {
				t.Fatalf("server spans missing among %d: A %v, B %v", len(spans), aSrv != nil, bSrv != nil)
			}
			// One attempt per hop: its CLIENT span is the child of the
			// SERVER span and the parent of the next hop.
			aOut := findSpan(t, spans, "gw-a", trace.SpanKindClient)
			bOut := findSpan(t, spans, "gw-b", trace.SpanKindClient)
			if aOut == nil || bOut == nil || len(spans) != 4 {
				t.Fatalf("%d spans, want a server and a client span per gateway", len(spans))
			}
			if aOut.Parent().SpanID() != aSrv.SpanContext().SpanID() {
				t.Errorf("A's client span parent %s, want A's server span %s", aOut.Parent().SpanID(), aSrv.SpanContext().SpanID())
			}
			if bOut.Parent().SpanID() != bSrv.SpanContext().SpanID() {
				t.Errorf("B's client span parent %s, want B's server span %s", bOut.Parent().SpanID(), bSrv.SpanContext().SpanID())
			}
			if want := "gw-b " + b.Motan2Addr().String(); aOut.Name() != want {
				t.Errorf("A's client span %q, want %q", aOut.Name(), want)
			}
			tid := aSrv.SpanContext().TraceID()
			if tc.incoming != "" {
				if tid.String() != callerTID || aSrv.Parent().SpanID().String() != "00f067aa0ba902b7" || !aSrv.Parent().IsRemote() {
					t.Errorf("A's server span %s parent %v, want the caller's", tid, aSrv.Parent())
				}
			} else if aSrv.Parent().IsValid() {
				t.Errorf("A's server span has parent %v, want a root", aSrv.Parent())
			}
			for _, s := range spans {
				if s.SpanContext().TraceID() != tid {
					t.Errorf("span %s (%s) in trace %s, want %s", s.Name(), serviceOf(s), s.SpanContext().TraceID(), tid)
				}
			}
			if bSrv.Parent().SpanID() != aOut.SpanContext().SpanID() || !bSrv.Parent().IsRemote() {
				t.Errorf("B's server span parent %s, want A's outgoing span %s", bSrv.Parent().SpanID(), aOut.SpanContext().SpanID())
			}
			if seen.SpanID() != bOut.SpanContext().SpanID() {
				t.Errorf("gRPC server's parent %s, want B's outgoing span %s", seen.SpanID(), bOut.SpanContext().SpanID())
			}
			if aSrv.Name() != "get-book" || bSrv.Name() != "m2-library" {
				t.Errorf("server span names %q, %q", aSrv.Name(), bSrv.Name())
			}

			// Both access logs (A logfmt, B JSON) carry the trace id; the
			// lines are written asynchronously, so wait for them.
			logs.waitFor(t, func(s string) bool { return strings.Count(s, tid.String()) == 2 })
			var jsonLine map[string]any
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if strings.HasPrefix(line, "{") {
					if err := json.Unmarshal([]byte(line), &jsonLine); err != nil {
						t.Fatalf("%q: %v", line, err)
					}
				} else if !strings.Contains(line, "route=get-book") || !strings.Contains(line, "target=com.example.Library/GetBook") ||
					!strings.Contains(line, "http_status=200") {
					t.Errorf("A's line %q", line)
				}
			}
			if jsonLine["route"] != "m2-library" || jsonLine["target"] != "/shop.v1.Library/GetBook" || jsonLine["grpc_status"] != "OK" {
				t.Errorf("B's line %v", jsonLine)
			}
		})
	}
}

// httpServing makes one HTTP request to a gateway whose HTTP listener the
// test does not otherwise use: a Shutdown that comes before fasthttp's
// Serve has registered its listener leaves Serve running (a goroutine
// leak), which a quick test on a loaded machine can hit.
func httpServing(t *testing.T, gw *assembly.Gateway) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + gw.HTTPAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func parseTraceparent(s string) (trace.SpanContext, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 4 || parts[0] != "00" {
		return trace.SpanContext{}, fmt.Errorf("traceparent %q", s)
	}
	tid, err := trace.TraceIDFromHex(parts[1])
	if err != nil {
		return trace.SpanContext{}, err
	}
	sid, err := trace.SpanIDFromHex(parts[2])
	if err != nil {
		return trace.SpanContext{}, err
	}
	var fl trace.TraceFlags
	if parts[3] == "01" {
		fl = trace.FlagsSampled
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: fl}), nil
}

// A reload turns tracing off (no filter: no span) and refuses to move the
// access log's output without a restart.
func TestTracingReload(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	defer assembly.SetTelemetryHooks(rec, newLockedBuffer())()
	lib := testgrpc.Start(t)
	b := startYAML(t, fmt.Sprintf(traceB, protoDir(t), lib.Addr(), "1"))
	httpServing(t, b)
	yamlA := fmt.Sprintf(traceA, b.Motan2Addr(), "1")
	a := startYAML(t, yamlA)
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	get := func() {
		t.Helper()
		resp, err := c.Get("http://" + a.HTTPAddr().String() + "/v1/books/b1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	get()
	fromA := func(spans []sdktrace.ReadOnlySpan) (n int) {
		for _, s := range spans {
			if serviceOf(s) == "gw-a" {
				n++
			}
		}
		return n
	}
	before := len(rec.Ended())
	if fromA(rec.Ended()) == 0 {
		t.Fatal("no span with tracing on")
	}
	// A reload that does not build (a schema whose sources are missing)
	// changes nothing, its sample ratio of 0 included.
	broken, err := config.Parse("a.yaml", []byte(fmt.Sprintf(traceA, b.Motan2Addr(), "0")))
	if err != nil {
		t.Fatal(err)
	}
	broken.Schemas = []config.Schema{{Name: "gone", Protos: &config.ProtoSources{ImportPaths: []string{t.TempDir()}, Files: []string{"gone.proto"}}}}
	if err := a.Reload(broken); err == nil || !strings.Contains(err.Error(), "configuration not applied") {
		t.Fatalf("reload that does not build: %v", err)
	}
	get()
	if n := fromA(rec.Ended()[before:]); n == 0 {
		t.Fatal("no span from A after a failed reload to sample_ratio 0: the failed reload changed the ratio")
	}
	before = len(rec.Ended())
	off, err := config.Parse("a.yaml", []byte(strings.Replace(yamlA, "tracing: {enabled: true", "tracing: {enabled: false", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(off); err != nil {
		t.Fatal(err)
	}
	get()
	if n := fromA(rec.Ended()[before:]); n != 0 {
		t.Fatalf("%d spans from A with tracing reloaded off", n)
	}
	moved, err := config.Parse("a.yaml", []byte(strings.Replace(yamlA, "format: logfmt", "format: logfmt, output: "+t.TempDir()+"/x.log", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(moved); err == nil || !strings.Contains(err.Error(), "telemetry.access_log.output") {
		t.Fatalf("output change: %v", err)
	}
}

// A Motan2 frame forwarded as it is (no bridge) continues the caller's
// trace: the service gets one traceparent, the gateway's outgoing span.
func TestTraceThroughForwardedMotan2Frame(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	defer assembly.SetTelemetryHooks(rec, newLockedBuffer())()
	gw := startYAML(t, `
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
clusters:
  - {name: demo, endpoints: [demo]}
motan2_routes:
  - {name: echo, service: meshgate.demo.EchoService, target: {cluster: demo, timeout: 5s}}
telemetry:
  tracing: {enabled: true, service_name: gw}
`)
	httpServing(t, gw)
	c := motan2.NewClient(gw.Motan2Addr().String(), motan2.WithLogger(quiet), motan2.WithErrorThreshold(0))
	defer c.Close()
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	resp, err := c.Call(context.Background(), &motan2.Request{Service: "meshgate.demo.EchoService", Method: "meta",
		Meta: motan2.Meta{{Key: "traceparent", Value: caller}, {Key: "tracestate", Value: "vendor=1"}}})
	if err != nil {
		t.Fatal(err)
	}
	var tps []string
	state := ""
	for _, p := range resp.Value.Pairs() {
		switch p.Key {
		case "traceparent":
			tps = append(tps, p.Value)
		case "tracestate":
			state = p.Value
		}
	}
	if len(tps) != 1 {
		t.Fatalf("service saw traceparent %q, want one (meta %v)", tps, resp.Value)
	}
	seen, err := parseTraceparent(tps[0])
	if err != nil {
		t.Fatal(err)
	}
	srv := findSpan(t, rec.Ended(), "gw", trace.SpanKindServer)
	if srv == nil || srv.Parent().SpanID().String() != "00f067aa0ba902b7" || srv.SpanContext().TraceID() != seen.TraceID() {
		t.Fatalf("server span %v does not continue the caller's trace", srv)
	}
	out := findSpan(t, rec.Ended(), "gw", trace.SpanKindClient)
	if out == nil || out.Parent().SpanID() != srv.SpanContext().SpanID() {
		t.Fatalf("no attempt span under the server span")
	}
	if seen.SpanID() != out.SpanContext().SpanID() || state != "vendor=1" {
		t.Fatalf("service saw %s (tracestate %q), want span %s and the caller's tracestate", tps[0], state, out.SpanContext().SpanID())
	}
}

// A failover is visible: the attempt on a dead endpoint and the one that
// answered are two CLIENT spans under the request's SERVER span, the
// first marked never sent.
func TestTraceShowsEachAttempt(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	defer assembly.SetTelemetryHooks(rec, newLockedBuffer())()
	dead := deadAddr(t)
	gw := startYAML(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
clusters:
  - {name: demo, endpoints: ["%s", demo]}
routes:
  - name: hello
    method: GET
    path: /v1/hello/{name}
    target: {cluster: demo, service: meshgate.demo.EchoService, method: hello, timeout: 5s}
    args: [{name: name, from: path, type: string}]
telemetry:
  tracing: {enabled: true, service_name: gw}
`, dead))
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	// Round robin over two endpoints: one of two requests tries the dead
	// one first.
	for range 2 {
		resp, err := c.Get("http://" + gw.HTTPAddr().String() + "/v1/hello/ada")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var servers []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			servers = append(servers, s)
		case trace.SpanKindClient:
			children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
		}
	}
	if len(servers) != 2 {
		t.Fatalf("%d server spans", len(servers))
	}
	var failover []sdktrace.ReadOnlySpan
	for _, srv := range servers {
		if kids := children[srv.SpanContext().SpanID()]; len(kids) == 2 {
			failover = kids
			if v, _ := srv.Resource().Set().Value("service.name"); v.AsString() != "gw" {
				t.Errorf("resource %v", srv.Resource())
			}
		}
	}
	if failover == nil {
		t.Fatalf("no request with two attempt spans: %v", children)
	}
	sent := func(s sdktrace.ReadOnlySpan) (bool, bool) {
		for _, kv := range s.Attributes() {
			if kv.Key == "meshgate.sent" {
				return kv.Value.AsBool(), true
			}
		}
		return false, false
	}
	first, second := failover[0], failover[1]
	if first.Name() != "demo "+dead || first.Status().Code != codes.Error {
		t.Errorf("first attempt %q status %v, want the dead endpoint, failed", first.Name(), first.Status())
	}
	if s, ok := sent(first); !ok || s {
		t.Errorf("dead endpoint's attempt: sent=%v (attribute present %v), want false", s, ok)
	}
	if s, _ := sent(second); !s || second.Status().Code == codes.Error {
		t.Errorf("second attempt %q sent=%v status %v", second.Name(), s, second.Status())
	}
	attempt := func(s sdktrace.ReadOnlySpan) int64 {
		for _, kv := range s.Attributes() {
			if kv.Key == "meshgate.attempt" {
				return kv.Value.AsInt64()
			}
		}
		return 0
	}
	if attempt(first) != 1 || attempt(second) != 2 {
		t.Errorf("attempt numbers %d, %d; want 1, 2", attempt(first), attempt(second))
	}
}

// A gRPC caller's trace context (metadata) continues through meshgate
// to a gRPC upstream, which gets exactly one traceparent: the attempt's.
func TestTraceGRPCToGRPC(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	defer assembly.SetTelemetryHooks(rec, newLockedBuffer())()
	lib := testgrpc.Start(t)
	gw := startYAML(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: ["%s"], files: [shop/v1/shop.proto]}}
clusters:
  - {name: lib-grpc, protocol: grpc, endpoints: ["%s"]}
grpc_routes:
  - {name: library, service: shop.v1.Library, schema: shop, target: {cluster: lib-grpc, timeout: 5s}}
telemetry:
  tracing: {enabled: true, service_name: gw}
`, protoDir(t), lib.Addr()))
	httpServing(t, gw)
	m := &matrix{schema: shopSchema(t)}
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", caller, "tracestate", "vendor=1")
	if r := m.callBook(ctx, grpcConn(t, gw.GRPCAddr()), "GetBook", "shelves/1/books/2"); r.err != nil {
		t.Fatal(r.err)
	}
	last, _ := lib.LastCall()
	tps, states := last.Metadata.Get("traceparent"), last.Metadata.Get("tracestate")
	if len(tps) != 1 || len(states) != 1 || states[0] != "vendor=1" {
		t.Fatalf("upstream got traceparent %q tracestate %q, want one of each", tps, states)
	}
	seen, err := parseTraceparent(tps[0])
	if err != nil {
		t.Fatal(err)
	}
	srv := findSpan(t, rec.Ended(), "gw", trace.SpanKindServer)
	out := findSpan(t, rec.Ended(), "gw", trace.SpanKindClient)
	if srv == nil || out == nil {
		t.Fatalf("spans %v", rec.Ended())
	}
	if srv.Parent().SpanID().String() != "00f067aa0ba902b7" || srv.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("server span parent %v", srv.Parent())
	}
	if out.Parent().SpanID() != srv.SpanContext().SpanID() || seen.SpanID() != out.SpanContext().SpanID() || seen.TraceID() != srv.SpanContext().TraceID() {
		t.Errorf("upstream saw %s; client span %s (parent %s), server span %s", tps[0], out.SpanContext().SpanID(), out.Parent().SpanID(), srv.SpanContext().SpanID())
	}
}
