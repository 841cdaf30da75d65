package ratelimit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	_ "github.com/meshgate/meshgate/gateway/filter/ratelimit"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

const configYAML = `
demo: {}
clusters:
  - {name: demo, endpoints: [demo]}
routes:
  - name: get-user
    method: GET
    path: /users/{id}
    target: {cluster: demo, service: s, method: getUser}
    args: [{name: id, from: path, type: string}]
    request_headers: [X-Caller]
    filters:
      - name: ratelimit
        rate: 2.5
        burst: 2
        per: {meta: X-Caller}
        max_callers: 50
        methods: [getUser]
`

type nop struct{}

func (nop) Invoke(context.Context, *gateway.Call, *gateway.Reply) error { return nil }

func TestOptionsFromConfiguration(t *testing.T) {
	c, err := config.Parse("meshgate.yaml", []byte(configYAML))
	if err != nil {
		t.Fatal(err)
	}
	fc := &c.Routes[0].Filters[0]
	f, err := gateway.NewFilter(gateway.FilterSpec{Name: fc.Name, Scope: "route get-user", Route: "get-user", Cluster: "demo", Decode: fc.Decode})
	if err != nil {
		t.Fatal(err)
	}
	inv := gateway.Chain(nop{}, f)
	call := &gateway.Call{Method: "getUser", Meta: motan2.Meta{{Key: "X-Caller", Value: "alice"}}}
	for i := range 2 {
		if err := inv.Invoke(context.Background(), call, &gateway.Reply{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	err = inv.Invoke(context.Background(), call, &gateway.Reply{})
	if e := translate.FromError(err); e.Status() != 429 || e.Message != `rate limit of 2.5/s exceeded for route get-user (caller "alice")` {
		t.Fatalf("third call: %v", err)
	}
	// Another caller and another method are not limited by alice's calls.
	if err := inv.Invoke(context.Background(), &gateway.Call{Method: "getUser", Meta: motan2.Meta{{Key: "X-Caller", Value: "bob"}}}, &gateway.Reply{}); err != nil {
		t.Fatal(err)
	}
	if err := inv.Invoke(context.Background(), &gateway.Call{Method: "other", Meta: call.Meta}, &gateway.Reply{}); err != nil {
		t.Fatal(err)
	}
}

func TestBadOptionsInConfiguration(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{"{name: ratelimit, rat: 10}", "meshgate.yaml:10: routes[0].filters[0]: filter ratelimit: bad options: field rat not found"},
		{"{name: ratelimit, rate: 0}", "meshgate.yaml:10: routes[0].filters[0]: filter ratelimit: rate must be greater than 0"},
		{"ratelimit", "meshgate.yaml:10: routes[0].filters[0]: filter ratelimit: rate is required"},
		{"{name: ratelimit, rate: 5, per: {meta: a, header: b}}", "filter ratelimit: per: set one of meta and header, not both"},
	} {
		src := `
demo: {}
clusters:
  - {name: demo, endpoints: [demo]}
routes:
  - method: GET
    path: /a
    target: {cluster: demo, service: s, method: m}
    filters:
      - ` + tc.entry + "\n"
		_, err := config.Parse("meshgate.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.entry, err, tc.want)
		}
	}
}
