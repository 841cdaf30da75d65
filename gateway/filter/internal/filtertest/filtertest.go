// Package filtertest holds what the filter packages' tests share.
package filtertest

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// Decode returns a FilterSpec.Decode that decodes the YAML src strictly,
// as the configuration does: unknown keys and values of the wrong type
// are errors. An empty src decodes nothing.
func Decode(src string) func(any) error {
	return func(v any) error {
		if strings.TrimSpace(src) == "" {
			return nil
		}
		dec := yaml.NewDecoder(strings.NewReader(src))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}
}

// Upstream is an in-process invoker that answers UpstreamValue and counts
// its calls.
type Upstream struct{ Calls atomic.Int64 }

// UpstreamValue is what Upstream answers.
var UpstreamValue = motan2.String("upstream")

// Invoke implements gateway.Invoker.
func (u *Upstream) Invoke(_ context.Context, _ *gateway.Call, reply *gateway.Reply) error {
	u.Calls.Add(1)
	reply.Value = UpstreamValue
	return nil
}

// CallKind is the kind of request a filter test sends: Simple arguments,
// a protobuf payload or a Motan2 proxy frame.
type CallKind int

// Call kinds.
const (
	Simple CallKind = iota
	Payload
	Frame
)

func (k CallKind) String() string { return [...]string{"simple", "payload", "frame"}[k] }

// NewCall returns a call of kind k to users.UserService.method.
func NewCall(k CallKind, method string) *gateway.Call {
	c := &gateway.Call{Service: "users.UserService", Method: method}
	switch k {
	case Simple:
		c.Args = []motan2.Value{motan2.Int64(7)}
	case Payload:
		c.Payload = []byte{}
	case Frame:
		c.Frame = &motan2.Frame{}
	}
	return c
}

// Answer is what a call through a filter should end with: Value when
// Message is empty, else a *translate.Error with Code, Status and
// Message, and no value.
type Answer struct {
	Value   motan2.Value
	Code    translate.Code
	Status  int
	Message string
}

// CheckAnswer fails t unless a call of kind k ended with want.
func CheckAnswer(t testing.TB, k CallKind, reply *gateway.Reply, err error, want Answer) {
	t.Helper()
	if want.Message == "" {
		if err != nil || !motan2.Equal(reply.Value, want.Value) {
			t.Fatalf("%s call: %v %v, want %v", k, reply.Value, err, want.Value)
		}
		return
	}
	var e *translate.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s call: %v %v, want a *translate.Error", k, reply.Value, err)
	}
	if e.Code != want.Code || e.Status() != want.Status || e.Message != want.Message || !reply.Value.IsNull() {
		t.Fatalf("%s call: %v (status %d), want %v %d %q", k, e, e.Status(), want.Code, want.Status, want.Message)
	}
}

// RouteConfig is a configuration with one route, users (GET /users/{id}
// to users.UserService.getUser on the demo cluster), whose filters list
// is open at the end: a test appends its entries, indented by six spaces.
const RouteConfig = `
demo: {}
clusters:
  - {name: demo, endpoints: [demo]}
routes:
  - name: users
    method: GET
    path: /users/{id}
    target: {cluster: demo, service: users.UserService, method: getUser}
    filters:
`

// Echo is an in-process invoker that answers "upstream METHOD".
type Echo struct{}

// Invoke implements gateway.Invoker.
func (Echo) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	reply.Value = motan2.String("upstream " + call.Method)
	return nil
}
