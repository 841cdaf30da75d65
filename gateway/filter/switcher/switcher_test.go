package switcher

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/internal/filtertest"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func spec(env *gateway.FilterEnv, src string) gateway.FilterSpec {
	return gateway.FilterSpec{Name: "switcher", Scope: "route get-user", Route: "get-user", Cluster: "users", Decode: filtertest.Decode(src), Env: env}
}

func build(t *testing.T, env *gateway.FilterEnv, src string) (gateway.Invoker, *filtertest.Upstream) {
	t.Helper()
	f, err := gateway.NewFilter(spec(env, src))
	if err != nil {
		t.Fatalf("options %q: %v", src, err)
	}
	up := new(filtertest.Upstream)
	return gateway.Chain(up, f), up
}

func TestOptionsErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{``, "filter switcher: switch is required"},
		{`switch: ""`, "switch is required"},
		{`swich: s`, "field swich not found"},
		{`switch: "a b"`, `switch "a b": a switch name has only letters, digits, '.', '_' and '-'`},
		{`{switch: s, when: maybe}`, `when "maybe": want on`},
		{`{switch: s, when: true}`, `when "true": want on`},
		{`{switch: s, methods: []}`, "methods is empty"},
		{`{switch: s, methods: [a, ""]}`, "methods[1] is empty"},
		{`{switch: s, methods: [a, b, a]}`, `methods[2]: method "a" is listed twice`},
		{`{switch: s, reply: {}}`, "reply needs a value (for Simple calls), an error, or both"},
		{`{switch: s, reply: {type: int32, error: {code: NOT_FOUND}}}`, "reply.type is set but reply.value is not"},
		{`{switch: s, reply: {value: 1, type: nosuch}}`, `reply.type: unknown argument type "nosuch"`},
		{`{switch: s, reply: {value: abc, type: int64}}`, `reply.value "abc" is not a valid int64 (type int64)`},
		{`{switch: s, reply: {value: 300, type: byte}}`, `reply.value 300`},
		{`{switch: s, reply: {value: [1, x], type: string_map}}`, `reply.value [1,"x"]`},
		{`{switch: s, reply: {value: .nan}}`, "reply.value: .nan is not a finite number"},
		{`{switch: s, reply: {value: {<<: {a: 1}}}}`, "merge key"},
		{`{switch: s, reply: {value: {[a]: 1}}}`, "map key that is not a scalar"},
		{`{switch: s, reply: {error: {message: x}}}`, "reply.error.code is required (one of CANCELLED, UNKNOWN, INVALID_ARGUMENT,"},
		{`{switch: s, reply: {error: {code: NOPE}}}`, `reply.error.code "NOPE" is not an error code`},
		{`{switch: s, reply: {error: {code: OK}}}`, `reply.error.code "OK" is not an error code`},
		{`{switch: s, reply: {error: {code: NOT_FOUND, http_status: 200}}}`, "reply.error.http_status 200 is not an HTTP error status"},
		{`{switch: s, reply: {error: {code: NOT_FOUND, status: 404}}}`, "field status not found"},
		{`{switch: s, reply: {value: 1, extra: 2}}`, "field extra not found"},
	} {
		_, err := gateway.NewFilter(spec(gateway.NewFilterEnv(), tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
	if _, err := New(gateway.FilterSpec{Decode: filtertest.Decode(`switch: s`)}); err == nil || !strings.Contains(err.Error(), "no filter environment") {
		t.Errorf("no env: %v", err)
	}
	// A rejected configuration declares no switch.
	env := gateway.NewFilterEnv()
	if _, err := New(spec(env, `{switch: s, reply: {}}`)); err == nil || env.Switches.Lookup("s") != nil {
		t.Errorf("rejected options declared their switch: %v", err)
	}
}

func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		kind      filtertest.CallKind
		method    string
		// want is the value answered, or "" when the call fails with
		// code, status and message.
		want     motan2.Value
		code     translate.Code
		status   int
		message  string
		upstream bool
	}{
		{name: "off passes", src: `switch: s`, want: filtertest.UpstreamValue, upstream: true},
		{name: "on, no reply", src: `{switch: s, on: true}`, code: translate.Unavailable, status: 503, message: "route get-user is degraded (switch s)"},
		{name: "on, value", src: `{switch: s, on: true, reply: {value: {id: 0, name: anonymous}}}`,
			want: motan2.Map(motan2.String("id"), motan2.Int64(0), motan2.String("name"), motan2.String("anonymous"))},
		{name: "value, filtertest.Payload call", src: `{switch: s, on: true, reply: {value: 1}}`, kind: filtertest.Payload,
			code: translate.Unavailable, status: 503, message: "route get-user is degraded (switch s)"},
		{name: "value, filtertest.Frame call", src: `{switch: s, on: true, reply: {value: 1}}`, kind: filtertest.Frame,
			code: translate.Unavailable, status: 503, message: "route get-user is degraded (switch s)"},
		{name: "error", src: `{switch: s, on: true, reply: {error: {code: NOT_FOUND, message: no users today}}}`,
			code: translate.NotFound, status: 404, message: "no users today"},
		{name: "error, lower-case code, status", src: `{switch: s, on: true, reply: {error: {code: resource_exhausted, http_status: 503}}}`, kind: filtertest.Payload,
			code: translate.ResourceExhausted, status: 503, message: "route get-user is degraded (switch s)"},
		{name: "value and error, simple", src: `{switch: s, on: true, reply: {value: fallback, error: {code: FAILED_PRECONDITION, message: degraded}}}`,
			want: motan2.String("fallback")},
		{name: "value and error, frame", src: `{switch: s, on: true, reply: {value: fallback, error: {code: FAILED_PRECONDITION, message: degraded}}}`, kind: filtertest.Frame,
			code: translate.FailedPrecondition, status: 400, message: "degraded"},
		{name: "when off, switch off", src: `{switch: s, when: off, reply: {value: 1}}`, want: motan2.Int64(1)},
		{name: "when off, switch on", src: `{switch: s, on: true, when: off, reply: {value: 1}}`, want: filtertest.UpstreamValue, upstream: true},
		{name: "listed method", src: `{switch: s, on: true, methods: [getUser, listUsers], reply: {value: 1}}`, method: "listUsers", want: motan2.Int64(1)},
		{name: "unlisted method", src: `{switch: s, on: true, methods: [getUser], reply: {value: 1}}`, method: "deleteUser", want: filtertest.UpstreamValue, upstream: true},
		{name: "unlisted method, payload", src: `{switch: s, on: true, methods: [getUser]}`, method: "deleteUser", kind: filtertest.Payload, want: filtertest.UpstreamValue, upstream: true},
		{name: "typed value", src: `{switch: s, on: true, reply: {value: {a: 1}, type: string_map}}`,
			want: motan2.StringMap([]motan2.StringPair{{Key: "a", Value: "1"}})},
		{name: "null value", src: `{switch: s, on: true, reply: {value: null}}`, want: motan2.Null},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, up := build(t, gateway.NewFilterEnv(), tc.src)
			method := tc.method
			if method == "" {
				method = "getUser"
			}
			var reply gateway.Reply
			err := inv.Invoke(context.Background(), filtertest.NewCall(tc.kind, method), &reply)
			if got := up.Calls.Load() == 1; got != tc.upstream {
				t.Errorf("upstream called: %v, want %v", got, tc.upstream)
			}
			filtertest.CheckAnswer(t, tc.kind, &reply, err, filtertest.Answer{Value: tc.want, Code: tc.code, Status: tc.status, Message: tc.message})
		})
	}
}

func TestValues(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`{b: 2, a: [1, 2.0, x, true, null], c: {d: "42"}}`, `map{string("b"): int64(2), string("a"): array[int64(1), float64(2), string("x"), bool(true), null], string("c"): map{string("d"): string("42")}}`},
		{`'{"json": "object", "n": 1}'`, `string("{\"json\": \"object\", \"n\": 1}")`},
		{`{"json": "object", "n": 1}`, `map{string("json"): string("object"), string("n"): int64(1)}`},
		{`0x1F`, `int64(31)`},
		{`1e3`, `float64(1000)`},
		{`18446744073709551615`, `float64(1.8446744073709552e+19)`},
		{`"007"`, `string("007")`},
		{`yes`, `string("yes")`},
		{`2024-01-02`, `string("2024-01-02")`},
	} {
		env := gateway.NewFilterEnv()
		f, err := New(spec(env, "{switch: s, on: true, reply: {value: "+tc.value+"}}"))
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		if got := f.(*switcher).value.String(); got != tc.want {
			t.Errorf("%s: value %s, want %s", tc.value, got, tc.want)
		}
	}
	// Typed values and anchors.
	for _, tc := range []struct{ src, want string }{
		{"{switch: s, reply: {value: 7, type: int32}}", "int32(7)"},
		{"{switch: s, reply: {value: NaN, type: float64}}", "float64(NaN)"},
		{"{switch: s, reply: {value: [a, 1], type: string_array}}", `string_array(["a" "1"])`},
		{"{switch: s, reply: {value: aGk=, type: bytes}}", `bytes(6869)`},
		{"{switch: s, reply: {value: {a: &x {k: v}, b: *x}}}", `map{string("a"): map{string("k"): string("v")}, string("b"): map{string("k"): string("v")}}`},
	} {
		f, err := New(spec(gateway.NewFilterEnv(), tc.src))
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if got := f.(*switcher).value.String(); got != tc.want {
			t.Errorf("%s: value %s, want %s", tc.src, got, tc.want)
		}
	}
}

// TestSwitchState: on sets the value of a new switch only; the switch of a
// rebuilt filter (a configuration reload) is the same and keeps the value
// an operator set.
func TestSwitchState(t *testing.T) {
	env := gateway.NewFilterEnv()
	inv, _ := build(t, env, `{switch: degrade.users, reply: {value: degraded}}`)
	sw := env.Switches.Lookup("degrade.users")
	if sw == nil || sw.On() {
		t.Fatalf("declared switch %v", sw)
	}
	sw.Set(true)
	reload, up := build(t, env, `{switch: degrade.users, on: false, reply: {value: degraded}}`)
	if env.Switches.Lookup("degrade.users") != sw || !sw.On() {
		t.Fatal("a reload redeclared the switch")
	}
	for _, inv := range []gateway.Invoker{inv, reload} {
		var reply gateway.Reply
		if err := inv.Invoke(context.Background(), filtertest.NewCall(filtertest.Simple, "m"), &reply); err != nil || reply.Value.Str() != "degraded" {
			t.Fatalf("after reload: %v %v", reply.Value, err)
		}
	}
	if up.Calls.Load() != 0 {
		t.Fatal("upstream called while degraded")
	}
}

// TestFlipUnderConcurrentCalls flips the switch while calls run: every
// call gets one of the two answers, and the call that follows a flip sees
// it.
func TestFlipUnderConcurrentCalls(t *testing.T) {
	env := gateway.NewFilterEnv()
	inv, _ := build(t, env, `{switch: s, reply: {value: degraded}}`)
	sw := env.Switches.Lookup("s")
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := filtertest.NewCall(filtertest.Simple, "m")
			for !stop.Load() {
				var reply gateway.Reply
				err := inv.Invoke(context.Background(), call, &reply)
				if s := reply.Value.Str(); err != nil || s != "degraded" && s != "upstream" {
					bad.Store(reply.Value.String())
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		on := i%2 == 0
		sw.Set(on)
		want := "upstream"
		if on {
			want = "degraded"
		}
		var reply gateway.Reply
		if err := inv.Invoke(context.Background(), filtertest.NewCall(filtertest.Simple, "m"), &reply); err != nil || reply.Value.Str() != want {
			t.Fatalf("flip %d to %v: %v %v", i, on, reply.Value, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatalf("a concurrent call got %v", v)
	}
}

func TestAllocatesNothing(t *testing.T) {
	env := gateway.NewFilterEnv()
	inv, _ := build(t, env, `{switch: s, methods: [getUser], reply: {value: {id: 0}, error: {code: UNAVAILABLE}}}`)
	sw := env.Switches.Lookup("s")
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		on     bool
		call   *gateway.Call
		failed bool
	}{
		{"pass-through, switch off", false, filtertest.NewCall(filtertest.Simple, "getUser"), false},
		{"pass-through, method not listed", true, filtertest.NewCall(filtertest.Simple, "other"), false},
		{"degraded value", true, filtertest.NewCall(filtertest.Simple, "getUser"), false},
		{"degraded error", true, filtertest.NewCall(filtertest.Payload, "getUser"), true},
	} {
		sw.Set(tc.on)
		reply := &gateway.Reply{}
		if n := testing.AllocsPerRun(200, func() {
			if err := inv.Invoke(ctx, tc.call, reply); (err != nil) != tc.failed {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per call", tc.name, n)
		}
	}
}

func BenchmarkSwitcher(b *testing.B) {
	env := gateway.NewFilterEnv()
	f, err := New(spec(env, `{switch: s, methods: [getUser], reply: {value: {id: 0}}}`))
	if err != nil {
		b.Fatal(err)
	}
	inv := gateway.Chain(new(filtertest.Upstream), f)
	for _, on := range []bool{false, true} {
		name := "pass-through"
		if on {
			name = "degraded"
		}
		b.Run(name, func(b *testing.B) {
			env.Switches.Lookup("s").Set(on)
			call, ctx := filtertest.NewCall(filtertest.Simple, "getUser"), context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var reply gateway.Reply
				for pb.Next() {
					_ = inv.Invoke(ctx, call, &reply)
				}
			})
		})
	}
}
