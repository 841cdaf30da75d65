// Package switcher is the "switcher" filter: it degrades a route (or some
// of its methods) while a named run-time switch is on (or off), answering
// a configured reply without calling the upstream.
//
//	filters:
//	  - name: switcher
//	    switch: degrade.users     # required: the run-time switch
//	    on: false                 # its value when first declared (default false)
//	    when: on                  # degrade while the switch is on (default) or off
//	    methods: [getUser]        # the methods degraded (default: every method)
//	    reply:                    # default: an UNAVAILABLE error
//	      value: {id: 0, name: anonymous}   # for Simple calls
//	      type: map               # optional argument type of the value
//	      error: {code: UNAVAILABLE, message: "users are resting", http_status: 503}
//
// The switch lives in the filter environment (gateway.FilterEnv.Switches),
// outside configuration generations: flipping it (Switch.Set) takes effect
// on the next call, and its value survives a reload. A switch another
// filter already declared keeps its value; on only sets the value of a
// switch that does not exist yet.
//
// A degraded Simple call (Args) is answered with the value; calls a value
// cannot answer (a protobuf Payload call, a Motan2 proxy Frame call), and
// every call when no value is configured, are answered with the error, or
// with UNAVAILABLE "route NAME is degraded (switch S)" when only a value
// is configured. The filter reads the switch with one atomic load and
// allocates nothing per call; the value is shared by every answer and must
// not be modified by what writes it.
package switcher

import (
	"context"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/filter/internal/answer"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func init() { gateway.RegisterFilter("switcher", New) }

// options are the filter's configuration.
type options struct {
	Switch  string        `yaml:"switch"`
	On      bool          `yaml:"on"`
	When    string        `yaml:"when"`
	Methods []string      `yaml:"methods"`
	Reply   *replyOptions `yaml:"reply"`
}

// replyOptions is what a degraded call is answered with.
type replyOptions struct {
	// Value answers Simple calls (any YAML or JSON value).
	Value yaml.Node `yaml:"value"`
	// Type is the argument type the value converts to (default: inferred).
	Type string `yaml:"type"`
	// Error answers the calls Value cannot, or every call without Value.
	Error *answer.ErrorOptions `yaml:"error"`
}

// switcher is a built filter.
type switcher struct {
	sw   *gateway.Switch
	when bool
	// methods are the degraded methods; nil degrades every method.
	methods map[string]struct{}
	// value answers degraded Simple calls when hasValue.
	value    motan2.Value
	hasValue bool
	// err answers every other degraded call.
	err *translate.Error
}

// New builds a switcher filter from its spec.
func New(spec gateway.FilterSpec) (gateway.Filter, error) {
	var o options
	if spec.Decode != nil {
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
	}
	if o.Switch == "" {
		return nil, errors.New("switch is required: the name of the run-time switch that degrades the route")
	}
	if !validSwitchName(o.Switch) {
		return nil, fmt.Errorf("switch %q: a switch name has only letters, digits, '.', '_' and '-'", o.Switch)
	}
	s := &switcher{when: true}
	switch o.When {
	case "", "on":
	case "off":
		s.when = false
	default:
		return nil, fmt.Errorf("when %q: want on (degrade while the switch is on) or off", o.When)
	}
	if o.Methods != nil {
		if len(o.Methods) == 0 {
			return nil, errors.New("methods is empty: list the methods to degrade, or leave it out to degrade every method")
		}
		s.methods = make(map[string]struct{}, len(o.Methods))
		for i, m := range o.Methods {
			if m == "" {
				return nil, fmt.Errorf("methods[%d] is empty", i)
			}
			if _, dup := s.methods[m]; dup {
				return nil, fmt.Errorf("methods[%d]: method %q is listed twice", i, m)
			}
			s.methods[m] = struct{}{}
		}
	}
	scope := spec.ScopeName()
	degraded := fmt.Sprintf("%s is degraded (switch %s)", scope, o.Switch)
	s.err = &translate.Error{Code: translate.Unavailable, Message: degraded}
	if r := o.Reply; r != nil {
		if !answer.HasValue(&r.Value) && r.Error == nil {
			return nil, errors.New("reply needs a value (for Simple calls), an error, or both")
		}
		if r.Type != "" && !answer.HasValue(&r.Value) {
			return nil, errors.New("reply.type is set but reply.value is not")
		}
		if answer.HasValue(&r.Value) {
			v, err := answer.SimpleValue(&r.Value, r.Type)
			if err != nil {
				return nil, fmt.Errorf("reply.%v", err)
			}
			s.value, s.hasValue = v, true
		}
		if r.Error != nil {
			e, err := r.Error.Build(degraded)
			if err != nil {
				return nil, fmt.Errorf("reply.%v", err)
			}
			s.err = e
		}
	}
	if spec.Env == nil || spec.Env.Switches == nil {
		return nil, errors.New("no filter environment to declare switch " + o.Switch + " in")
	}
	s.sw = spec.Env.Switches.Declare(o.Switch, o.On)
	return s, nil
}

// Filter answers the call itself while the route is degraded and passes
// it on otherwise.
func (s *switcher) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	if s.sw.On() != s.when {
		return next.Invoke(ctx, call, reply)
	}
	if s.methods != nil {
		if _, ok := s.methods[call.Method]; !ok {
			return next.Invoke(ctx, call, reply)
		}
	}
	if s.hasValue && call.Payload == nil && call.Frame == nil {
		reply.Value = s.value
		return nil
	}
	return s.err
}

// validSwitchName reports whether name is a legal switch name: letters,
// digits, '.', '_' and '-' (safe in a URL path and a log line).
func validSwitchName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return name != ""
}
