// Package mock is the "mock" filter: it answers configured replies per
// method without calling the upstream.
//
//	filters:
//	  - name: mock
//	    methods:
//	      getUser: {value: {id: 1, name: alice}, delay: 20ms}
//	      deleteUser: {error: {code: PERMISSION_DENIED, message: read only}}
//	      count: {value: 3, type: int32}
//	    default: {error: {code: UNIMPLEMENTED}}   # methods not listed (default: pass to next)
//
// An entry has a value (any YAML or JSON value, converted to a Simple
// value with the translate rules; type names an argument type to convert
// to instead of the inferred one), an error ({code, message,
// http_status}), or both, and an optional delay.
//
// A value answers Simple calls (Args) only. The filter cannot know the
// protobuf message type of a Payload call, nor build a Motan2 proxy reply
// frame, so these calls are answered with the entry's error; an entry with
// only a value answers them with UNIMPLEMENTED. Give an entry both a value
// and an error to mock a route that takes calls of both kinds.
//
// The delay is waited before answering, but never past the call's Timeout
// or the context's deadline: the answer is then DEADLINE_EXCEEDED, at the
// moment the deadline passes (CANCELLED when the context is cancelled).
// Without a delay a call allocates nothing of its own; a delay costs one
// timer. Values are shared by every answer and must not be modified by
// what writes them.
package mock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/internal/answer"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func init() { gateway.RegisterFilter("mock", New) }

// options are the filter's configuration.
type options struct {
	// Methods maps a method name (Call.Method) to its answer.
	Methods map[string]*entryOptions `yaml:"methods"`
	// Default answers the methods not listed; without it they pass on.
	Default *entryOptions `yaml:"default"`
}

// entryOptions is one configured answer.
type entryOptions struct {
	Value yaml.Node            `yaml:"value"`
	Type  string               `yaml:"type"`
	Error *answer.ErrorOptions `yaml:"error"`
	Delay time.Duration        `yaml:"delay"`
}

// entry is a built answer: everything a call needs is made here, once.
type entry struct {
	value    motan2.Value
	hasValue bool
	// err is the configured error (nil when none).
	err *translate.Error
	// noValue answers Payload and Frame calls of an entry without error.
	noValue *translate.Error
	delay   time.Duration
	// deadline and canceled answer a delay cut short.
	deadline, canceled *translate.Error
}

type mock struct {
	methods map[string]*entry
	def     *entry // nil: unlisted methods pass on
}

// New builds a mock filter from its spec.
func New(spec gateway.FilterSpec) (gateway.Filter, error) {
	var o options
	if spec.Decode != nil {
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
	}
	if len(o.Methods) == 0 && o.Default == nil {
		return nil, errors.New("methods or default is required: a mock that answers nothing does nothing")
	}
	scope := spec.ScopeName()
	m := &mock{methods: make(map[string]*entry, len(o.Methods))}
	names := make([]string, 0, len(o.Methods))
	for name := range o.Methods {
		names = append(names, name)
	}
	sort.Strings(names) // the first error reported is the same every time
	for _, name := range names {
		if name == "" {
			return nil, errors.New("methods: a method name is empty")
		}
		e, err := buildEntry(o.Methods[name], scope, "method "+name)
		if err != nil {
			return nil, fmt.Errorf("methods.%s: %v", name, err)
		}
		m.methods[name] = e
	}
	if o.Default != nil {
		e, err := buildEntry(o.Default, scope, "the default entry")
		if err != nil {
			return nil, fmt.Errorf("default: %v", err)
		}
		m.def = e
	}
	return m, nil
}

func buildEntry(o *entryOptions, scope, what string) (*entry, error) {
	if o == nil || !answer.HasValue(&o.Value) && o.Error == nil {
		return nil, errors.New("needs a value (for Simple calls), an error, or both")
	}
	if o.Type != "" && !answer.HasValue(&o.Value) {
		return nil, errors.New("type is set but value is not")
	}
	if o.Delay < 0 {
		return nil, fmt.Errorf("delay %v is negative", o.Delay)
	}
	e := &entry{
		delay:    o.Delay,
		deadline: &translate.Error{Code: translate.DeadlineExceeded, Message: fmt.Sprintf("%s: the mock delay of %s (%v) passed the call's deadline", scope, what, o.Delay)},
		canceled: &translate.Error{Code: translate.Canceled, Message: fmt.Sprintf("%s: the call was canceled during the mock delay of %s", scope, what)},
		noValue: &translate.Error{Code: translate.Unimplemented, Message: fmt.Sprintf(
			"%s: the mock of %s has only a value, which answers Simple calls only; a protobuf or Motan2 proxy call needs an error", scope, what)},
	}
	if answer.HasValue(&o.Value) {
		v, err := answer.SimpleValue(&o.Value, o.Type)
		if err != nil {
			return nil, err
		}
		e.value, e.hasValue = v, true
	}
	if o.Error != nil {
		err, bad := o.Error.Build("mocked by " + scope)
		if bad != nil {
			return nil, bad
		}
		e.err = err
	}
	return e, nil
}

// Filter answers the methods it mocks and passes the others on.
func (m *mock) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	e, ok := m.methods[call.Method]
	if !ok {
		if e = m.def; e == nil {
			return next.Invoke(ctx, call, reply)
		}
	}
	if e.delay > 0 {
		if err := e.wait(ctx, call.Timeout); err != nil {
			return err
		}
	}
	if e.hasValue && call.Payload == nil && call.Frame == nil {
		reply.Value = e.value
		return nil
	}
	if e.err != nil {
		return e.err
	}
	return e.noValue
}

// wait waits the entry's delay, but not past timeout (when not zero) nor
// ctx's deadline: it returns the entry's DEADLINE_EXCEEDED error when one
// of these comes first, and CANCELLED when ctx is cancelled.
func (e *entry) wait(ctx context.Context, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return e.ctxError(err)
	}
	d, bounded := e.delay, false
	if timeout > 0 && timeout <= d {
		d, bounded = timeout, true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return e.ctxError(ctx.Err())
	case <-t.C:
		if bounded {
			return e.deadline
		}
		return nil
	}
}

func (e *entry) ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return e.deadline
	}
	return e.canceled
}
