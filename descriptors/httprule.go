package descriptors

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// HTTPRule is one google.api.http binding of a method: the primary rule or
// one of its additional_bindings, flattened.
type HTTPRule struct {
	// Method is the gRPC method the binding calls.
	Method protoreflect.MethodDescriptor
	// Verb is the HTTP method: GET, PUT, POST, DELETE, PATCH, or, for a
	// custom pattern, its kind exactly as written (for example "HEAD" or
	// "OPTIONS").
	Verb string
	// Path is the URL path template as written ("/v1/{name=shelves/*}"); it
	// is compiled and validated by package routes, not here.
	Path string
	// Body is "" (no request body), "*" (every request field not bound by
	// the path), or the field path of the request field the body fills.
	Body string
	// ResponseBody is "" (the whole response message) or the field path of
	// the response field written as the HTTP body.
	ResponseBody string
	// Additional is true for a binding from additional_bindings.
	Additional bool
}

// httpTypes resolves the google.api.http extension when option bytes are
// re-read, whatever produced the descriptor.
var httpTypes = func() *protoregistry.Types {
	t := new(protoregistry.Types)
	if err := t.RegisterExtension(annotations.E_Http); err != nil {
		panic(err)
	}
	return t
}()

// HTTPRules returns the google.api.http bindings of every method in the
// snapshot: services in Services order, methods in declaration order, each
// method's primary rule followed by its additional_bindings.
//
// It checks what does not need the router: each rule has exactly one
// pattern with a path starting with "/", a custom pattern names its kind,
// the body field (when not "" or "*") exists in the request message and is
// a message or repeated field, the response_body field exists in the
// response message, and additional bindings have no additional_bindings
// of their own. Every problem is reported, as an ErrorList whose entries
// name the method and, when the snapshot has source info, the file and
// line of its declaration. A nil snapshot has no rules.
func HTTPRules(s *Snapshot) ([]HTTPRule, error) {
	var (
		rules []HTTPRule
		errs  ErrorList
	)
	for _, sd := range s.Services() {
		ms := sd.Methods()
		for i := 0; i < ms.Len(); i++ {
			md := ms.Get(i)
			rule, err := httpRuleOf(md)
			if err != nil {
				errs = append(errs, methodError(md, err.Error()))
				continue
			}
			if rule == nil {
				continue
			}
			add := func(r *annotations.HttpRule, additional bool) {
				hr, problems := flatten(md, r, additional)
				for _, p := range problems {
					errs = append(errs, methodError(md, p))
				}
				if len(problems) == 0 {
					rules = append(rules, hr)
				}
			}
			add(rule, false)
			for _, ab := range rule.GetAdditionalBindings() {
				if len(ab.GetAdditionalBindings()) > 0 {
					errs = append(errs, methodError(md, "google.api.http: an additional binding has additional_bindings of its own (only one level is allowed)"))
					continue
				}
				add(ab, true)
			}
		}
	}
	if err := errs.errorOrNil(); err != nil {
		return nil, err
	}
	return rules, nil
}

// httpRuleOf returns the method's google.api.http option, or nil. The
// options are re-read from their wire form with a resolver that knows the
// extension, so that the result does not depend on whether the loader kept
// it as a typed value, a dynamic value, or unknown bytes.
func httpRuleOf(md protoreflect.MethodDescriptor) (*annotations.HttpRule, error) {
	opts := md.Options()
	if opts == nil {
		return nil, nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot encode method options: %v", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	fresh := new(descriptorpb.MethodOptions)
	if err := (proto.UnmarshalOptions{Resolver: httpTypes}).Unmarshal(b, fresh); err != nil {
		return nil, fmt.Errorf("google.api.http: cannot decode option: %v", err)
	}
	if !proto.HasExtension(fresh, annotations.E_Http) {
		return nil, nil
	}
	rule, _ := proto.GetExtension(fresh, annotations.E_Http).(*annotations.HttpRule)
	return rule, nil
}

// flatten checks one rule (without looking at its additional_bindings) and
// converts it; it returns the problems found instead when there are any.
func flatten(md protoreflect.MethodDescriptor, r *annotations.HttpRule, additional bool) (HTTPRule, []string) {
	hr := HTTPRule{Method: md, Body: r.GetBody(), ResponseBody: r.GetResponseBody(), Additional: additional}
	var problems []string
	which := "google.api.http"
	if additional {
		which = "google.api.http additional binding"
	}
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		hr.Verb, hr.Path = "GET", p.Get
	case *annotations.HttpRule_Put:
		hr.Verb, hr.Path = "PUT", p.Put
	case *annotations.HttpRule_Post:
		hr.Verb, hr.Path = "POST", p.Post
	case *annotations.HttpRule_Delete:
		hr.Verb, hr.Path = "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		hr.Verb, hr.Path = "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		hr.Verb, hr.Path = p.Custom.GetKind(), p.Custom.GetPath()
		if hr.Verb == "" {
			problems = append(problems, which+": custom pattern without a kind")
		}
	default:
		return hr, append(problems, which+": no pattern (set one of get, put, post, delete, patch, custom)")
	}
	if !strings.HasPrefix(hr.Path, "/") {
		problems = append(problems, fmt.Sprintf("%s: %s path %q must start with \"/\"", which, hr.Verb, hr.Path))
	}
	if hr.Body != "" && hr.Body != "*" {
		// Any field may take the body, scalars included (a string field
		// receives a JSON string body), as grpc-gateway accepts.
		if _, err := fieldPath(md.Input(), hr.Body); err != nil {
			problems = append(problems, fmt.Sprintf("%s: body %v", which, err))
		}
	}
	if hr.ResponseBody != "" {
		if _, err := fieldPath(md.Output(), hr.ResponseBody); err != nil {
			problems = append(problems, fmt.Sprintf("%s: response_body %v", which, err))
		}
	}
	return hr, problems
}

// fieldPath resolves a dotted field path ("book" or "shelf.book") in m:
// every element but the last must be a singular message field.
func fieldPath(m protoreflect.MessageDescriptor, fp string) (protoreflect.FieldDescriptor, error) {
	parts := strings.Split(fp, ".")
	for i, name := range parts {
		f := m.Fields().ByName(protoreflect.Name(name))
		if f == nil {
			return nil, fmt.Errorf("field %q: %s has no field %q", fp, m.FullName(), name)
		}
		if i == len(parts)-1 {
			return f, nil
		}
		if f.Message() == nil || f.IsList() || f.IsMap() {
			return nil, fmt.Errorf("field %q: %s.%s is not a singular message field", fp, m.FullName(), name)
		}
		m = f.Message()
	}
	panic("unreachable")
}

// methodError positions a problem at the method's declaration when the
// snapshot has source info, and always names the method.
func methodError(md protoreflect.MethodDescriptor, msg string) *SchemaError {
	e := &SchemaError{File: md.ParentFile().Path(), Message: fmt.Sprintf("method %s: %s", md.FullName(), msg)}
	if loc := md.ParentFile().SourceLocations().ByDescriptor(md); loc.Path != nil {
		e.Line, e.Column = loc.StartLine+1, loc.StartColumn+1
	}
	return e
}
