package switcher_test

import (
	"context"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/filter/internal/filtertest"
	_ "github.com/meshgate/meshgate/gateway/filter/switcher" // registers "switcher"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// TestFromConfiguration decodes the options from a configuration file, as
// the assembly does.
func TestFromConfiguration(t *testing.T) {
	c, err := config.Parse("meshgate.yaml", []byte(filtertest.RouteConfig+`
      - name: switcher
        switch: degrade.users
        when: on
        methods: [getUser]
        reply:
          value: {id: 0, name: anonymous, tags: [a, b]}
          error: {code: UNAVAILABLE, message: users are resting, http_status: 502}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := gateway.NewFilterEnv()
	fc := c.Routes[0].Filters[0]
	f, err := gateway.NewFilter(gateway.FilterSpec{Name: fc.Name, Scope: "route get-user", Route: "get-user", Cluster: "demo", Decode: fc.Decode, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	inv := gateway.Chain(filtertest.Echo{}, f)
	call := func(payload []byte) (motan2.Value, error) {
		var reply gateway.Reply
		err := inv.Invoke(context.Background(), &gateway.Call{Method: "getUser", Payload: payload}, &reply)
		return reply.Value, err
	}
	if v, err := call(nil); err != nil || v.Str() != "upstream getUser" {
		t.Fatalf("switch off: %v %v", v, err)
	}
	env.Switches.Lookup("degrade.users").Set(true)
	v, err := call(nil)
	if want := `map{string("id"): int64(0), string("name"): string("anonymous"), string("tags"): array[string("a"), string("b")]}`; err != nil || v.String() != want {
		t.Fatalf("degraded: %v %v, want %s", v, err, want)
	}
	_, err = call([]byte{})
	if e := translate.FromError(err); e.Code != translate.Unavailable || e.Status() != 502 || e.Message != "users are resting" {
		t.Fatalf("degraded payload call: %v", err)
	}
}

func TestConfigurationErrors(t *testing.T) {
	_, err := config.Parse("meshgate.yaml", []byte(filtertest.RouteConfig+`
      - {name: switcher}
      - {name: switcher, switch: s, reply: {error: {code: NOPE}}}
      - {name: switcher, switch: s, reply: {value: x, type: int64}}
      - {name: switcher, switch: s, when: sometimes}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`meshgate.yaml:12: routes[0].filters[0]: filter switcher: switch is required`,
		`meshgate.yaml:13: routes[0].filters[1]: filter switcher: reply.error.code "NOPE" is not an error code`,
		`meshgate.yaml:14: routes[0].filters[2]: filter switcher: reply.value "x" is not a valid int64 (type int64)`,
		`meshgate.yaml:15: routes[0].filters[3]: filter switcher: when "sometimes": want on`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
