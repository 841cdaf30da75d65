package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	_ "github.com/meshgate/meshgate/gateway/filter/switcher" // the switcher filter /degrade works with
	"github.com/meshgate/meshgate/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const gatewayYAML = `
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
admin: {listen: "127.0.0.1:0"}
schemas:
  - {name: demo, builtin: demo}
clusters:
  - {name: demo, endpoints: [demo]}
routes:
  - name: hello
    method: GET
    path: /v1/hello/{name}
    target: {cluster: demo, service: meshgate.demo.EchoService, method: hello}
    args: [{name: name, from: path, type: string}]
    filters:
      - {name: switcher, switch: degrade.hello, reply: {value: resting}}
  - name: add
    method: GET
    path: /v1/add
    target: {cluster: demo, service: meshgate.demo.EchoService, method: add, timeout: 2s}
    args: [{name: a, from: query, type: int64}, {name: b, from: query, type: int64, default: "0"}]
  - name: echo
    method: GET
    path: /v1/echo
    target: {cluster: demo, service: meshgate.demo.EchoService, method: echo}
    args: [{name: msg, from: query, type: string}]
    filters:
      - {name: switcher, switch: serve.echo, on: true, when: "off", reply: {value: resting}}
grpc_routes:
  - {service: meshgate.demo.v1.Demo, schema: demo, target: {cluster: demo, encoding: simple}}
motan2_routes:
  - {service: meshgate.demo.EchoService, target: {cluster: demo}}
`

// env is a running gateway and its management API.
type env struct {
	t      *testing.T
	gw     *assembly.Gateway
	srv    *admin.Server
	base   string // the API
	http   string // the HTTP ingress
	c      *http.Client
	mu     sync.Mutex
	source []byte // what a POST /reload without a body re-reads
}

func start(t *testing.T, token string) *env {
	t.Helper()
	cfg, err := config.Parse("gw.yaml", []byte(gatewayYAML))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := assembly.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, gw: gw, c: &http.Client{Timeout: 10 * time.Second}, source: []byte(gatewayYAML),
		http: "http://" + gw.HTTPAddr().String()}
	e.srv = admin.New(admin.Options{Gateway: gw, Token: token, Version: "v-test", Logger: quiet, Reload: e.reload})
	if err := e.srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + e.srv.Addr().String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("admin shutdown: %v", err)
		}
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		e.c.CloseIdleConnections()
	})
	return e
}

// reload is what meshgate run does: parse the body, or re-read the
// source, and apply.
func (e *env) reload(_ context.Context, body []byte) (admin.Generation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	source, data := "<POST /reload>", body
	if body == nil {
		source, data = "gw.yaml", e.source
	}
	cfg, err := config.Parse(source, data)
	if err == nil {
		err = e.gw.Reload(cfg)
	}
	return e.gw.Generation(), err
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, url, body string, hdr ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// api calls the API and decodes its JSON answer into v.
func (e *env) api(method, path, body string, wantStatus int, v any, hdr ...string) answer {
	e.t.Helper()
	a := e.do(method, e.base+path, body, hdr...)
	if a.status != wantStatus {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, a.status, wantStatus, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(a.body), v); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, a.body)
		}
	}
	return a
}

func (e *env) errorOf(method, path, body string, wantStatus int, wantMsg string) {
	e.t.Helper()
	var v struct {
		Error string `json:"error"`
	}
	e.api(method, path, body, wantStatus, &v)
	if !strings.Contains(v.Error, wantMsg) {
		e.t.Fatalf("%s %s: error %q, want it to contain %q", method, path, v.Error, wantMsg)
	}
}

// GET /status says whether the runtime's monitor thread is steady, from
// the GODEBUG the process runs with (runtime.sysmon).
func TestStatusSysmon(t *testing.T) {
	e := start(t, "")
	for godebug, want := range map[string]string{"": "go", "schedtrace=0": "go",
		"gctrace=0,schedtrace=2147483647": "steady"} {
		t.Setenv("GODEBUG", godebug)
		var st admin.Status
		e.api("GET", "/status", "", 200, &st)
		if st.Sysmon != want {
			t.Errorf("GODEBUG=%s: sysmon %q, want %q", godebug, st.Sysmon, want)
		}
	}
}

func TestStatusRoutesClusters(t *testing.T) {
	e := start(t, "")
	var st admin.Status
	e.api("GET", "/status", "", 200, &st)
	if st.Version != "v-test" || st.Generation.Number != 1 || st.Generation.Source != "gw.yaml" || st.Generation.LoadedAt.IsZero() ||
		st.UptimeSeconds < 0 || st.StartedAt.IsZero() || st.GOMAXPROCS != runtime.GOMAXPROCS(0) {
		t.Errorf("status %+v", st)
	}
	for name, want := range map[string]string{"http": e.gw.HTTPAddr().String(), "grpc": e.gw.GRPCAddr().String(),
		"motan2": e.gw.Motan2Addr().String(), "demo": e.gw.DemoAddr().String(), "admin": e.srv.Addr().String()} {
		if st.Listeners[name] != want {
			t.Errorf("listener %s = %q, want %q", name, st.Listeners[name], want)
		}
	}
	if st.Routes["http"] != 3 || st.Routes["grpc"] != 1 || st.Routes["motan2"] != 1 || st.Clusters != 1 {
		t.Errorf("counts %v, %d clusters", st.Routes, st.Clusters)
	}
	if len(st.Schemas) != 1 || !st.Schemas[0].Loaded || st.Schemas[0].Name != "demo" {
		t.Errorf("schemas %+v", st.Schemas)
	}

	var rl admin.RouteList
	e.api("GET", "/routes", "", 200, &rl)
	if rl.Generation != 1 || len(rl.Routes) != 5 {
		t.Fatalf("routes %+v", rl)
	}
	byName := map[string]admin.Route{}
	for _, r := range rl.Routes {
		byName[r.Name] = r
	}
	hello := byName["hello"]
	if hello.Ingress != "http" || hello.Match != (admin.Match{Method: "GET", Path: "/v1/hello/{name}"}) ||
		hello.Target.Cluster != "demo" || hello.Target.Protocol != "motan2" || hello.Target.Method != "hello" ||
		hello.Target.Timeout != "1s" || len(hello.Filters) != 1 || hello.Filters[0] != "switcher" || hello.Source != "routes[0]" {
		t.Errorf("hello %+v", hello)
	}
	if add := byName["add"]; add.Target.Timeout != "2s" || len(add.Filters) != 0 {
		t.Errorf("add %+v", add)
	}
	if g := byName["meshgate.demo.v1.Demo"]; g.Ingress != "grpc" || g.Match.Service != "meshgate.demo.v1.Demo" || g.Target.Encoding != "simple" {
		t.Errorf("grpc route %+v", g)
	}
	if m := byName["meshgate.demo.EchoService"]; m.Ingress != "motan2" || m.Match.Service != "meshgate.demo.EchoService" || m.Source != "motan2_routes[0]" {
		t.Errorf("motan2 route %+v", m)
	}

	var cl admin.ClusterList
	e.api("GET", "/clusters", "", 200, &cl)
	if len(cl.Clusters) != 1 {
		t.Fatalf("clusters %+v", cl)
	}
	c := cl.Clusters[0]
	if c.Name != "demo" || c.Protocol != "motan2" || c.LB != "round_robin" || len(c.Endpoints) != 1 ||
		c.Endpoints[0].Address != e.gw.DemoAddr().String() || !c.Endpoints[0].Available {
		t.Errorf("cluster %+v", c)
	}
}

func TestSwitchesAndDegrade(t *testing.T) {
	e := start(t, "")
	hello := func() string {
		t.Helper()
		a := e.do("GET", e.http+"/v1/hello/ada", "")
		if a.status != 200 {
			t.Fatalf("hello: %d %s", a.status, a.body)
		}
		return a.body
	}
	if got := hello(); got != `"hello, ada"` {
		t.Fatalf("hello %s", got)
	}
	var list struct {
		Switches []struct {
			Name string `json:"name"`
			On   bool   `json:"on"`
		} `json:"switches"`
	}
	e.api("GET", "/switches", "", 200, &list)
	if len(list.Switches) != 2 || list.Switches[0].Name != "degrade.hello" || list.Switches[0].On ||
		list.Switches[1].Name != "serve.echo" || !list.Switches[1].On {
		t.Fatalf("switches %+v", list)
	}

	var sw struct {
		Name string `json:"name"`
		On   bool   `json:"on"`
	}
	e.api("PUT", "/switches/degrade.hello", `{"on": true}`, 200, &sw)
	if !sw.On || sw.Name != "degrade.hello" {
		t.Fatalf("put switch: %+v", sw)
	}
	if got := hello(); got != `"resting"` {
		t.Fatalf("degraded hello %s", got)
	}
	e.api("GET", "/switches/degrade.hello", "", 200, &sw)
	if !sw.On {
		t.Fatal("switch reads off")
	}
	e.api("PUT", "/switches/degrade.hello", `{"on": false}`, 200, &sw)
	if got := hello(); got != `"hello, ada"` {
		t.Fatalf("restored hello %s", got)
	}
	e.errorOf("PUT", "/switches/nosuch", `{"on": true}`, 404, `no switch named "nosuch"`)
	e.errorOf("PUT", "/switches/degrade.hello", `{"of": true}`, 400, `unknown field "of"`)
	e.errorOf("PUT", "/switches/degrade.hello", `{}`, 400, `body must be {"on": true}`)
	e.errorOf("PUT", "/switches/degrade.hello", ``, 400, `missing JSON body`)

	var d struct {
		Route    string                `json:"route"`
		Degraded bool                  `json:"degraded"`
		Switches []admin.DegradeSwitch `json:"switches"`
	}
	e.api("GET", "/degrade/hello", "", 200, &d)
	if d.Route != "hello" || d.Degraded || len(d.Switches) != 1 || d.Switches[0].Switch != "degrade.hello" ||
		d.Switches[0].When != "on" || d.Switches[0].Scope != "route" {
		t.Fatalf("degrade %+v", d)
	}
	e.api("PUT", "/degrade/hello", `{"degraded": true}`, 200, &d)
	if !d.Degraded || !d.Switches[0].On {
		t.Fatalf("degrade on %+v", d)
	}
	if got := hello(); got != `"resting"` {
		t.Fatalf("degraded hello %s", got)
	}
	// The switch survives a reload (the switches outlive generations).
	e.api("POST", "/reload", "", 200, nil)
	if got := hello(); got != `"resting"` {
		t.Fatalf("degraded hello after a reload %s", got)
	}
	e.api("PUT", "/degrade/hello", `{"degraded": false}`, 200, &d)
	if d.Degraded || hello() != `"hello, ada"` {
		t.Fatalf("degrade off %+v", d)
	}
	// A switch that degrades while off.
	e.api("PUT", "/degrade/echo", `{"degraded": true}`, 200, &d)
	if !d.Degraded || d.Switches[0].When != "off" || d.Switches[0].On || e.gw.Switches().Lookup("serve.echo").On() {
		t.Fatalf("degrade when off %+v", d)
	}
	if a := e.do("GET", e.http+"/v1/echo?msg=hi", ""); a.body != `"resting"` {
		t.Fatalf("degraded echo %d %s", a.status, a.body)
	}
	e.api("PUT", "/degrade/echo", `{"degraded": false}`, 200, &d)
	if a := e.do("GET", e.http+"/v1/echo?msg=hi", ""); d.Degraded || a.body != `"hi"` {
		t.Fatalf("restored echo %d %s", a.status, a.body)
	}
	e.errorOf("GET", "/degrade/add", "", 404, `route "add" has no switcher filter`)
	e.errorOf("GET", "/degrade/nosuch", "", 404, `no route named "nosuch"`)
	e.errorOf("PUT", "/degrade/hello", `{"on": true}`, 400, `unknown field "on"`)
}

func TestExplain(t *testing.T) {
	e := start(t, "")
	var x admin.Explanation
	e.api("GET", "/explain?http=GET%20/v1/hello/7%3Fq=1", "", 200, &x)
	if x.Route.Name != "hello" || x.Route.Ingress != "http" || len(x.PathVars) != 1 || x.PathVars[0] != (admin.PathVar{Name: "name", Value: "7"}) ||
		x.Call.Service != "meshgate.demo.EchoService" || x.Call.Method != "hello" || x.Call.Timeout != "1s" ||
		x.Cluster.Name != "demo" || len(x.Cluster.Endpoints) != 1 || x.Route.Filters[0] != "switcher" || x.Generation != 1 {
		t.Errorf("http explain %+v", x)
	}
	e.api("GET", "/explain?http=HEAD%20/v1/add", "", 200, &x) // HEAD is served by GET routes
	if x.Route.Name != "add" {
		t.Errorf("HEAD explain %+v", x)
	}
	x = admin.Explanation{}
	e.api("GET", "/explain?grpc=/meshgate.demo.v1.Demo/Add", "", 200, &x)
	if x.Route.Ingress != "grpc" || x.Call.FullMethod != "/meshgate.demo.v1.Demo/Add" || x.Call.Method != "Add" || x.Cluster.Name != "demo" {
		t.Errorf("grpc explain %+v", x)
	}
	x = admin.Explanation{}
	e.api("GET", "/explain?motan2=meshgate.demo.EchoService,g1,echo", "", 200, &x)
	if x.Route.Ingress != "motan2" || x.Call.Service != "meshgate.demo.EchoService" || x.Call.Group != "g1" || x.Call.Method != "echo" {
		t.Errorf("motan2 explain %+v", x)
	}
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"http=GET%20/v2/nothing", 404, "no HTTP route for GET /v2/nothing"},
		{"http=POST%20/v1/add", 404, "method not allowed (the HTTP ingress answers 405; allowed: GET"},
		{"grpc=/meshgate.demo.v1.Demo2/Add", 404, `unknown service "meshgate.demo.v1.Demo2"`},
		{"motan2=com.example.Nothing", 404, `no Motan2 route for service "com.example.Nothing"`},
		{"http=/v1/hello", 400, "want METHOD PATH"},
		{"grpc=Add", 400, "want /package.Service/Method"},
		{"", 400, "want exactly one of"},
		{"http=GET%20/&grpc=/a/b", 400, "want exactly one of"},
	} {
		e.errorOf("GET", "/explain?"+tc.query, "", tc.status, tc.want)
	}
}

func TestReload(t *testing.T) {
	e := start(t, "")
	var ok struct {
		Generation admin.Generation `json:"generation"`
	}
	// A posted configuration with one more route.
	more := strings.Replace(gatewayYAML, "grpc_routes:", `  - name: upper
    method: POST
    path: /v1/upper
    target: {cluster: demo, service: meshgate.demo.EchoService, method: upper}
    args: [{name: text, from: body_field, type: string}]
grpc_routes:`, 1)
	if a := e.do("POST", e.http+"/v1/upper", `{"text":"x"}`); a.status != 404 {
		t.Fatalf("upper before: %d", a.status)
	}
	e.api("POST", "/reload", more, 200, &ok)
	if ok.Generation.Number != 2 || ok.Generation.Source != "<POST /reload>" {
		t.Fatalf("reload answer %+v", ok)
	}
	if a := e.do("POST", e.http+"/v1/upper", `{"text":"x"}`); a.status != 200 || a.body != `"X"` {
		t.Fatalf("upper after: %d %s", a.status, a.body)
	}

	// An invalid one: every problem with its line; generation 2 serves.
	var bad struct {
		Error      string   `json:"error"`
		Problems   []string `json:"problems"`
		Generation int64    `json:"generation"`
	}
	e.api("POST", "/reload", "http: {listen: \"127.0.0.1:0\"}\nclusters:\n  - {name: c, endpoints: [nohostport]}\n", 400, &bad)
	if len(bad.Problems) != 1 || !strings.HasPrefix(bad.Problems[0], "<POST /reload>:3: clusters[0].endpoints[0]") || bad.Generation != 2 {
		t.Fatalf("invalid configuration answer %+v", bad)
	}
	e.api("POST", "/reload", "http: [", 400, &bad)
	if len(bad.Problems) != 1 || !strings.HasPrefix(bad.Problems[0], "<POST /reload>:") {
		t.Fatalf("YAML syntax error answer %+v", bad)
	}
	if a := e.do("POST", e.http+"/v1/upper", `{"text":"y"}`); a.status != 200 {
		t.Fatalf("generation 2 stopped serving: %d", a.status)
	}

	// A listener change.
	var conflict struct {
		Error           string   `json:"error"`
		RestartRequired []string `json:"restart_required"`
	}
	e.api("POST", "/reload", strings.Replace(gatewayYAML, `grpc: {listen: "127.0.0.1:0"}`, `grpc: {listen: "127.0.0.1:1"}`, 1), 409, &conflict)
	if len(conflict.RestartRequired) != 1 || conflict.RestartRequired[0] != "grpc.listen changed: restart required" {
		t.Fatalf("listener change answer %+v", conflict)
	}
	// No body: the source again (without the upper route).
	e.api("POST", "/reload", "", 200, &ok)
	if ok.Generation.Number != 3 || ok.Generation.Source != "gw.yaml" {
		t.Fatalf("reload from source %+v", ok)
	}
	if a := e.do("POST", e.http+"/v1/upper", `{"text":"x"}`); a.status != 404 {
		t.Fatalf("upper after reloading the source: %d", a.status)
	}
	e.errorOf("GET", "/reload", "", 405, "method GET not allowed for /reload (allowed: POST)")
	big := strings.Repeat("#", admin.MaxBodyBytes+1)
	e.errorOf("POST", "/reload", big, 413, "request body larger than 1048576 bytes")
}

func TestErrorsAreJSON(t *testing.T) {
	e := start(t, "")
	e.errorOf("GET", "/nope", "", 404, "no endpoint /nope")
	a := e.api("DELETE", "/switches/degrade.hello", "", 405, nil)
	if a.header.Get("Allow") != "GET, PUT" {
		t.Errorf("Allow %q", a.header.Get("Allow"))
	}
	// A panic is answered 500 and the server goes on.
	srv := admin.New(admin.Options{Gateway: panicky{e.gw}, Logger: quiet})
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	base := "http://" + srv.Addr().String()
	for range 2 {
		a := e.do("GET", base+"/routes", "")
		if a.status != 500 || !strings.Contains(a.body, `"error": "internal error"`) {
			t.Fatalf("panic: %d %s", a.status, a.body)
		}
	}
	if a := e.do("GET", base+"/status", ""); a.status != 200 {
		t.Fatalf("after a panic: %d %s", a.status, a.body)
	}
	if a := e.do("POST", base+"/reload", ""); a.status != 501 {
		t.Fatalf("reload without a ReloadFunc: %d %s", a.status, a.body)
	}
}

type panicky struct{ admin.Gateway }

func (panicky) Routes() admin.RouteList { panic("boom") }

func TestToken(t *testing.T) {
	e := start(t, "s3cret")
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "Bearer s3cret2"},
		{"Authorization", "Basic s3cret"}, {"Authorization", "s3cret"}} {
		a := e.do("GET", e.base+"/status", "", hdr...)
		if a.status != 401 || !strings.Contains(a.body, "bearer token") || a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%v: %d %s", hdr, a.status, a.body)
		}
	}
	e.api("GET", "/status", "", 200, nil, "Authorization", "Bearer s3cret")
	e.api("PUT", "/switches/degrade.hello", `{"on": true}`, 200, nil, "Authorization", "bearer s3cret")
	if a := e.do("PUT", e.base+"/switches/degrade.hello", `{"on": false}`); a.status != 401 {
		t.Errorf("unauthenticated PUT: %d", a.status)
	}
	if sw := e.gw.Switches().Lookup("degrade.hello"); !sw.On() {
		t.Error("an unauthenticated PUT changed the switch")
	}

	// The configuration requires a token off loopback.
	_, err := config.Parse("gw.yaml", []byte(strings.Replace(gatewayYAML, `admin: {listen: "127.0.0.1:0"}`, `admin: {listen: "0.0.0.0:8002"}`, 1)))
	if err == nil || !strings.Contains(err.Error(), `admin.listen: "0.0.0.0:8002" is not a loopback address: set admin.token`) {
		t.Fatalf("non-loopback without a token: %v", err)
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	srv := admin.New(admin.Options{Logger: quiet})
	if err := srv.Shutdown(context.Background()); err != nil || srv.Addr() != nil {
		t.Fatal(err)
	}
}
