package assembly_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/config"
)

const metricsDemo = `
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
clusters:
  - {name: demo, endpoints: [demo]}
routes:
  - {name: hello, method: GET, path: "/v1/hello/{name}", target: {cluster: demo, service: meshgate.demo.EchoService, method: hello},
     args: [{name: name, from: path, type: string}]}
`

func parseMetricsConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("metrics.yaml", []byte(metricsDemo+extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMetricsAcrossReloads: the route's numbers survive a reload; a
// Graphite section added by a reload starts the reporter (lines reach a
// real TCP receiver); changes that the counters were built with are
// refused with "restart required".
func TestMetricsAcrossReloads(t *testing.T) {
	// A 10s window has periods of 10s/6: a 2s Graphite interval keeps them.
	const window = "telemetry: {metrics: {window: 10s}"
	gw := startConfig(t, parseMetricsConfig(t, window+"}\n"))
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	base := "http://" + gw.HTTPAddr().String()
	for i := 0; i < 3; i++ {
		if r := httpGet(t, c, "GET", base+"/v1/hello/x", ""); r.status != 200 {
			t.Fatalf("hello: %+v", r)
		}
	}
	requests := func() uint64 {
		tr := gw.Traffic()
		if tr == nil || len(tr.Routes) != 1 || tr.Routes[0].Route != "hello" {
			t.Fatalf("traffic: %+v", tr)
		}
		return tr.Routes[0].Requests
	}
	if n := requests(); n != 3 {
		t.Fatalf("requests %d, want 3", n)
	}
	if gw.MetricsHandler() == nil {
		t.Fatal("no metrics handler with metrics on by default")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 16)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if err := gw.Reload(parseMetricsConfig(t, window+", graphite: {address: "+ln.Addr().String()+", interval: 2s, prefix: gw}}\n")); err != nil {
		t.Fatal(err)
	}
	if r := httpGet(t, c, "GET", base+"/v1/hello/y", ""); r.status != 200 {
		t.Fatalf("hello after reload: %+v", r)
	}
	if n := requests(); n != 4 {
		t.Fatalf("requests after reload %d, want 4 (kept across the reload)", n)
	}
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "gw.meshgate_demo_EchoService.hello.") {
			t.Errorf("graphite line %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no graphite line within 30s of a 2s interval")
	}

	for _, tc := range []struct{ extra, want string }{
		{"telemetry: {metrics: {enabled: false}}\n", "telemetry.metrics.enabled changed: restart required"},
		{"telemetry: {metrics: {window: 2m}}\n", "telemetry.metrics changed"},
		{window + ", graphite: {address: " + ln.Addr().String() + ", interval: 1s}}\n", "telemetry.graphite.interval changes the metrics window period from 1.666666666s to 1s: restart required"},
	} {
		err := gw.Reload(parseMetricsConfig(t, tc.extra))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("reload with %q: %v, want %q", tc.extra, err, tc.want)
		}
	}
	// Removing the section stops the reporter (leakcheck sees it otherwise).
	if err := gw.Reload(parseMetricsConfig(t, window+"}\n")); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsOffAtStart: with metrics off no filter runs, nothing is
// served, and turning them on needs a restart.
func TestMetricsOffAtStart(t *testing.T) {
	gw := startConfig(t, parseMetricsConfig(t, "telemetry: {metrics: {enabled: false}}\n"))
	// One call: it also makes sure the HTTP ingress serves before the
	// test shuts it down (a Shutdown that wins the race with the serving
	// goroutine's start leaves that goroutine accepting).
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	if r := httpGet(t, c, "GET", "http://"+gw.HTTPAddr().String()+"/v1/hello/x", ""); r.status != 200 {
		t.Fatalf("hello: %+v", r)
	}
	if gw.MetricsHandler() != nil || gw.Traffic() != nil {
		t.Fatal("metrics served while off")
	}
	err := gw.Reload(parseMetricsConfig(t, ""))
	if err == nil || !strings.Contains(err.Error(), "telemetry.metrics.enabled changed: restart required") {
		t.Fatalf("turning metrics on: %v", err)
	}
}

// TestEndpointMetricsAndBreakers: per-endpoint chains count attempts per
// endpoint, and meshgate_breaker_state reports each breaker of the
// generation in force: per endpoint (open for an endpoint that refuses
// connections), and those of route and cluster chains.
func TestEndpointMetricsAndBreakers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there any more
	cfg, err := config.Parse("breakers.yaml", []byte(fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
clusters:
  - {name: demo, endpoints: [demo]}
  - {name: dead, endpoints: [%q]}
filters:
  endpoint: [{name: breaker, consecutive_failures: 1, open_for: 1m}]
  clusters:
    demo: [{name: breaker, consecutive_failures: 5, open_for: 1m}]
    dead: [{name: breaker, consecutive_failures: 1, open_for: 1m}]
routes:
  - {name: hello, method: GET, path: "/v1/hello/{name}", target: {cluster: demo, service: meshgate.demo.EchoService, method: hello},
     args: [{name: name, from: path, type: string}]}
  - {name: dead, method: GET, path: "/v1/dead/{name}", target: {cluster: dead, service: meshgate.demo.EchoService, method: hello},
     args: [{name: name, from: path, type: string}], filters: [{name: breaker, consecutive_failures: 1, open_for: 1m}]}
`, dead)))
	if err != nil {
		t.Fatal(err)
	}
	gw := startConfig(t, cfg)
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	base := "http://" + gw.HTTPAddr().String()
	if r := httpGet(t, c, "GET", base+"/v1/hello/x", ""); r.status != 200 {
		t.Fatalf("hello: %+v", r)
	}
	if r := httpGet(t, c, "GET", base+"/v1/dead/x", ""); r.status != 503 {
		t.Fatalf("dead: %+v", r)
	}
	for i := 0; i < 2; i++ { // answered by the ingress: no route chain runs
		if r := httpGet(t, c, "GET", base+"/nowhere", ""); r.status != 404 {
			t.Fatalf("nowhere: %+v", r)
		}
	}
	srv := httptest.NewServer(gw.MetricsHandler())
	defer srv.Close()
	text := httpGet(t, c, "GET", srv.URL, "").body
	for _, want := range []string{
		`meshgate_breaker_state{scope="cluster dead endpoint ` + dead + `"} 1`,
		`meshgate_breaker_state{scope="cluster demo endpoint `,
		// Route and cluster chains' breakers, by the chain's scope.
		`meshgate_breaker_state{scope="route dead"} 1`,
		`meshgate_breaker_state{scope="cluster dead"} 1`,
		`meshgate_breaker_state{scope="cluster demo"} 0`,
		`meshgate_endpoint_requests_total{cluster="demo",code="OK",endpoint="`,
		`meshgate_requests_total{code="UNAVAILABLE",ingress="http",method="hello",route="dead",service="meshgate.demo.EchoService"} 1`,
		`meshgate_ingress_errors_total{code="NOT_FOUND",ingress="http"} 2`,
		`meshgate_ingress_errors_total{code="UNAVAILABLE",ingress="http"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The failed attempt on the dead endpoint: never sent, UNAVAILABLE.
	if !strings.Contains(text, `meshgate_endpoint_requests_total{cluster="dead",code="UNAVAILABLE",endpoint="`+dead+`"} 1`) {
		t.Errorf("/metrics lacks the failed attempt on %s", dead)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	tr := gw.Traffic()
	if tr == nil || len(tr.Endpoints) != 2 {
		t.Fatalf("endpoint traffic: %+v", tr)
	}
}
