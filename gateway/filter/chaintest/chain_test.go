package chaintest

import (
	"context"
	"testing"

	"github.com/meshgate/meshgate/gateway"
	_ "github.com/meshgate/meshgate/gateway/filter/breaker"
	_ "github.com/meshgate/meshgate/gateway/filter/concurrency"
	"github.com/meshgate/meshgate/gateway/filter/internal/filtertest"
	_ "github.com/meshgate/meshgate/gateway/filter/ratelimit"
	_ "github.com/meshgate/meshgate/gateway/filter/switcher"
	"github.com/meshgate/meshgate/motan2"
)

// defaultChain is the chain docs/filters.md recommends for a production
// route: a degrade switch, a rate limit per caller, a concurrency limit
// per method and a circuit breaker. Limits are set high so that every
// call passes: this measures what the chain costs when it lets calls
// through, which is the cost every request pays.
var defaultChain = []struct{ name, opts string }{
	{"switcher", `{switch: degrade.bench, reply: {value: {}}}`},
	{"ratelimit", `{rate: 1000000000, per: {meta: X-Caller}}`},
	{"concurrency", `{max: 100000, per_method: 10000}`},
	{"breaker", `{}`},
}

func build(tb testing.TB, up gateway.Invoker) gateway.Invoker {
	tb.Helper()
	env := gateway.NewFilterEnv()
	var fs []gateway.Filter
	for _, f := range defaultChain {
		opts := f.opts
		flt, err := gateway.NewFilter(gateway.FilterSpec{Name: f.name, Scope: "route bench", Route: "bench", Cluster: "c", Env: env,
			Decode: filtertest.Decode(opts)})
		if err != nil {
			tb.Fatal(err)
		}
		fs = append(fs, flt)
	}
	return gateway.Chain(up, fs...)
}

// upstream answers at once, in process: what is measured is the chain.
type upstream struct{}

func (upstream) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	reply.Value = call.Args[0]
	return nil
}

func newCall() *gateway.Call {
	return &gateway.Call{Service: "com.example.Users", Method: "get", Args: []motan2.Value{motan2.Int64(7)},
		Meta: motan2.Meta{{Key: "X-Caller", Value: "alice"}}}
}

func TestDefaultChainPassesAndAllocatesNothing(t *testing.T) {
	inv := build(t, upstream{})
	ctx, call, reply := context.Background(), newCall(), &gateway.Reply{}
	if err := inv.Invoke(ctx, call, reply); err != nil || reply.Value.Int() != 7 {
		t.Fatalf("%v %v", reply.Value, err)
	}
	if n := testing.AllocsPerRun(500, func() { _ = inv.Invoke(ctx, call, reply) }); n != 0 {
		t.Fatalf("%v allocations per call through the default chain", n)
	}
}

// BenchmarkBareRoute and BenchmarkDefaultChain run in one invocation;
// their difference is the chain's cost per request (the budget is
// 3 µs of CPU). Single goroutine: ns/op is CPU per request.
func BenchmarkBareRoute(b *testing.B) {
	run(b, upstream{})
}

func BenchmarkDefaultChain(b *testing.B) {
	run(b, build(b, upstream{}))
}

func run(b *testing.B, inv gateway.Invoker) {
	ctx, call, reply := context.Background(), newCall(), &gateway.Reply{}
	b.ReportAllocs()
	for b.Loop() {
		_ = inv.Invoke(ctx, call, reply)
	}
}

// The parallel versions show contention on the shared state (breaker
// mutex, limiter words) with every core calling.
func BenchmarkDefaultChainParallel(b *testing.B) {
	inv := build(b, upstream{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx, call, reply := context.Background(), newCall(), &gateway.Reply{}
		for pb.Next() {
			_ = inv.Invoke(ctx, call, reply)
		}
	})
}
