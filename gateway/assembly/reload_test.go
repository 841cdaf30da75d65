package assembly_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/testgrpc"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// probeCalls counts the calls through the reload-probe filters by tag.
var probeCalls sync.Map // tag -> *atomic.Int64

// gates are the reload-gate filters' meeting points by name: a call
// through the filter announces itself on entered and waits for release.
var gates sync.Map // name -> *gate

type gate struct{ entered, release chan struct{} }

func newGate(name string) *gate {
	g := &gate{entered: make(chan struct{}, 16), release: make(chan struct{})}
	gates.Store(name, g)
	return g
}

func init() {
	gateway.RegisterFilter("reload-probe", func(spec gateway.FilterSpec) (gateway.Filter, error) {
		var o struct {
			Tag string `yaml:"tag"`
		}
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
		n, _ := probeCalls.LoadOrStore(o.Tag, new(atomic.Int64))
		count := n.(*atomic.Int64)
		return gateway.FilterFunc(func(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
			count.Add(1)
			return next.Invoke(ctx, call, reply)
		}), nil
	})
	gateway.RegisterFilter("reload-gate", func(spec gateway.FilterSpec) (gateway.Filter, error) {
		var o struct {
			Gate string `yaml:"gate"`
		}
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
		return gateway.FilterFunc(func(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
			if v, ok := gates.Load(o.Gate); ok {
				g := v.(*gate)
				g.entered <- struct{}{}
				<-g.release
			}
			return next.Invoke(ctx, call, reply)
		}), nil
	})
}

func probeCount(tag string) int64 {
	if n, ok := probeCalls.Load(tag); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// reloadConfig is the gateway of the reload tests: HTTP (transcoded),
// gRPC and Motan2 (bridged) callers of the gRPC Library. The variants
// differ in their filters (the probe's tag), timeouts and routes: B adds
// generic POST routes and sends CheckBook to the Motan2 Library.
const reloadConfig = `
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: ["%[1]s"], files: [shop/v1/shop.proto]}}
clusters:
  - {name: lib-grpc, protocol: grpc, endpoints: ["%[2]s"]}
  - {name: lib-m2, endpoints: ["%[3]s"]}
filters:
  default: [{name: reload-probe, tag: "%[4]s"}]
grpc_routes:
  - {service: shop.v1.Library, schema: shop, target: {cluster: lib-grpc, timeout: %[5]s}}
transcoding:
  - {schema: shop, generic_post: %[6]v, target: {cluster: lib-grpc, timeout: %[5]s}}
motan2_routes:
  - {service: com.example.Library, schema: shop, target: {cluster: lib-grpc, service: shop.v1.Library, args: [name], timeout: %[5]s}}
`

const checkBookToMotan2 = `
  - {service: shop.v1.Library, method: CheckBook, schema: shop, target: {cluster: lib-m2, service: com.example.Library, timeout: 5s}}
`

type reloadEnv struct {
	m    *matrix
	a, b *config.Config
}

func newReloadEnv(t *testing.T) *reloadEnv {
	t.Helper()
	m := &matrix{grpcLib: testgrpc.Start(t), m2Lib: startMotan2Library(t), schema: shopSchema(t)}
	parse := func(tag, timeout string, generic bool, extra string) *config.Config {
		y := fmt.Sprintf(reloadConfig, protoDir(t), m.grpcLib.Addr(), m.m2Lib, tag, timeout, generic)
		y = strings.Replace(y, "\ntranscoding:", extra+"transcoding:", 1)
		cfg, err := config.Parse(tag+".yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	return &reloadEnv{m: m, a: parse("a", "5s", false, "\n"), b: parse("b", "4s", true, checkBookToMotan2)}
}

// TestReloadUnderLoad reloads 50 times, alternating two configurations
// that change routes, timeouts and filters, while HTTP, gRPC and Motan2
// traffic runs against real upstreams: no call fails, each reload shows at
// once, the generation number ends at 51 and every replaced generation is
// closed (and its goroutines gone: leakcheck).
func TestReloadUnderLoad(t *testing.T) {
	env := newReloadEnv(t)
	m := env.m
	gw := startConfig(t, env.a)
	base := "http://" + gw.HTTPAddr().String()
	conn := grpcConn(t, gw.GRPCAddr())
	m2 := motan2.NewClient(gw.Motan2Addr().String(), motan2.WithLogger(quiet), motan2.WithErrorThreshold(0),
		motan2.WithRequestTimeout(10*time.Second))
	defer m2.Close()
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()

	workers := append(libraryWorkers(m, hc, base, conn, m2), func() error {
		// Served by the gRPC Library in A, the Motan2 one in B.
		if r := m.callBook(context.Background(), conn, "CheckBook", "a/c"); r.err != nil {
			return fmt.Errorf("gRPC CheckBook: %w", r.err)
		}
		return nil
	})
	tr := startTraffic(workers...)
	probeA, probeB := probeCount("a"), probeCount("b")
	for i := 1; i <= 50; i++ {
		cfg, isB := env.a, i%2 == 1
		if isB {
			cfg = env.b
		}
		if err := gw.Reload(cfg); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if n := gw.Generation().Number; n != int64(i+1) {
			t.Fatalf("after reload %d: generation %d", i, n)
		}
		// The new routes serve the very next call.
		r := m.callBook(context.Background(), conn, "CheckBook", "x/y")
		if r.err != nil || strings.HasSuffix(str(r.out, "title"), "(motan2)") != isB {
			t.Fatalf("reload %d (B: %v): CheckBook %v %v", i, isB, r.out, r.err)
		}
		want := 404
		if isB {
			want = 200
		}
		if res := do(t, hc, "POST", base+"/shop.v1.Library/GetBook", `{"name":"g/p"}`); res.status != want {
			t.Fatalf("reload %d: generic POST %d, want %d: %s", i, res.status, want, res.body)
		}
		tr.waitCalls(t, 5)
	}
	calls := tr.stopAndCheck(t)
	if n := gw.Generation().Number; n != 51 {
		t.Errorf("generation %d after 50 reloads, want 51", n)
	}
	if probeCount("a") == probeA || probeCount("b") == probeB {
		t.Errorf("the filters of both configurations should have seen calls: a %d→%d, b %d→%d",
			probeA, probeCount("a"), probeB, probeCount("b"))
	}
	gw.WaitRetired()
	if n := gw.ClosedGenerations(); n != 50 {
		t.Errorf("%d replaced generations closed, want 50", n)
	}
	if st := gw.Status(); len(st.Retiring) != 0 || st.Generation.InFlight != 0 {
		t.Errorf("status after the drain: %+v", st)
	}
	t.Logf("%d calls across 50 reloads, none failed", calls)
}

// A call in flight when its generation is replaced finishes on it: the
// old clusters stay open until it is done, then close.
func TestReloadDrainsInFlightCalls(t *testing.T) {
	env := newReloadEnv(t)
	g := newGate("drain")
	defer gates.Delete("drain")
	gated, err := config.Parse("gated.yaml", []byte(fmt.Sprintf(reloadConfig, protoDir(t), env.m.grpcLib.Addr(), env.m.m2Lib, "a", "5s", false)+
		"  - {service: com.example.Gated, schema: shop, target: {cluster: lib-grpc, service: shop.v1.Library, args: [name], timeout: 5s},\n     filters: [{name: reload-gate, gate: drain}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	gw := startConfig(t, gated)
	gw.SetReloadGrace(time.Millisecond)
	m2 := motan2.NewClient(gw.Motan2Addr().String(), motan2.WithLogger(quiet), motan2.WithErrorThreshold(0),
		motan2.WithRequestTimeout(10*time.Second))
	defer m2.Close()

	done := make(chan error, 1)
	go func() {
		_, err := m2.Call(context.Background(), &motan2.Request{Service: "com.example.Gated", Method: "GetBook",
			Args: []motan2.Value{motan2.String("in/flight")}})
		done <- err
	}()
	<-g.entered // the call is inside generation 1's chain
	if err := gw.Reload(env.b); err != nil {
		t.Fatal(err)
	}
	st := gw.Status()
	if st.Generation.Number != 2 || len(st.Retiring) != 1 || st.Retiring[0].Number != 1 || st.Retiring[0].InFlight != 1 {
		t.Fatalf("status with a call in flight: %+v", st)
	}
	// Traffic on the new generation meanwhile; the old one stays open.
	conn := grpcConn(t, gw.GRPCAddr())
	for range 3 {
		if r := env.m.callBook(context.Background(), conn, "GetBook", "new/gen"); r.err != nil {
			t.Fatal(r.err)
		}
	}
	if n := gw.ClosedGenerations(); n != 0 {
		t.Fatalf("generation 1 closed with a call in flight")
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatalf("the call in flight failed: %v", err)
	}
	gw.WaitRetired()
	if n := gw.ClosedGenerations(); n != 1 {
		t.Fatalf("%d generations closed, want 1", n)
	}
	// The route is gone in B: the ingress answers "cluster not found".
	_, err = m2.Call(context.Background(), &motan2.Request{Service: "com.example.Gated", Method: "GetBook",
		Args: []motan2.Value{motan2.String("x")}})
	var ex *motan2.Exception
	if !errors.As(err, &ex) || !strings.Contains(ex.ErrMsg, "cluster not found") {
		t.Fatalf("removed route: %v", err)
	}
}

// A configuration that does not build, and one that changes listeners,
// are refused; the generation in force keeps serving.
func TestReloadRefused(t *testing.T) {
	env := newReloadEnv(t)
	gw := startConfig(t, env.a)
	conn := grpcConn(t, gw.GRPCAddr())
	check := func(when string) {
		t.Helper()
		if n := gw.Generation().Number; n != 1 {
			t.Fatalf("%s: generation %d, want 1", when, n)
		}
		if r := env.m.callBook(context.Background(), conn, "GetBook", "still/here"); r.err != nil {
			t.Fatalf("%s: %v", when, r.err)
		}
	}

	broken := *env.b
	broken.Schemas = []config.Schema{{Name: "shop", Protos: &config.ProtoSources{ImportPaths: []string{t.TempDir()}, Files: []string{"shop/v1/shop.proto"}}}}
	err := gw.Reload(&broken)
	if err == nil || !strings.Contains(err.Error(), "configuration not applied") || !strings.Contains(err.Error(), "schema shop") {
		t.Fatalf("unbuildable configuration: %v", err)
	}
	check("after a configuration that does not build")

	moved := *env.b
	grpcIn, m2 := *env.b.GRPC, *env.b.Motan2
	grpcIn.Listen, m2.MaxBodyBytes = "127.0.0.1:1", 1<<10
	moved.GRPC, moved.Motan2, moved.Demo = &grpcIn, &m2, &config.Demo{Listen: "127.0.0.1:0"}
	moved.Admin.Listen = "127.0.0.1:9"
	moved.Runtime.GOMAXPROCS = "3"
	err = gw.Reload(&moved)
	var rr *assembly.RestartRequiredError
	if !errors.As(err, &rr) {
		t.Fatalf("listener change: %v", err)
	}
	for _, want := range []string{"grpc.listen changed: restart required", "motan2.max_body_bytes changed: restart required",
		"demo section added: restart required", "admin.listen changed: restart required",
		"runtime.gomaxprocs changed: restart required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if len(rr.Changes) != 5 {
		t.Errorf("changes %q", rr.Changes)
	}
	noGRPC := *env.b
	noGRPC.GRPC, noGRPC.GRPCRoutes = nil, nil
	if err := gw.Reload(&noGRPC); err == nil || !strings.Contains(err.Error(), "grpc section removed: restart required") {
		t.Fatalf("section removed: %v", err)
	}
	check("after listener changes")

	if err := gw.Reload(env.b); err != nil {
		t.Fatal(err)
	}
	if n := gw.Generation().Number; n != 2 {
		t.Fatalf("generation %d after a good reload, want 2", n)
	}
	// gRPC reflection serves the new generation's schemas.
	snap, err := descriptors.LoadReflection(context.Background(), conn, "gw")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Method("shop.v1.Library/CheckBook"); !ok {
		t.Fatalf("reflection after a reload lacks shop.v1.Library/CheckBook: %v", snap.Services())
	}
}

// Calls reaching a closed generation's chains go to the generation in
// force, or are refused unsent when its configuration lost the route.
func TestLateCallsAreForwarded(t *testing.T) {
	env := newReloadEnv(t)
	gw := startConfig(t, env.a)
	gw.SetReloadGrace(0)
	old := gw.Routes()
	// Keep generation 1's gRPC route chain as an ingress holding an old
	// snapshot would.
	chain := gw.Chain("grpc_routes/shop.v1.Library")
	if chain == nil {
		t.Fatal("no chain grpc_routes/shop.v1.Library")
	}
	if err := gw.Reload(env.b); err != nil {
		t.Fatal(err)
	}
	gw.WaitRetired()
	if gw.ClosedGenerations() != 1 || len(old.Routes) == 0 {
		t.Fatal("generation 1 not closed")
	}
	call := &gateway.Call{Service: "shop.v1.Library", Method: "GetBook", FullMethod: "/shop.v1.Library/GetBook",
		Payload: []byte{0x0a, 0x03, 'l', '/', 't'}, Timeout: 5 * time.Second}
	var reply gateway.Reply
	if err := chain.Invoke(context.Background(), call, &reply); err != nil {
		t.Fatalf("late call: %v", err)
	}
	if len(reply.Payload) == 0 {
		t.Fatal("late call: empty reply")
	}
	// Generation 3 has no gRPC route of that name.
	c := *env.b
	c.GRPCRoutes = []config.GRPCRoute{env.b.GRPCRoutes[1]}
	if err := gw.Reload(&c); err != nil {
		t.Fatal(err)
	}
	gw.WaitRetired()
	err := chain.Invoke(context.Background(), call, &reply)
	var te *translate.Error
	if !errors.As(err, &te) || te.Code != translate.Unavailable || !strings.Contains(te.Message, "not sent") {
		t.Fatalf("late call, route removed: %v", err)
	}
	if st := status.FromProto(te.StatusProto()); st.Code() != codes.Unavailable {
		t.Fatalf("status %v", st)
	}
}

// gRPC reflection describes routes without a schema of their own from
// the schemas of the generation in force: a schema a reload adds shows.
func TestReloadReflectionSchemas(t *testing.T) {
	lib := testgrpc.Start(t)
	base := fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
clusters:
  - {name: lib-grpc, protocol: grpc, endpoints: ["%s"]}
grpc_routes:
  - {service: shop.v1.Library, target: {cluster: lib-grpc}}
`, lib.Addr())
	cfg, err := config.Parse("a.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	gw := startConfig(t, cfg)
	conn := grpcConn(t, gw.GRPCAddr())
	described := func() bool {
		t.Helper()
		snap, err := descriptors.LoadReflection(context.Background(), conn, "gw", descriptors.ReflectServices("shop.v1.Library"))
		if err != nil {
			return false
		}
		_, ok := snap.Method("shop.v1.Library/GetBook")
		return ok
	}
	if described() {
		t.Fatal("described without a schema")
	}
	cfg, err = config.Parse("b.yaml", []byte(base+fmt.Sprintf(`schemas:
  - {name: shop, protos: {import_paths: ["%s"], files: [shop/v1/shop.proto]}}
`, protoDir(t))))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if !described() {
		t.Fatal("the reloaded schema is not in reflection")
	}
}
