package mock

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/internal/filtertest"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func spec(src string) gateway.FilterSpec {
	return gateway.FilterSpec{Name: "mock", Scope: "route users", Route: "users", Cluster: "users", Decode: filtertest.Decode(src), Env: gateway.NewFilterEnv()}
}

func build(t *testing.T, src string) (gateway.Invoker, *filtertest.Upstream) {
	t.Helper()
	f, err := gateway.NewFilter(spec(src))
	if err != nil {
		t.Fatalf("options %q: %v", src, err)
	}
	up := new(filtertest.Upstream)
	return gateway.Chain(up, f), up
}

func TestOptionsErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{``, "filter mock: methods or default is required"},
		{`methods: {}`, "methods or default is required"},
		{`metods: {a: {value: 1}}`, "field metods not found"},
		{`methods: {getUser: }`, "methods.getUser: needs a value (for Simple calls), an error, or both"},
		{`methods: {getUser: {delay: 1s}}`, "methods.getUser: needs a value"},
		{`methods: {"": {value: 1}}`, "methods: a method name is empty"},
		{`methods: {getUser: {value: 1, delay: -1s}}`, "methods.getUser: delay -1s is negative"},
		{`methods: {getUser: {value: 1, delay: 5}}`, "cannot unmarshal !!int `5` into time.Duration"},
		{`methods: {getUser: {value: 1, delay: soon}}`, "cannot unmarshal !!str `soon` into time.Duration"},
		{`methods: {getUser: {value: x, type: bool}}`, `methods.getUser: value "x" is not a bool (type bool)`},
		{`methods: {getUser: {type: bool, error: {code: INTERNAL}}}`, "methods.getUser: type is set but value is not"},
		{`methods: {getUser: {value: 1, type: int8}}`, `methods.getUser: type: unknown argument type "int8"`},
		{`methods: {getUser: {error: {code: BROKEN}}}`, `methods.getUser: error.code "BROKEN" is not an error code`},
		{`methods: {getUser: {error: {message: x}}}`, `methods.getUser: error.code is required`},
		{`methods: {getUser: {error: {code: INTERNAL, http_status: 302}}}`, `methods.getUser: error.http_status 302 is not an HTTP error status (400..599)`},
		{`methods: {getUser: {json: {}}}`, "field json not found"},
		{`default: {}`, "default: needs a value"},
		{`{methods: {a: {value: 1}}, default: {value: -.inf}}`, "default: value: -.inf is not a finite number"},
	} {
		_, err := gateway.NewFilter(spec(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

const answers = `
methods:
  getUser: {value: {id: 1, name: alice}}
  deleteUser: {error: {code: PERMISSION_DENIED, message: read only}}
  count: {value: 3, type: int32, error: {code: unavailable, http_status: 502}}
`

func TestAnswers(t *testing.T) {
	withDefault := answers + "default: {error: {code: UNIMPLEMENTED, message: not mocked}}\n"
	for _, tc := range []struct {
		name, src string
		kind      filtertest.CallKind
		method    string
		want      motan2.Value // when message is empty
		code      translate.Code
		status    int
		message   string
		upstream  bool
	}{
		{name: "value", src: answers, method: "getUser",
			want: motan2.Map(motan2.String("id"), motan2.Int64(1), motan2.String("name"), motan2.String("alice"))},
		{name: "error", src: answers, method: "deleteUser", code: translate.PermissionDenied, status: 403, message: "read only"},
		{name: "error, payload", src: answers, kind: filtertest.Payload, method: "deleteUser", code: translate.PermissionDenied, status: 403, message: "read only"},
		{name: "typed value", src: answers, method: "count", want: motan2.Int32(3)},
		{name: "value and error, payload", src: answers, kind: filtertest.Payload, method: "count",
			code: translate.Unavailable, status: 502, message: "mocked by route users"},
		{name: "value and error, frame", src: answers, kind: filtertest.Frame, method: "count",
			code: translate.Unavailable, status: 502, message: "mocked by route users"},
		{name: "value only, payload", src: answers, kind: filtertest.Payload, method: "getUser", code: translate.Unimplemented, status: 501,
			message: "route users: the mock of method getUser has only a value, which answers Simple calls only; a protobuf or Motan2 proxy call needs an error"},
		{name: "value only, frame", src: answers, kind: filtertest.Frame, method: "getUser", code: translate.Unimplemented, status: 501,
			message: "route users: the mock of method getUser has only a value, which answers Simple calls only; a protobuf or Motan2 proxy call needs an error"},
		{name: "unlisted passes", src: answers, method: "listUsers", want: filtertest.UpstreamValue, upstream: true},
		{name: "unlisted filtertest.Payload passes", src: answers, kind: filtertest.Payload, method: "listUsers", want: filtertest.UpstreamValue, upstream: true},
		{name: "default", src: withDefault, method: "listUsers", code: translate.Unimplemented, status: 501, message: "not mocked"},
		{name: "default, listed method", src: withDefault, method: "getUser",
			want: motan2.Map(motan2.String("id"), motan2.Int64(1), motan2.String("name"), motan2.String("alice"))},
		{name: "default only", src: `default: {value: [1, 2]}`, method: "anything", want: motan2.Array([]motan2.Value{motan2.Int64(1), motan2.Int64(2)})},
		{name: "default value, frame", src: `default: {value: [1, 2]}`, kind: filtertest.Frame, method: "anything", code: translate.Unimplemented, status: 501,
			message: "route users: the mock of the default entry has only a value, which answers Simple calls only; a protobuf or Motan2 proxy call needs an error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, up := build(t, tc.src)
			var reply gateway.Reply
			err := inv.Invoke(context.Background(), filtertest.NewCall(tc.kind, tc.method), &reply)
			if got := up.Calls.Load() == 1; got != tc.upstream {
				t.Errorf("upstream called: %v, want %v", got, tc.upstream)
			}
			filtertest.CheckAnswer(t, tc.kind, &reply, err, filtertest.Answer{Value: tc.want, Code: tc.code, Status: tc.status, Message: tc.message})
		})
	}
}

// TestDelay: the delay is waited, but never past call.Timeout or the
// context's deadline, and a cancelled context ends it.
func TestDelay(t *testing.T) {
	const src = `
methods:
  slow: {value: done, delay: 1h}
  quick: {value: done, delay: 2ms}
  quickError: {error: {code: NOT_FOUND}, delay: 2ms}
`
	inv, _ := build(t, src)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name       string
		method     string
		timeout    time.Duration // call.Timeout
		ctxTimeout time.Duration
		ctx        context.Context
		cancelling bool // cancel the context while the call waits
		code       translate.Code
		message    string
		min        time.Duration
	}{
		{name: "delay passes", method: "quick", min: 2 * time.Millisecond},
		{name: "delay within timeout", method: "quick", timeout: time.Hour, min: 2 * time.Millisecond},
		{name: "error after delay", method: "quickError", code: translate.NotFound, min: 2 * time.Millisecond},
		{name: "call timeout", method: "slow", timeout: 20 * time.Millisecond, code: translate.DeadlineExceeded,
			message: "route users: the mock delay of method slow (1h0m0s) passed the call's deadline", min: 20 * time.Millisecond},
		{name: "timeout equal to delay", method: "quick", timeout: 2 * time.Millisecond, code: translate.DeadlineExceeded, min: 2 * time.Millisecond},
		{name: "context deadline", method: "slow", ctxTimeout: 20 * time.Millisecond, code: translate.DeadlineExceeded, min: 15 * time.Millisecond},
		{name: "context deadline before the timeout", method: "slow", timeout: time.Minute, ctxTimeout: 20 * time.Millisecond, code: translate.DeadlineExceeded, min: 15 * time.Millisecond},
		{name: "cancelled before", method: "slow", ctx: canceled, code: translate.Canceled,
			message: "route users: the call was canceled during the mock delay of method slow"},
		{name: "cancelled while waiting", method: "slow", cancelling: true, code: translate.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			if tc.cancelling {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				go cancel() // before or during the wait: canceled either way
			}
			call := filtertest.NewCall(filtertest.Simple, tc.method)
			call.Timeout = tc.timeout
			var reply gateway.Reply
			start := time.Now()
			err := inv.Invoke(ctx, call, &reply)
			took := time.Since(start)
			if took < tc.min || took > time.Minute {
				t.Errorf("took %v, want at least %v and far less than the delay", took, tc.min)
			}
			if tc.code == translate.OK {
				if err != nil || reply.Value.Str() != "done" {
					t.Fatalf("%v %v", reply.Value, err)
				}
				return
			}
			e := translate.FromError(err)
			if e == nil || e.Code != tc.code || tc.message != "" && e.Message != tc.message {
				t.Fatalf("error %v, want %v %q", err, tc.code, tc.message)
			}
		})
	}
}

// TestConcurrentCalls runs listed, defaulted and delayed methods at once
// (for the race detector).
func TestConcurrentCalls(t *testing.T) {
	inv, up := build(t, answers+"  quick: {value: q, delay: 1ms}\n")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for _, m := range []string{"getUser", "deleteUser", "quick", "listUsers"} {
					var reply gateway.Reply
					err := inv.Invoke(context.Background(), filtertest.NewCall(filtertest.Simple, m), &reply)
					if (err != nil) != (m == "deleteUser") {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := up.Calls.Load(); n != 8*50 {
		t.Fatalf("%d upstream calls, want %d", n, 8*50)
	}
}

func TestAllocatesNothing(t *testing.T) {
	inv, _ := build(t, answers)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		call   *gateway.Call
		failed bool
	}{
		{"pass-through", filtertest.NewCall(filtertest.Simple, "listUsers"), false},
		{"pass-through payload", filtertest.NewCall(filtertest.Payload, "listUsers"), false},
		{"value", filtertest.NewCall(filtertest.Simple, "getUser"), false},
		{"error", filtertest.NewCall(filtertest.Simple, "deleteUser"), true},
		{"value only, frame", filtertest.NewCall(filtertest.Frame, "getUser"), true},
	} {
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

func BenchmarkMock(b *testing.B) {
	f, err := New(spec(answers))
	if err != nil {
		b.Fatal(err)
	}
	inv := gateway.Chain(new(filtertest.Upstream), f)
	for _, method := range []string{"listUsers", "getUser"} {
		b.Run(method, func(b *testing.B) {
			call, ctx := filtertest.NewCall(filtertest.Simple, method), context.Background()
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
