package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/testproc"
)

// TestStatusTraffic: GET /status shows the last minute's numbers per
// route, without Prometheus.
func TestStatusTraffic(t *testing.T) {
	file := filepath.Join(t.TempDir(), "meshgate.yaml")
	writeFile(t, file, runYAML)
	r := startRun(t, "-c", file)
	for i := 0; i < 5; i++ {
		if code, body := r.get(r.http + "/v1/hello/world"); code != 200 {
			t.Fatalf("hello: %d %s", code, body)
		}
	}
	code, body := r.get(r.admin + "/status")
	if code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	var st struct {
		Traffic *struct {
			Window string `json:"window"`
			Routes []struct {
				Route       string  `json:"route"`
				Requests    uint64  `json:"requests"`
				Failed      uint64  `json:"failed"`
				QPS         float64 `json:"qps"`
				SuccessRate float64 `json:"success_rate"`
				P999Ms      float64 `json:"p999_ms"`
				Methods     []struct {
					Service, Method string
					Requests        uint64
				} `json:"methods"`
			} `json:"routes"`
		} `json:"traffic"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Traffic == nil || st.Traffic.Window != "1m0s" || len(st.Traffic.Routes) != 1 {
		t.Fatalf("status traffic: %s", body)
	}
	rt := st.Traffic.Routes[0]
	if rt.Route != "hello" || rt.Requests != 5 || rt.Failed != 0 || rt.SuccessRate != 1 || rt.QPS <= 0 || rt.P999Ms <= 0 ||
		len(rt.Methods) != 1 || rt.Methods[0].Service != "meshgate.demo.EchoService" || rt.Methods[0].Method != "hello" {
		t.Errorf("route traffic: %+v\n%s", rt, body)
	}
}

// TestMetricsOff: telemetry.metrics.enabled: false leaves /metrics 404
// and /status without traffic.
func TestMetricsOff(t *testing.T) {
	file := filepath.Join(t.TempDir(), "meshgate.yaml")
	writeFile(t, file, runYAML+"telemetry: {metrics: {enabled: false}}\n")
	r := startRun(t, "-c", file)
	if code, body := r.get(r.admin + "/metrics"); code != 404 || !strings.Contains(body, "metrics are off") {
		t.Errorf("/metrics with metrics off: %d %s", code, body)
	}
	if _, body := r.get(r.admin + "/status"); strings.Contains(body, `"traffic"`) {
		t.Errorf("/status with metrics off has traffic: %s", body)
	}
}

// TestPrometheusScrapes starts a real Prometheus (Debian's package) that
// scrapes meshgate's management listener and reads series back through
// its HTTP query API.
func TestPrometheusScrapes(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus): skipping the real Prometheus test")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "meshgate.yaml")
	writeFile(t, file, runYAML)
	r := startRun(t, "-c", file)
	const calls = 7
	for i := 0; i < calls; i++ {
		if code, body := r.get(r.http + "/v1/hello/world"); code != 200 {
			t.Fatalf("hello: %d %s", code, body)
		}
	}
	adminHost := strings.TrimPrefix(r.admin, "http://")
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: meshgate
    metrics_path: /metrics
    static_configs: [{targets: [%q]}]
`, adminHost))
	promAddr := testproc.FreeAddr(t)
	p := testproc.Start(t, "prometheus", prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr, "--log.level=warn")
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	query := func(q string) (string, bool) {
		resp, err := c.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		var res struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || res.Status != "success" || len(res.Data.Result) == 0 {
			return "", false
		}
		v, _ := res.Data.Result[0].Value[1].(string)
		return v, true
	}
	series := []struct{ query, want string }{
		{`meshgate_requests_total{route="hello",service="meshgate.demo.EchoService",method="hello",code="OK"}`, fmt.Sprint(calls)},
		{`meshgate_request_duration_seconds_count{route="hello"}`, fmt.Sprint(calls)},
		{`meshgate_window_success_ratio{route="hello"}`, "1"},
		{`up{job="meshgate"}`, "1"},
		{`count(process_resident_memory_bytes) + count(go_goroutines)`, "2"},
	}
	for _, s := range series {
		var got string
		testproc.WaitFor(t, 60*time.Second, "Prometheus to return "+s.query, func() bool {
			p.FatalIfExited()
			v, ok := query(s.query)
			got = v
			return ok && v == s.want
		})
		if got != s.want {
			t.Errorf("%s = %s, want %s", s.query, got, s.want)
		}
	}
}
