package assembly_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/testgrpc"
	"github.com/meshgate/meshgate/internal/testregistry"
	"github.com/meshgate/meshgate/motan2"
)

// backend is a Motan2 server of com.example.Users answering "who" with
// its own address.
type backend struct {
	addr  string
	srv   *motan2.Server
	calls atomic.Int64
	done  chan struct{}
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: l.Addr().String(), done: make(chan struct{})}
	mux := motan2.NewServiceMux()
	mux.HandleFunc("com.example.Users", func(ctx context.Context, req *motan2.Request) (motan2.Value, error) {
		b.calls.Add(1)
		return motan2.String(b.addr), nil
	})
	b.srv = &motan2.Server{Handler: mux, Logger: quiet}
	go func() { b.srv.Serve(l); close(b.done) }()
	t.Cleanup(b.stop)
	return b
}

func (b *backend) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
	<-b.done
}

// registerBackend writes b's entry in group as motan-go does.
func registerBackend(z *testregistry.ZKClient, group string, b *backend) {
	z.Put("/motan/"+group+"/com.example.Users/server/"+b.addr,
		[]byte("motan2://"+b.addr+"/com.example.Users?group="+group+"&nodeType=service"))
}

func deregisterBackend(z *testregistry.ZKClient, group string, b *backend) {
	z.Delete("/motan/" + group + "/com.example.Users/server/" + b.addr)
}

// zkDial connects a client standing for motan-go and operators' tools.
func zkDial(t *testing.T, addr string) *testregistry.ZKClient {
	return testregistry.DialZooKeeper(t, addr, 4*time.Second)
}

const discoveryConfig = `
http: {listen: "127.0.0.1:0"}
motan2:
  listen: "127.0.0.1:0"
  export:
    - {registry: zk, service: com.example.Front, group: yf, weight: 50, dc: yf}
registries:
  - {name: zk, type: zookeeper, address: "%s", session_timeout: 4s, timeout: 2s}
clusters:
  - {name: users, discovery: {registry: zk, service: com.example.Users, group: yf}}
motan2_routes:
  - {service: com.example.Users, target: {cluster: users, timeout: 2s}}
`

func startDiscoveryGateway(t *testing.T, zkAddr string) (*assembly.Gateway, *config.Config, *motan2.Client) {
	t.Helper()
	cfg, err := config.Parse("discovery.yaml", []byte(fmt.Sprintf(discoveryConfig, zkAddr)))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := assembly.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := motan2.NewClient(gw.Motan2Addr().String(), motan2.WithLogger(quiet))
	t.Cleanup(func() {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	return gw, cfg, c
}

func who(ctx context.Context, c *motan2.Client) (string, error) {
	resp, err := c.Call(ctx, &motan2.Request{Service: "com.example.Users", Method: "who", Timeout: 2 * time.Second})
	if err != nil {
		return "", err
	}
	return resp.Value.Str(), nil
}

// clusterEndpoints returns the addresses discovery gave the cluster.
func clusterEndpoints(gw *assembly.Gateway) string {
	var out []string
	for _, cl := range gw.Clusters().Clusters {
		if cl.Name == "users" {
			for _, ep := range cl.Endpoints {
				out = append(out, ep.Address)
			}
		}
	}
	return sortedJoin(out...)
}

func sortedJoin(addrs ...string) string {
	addrs = append([]string(nil), addrs...)
	sort.Strings(addrs)
	return strings.Join(addrs, ",")
}

// discTraffic calls the gateway from a few goroutines until stopped, counting
// failures and which backend answered.
type discTraffic struct {
	mu       sync.Mutex
	seen     map[string]int
	failures []error
	calls    atomic.Int64
	perCall  []atomic.Int64 // calls finished by each worker
	next     chan struct{}  // a signal per answered call
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startDiscTraffic(c *motan2.Client, workers int) *discTraffic {
	tr := &discTraffic{seen: map[string]int{}, next: make(chan struct{}, 1), stop: make(chan struct{}),
		perCall: make([]atomic.Int64, workers)}
	for w := range workers {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for {
				select {
				case <-tr.stop:
					return
				default:
				}
				addr, err := who(context.Background(), c)
				tr.calls.Add(1)
				tr.perCall[w].Add(1)
				tr.mu.Lock()
				if err != nil {
					tr.failures = append(tr.failures, err)
				} else {
					tr.seen[addr]++
				}
				tr.mu.Unlock()
				select {
				case tr.next <- struct{}{}:
				default:
				}
			}
		}()
	}
	return tr
}

// waitSeen waits until addr has answered since reset.
func (tr *discTraffic) waitSeen(t *testing.T, addr string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		tr.mu.Lock()
		n := tr.seen[addr]
		tr.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-tr.next:
		case <-deadline:
			t.Fatalf("%s never answered within 15s", addr)
		}
	}
}

// waitCalls waits until n more calls were made.
func (tr *discTraffic) waitCalls(t *testing.T, n int64) {
	t.Helper()
	target := tr.calls.Load() + n
	deadline := time.After(15 * time.Second)
	for tr.calls.Load() < target {
		select {
		case <-tr.next:
		case <-deadline:
			t.Fatalf("discTraffic stalled: %d calls, waiting for %d", tr.calls.Load(), target)
		}
	}
}

// waitRound waits until every worker has finished two more calls: no
// call that picked an endpoint before the moment of the call is still in
// flight afterwards.
func (tr *discTraffic) waitRound(t *testing.T) {
	t.Helper()
	start := make([]int64, len(tr.perCall))
	for i := range tr.perCall {
		start[i] = tr.perCall[i].Load()
	}
	deadline := time.After(15 * time.Second)
	for i := range tr.perCall {
		for tr.perCall[i].Load() < start[i]+2 {
			select {
			case <-tr.next:
			case <-deadline:
				t.Fatalf("worker %d stalled", i)
			}
		}
	}
}

func (tr *discTraffic) finish() []error {
	close(tr.stop)
	tr.wg.Wait()
	return tr.failures
}

// waitEndpoints waits until the cluster's endpoints are want.
func waitEndpoints(t *testing.T, gw *assembly.Gateway, tr *discTraffic, want string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for clusterEndpoints(gw) != want {
		select {
		case <-tr.next: // the cluster state changes off the callers' path; re-check at each call
		case <-deadline:
			t.Fatalf("cluster endpoints %q, want %q", clusterEndpoints(gw), want)
		}
	}
}

// Nodes come and go, the registry restarts and the configuration reloads
// under discTraffic: no call fails. The exported service is registered while
// the gateway runs and removed by its graceful shutdown.
func TestDiscoveryUnderTraffic(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	z := zkDial(t, srv.Addr)
	b1, b2, b3 := startBackend(t), startBackend(t), startBackend(t)
	registerBackend(z, "yf", b1)
	registerBackend(z, "yf", b2)
	gw, cfg, c := startDiscoveryGateway(t, srv.Addr)
	front := "/motan/yf/com.example.Front/server/" + gw.Motan2Addr().String()

	tr := startDiscTraffic(c, 4)
	tr.waitSeen(t, b1.addr)
	tr.waitSeen(t, b2.addr)

	registerBackend(z, "yf", b3)
	tr.waitSeen(t, b3.addr)

	// Graceful removal: out of the registry first, stopped once the
	// cluster no longer lists it.
	deregisterBackend(z, "yf", b1)
	waitEndpoints(t, gw, tr, sortedJoin(b2.addr, b3.addr))
	tr.waitRound(t) // the calls that picked b1 before are done
	b1.stop()
	tr.waitCalls(t, 50)

	// Registry down: the last known endpoints serve; back: changes flow.
	srv.Stop()
	tr.waitCalls(t, 50)
	if got := clusterEndpoints(gw); got != sortedJoin(b2.addr, b3.addr) {
		t.Fatalf("registry down changed the cluster: %s", got)
	}
	// A reload while the registry is down starts from the last known
	// endpoints.
	if err := gw.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	tr.waitCalls(t, 50)
	if got := clusterEndpoints(gw); got != sortedJoin(b2.addr, b3.addr) {
		t.Fatalf("reload with the registry down: %s", got)
	}
	srv.Start()
	z = zkDial(t, srv.Addr)
	deregisterBackend(z, "yf", b2)
	waitEndpoints(t, gw, tr, b3.addr)
	tr.waitRound(t)
	b2.stop()

	// A reload builds a new generation subscribed anew, seeded with the
	// endpoints known.
	if err := gw.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	tr.waitCalls(t, 50)
	if !z.Exists(front) {
		t.Errorf("exported entry %s missing while the gateway runs", front)
	}
	if errs := tr.finish(); len(errs) > 0 {
		t.Fatalf("%d of %d calls failed; first: %v", len(errs), tr.calls.Load(), errs[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if z.Exists(front) || z.Exists(strings.Replace(front, "/server/", "/unavailableServer/", 1)) {
		t.Error("exported entry left after a graceful shutdown")
	}
}

// A discTraffic-switch command moves the split between two groups; a degrade
// command answers without calling upstream.
func TestDiscoveryCommands(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	z := zkDial(t, srv.Addr)
	yf, tc := startBackend(t), startBackend(t)
	registerBackend(z, "yf", yf)
	registerBackend(z, "tc", tc)
	gw, cfg, c := startDiscoveryGateway(t, srv.Addr)
	ctx := context.Background()

	share := func(calls int) float64 {
		t.Helper()
		n := 0
		for range calls {
			addr, err := who(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if addr == tc.addr {
				n++
			}
		}
		return float64(n) / float64(calls)
	}
	// apply writes the group's command and waits until the cluster's
	// endpoints reflect it.
	apply := func(cmd, wantEndpoints string) {
		t.Helper()
		z.Put("/motan/yf/command", []byte(cmd))
		deadline := time.Now().Add(15 * time.Second)
		for clusterEndpoints(gw) != wantEndpoints {
			if time.Now().After(deadline) {
				t.Fatalf("endpoints %q, want %q", clusterEndpoints(gw), wantEndpoints)
			}
			who(ctx, c) // a call between checks: the update lands off the call path
		}
	}
	if got := share(50); got != 0 {
		t.Fatalf("tc got %.0f%% before any command", got*100)
	}
	const tolerance = 0.08
	for _, tt := range []struct {
		weights string
		want    float64
	}{{`"yf:20","tc:80"`, 0.8}, {`"yf:70","tc:30"`, 0.3}} {
		cmd := `{"clientCommandList":[{"index":1,"version":"1.0","commandType":0,"dc":"yf","pattern":"*","mergeGroups":[` + tt.weights + `],"routeRules":[],"remark":""}]}`
		apply(cmd, sortedJoin(yf.addr, tc.addr))
		// The dry run of the admin API agrees.
		dr, err := gw.DryRunCommand(ctx, "users", cmd)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range dr.Split {
			if s.Group == "tc" && (s.Percent-tt.want*100 > 0.01 || tt.want*100-s.Percent > 0.01) {
				t.Errorf("dry run split %+v, want tc %.0f%%", dr.Split, tt.want*100)
			}
		}
		// Wait for the weights to be in force (the endpoints may be listed
		// before: the other group's entries can arrive first).
		deadline := time.Now().Add(15 * time.Second)
		for !splitIs(gw, tt.want*100) {
			if time.Now().After(deadline) {
				t.Fatalf("split in force %+v, want tc %.0f%%", gw.Commands().Clusters, tt.want*100)
			}
			who(ctx, c)
		}
		if got := share(600); got < tt.want-tolerance || got > tt.want+tolerance {
			t.Fatalf("%s: tc got %.1f%% of calls, want %.0f%% ± %.0f", tt.weights, got*100, tt.want*100, tolerance*100)
		}
	}

	// A reload while the registry is down keeps the command in force.
	srv.Stop()
	if err := gw.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if !splitIs(gw, 30) {
		t.Fatalf("after a reload with the registry down: %+v", gw.Commands().Clusters)
	}
	if got := share(600); got < 0.3-tolerance || got > 0.3+tolerance {
		t.Fatalf("after a reload with the registry down: tc got %.1f%%", got*100)
	}
	srv.Start()
	z = zkDial(t, srv.Addr)

	// Degrade: answered by the gateway, the backends not called.
	before := yf.calls.Load() + tc.calls.Load()
	z.Put("/motan/yf/command", []byte(`{"clientCommandList":[{"index":1,"commandType":1,"pattern":"com.example.Users","remark":"maintenance"}]}`))
	deadline := time.Now().Add(15 * time.Second)
	var err error
	for {
		if _, err = who(ctx, c); err != nil || time.Now().After(deadline) {
			break
		}
		before = yf.calls.Load() + tc.calls.Load()
	}
	var exc *motan2.Exception
	if !errors.As(err, &exc) || !strings.Contains(exc.Error(), "degraded") {
		t.Fatalf("degraded call: %v", err)
	}
	for range 20 {
		if _, err := who(ctx, c); err == nil {
			t.Fatal("a call succeeded while degraded")
		}
	}
	if after := yf.calls.Load() + tc.calls.Load(); after != before {
		t.Fatalf("backends called %d times while degraded", after-before)
	}
	st := gw.Commands()
	if len(st.Clusters) != 1 || st.Clusters[0].Active.Degrade == nil || !strings.Contains(st.Clusters[0].Degraded, "maintenance") {
		t.Fatalf("GET /commands state: %+v", st.Clusters)
	}
	// Cleared: calls flow again.
	z.Put("/motan/yf/command", nil)
	deadline = time.Now().Add(15 * time.Second)
	for {
		if _, err = who(ctx, c); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("after clearing the degrade: %v", err)
	}
	// ZooKeeper commands are written by operators' tools, not the API.
	if err := gw.ApplyCommand("users", ""); err == nil || !strings.Contains(err.Error(), "holds its own commands") {
		t.Fatalf("ApplyCommand on ZooKeeper: %v", err)
	}
}

// splitIs reports whether the users cluster's set in force gives tc
// percent of the discTraffic.
func splitIs(gw *assembly.Gateway, percent float64) bool {
	for _, cl := range gw.Commands().Clusters {
		for _, s := range cl.Split {
			if s.Group == "tc" && s.Percent > percent-0.01 && s.Percent < percent+0.01 {
				return len(cl.Split) == 2
			}
		}
	}
	return false
}

const staticDiscoveryConfig = `
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
registries:
  - name: local
    type: static
    local_ip: 10.75.0.8
    nodes:
      - {group: users-yf, service: com.example.Users, addr: "%s", dc: yf}
      - {group: users-tc, service: com.example.Users, addr: "%s", dc: tc}
clusters:
  - {name: users, discovery: {registry: local, service: com.example.Users, group: users-yf}}
  - {name: plain, endpoints: [demo]}
routes:
  - {method: GET, path: /who, target: {cluster: users, service: com.example.Users, method: who}}
`

// The management API's /commands endpoints over a static registry: the
// state, a dry run, commands applied (traffic, degrade) and refused.
func TestCommandsAdminAPI(t *testing.T) {
	yf, tc := startBackend(t), startBackend(t)
	cfg, err := config.Parse("static.yaml", []byte(fmt.Sprintf(staticDiscoveryConfig, yf.addr, tc.addr)))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := assembly.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	}()
	api := httptest.NewServer(admin.New(admin.Options{Gateway: gw, Logger: quiet}))
	defer api.Close()
	client := api.Client()
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, out
	}
	get := func() string {
		resp, err := client.Get("http://" + gw.HTTPAddr().String() + "/who")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	if got := get(); got != fmt.Sprintf("200 %q", yf.addr) {
		t.Fatalf("before any command: %s", got)
	}
	st, out := do("GET", "/commands", "")
	if st != 200 || len(out["clusters"].([]any)) != 1 {
		t.Fatalf("GET /commands: %d %v", st, out)
	}
	toTC := `{"command": {"clientCommandList":[{"index":1,"commandType":0,"pattern":"*","mergeGroups":["users-tc"]}]}}`
	st, out = do("POST", "/commands/users/dryrun", toTC)
	if eps, _ := out["endpoints"].([]any); st != 200 || len(eps) != 1 || eps[0] != "users-tc/"+tc.addr {
		t.Fatalf("dry run: %d %v", st, out)
	}
	if got := get(); got != fmt.Sprintf("200 %q", yf.addr) {
		t.Fatalf("a dry run changed the traffic: %s", got)
	}
	if st, out = do("PUT", "/commands/users", toTC); st != 200 {
		t.Fatalf("PUT traffic: %d %v", st, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get() != fmt.Sprintf("200 %q", tc.addr) {
		if time.Now().After(deadline) {
			t.Fatalf("traffic not moved to tc: %s", get())
		}
	}
	if st, out = do("PUT", "/commands/users", `{"command": "{\"clientCommandList\":[{\"index\":1,\"commandType\":1,\"pattern\":\"com.example\",\"remark\":\"maintenance\"}]}"}`); st != 200 || out["degraded"] == nil {
		t.Fatalf("PUT degrade: %d %v", st, out)
	}
	calls := yf.calls.Load() + tc.calls.Load()
	if got := get(); !strings.HasPrefix(got, "503 ") || !strings.Contains(got, "maintenance") {
		t.Fatalf("degraded call: %s", got)
	}
	if n := yf.calls.Load() + tc.calls.Load(); n != calls {
		t.Fatalf("a degraded cluster called upstream")
	}
	for _, tt := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/commands/users", `{"command": {"clientCommandList":[{"commandType":7}]}}`, 400, "unknown commandType 7"},
		{"/commands/users", `{"command": 42}`, 400, "as an object or a string"},
		{"/commands/plain", `{"command": null}`, 404, "does not take its endpoints from a registry"},
		{"/commands/users/dryrun", `{"command": "{"}`, 400, "not Motan command JSON"},
	} {
		method := "PUT"
		if strings.HasSuffix(tt.path, "/dryrun") {
			method = "POST"
		}
		st, out := do(method, tt.path, tt.body)
		if msg, _ := out["error"].(string); st != tt.status || !strings.Contains(msg, tt.want) {
			t.Errorf("%s %s: %d %v; want %d %q", method, tt.path, st, out, tt.status, tt.want)
		}
	}
	if st, _ = do("PUT", "/commands/users", `{"command": null}`); st != 200 {
		t.Fatal("clearing the command")
	}
	if got := get(); got != fmt.Sprintf("200 %q", yf.addr) {
		t.Fatalf("after clearing: %s", got)
	}
	// The registries section is process-wide: a reload may not change it.
	cfg2, err := config.Parse("static.yaml", []byte(strings.Replace(fmt.Sprintf(staticDiscoveryConfig, yf.addr, tc.addr), "10.75.0.8", "10.75.0.9", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var rr *assembly.RestartRequiredError
	if err := gw.Reload(cfg2); !errors.As(err, &rr) || !strings.Contains(err.Error(), "registries changed") {
		t.Fatalf("reload changing registries: %v", err)
	}
}

// endpointsOf returns the sorted addresses of the named cluster.
func endpointsOf(gw *assembly.Gateway, cluster string) string {
	var out []string
	for _, cl := range gw.Clusters().Clusters {
		if cl.Name == cluster {
			for _, ep := range cl.Endpoints {
				out = append(out, ep.Address)
			}
		}
	}
	return sortedJoin(out...)
}

// deliveriesOf returns how many entry lists the registry delivered to
// the named cluster's subscription.
func deliveriesOf(gw *assembly.Gateway, cluster string) uint64 {
	for _, st := range gw.Commands().Clusters {
		if st.Cluster == cluster {
			return st.Deliveries
		}
	}
	return 0
}

// grpcEntry is a gRPC server's entry in the service and group the Motan2
// backends register in.
func grpcEntry(addr string) (path string, data []byte) {
	return "/motan/yf/com.example.Users/server/" + addr, []byte("grpc://" + addr + "/com.example.Users?group=yf&nodeType=service")
}

const discoveryGRPCConfig = `
grpc: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
registries:
  - {name: zk, type: zookeeper, address: "%[1]s", session_timeout: 4s, timeout: 4s}
schemas:
  - {name: shop, protos: {import_paths: ["%[2]s"], files: [shop/v1/shop.proto]}}
  - {name: remote, reflection: {cluster: lib, refresh: -1s}}
clusters:
  - {name: users, discovery: {registry: zk, service: com.example.Users, group: yf}}
  - {name: lib, protocol: grpc, discovery: {registry: zk, service: com.example.Users, group: yf}}
grpc_routes:
  - {service: shop.v1.Library, schema: shop, target: {cluster: lib, timeout: 5s}}
motan2_routes:
  - {service: com.example.Users, target: {cluster: users, timeout: 2s}}
`

// A gRPC cluster takes the grpc entries of its service and group, a
// Motan2 cluster subscribed to the same service and group its motan2
// entries: each ignores the other's. gRPC calls reach the discovered
// upstream, its reflection schema loads once it has endpoints, entries
// added later arrive, and a list left with no grpc entry keeps the last
// known endpoints.
func TestDiscoveryGRPCCluster(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	z := zkDial(t, srv.Addr)
	lib1, lib2 := testgrpc.Start(t), testgrpc.Start(t)
	b1, b2 := startBackend(t), startBackend(t)
	registerBackend(z, "yf", b1)
	z.Put(grpcEntry(lib1.Addr()))

	gw := startYAML(t, fmt.Sprintf(discoveryGRPCConfig, srv.Addr, protoDir(t)))
	conn, err := grpc.NewClient(gw.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mc := motan2.NewClient(gw.Motan2Addr().String(), motan2.WithLogger(quiet))
	defer mc.Close()
	ctx := context.Background()
	m := &matrix{schema: shopSchema(t)}

	// getBook calls the Library through the gateway and returns the
	// server that answered.
	getBook := func() (string, error) {
		r := m.callBook(ctx, conn, "GetBook", "shelves/1/books/2")
		if r.err != nil {
			return "", r.err
		}
		if str(r.out, "title") != "Title of shelves/1/books/2" {
			return "", fmt.Errorf("reply %v", r.out)
		}
		return strings.Join(r.trailer.Get(testgrpc.ServedByKey), ","), nil
	}
	// waitFor waits until both clusters list what they should, making
	// calls in between (the updates land off the call path).
	waitFor := func(lib, users string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for endpointsOf(gw, "lib") != lib || endpointsOf(gw, "users") != users {
			if time.Now().After(deadline) {
				t.Fatalf("endpoints lib %q users %q, want lib %q users %q",
					endpointsOf(gw, "lib"), endpointsOf(gw, "users"), lib, users)
			}
			who(ctx, mc)
		}
	}
	waitFor(lib1.Addr(), b1.addr)

	if by, err := getBook(); err != nil || by != lib1.Addr() {
		t.Fatalf("gRPC call: served by %q, error %v", by, err)
	}
	if addr, err := who(ctx, mc); err != nil || addr != b1.addr {
		t.Fatalf("Motan2 call: %q %v", addr, err)
	}
	// The reflection schema could not load at the build (the cluster was
	// empty until the registry answered); it loads now through the same
	// cluster connection.
	if err := gw.ReloadSchema("remote"); err != nil {
		t.Fatalf("reflection schema of the discovered cluster: %v", err)
	}

	// Entries added later of either protocol reach their cluster only.
	z.Put(grpcEntry(lib2.Addr()))
	registerBackend(z, "yf", b2)
	waitFor(sortedJoin(lib1.Addr(), lib2.Addr()), sortedJoin(b1.addr, b2.addr))
	seen := map[string]bool{}
	for range 20 {
		by, err := getBook()
		if err != nil {
			t.Fatal(err)
		}
		seen[by] = true
	}
	if !seen[lib1.Addr()] || !seen[lib2.Addr()] || len(seen) != 2 {
		t.Errorf("gRPC calls served by %v, want both gRPC servers", seen)
	}

	// Every grpc entry gone, the motan2 ones left: to the gRPC cluster
	// the list is empty, so its last known endpoints keep serving.
	before := deliveriesOf(gw, "lib")
	p1, _ := grpcEntry(lib1.Addr())
	p2, _ := grpcEntry(lib2.Addr())
	// One transaction: one delivery with neither entry.
	if _, err := z.Conn.Multi(&zk.DeleteRequest{Path: p1, Version: -1}, &zk.DeleteRequest{Path: p2, Version: -1}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for deliveriesOf(gw, "lib") == before && endpointsOf(gw, "lib") == sortedJoin(lib1.Addr(), lib2.Addr()) {
		if time.Now().After(deadline) {
			t.Fatalf("the removals were not delivered: %d deliveries", deliveriesOf(gw, "lib"))
		}
		who(ctx, mc)
	}
	if got := endpointsOf(gw, "lib"); got != sortedJoin(lib1.Addr(), lib2.Addr()) {
		t.Fatalf("a list without grpc entries changed the gRPC cluster: %q", got)
	}
	if _, err := getBook(); err != nil {
		t.Fatalf("gRPC call after the grpc entries left: %v", err)
	}
	if got := endpointsOf(gw, "users"); got != sortedJoin(b1.addr, b2.addr) {
		t.Errorf("Motan2 cluster %q", got)
	}
}
