package assembly_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/motan2"
)

const motan2Config = `
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
clusters:
  - {name: demo, endpoints: [demo]}
  - {name: dead, endpoints: ["%s"]}
motan2_routes:
  - {service: meshgate.demo.EchoService, target: {cluster: demo, timeout: 200ms}}
  - {service: com.example.Renamed, group: blue, target: {cluster: demo, service: meshgate.demo.EchoService}}
  - {service: com.example.Down, target: {cluster: dead}}
`

func startMotan2Gateway(t *testing.T) *motan2.Client {
	t.Helper()
	cfg, err := config.Parse("m2.yaml", []byte(fmt.Sprintf(motan2Config, deadAddr(t))))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := assembly.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := motan2.NewClient(gw.Motan2Addr().String(), motan2.WithLogger(quiet), motan2.WithErrorThreshold(0))
	t.Cleanup(func() {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	return c
}

// A Motan2 client calls meshgate as it would call a motan-go agent; the
// call reaches the service untouched and comes back under the caller's id.
func TestMotan2IngressProxies(t *testing.T) {
	c := startMotan2Gateway(t)
	ctx := context.Background()
	call := func(service, group, method string, args ...motan2.Value) (*motan2.Response, error) {
		return c.Call(ctx, &motan2.Request{Service: service, Group: group, Method: method, Args: args})
	}
	for _, v := range []motan2.Value{motan2.Int16(-7), motan2.StringMapOf(map[string]string{"k": "v"}), motan2.Bytes([]byte{0, 255})} {
		resp, err := call("meshgate.demo.EchoService", "", "echo", v)
		if err != nil || !motan2.Equal(resp.Value, v) {
			t.Fatalf("echo %v: %v %v", v, resp, err)
		}
		if !resp.Frame.Flags.Has(motan2.FlagProxy) {
			t.Fatalf("reply without the proxy bit: %#x", resp.Frame.Flags)
		}
	}
	t.Run("M_rid carries the caller's id upstream", func(t *testing.T) {
		req := motan2.NewRequest("meshgate.demo.EchoService", "meta", motan2.SerializationSimple, nil)
		body, _ := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{motan2.String(motan2.MetaRequestID)})
		req.Body = body
		resp, err := c.RoundTrip(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := motan2.DecodeReply(resp.Serialization, resp.Body)
		if _, err := strconv.ParseInt(v.Str(), 10, 64); err != nil {
			t.Fatalf("upstream saw M_rid %q", v.Str())
		}
	})
	t.Run("service and group rewrite", func(t *testing.T) {
		resp, err := call("com.example.Renamed", "blue", "hello", motan2.String("ada"))
		if err != nil || resp.Value.Str() != "hello, ada" {
			t.Fatalf("%v %v", resp, err)
		}
	})
	var e *motan2.Exception
	t.Run("unknown service", func(t *testing.T) {
		_, err := call("com.example.Nothing", "", "x")
		if !errors.As(err, &e) || e.ErrCode != 400 || e.ErrType != 1 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("wrong group", func(t *testing.T) {
		_, err := call("com.example.Renamed", "green", "hello", motan2.String("x"))
		if !errors.As(err, &e) || e.ErrCode != 400 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("upstream exception passes through", func(t *testing.T) {
		_, err := call("meshgate.demo.EchoService", "", "cancel", motan2.String("9"))
		if !errors.As(err, &e) || e.ErrCode != 409 || e.ErrType != 2 || e.ErrMsg != "order 9 has already shipped" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("no reachable endpoint", func(t *testing.T) {
		_, err := call("com.example.Down", "", "x")
		if !errors.As(err, &e) || e.ErrCode != 503 || e.ErrType != 1 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("route timeout", func(t *testing.T) {
		_, err := call("meshgate.demo.EchoService", "", "sleep", motan2.Int64(2000))
		if !errors.As(err, &e) || e.ErrCode != 504 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("heartbeat", func(t *testing.T) {
		if err := c.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMotan2RoutesValidated(t *testing.T) {
	_, err := config.Parse("m2.yaml", []byte(`
clusters: [{name: a, endpoints: ["127.0.0.1:1"]}]
motan2_routes:
  - {service: s, target: {cluster: nosuch}}
  - {service: s, target: {cluster: a}}
`))
	for _, want := range []string{"routes without a motan2 listener", `unknown cluster "nosuch"`, `already routed by motan2_routes[0]`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
