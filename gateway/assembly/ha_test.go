package assembly_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/upstream/lb"
	"github.com/meshgate/meshgate/motan2"
)

// Configuration validates lb against its own list (config cannot import
// the lb package): it must name exactly the registered policies, or a
// valid configuration would fail to build, or a policy be unreachable.
func TestConfigLBPoliciesAreRegistered(t *testing.T) {
	got := slices.Sorted(slices.Values(config.LBPolicies))
	if want := lb.Names(); !slices.Equal(got, want) {
		t.Fatalf("config.LBPolicies %v, registered lb policies %v", got, want)
	}
}

// startNamedMotan2 starts a Motan2 server whose test.Svc answers "whoami"
// with its name.
func startNamedMotan2(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := motan2.NewServiceMux()
	mux.HandleFunc("test.Svc", func(ctx context.Context, r *motan2.Request) (motan2.Value, error) {
		if r.Method == "sleep" {
			<-ctx.Done()
			return motan2.Null, ctx.Err()
		}
		return motan2.String(name), nil
	})
	srv := &motan2.Server{Handler: mux}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

// Consistent hashing from a header, the caller's time budget from a
// configurable header, and the cluster's state in the admin view.
func TestHashKeyTimeoutHeaderAndClusterState(t *testing.T) {
	a, b, c := startNamedMotan2(t, "a"), startNamedMotan2(t, "b"), startNamedMotan2(t, "c")
	gw := startYAML(t, fmt.Sprintf(`
http:
  listen: 127.0.0.1:0
  timeout_header: X-Timeout
admin: {listen: "off"}
clusters:
  - name: users
    endpoints: ["%s", {addr: "%s", weight: 200, dc: yf}, "%s"]
    lb: consistent_hash
routes:
  - {name: who, method: GET, path: "/v1/who/{id}", target: {cluster: users, service: test.Svc, method: whoami, hash_key: "header:X-Uid", idempotent: true},
     args: [{name: id, from: path, type: string}]}
  - {name: by-path, method: GET, path: "/v1/by/{id}", target: {cluster: users, service: test.Svc, method: whoami, hash_key: "path:id"},
     args: [{name: id, from: path, type: string}]}
  - {name: sleep, method: GET, path: /v1/sleep, target: {cluster: users, service: test.Svc, method: sleep, timeout: 5s}}
`, a, b, c))
	base := "http://" + gw.HTTPAddr().String()
	hc := &http.Client{}
	for _, route := range []string{"who/x?", "by/"} {
		seen := map[string]map[string]bool{} // key -> endpoints
		for i := 0; i < 60; i++ {
			key := fmt.Sprintf("user-%d", i%12)
			r := do(t, hc, "GET", base+"/v1/"+strings.TrimSuffix(route, "?")+func() string {
				if route == "by/" {
					return key
				}
				return ""
			}(), "", "X-Uid", key)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", route, r.status, r.body)
			}
			if seen[key] == nil {
				seen[key] = map[string]bool{}
			}
			seen[key][strings.Trim(r.body, "\"\n")] = true
		}
		used := map[string]bool{}
		for key, eps := range seen {
			if len(eps) != 1 {
				t.Fatalf("%s: key %s went to %v; one endpoint expected", route, key, eps)
			}
			for ep := range eps {
				used[ep] = true
			}
		}
		if len(used) < 2 {
			t.Fatalf("%s: 12 keys all went to %v", route, used)
		}
	}

	r := do(t, hc, "GET", base+"/v1/sleep", "", "X-Timeout", "80ms")
	if r.status != 504 || !strings.Contains(r.body, "deadline of 80ms (X-Timeout) exceeded") {
		t.Fatalf("timeout header: %d %s", r.status, r.body)
	}
	r = do(t, hc, "GET", base+"/v1/sleep", "", "X-Timeout", "soon")
	if r.status != 400 || !strings.Contains(r.body, `header X-Timeout: \"soon\" is not a time budget`) {
		t.Fatalf("bad timeout header: %d %s", r.status, r.body)
	}

	cl := gw.Clusters().Clusters[0]
	if cl.LB != "consistent_hash" || cl.Calls < 120 || len(cl.Endpoints) != 3 ||
		cl.Endpoints[1].Weight != 200 || cl.Endpoints[1].DC != "yf" || cl.Endpoints[0].Weight != 100 {
		t.Fatalf("cluster view: %+v", cl)
	}
}

// A reload that leaves a filter unchanged keeps its state (an open
// breaker stays open); one that changes its options builds it afresh.
func TestReloadKeepsUnchangedFilterState(t *testing.T) {
	dead := deadAddr(t)
	conf := func(extraRoute bool, failures int) *config.Config {
		y := fmt.Sprintf(`
http: {listen: 127.0.0.1:0}
admin: {listen: "off"}
clusters:
  - {name: dead, endpoints: ["%s"], dial_timeout: 100ms}
filters:
  endpoint: [{name: breaker, consecutive_failures: %d, open_for: 1h, max_open_for: 1h}]
routes:
  - {name: r, method: GET, path: /r, target: {cluster: dead, service: s, method: m},
     filters: [{name: breaker, consecutive_failures: %d, open_for: 1h, max_open_for: 1h}]}
`, dead, failures, failures)
		if extraRoute {
			y += "  - {name: other, method: GET, path: /other, target: {cluster: dead, service: s, method: m}}\n"
		}
		cfg, err := config.Parse("reload.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := conf(false, 2)
	gw, err := assembly.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	base := "http://" + gw.HTTPAddr().String()
	hc := &http.Client{}
	get := func() string { return do(t, hc, "GET", base+"/r", "").body }
	for i := 0; i < 2; i++ {
		if b := get(); !strings.Contains(b, "no reachable endpoint") {
			t.Fatalf("call %d: %s", i, b)
		}
	}
	if b := get(); !strings.Contains(b, "circuit open for route r") {
		t.Fatalf("breaker did not open: %s", b)
	}
	if err := gw.Reload(conf(true, 2)); err != nil {
		t.Fatal(err)
	}
	if b := get(); !strings.Contains(b, "circuit open for route r") {
		t.Fatalf("an unrelated reload closed the breaker: %s", b)
	}
	if eps := gw.Clusters().Clusters[0].Endpoints; len(eps) != 1 || !strings.HasPrefix(eps[0].Breaker, "open") {
		t.Fatalf("endpoint breaker after the reload: %+v", eps)
	}
	if err := gw.Reload(conf(true, 3)); err != nil {
		t.Fatal(err)
	}
	if b := get(); !strings.Contains(b, "no reachable endpoint") {
		t.Fatalf("a changed breaker kept its state: %s", b)
	}
}
