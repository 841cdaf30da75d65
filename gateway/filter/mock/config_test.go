package mock_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/filter/internal/filtertest"
	_ "github.com/meshgate/meshgate/gateway/filter/mock" // registers "mock"
	"github.com/meshgate/meshgate/translate"
)

// TestFromConfiguration decodes the options from a configuration file, as
// the assembly does.
func TestFromConfiguration(t *testing.T) {
	c, err := config.Parse("meshgate.yaml", []byte(filtertest.RouteConfig+`
      - name: mock
        methods:
          getUser:
            value: {id: 1, name: alice, roles: [admin]}
            delay: 1ms
          deleteUser:
            error: {code: PERMISSION_DENIED, message: read only}
          count: {value: "3", type: int64}
`))
	if err != nil {
		t.Fatal(err)
	}
	fc := c.Routes[0].Filters[0]
	f, err := gateway.NewFilter(gateway.FilterSpec{Name: fc.Name, Scope: "route users", Route: "users", Cluster: "demo", Decode: fc.Decode, Env: gateway.NewFilterEnv()})
	if err != nil {
		t.Fatal(err)
	}
	inv := gateway.Chain(filtertest.Echo{}, f)
	for _, tc := range []struct{ method, want string }{
		{"getUser", `map{string("id"): int64(1), string("name"): string("alice"), string("roles"): array[string("admin")]}`},
		{"count", `int64(3)`},
		{"listUsers", `string("upstream listUsers")`},
	} {
		var reply gateway.Reply
		start := time.Now()
		if err := inv.Invoke(context.Background(), &gateway.Call{Method: tc.method, Timeout: time.Minute}, &reply); err != nil || reply.Value.String() != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.method, reply.Value, err, tc.want)
		}
		if tc.method == "getUser" && time.Since(start) < time.Millisecond {
			t.Errorf("getUser answered before its delay")
		}
	}
	err = inv.Invoke(context.Background(), &gateway.Call{Method: "deleteUser", Payload: []byte{}}, &gateway.Reply{})
	if e := translate.FromError(err); e.Code != translate.PermissionDenied || e.Status() != 403 || e.Message != "read only" {
		t.Fatalf("deleteUser: %v", err)
	}
}

func TestConfigurationErrors(t *testing.T) {
	_, err := config.Parse("meshgate.yaml", []byte(filtertest.RouteConfig+`
      - mock
      - {name: mock, methods: {getUser: {value: 1, delay: soon}}}
      - {name: mock, methods: {getUser: {error: {code: NOPE}}}}
      - {name: mock, default: {value: 1, json: {}}}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`meshgate.yaml:12: routes[0].filters[0]: filter mock: methods or default is required`,
		"meshgate.yaml:13: routes[0].filters[1]: filter mock: bad options: cannot unmarshal !!str `soon` into time.Duration",
		`meshgate.yaml:14: routes[0].filters[2]: filter mock: methods.getUser: error.code "NOPE" is not an error code`,
		`meshgate.yaml:15: routes[0].filters[3]: filter mock: bad options: field json not found`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
