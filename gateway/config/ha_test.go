package config

import (
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/translate"
)

// Every retry_on name is a code's name in lower case: the assembly maps
// it with translate.ParseCode.
func TestRetryCodesAreCodes(t *testing.T) {
	for _, name := range RetryCodes {
		if c, ok := translate.ParseCode(strings.ToUpper(name)); !ok || c == translate.OK {
			t.Errorf("retry_on %q is not a translate.Code name", name)
		}
	}
}

func TestHAConfig(t *testing.T) {
	c, err := Parse("ha.yaml", []byte(`
clusters:
  - name: users
    endpoints:
      - 127.0.0.1:1
      - {addr: 127.0.0.1:2, weight: 50, dc: yf, group: g2}
    lb: consistent_hash
    retries: 2
    retry_on: [unavailable, resource_exhausted]
    retry_budget: 0.2
    backup_requests: {percentile: 0.95, ratio: 0.1, max_delay: 50ms}
routes:
  - method: GET
    path: /v1/users/{id}
    target: {cluster: users, service: s, method: m, idempotent: true, hash_key: "arg:id"}
    args:
      - {name: id, from: path, type: string}
filters:
  endpoint: [{name: config-test, tag: e}]
  endpoints:
    users: [{name: config-test, tag: u}]
`))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Clusters[0]
	if cl.Endpoints[0].Addr != "127.0.0.1:1" || cl.Endpoints[1] != (Endpoint{Addr: "127.0.0.1:2", Weight: 50, DC: "yf", Group: "g2"}) {
		t.Fatalf("endpoints %+v", cl.Endpoints)
	}
	if cl.LB != "consistent_hash" || cl.Retries != 2 || len(cl.RetryOn) != 2 || cl.RetryBudget != 0.2 ||
		cl.BackupRequests == nil || cl.BackupRequests.MaxDelay != 50*time.Millisecond {
		t.Fatalf("cluster %+v", cl)
	}
	if tg := c.Routes[0].Target; !tg.Idempotent || tg.HashKey != "arg:id" {
		t.Fatalf("target %+v", tg)
	}
	if len(c.Filters.Endpoint) != 1 || len(c.Filters.Endpoints["users"]) != 1 {
		t.Fatalf("filters %+v", c.Filters)
	}

	_, err = Parse("ha.yaml", []byte(`
clusters:
  - name: users
    endpoints: [{addr: 127.0.0.1:1, weight: -1}]
    lb: fastest
    retries: 11
    retry_on: [teapot]
    retry_budget: 2
    backup_requests: {percentile: 1.5, ratio: -1, min_delay: 10ms, max_delay: 1ms}
routes:
  - method: GET
    path: /v1/users/{id}
    target: {cluster: users, service: s, method: m, hash_key: "arg:nope"}
  - method: GET
    path: /v1/b
    target: {cluster: users, service: s, method: m, hash_key: "cookie:x"}
grpc_routes:
  - {service: a.B, target: {cluster: users, hash_key: "path:x"}}
filters:
  endpoint: [nosuch]
  endpoints:
    ghost: [config-test]
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`ha.yaml:4: clusters[0].endpoints[0].weight: must not be negative`,
		`ha.yaml:5: clusters[0].lb: unknown load balancer "fastest" (round_robin, random, weighted_round_robin, least_active, consistent_hash)`,
		`ha.yaml:6: clusters[0].retries: must be between 0 and 10`,
		`ha.yaml:7: clusters[0].retry_on[0]: unknown code "teapot"`,
		`ha.yaml:8: clusters[0].retry_budget: must be a fraction`,
		`ha.yaml:9: clusters[0].backup_requests.percentile: must be a fraction below 1`,
		`clusters[0].backup_requests.ratio: must be a fraction`,
		`clusters[0].backup_requests: min_delay and max_delay`,
		`routes[0].target.hash_key: no argument named "nope"`,
		`routes[1].target.hash_key: hash_key "cookie:x": unknown source "cookie"`,
		`grpc_routes[0].target.hash_key: source "path" is not available to this kind of route (header)`,
		`filters.endpoint[0]: unknown filter "nosuch"`,
		`filters.endpoints.ghost: unknown cluster "ghost"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
