package interop

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
)

// TestHTTPGatewayToMotanGoServer: a REST caller reaches a motan-go v1.2.0
// server through meshgate's HTTP ingress, with typed arguments from the
// path, query and JSON body, and a motan-go exception mapped to HTTP.
func TestHTTPGatewayToMotanGoServer(t *testing.T) {
	checkNoLeaks(t)
	srv := startMotanGoServer(t)
	cfgText := fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
clusters:
  - {name: motan-go, endpoints: [%q]}
routes:
  - {method: GET, path: "/v1/echo/{s}", target: {cluster: motan-go, service: %s, method: echo}, args: [{name: s, from: path, type: string}]}
  - {method: GET, path: /v1/int16, target: {cluster: motan-go, service: %s, method: echo}, args: [{name: n, from: query, type: int16}]}
  - {method: GET, path: /v1/multi, target: {cluster: motan-go, service: %s, method: echo},
     args: [{name: a, from: query, type: int64}, {name: b, from: query, type: bool}, {name: c, from: query, type: float64}]}
  - {method: POST, path: /v1/map, target: {cluster: motan-go, service: %s, method: echo}, args: [{name: m, from: body, type: string_map}]}
  - {method: POST, path: /v1/throw, target: {cluster: motan-go, service: %s, method: throw},
     args: [{name: code, from: body_field, type: int32}, {name: msg, from: body_field, type: string}, {name: type, from: body_field, type: int32}]}
  - {method: GET, path: /v1/void, target: {cluster: motan-go, service: %s, method: void}}
`, srv.Addr, echoService, echoService, echoService, echoService, echoService, echoService)
	gw := startGateway(t, cfgText)
	base := "http://" + gw.HTTPAddr().String()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/v1/echo/h%C3%A9llo", "", 200, `"héllo"`},
		{"GET", "/v1/int16?n=-300", "", 200, `-300`},
		{"GET", "/v1/multi?a=9007199254740993&b=true&c=2.5", "", 200, `[9007199254740993,true,2.5]`},
		{"POST", "/v1/map", `{"k":"v"}`, 200, `{"k":"v"}`},
		{"POST", "/v1/throw", `{"code":404,"msg":"order 9 not found","type":2}`, 404, `"upstream_errcode":404`},
		{"POST", "/v1/throw", `{"code":503,"msg":"overloaded","type":1}`, 503, `"code":"UNAVAILABLE"`},
		{"GET", "/v1/void", "", 200, `null`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Fatalf("%d %s, want %d with %s", resp.StatusCode, b, tc.status, tc.want)
			}
		})
	}
}

// TestMotanGoClientThroughMotan2Ingress: a motan-go v1.2.0 client calls
// meshgate's Motan2 ingress as it would call a motan-go agent, and reaches
// a motan-go server behind it: values keep their types, exceptions come
// back as they were thrown.
func TestMotanGoClientThroughMotan2Ingress(t *testing.T) {
	checkNoLeaks(t)
	srv := startMotanGoServer(t)
	gw := startGateway(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
clusters:
  - {name: motan-go, endpoints: [%q]}
motan2_routes:
  - {service: %s, target: {cluster: motan-go, timeout: 5s}}
`, srv.Addr, echoService))
	ep := newMotanGoEndpoint(t, gw.Motan2Addr().String(), nil)
	for _, v := range []interface{}{"héllo", int16(-300), int64(1) << 40, []string{"a", "b"}, map[string]string{"k": "v"}, []byte{0, 255}, true, 2.5} {
		resp := motanGoCall(ep, echoService, "echo", v)
		if resp.GetException() != nil {
			t.Fatalf("echo %#v: %+v", v, resp.GetException())
		}
		if got := resp.GetValue(); fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", v) {
			t.Fatalf("echo %#v came back as %#v", v, got)
		}
	}
	resp := motanGoCall(ep, echoService, "throw", 404, "no such order", 2)
	if e := resp.GetException(); e == nil || e.ErrCode != 404 || e.ErrType != 2 || e.ErrMsg != "no such order" {
		t.Fatalf("exception: %+v", e)
	}
	resp = motanGoCall(ep, "com.example.NotRouted", "echo", "x")
	if e := resp.GetException(); e == nil || e.ErrCode != 400 {
		t.Fatalf("unrouted service: %+v", e)
	}
}

// startGateway starts meshgate on the configuration text and shuts it down
// at the end of the test.
func startGateway(t *testing.T, yaml string) *assembly.Gateway {
	t.Helper()
	cfg, err := config.Parse("interop.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := assembly.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	return gw
}
