package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/motan2"
)

type recordFilter struct {
	name string
	log  *[]string
}

func (r recordFilter) Filter(ctx context.Context, call *Call, reply *Reply, next Invoker) error {
	*r.log = append(*r.log, r.name+">")
	err := next.Invoke(ctx, call, reply)
	*r.log = append(*r.log, "<"+r.name)
	return err
}

type invokerFunc func(ctx context.Context, call *Call, reply *Reply) error

func (f invokerFunc) Invoke(ctx context.Context, call *Call, reply *Reply) error {
	return f(ctx, call, reply)
}

func TestChainOrder(t *testing.T) {
	var log []string
	up := invokerFunc(func(_ context.Context, call *Call, reply *Reply) error {
		log = append(log, "upstream")
		reply.Value = motan2.String(call.Method)
		return nil
	})
	inv := Chain(up, recordFilter{"a", &log}, recordFilter{"b", &log})
	var reply Reply
	if err := inv.Invoke(context.Background(), &Call{Method: "m"}, &reply); err != nil || reply.Value.Str() != "m" {
		t.Fatalf("%v %v", reply.Value, err)
	}
	if got := strings.Join(log, " "); got != "a> b> upstream <b <a" {
		t.Fatalf("order: %s", got)
	}
	if Chain(up) == nil {
		t.Fatal("empty chain")
	}
}

func TestChainShortCircuitsAndAllocatesNothing(t *testing.T) {
	called := false
	up := invokerFunc(func(context.Context, *Call, *Reply) error { called = true; return nil })
	deny := errors.New("denied")
	inv := Chain(up, FilterFunc(func(ctx context.Context, call *Call, reply *Reply, next Invoker) error {
		if call.Method == "no" {
			return deny
		}
		return next.Invoke(ctx, call, reply)
	}))
	if err := inv.Invoke(context.Background(), &Call{Method: "no"}, &Reply{}); err != deny || called {
		t.Fatalf("short circuit: %v called=%v", err, called)
	}
	call, reply, ctx := &Call{Method: "yes"}, &Reply{}, context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = inv.Invoke(ctx, call, reply) }); n != 0 {
		t.Fatalf("%v allocations per call through the chain", n)
	}
}

func TestFilterRegistry(t *testing.T) {
	RegisterFilter("test-upper", func(spec FilterSpec) (Filter, error) {
		var opts struct{ Suffix string }
		if err := spec.Decode(&opts); err != nil {
			return nil, err
		}
		if opts.Suffix == "" {
			return nil, errors.New("suffix is required")
		}
		return FilterFunc(func(ctx context.Context, call *Call, reply *Reply, next Invoker) error {
			reply.Value = motan2.String(strings.ToUpper(call.Method) + opts.Suffix)
			return nil
		}), nil
	})
	defer func() {
		filtersMu.Lock()
		delete(factories, "test-upper")
		filtersMu.Unlock()
	}()
	decode := func(suffix string) func(any) error {
		return func(v any) error { v.(*struct{ Suffix string }).Suffix = suffix; return nil }
	}
	f, err := NewFilter(FilterSpec{Name: "test-upper", Decode: decode("!")})
	if err != nil {
		t.Fatal(err)
	}
	var reply Reply
	_ = Chain(nil, f).Invoke(context.Background(), &Call{Method: "hi"}, &reply)
	if reply.Value.Str() != "HI!" {
		t.Fatalf("reply %v", reply.Value)
	}
	if _, err := NewFilter(FilterSpec{Name: "test-upper", Decode: decode("")}); err == nil || !strings.Contains(err.Error(), "filter test-upper: suffix is required") {
		t.Fatalf("bad options: %v", err)
	}
	if _, err := NewFilter(FilterSpec{Name: "nope"}); err == nil || !strings.Contains(err.Error(), `unknown filter "nope"`) {
		t.Fatalf("unknown: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second registration did not panic")
			}
		}()
		RegisterFilter("test-upper", nil)
	}()
}

func TestSwitchesSurviveRedeclaration(t *testing.T) {
	s := NewSwitches()
	a := s.Declare("degrade.users", false)
	a.Set(true)
	if b := s.Declare("degrade.users", false); b != a || !b.On() {
		t.Fatal("a redeclared switch lost its state")
	}
	s.Declare("z", true)
	if got := s.List(); len(got) != 2 || got[0] != (SwitchState{"degrade.users", true}) || got[1] != (SwitchState{"z", true}) {
		t.Fatalf("list %v", got)
	}
	if s.Lookup("missing") != nil {
		t.Fatal("lookup of a missing switch")
	}
}
