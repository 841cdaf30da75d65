package assembly_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/motan2"
)

// Requests an ingress answers before any route chain (no route, an
// argument that does not bind, an unknown gRPC service, an unknown Motan2
// service) are written to the access log too, with their ingress and what
// they asked for.
func TestAccessLogRejectedRequests(t *testing.T) {
	logs := newLockedBuffer()
	defer assembly.SetTelemetryHooks(nil, logs)()
	gw := startYAML(t, `
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
clusters:
  - {name: c, endpoints: ["127.0.0.1:1"]}
routes:
  - name: add
    method: GET
    path: /v1/add
    target: {cluster: c, service: s, method: add}
    args: [{name: a, from: query, type: int32}]
motan2_routes:
  - {service: com.example.Known, target: {cluster: c}}
telemetry:
  access_log: {enabled: true}
`)
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	for _, path := range []string{"/v1/nothing", "/v1/add?a=x"} {
		req, _ := http.NewRequest("GET", "http://"+gw.HTTPAddr().String()+path, nil)
		req.Header.Set("X-Request-Id", "rid"+path)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	cc, err := grpc.NewClient(gw.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = cc.Invoke(ctx, "/pkg.Unknown/Call", &emptypb.Empty{}, &emptypb.Empty{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown gRPC service: %v", err)
	}
	mc := motan2.NewClient(gw.Motan2Addr().String())
	defer mc.Close()
	if _, err := mc.Call(ctx, &motan2.Request{Service: "com.example.Unknown", Method: "get"}); err == nil {
		t.Fatal("unknown Motan2 service answered")
	}

	want := []map[string]any{
		{"ingress": "http", "target": "GET /v1/nothing", "grpc_status": "NOT_FOUND", "http_status": 404.0, "request_id": "rid/v1/nothing"},
		{"ingress": "http", "route": "add", "target": "GET /v1/add", "grpc_status": "INVALID_ARGUMENT", "http_status": 400.0, "request_id": "rid/v1/add?a=x"},
		{"ingress": "grpc", "target": "/pkg.Unknown/Call", "grpc_status": "UNIMPLEMENTED"},
		{"ingress": "motan2", "target": "com.example.Unknown/get", "grpc_status": "NOT_FOUND", "http_status": 400.0},
	}
	logs.waitFor(t, func(s string) bool { return strings.Count(s, "\n") >= len(want) })
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d access-log lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v (%s)", i, k, got[k], v, line)
			}
		}
		if _, ok := got["error"]; !ok {
			t.Errorf("line %d has no error: %s", i, line)
		}
		if _, ok := got["route"]; ok && want[i]["route"] == nil {
			t.Errorf("line %d has a route: %s", i, line)
		}
	}
}
