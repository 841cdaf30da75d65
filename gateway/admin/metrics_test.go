package admin_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/gateway/admin"
)

// TestMetricsEndpoint: GET /metrics serves the Prometheus text behind the
// token, and GET /status carries the routes' last-window numbers.
func TestMetricsEndpoint(t *testing.T) {
	e := start(t, "tok")
	auth := []string{"Authorization", "Bearer tok"}
	for i := 0; i < 3; i++ {
		if a := e.do("GET", e.http+"/v1/add?a=1&b=2", ""); a.status != 200 {
			t.Fatalf("add: %d %s", a.status, a.body)
		}
	}
	// A request the ingress rejects before the route chain (argument
	// binding) is not a call of the route: only the ingress counts it.
	if a := e.do("GET", e.http+"/v1/add?a=x", ""); a.status != 400 {
		t.Fatalf("bad add: %d %s", a.status, a.body)
	}
	if a := e.do("GET", e.base+"/metrics", ""); a.status != 401 {
		t.Errorf("/metrics without the token: %d", a.status)
	}
	if a := e.do("POST", e.base+"/metrics", "", auth...); a.status != 405 {
		t.Errorf("POST /metrics: %d", a.status)
	}
	a := e.do("GET", e.base+"/metrics", "", auth...)
	// Only the ingress's own count has it.
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") ||
		strings.Count(a.body, "INVALID_ARGUMENT") != 1 || !strings.Contains(a.body, `meshgate_ingress_errors_total{code="INVALID_ARGUMENT",ingress="http"} 1`) {
		t.Fatalf("/metrics: %d %s", a.status, a.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`meshgate_requests_total{code="OK",ingress="http",method="add",route="add",service="meshgate.demo.EchoService"} 3`,
		`process_open_fds `,
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	a = e.do("GET", e.base+"/status", "", auth...)
	var st admin.Status
	if err := json.Unmarshal([]byte(a.body), &st); err != nil || a.status != 200 {
		t.Fatalf("status: %d %v %s", a.status, err, a.body)
	}
	if st.Traffic == nil {
		t.Fatalf("status without traffic: %s", a.body)
	}
	var add *admin.RouteTraffic
	for i := range st.Traffic.Routes {
		if st.Traffic.Routes[i].Route == "add" {
			add = &st.Traffic.Routes[i]
		}
	}
	if add == nil || add.Ingress != "http" || add.Requests != 3 || add.Failed != 0 || add.SuccessRate != 1 || add.P99Ms <= 0 || add.MeanMs <= 0 ||
		len(add.Methods) != 1 || add.Methods[0].Method != "add" {
		t.Errorf("route add: %+v\n%s", add, a.body)
	}
}
