package ingress

// HTTP/JSON transcoding: routes generated from a schema's google.api.http
// annotations, and the request path that builds the method's request
// message from the path, query and JSON body and writes the reply message
// as JSON (what grpc-gateway does, against a schema loaded at run time).
// docs/transcoding.md describes the behaviour.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

// TranscodeTarget says which methods of a schema get HTTP/JSON routes and
// where their calls go. Its settings are copied into every generated
// route.
type TranscodeTarget struct {
	// Services lists the services (full names, "pkg.Service") whose
	// methods get routes; empty means every service of the snapshot. A
	// listed service the snapshot lacks is an error.
	Services []string
	// Invoker is the upstream of every generated route.
	Invoker gateway.Invoker
	// Timeout bounds each upstream call (0: none; a caller's Grpc-Timeout
	// header can shorten it).
	Timeout time.Duration
	// Service, when set, is the Call.Service of every route instead of the
	// proto service's full name: the Motan2 service (M_p) of a Motan2
	// target. Group and Version complete a Motan2 target. A gRPC upstream
	// uses Call.FullMethod, which always names the proto method.
	Service, Group, Version string
	// Mode, PayloadSerialization and ArgFields say how the request message
	// reaches the upstream (see gateway.MessageMode).
	Mode                 gateway.MessageMode
	PayloadSerialization motan2.Serialization
	ArgFields            []string
	// JSON are the JSON options of the bodies read and written.
	JSON translate.ProtoJSONOptions
	// Policy is every route's idempotence and hash key.
	Policy gateway.CallPolicy
	// RequestHeaders are HTTP request headers also copied into the Call's
	// Motan2 meta, and ResponseMeta the Motan2 reply meta keys copied to
	// response headers, as on explicit routes.
	RequestHeaders []string
	ResponseMeta   []string
	// GenericPost also serves every unary method of the selected services,
	// annotated or not, at "POST /pkg.Service/Method" with the whole
	// request message as the JSON body (body "*").
	GenericPost bool
	// Warn receives one message per method that gets no route although it
	// would have one: streaming methods (only unary methods are
	// transcoded) and, with ConvertSimple and ArgFields, methods whose
	// request lacks one of the fields. nil logs them with slog.Default at
	// warning level.
	Warn func(msg string)
}

// TranscodedRoute is one generated route: the assembly adds Route to the
// routes.Builder under HTTPMethod and Path (a path template).
type TranscodedRoute struct {
	HTTPMethod, Path string
	Route            *gateway.Route
}

// TranscodeRoutes generates the HTTP routes of the google.api.http
// bindings of the schema's current snapshot: one route per binding
// (primary and additional_bindings, in descriptors.HTTPRules order), and,
// with t.GenericPost, one "POST /pkg.Service/Method" route per unary
// method after the bindings of that method. Each route is named
// "pkg.Service.Method (VERB /path)" and its ProtoRoute reads the method
// descriptor from reg for every request.
//
// Methods that cannot be served get no route and are reported through
// t.Warn, one message each, without making the result an error, so that
// a service mixing unary and streaming methods is served: streaming
// methods (only unary ones are transcoded) and, for ConvertSimple with
// ArgFields, methods whose request message lacks one of the fields. The
// error reports the problems that make the routes unusable, all of them
// (errors.Join): no registry or no invoker, a listed service missing, invalid annotations (a descriptors.ErrorList from
// descriptors.HTTPRules), path templates that do not parse or whose
// variables name no field of the request message, and ArgFields that fit
// no method at all. Routes are returned only when there is no error. A
// registry that holds no snapshot yet (a schema loaded in the background)
// gives no routes and no error: call again once it is published.
// Conflicts between routes are left to routes.Builder.Build, where the
// assembly also sees its explicit routes.
func TranscodeRoutes(reg *descriptors.Registry, t TranscodeTarget) ([]TranscodedRoute, error) {
	if reg == nil {
		return nil, errors.New("transcoding: no schema registry")
	}
	if t.Invoker == nil {
		return nil, errors.New("transcoding: no invoker")
	}
	snap := reg.Current()
	if snap == nil {
		return nil, nil // not loaded yet: no routes until it is
	}
	var errs []error
	selected := map[protoreflect.FullName]bool{}
	for _, name := range t.Services {
		if _, ok := snap.Service(name); !ok {
			errs = append(errs, errors.New("transcoding: schema "+transcodeSchemaName(snap)+" has no service "+strconv.Quote(name)))
		}
		selected[protoreflect.FullName(name)] = true
	}
	rules, err := descriptors.HTTPRules(snap)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	byMethod := map[protoreflect.FullName][]descriptors.HTTPRule{}
	for _, r := range rules {
		byMethod[r.Method.FullName()] = append(byMethod[r.Method.FullName()], r)
	}
	warn := t.Warn
	if warn == nil {
		warn = func(msg string) { slog.Warn(msg) }
	}

	var (
		out        []TranscodedRoute
		argFits    bool     // some method takes the ArgFields
		argMisfits []string // methods that do not
	)
	for _, sd := range snap.Services() {
		if len(selected) > 0 && !selected[sd.FullName()] {
			continue
		}
		ms := sd.Methods()
		for i := 0; i < ms.Len(); i++ {
			md := ms.Get(i)
			mrules := byMethod[md.FullName()]
			if len(mrules) == 0 && !t.GenericPost {
				continue
			}
			if md.IsStreamingClient() || md.IsStreamingServer() {
				warn("transcoding: " + string(md.FullName()) + " gets no HTTP route: it is a " +
					streamKind(md) + " method and only unary methods are transcoded")
				continue
			}
			if t.Mode == gateway.ConvertSimple && len(t.ArgFields) > 0 {
				if err := checkArgFields(md, t.ArgFields); err != nil {
					argMisfits = append(argMisfits, err.Error())
					warn("transcoding: " + string(md.FullName()) + " gets no HTTP route: " + err.Error())
					continue
				}
				argFits = true
			}
			for _, r := range mrules {
				if err := transcodeCheckTemplate(md, r.Path); err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, transcodeRoute(reg, sd, md, r.Verb, r.Path, r.Body, r.ResponseBody, &t))
			}
			if t.GenericPost {
				path := "/" + string(sd.FullName()) + "/" + string(md.Name())
				out = append(out, transcodeRoute(reg, sd, md, fasthttp.MethodPost, path, "*", "", &t))
			}
		}
	}
	if len(argMisfits) > 0 && !argFits {
		errs = append(errs, errors.New("transcoding: the args mapping fits no method: "+strings.Join(argMisfits, "; ")))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func transcodeRoute(reg *descriptors.Registry, sd protoreflect.ServiceDescriptor, md protoreflect.MethodDescriptor, verb, path, body, responseBody string, t *TranscodeTarget) TranscodedRoute {
	service := t.Service
	if service == "" {
		service = string(sd.FullName())
	}
	return TranscodedRoute{HTTPMethod: verb, Path: path, Route: &gateway.Route{
		Name:           string(md.FullName()) + " (" + verb + " " + path + ")",
		Service:        service,
		Method:         string(md.Name()),
		FullMethod:     "/" + string(sd.FullName()) + "/" + string(md.Name()),
		Group:          t.Group,
		Version:        t.Version,
		Policy:         t.Policy,
		Timeout:        t.Timeout,
		RequestHeaders: t.RequestHeaders,
		ResponseMeta:   t.ResponseMeta,
		Invoker:        t.Invoker,
		Proto: &gateway.ProtoRoute{
			Schema:               reg,
			Method:               md.FullName(),
			Body:                 body,
			ResponseBody:         responseBody,
			JSON:                 t.JSON,
			Mode:                 t.Mode,
			PayloadSerialization: t.PayloadSerialization,
			ArgFields:            t.ArgFields,
		},
	}}
}

// transcodeCheckTemplate checks that path parses and that each of its
// variables names a field of the request message, through singular
// message fields, that is not a map.
func transcodeCheckTemplate(md protoreflect.MethodDescriptor, path string) error {
	tpl, err := routes.ParseTemplate(path)
	if err != nil {
		return errors.New("transcoding: " + string(md.FullName()) + ": " + err.Error())
	}
	for _, v := range tpl.Vars() {
		fd, err := transcodeFieldPath(md.Input(), v)
		if err == nil && fd.IsMap() {
			err = errors.New(string(fd.FullName()) + " is a map field")
		}
		if err != nil {
			return errors.New("transcoding: " + string(md.FullName()) + ": path " + strconv.Quote(path) + " variable " + v + ": " + err.Error())
		}
	}
	return nil
}

// transcodeFieldPath resolves a dotted path of proto field names; every
// element but the last is a singular message field.
func transcodeFieldPath(m protoreflect.MessageDescriptor, path string) (protoreflect.FieldDescriptor, error) {
	for {
		name, rest, more := strings.Cut(path, ".")
		fd := m.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil, errors.New(string(m.FullName()) + " has no field " + strconv.Quote(name))
		}
		if !more {
			return fd, nil
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, errors.New(string(fd.FullName()) + " is not a singular message field")
		}
		m, path = fd.Message(), rest
	}
}

func transcodeSchemaName(s *descriptors.Snapshot) string {
	if s == nil {
		return "(none loaded)"
	}
	return strconv.Quote(s.Source) + " version " + strconv.FormatUint(s.Version, 10)
}

// transcodeTypes resolves types in the route's snapshot first, then among
// the types linked into meshgate (the google.rpc error details, the
// well-known types), which a schema need not contain.
type transcodeTypes struct{ s *dynamicpb.Types }

func (t transcodeTypes) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if t.s != nil {
		if mt, err := t.s.FindMessageByName(name); err == nil {
			return mt, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (t transcodeTypes) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if t.s != nil {
		if mt, err := t.s.FindMessageByURL(url); err == nil {
			return mt, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (t transcodeTypes) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t.s != nil {
		if xt, err := t.s.FindExtensionByName(name); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

func (t transcodeTypes) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if t.s != nil {
		if xt, err := t.s.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

func transcodeTypesOf(s *descriptors.Snapshot) transcodeTypes {
	if s == nil {
		return transcodeTypes{}
	}
	return transcodeTypes{s.Types()}
}

// transcode serves a matched request on a transcoded route (route.Proto
// set); handle has set the request id header.
func (h *HTTP) transcode(ctx *fasthttp.RequestCtx, route *gateway.Route, params *routes.Params, id string) {
	pr := route.Proto
	var snap *descriptors.Snapshot
	if pr.Schema != nil {
		snap = pr.Schema.Current()
	}
	md, ok := snap.Method(string(pr.Method))
	if !ok {
		h.transcodeError(ctx, snap, h.rejected(ctx, route.Name, id, &translate.Error{Code: translate.Unavailable,
			Message: "schema " + transcodeSchemaName(snap) + " lacks method " + string(pr.Method)}), id)
		return
	}
	opts := pr.JSON
	opts.Types = transcodeTypesOf(snap)

	input := dynamicpb.NewMessage(md.Input())
	if err := transcodeRequest(ctx, pr, params, input, opts); err != nil {
		h.transcodeError(ctx, snap, h.rejected(ctx, route.Name, id, err), id)
		return
	}

	sc := scratchCalls.Get().(*scratchCall)
	defer sc.release()
	call := &sc.call
	*call = gateway.Call{Service: route.Service, Method: route.Method, Group: route.Group, Version: route.Version,
		FullMethod: route.FullMethod, RequestID: id, Timeout: route.Timeout, Start: ctx.Time(),
		Idempotent: route.Policy.Idempotent}
	if err := h.callerBudget(ctx, call); err != nil {
		h.writeError(ctx, h.rejected(ctx, route.Name, id, err), id)
		return
	}
	call.HashKey = httpHashKey(ctx, route.Policy.HashKey, params, nil)
	if call.FullMethod == "" {
		call.FullMethod = "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	}
	if call.Service == "" {
		call.Service = string(md.Parent().FullName())
	}
	if call.Method == "" {
		call.Method = string(md.Name())
	}
	call.Meta = append(sc.meta[:0], motan2.MetaPair{Key: h.opts.RequestIDHeader, Value: id})
	for _, name := range route.RequestHeaders {
		if v := ctx.Request.Header.Peek(name); len(v) > 0 {
			call.Meta = append(call.Meta, motan2.MetaPair{Key: name, Value: string(v)})
		}
	}
	call.Meta = appendTraceContext(call.Meta, &ctx.Request.Header) // tracecontext.go
	header, timeout, err := transcodeMetadata(ctx)
	if err != nil {
		h.transcodeError(ctx, snap, h.rejected(ctx, route.Name, id, err), id)
		return
	}
	call.Header = header
	if timeout > 0 && (call.Timeout <= 0 || timeout < call.Timeout) {
		call.Timeout = timeout
	}

	bp := scratchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() { putScratch(bp, buf) }()
	switch pr.Mode {
	case gateway.ConvertSimple:
		args, err := simpleArgs(input, pr.ArgFields, sc.args[:0])
		call.Args = args // even with an error: release clears what was appended
		if err != nil {
			h.transcodeError(ctx, snap, h.rejected(ctx, route.Name, id, err), id)
			return
		}
	default:
		if buf, err = (proto.MarshalOptions{AllowPartial: true}).MarshalAppend(buf, input); err != nil {
			h.transcodeError(ctx, snap, h.rejected(ctx, route.Name, id, &translate.Error{Code: translate.InvalidArgument,
				Message: "request " + string(md.Input().FullName()) + " cannot be encoded: " + err.Error(), Cause: err}), id)
			return
		}
		call.Payload = buf // never nil: an empty message is still a Payload call
		call.PayloadSerialization = pr.PayloadSerialization
	}

	// The deadline travels as call.Timeout, as on the Simple path. The
	// messages are encoded and decoded with AllowPartial: proto2 required
	// fields are the upstream's to check (checking them here costs a fifth
	// of a request's allocations, for a rule proto3 does not have).
	reply := &sc.reply
	err = route.Invoker.Invoke(context.Background(), call, reply)
	transcodeResponseHeaders(ctx, route, reply)
	if err != nil {
		h.transcodeError(ctx, snap, err, id)
		return
	}

	output := dynamicpb.NewMessage(md.Output())
	msg := "bad reply from upstream: not a valid " + string(md.Output().FullName())
	if pr.Mode == gateway.ConvertSimple {
		if err = translate.SimpleToProto(output, reply.Value); err != nil {
			msg += ": " + err.Error() // names the field
		}
	} else {
		// The protobuf runtime's messages are deliberately unstable: they
		// go to the log (the cause), not to the caller.
		err = (proto.UnmarshalOptions{AllowPartial: true, Resolver: opts.Types}).Unmarshal(reply.Payload, output)
	}
	if err != nil {
		h.transcodeError(ctx, snap, &translate.Error{Code: translate.Internal, HTTPStatus: 502, Message: msg, Cause: err}, id)
		return
	}

	ctx.SetContentType("application/json")
	if ctx.IsHead() {
		return // HEAD: the status and headers only
	}
	buf = buf[:0]
	if pr.ResponseBody == "" {
		buf, err = translate.AppendProtoJSON(buf, output, opts)
	} else {
		m, fd := transcodeResponseField(output, pr.ResponseBody)
		if fd == nil {
			err = errors.New("response_body " + strconv.Quote(pr.ResponseBody) + ": " + string(md.Output().FullName()) + " has no such field")
		} else {
			buf, err = translate.AppendProtoFieldJSON(buf, m, fd, opts)
		}
	}
	if err != nil {
		h.transcodeError(ctx, snap, &translate.Error{Code: translate.Internal, HTTPStatus: 502,
			Message: "upstream reply cannot be written as JSON: " + translate.FromError(err).Message, Cause: err}, id)
		return
	}
	ctx.SetBody(buf)
}

// transcodeRequest fills input from the request as grpc-gateway's
// generated handlers do: the body first, then the path variables (which
// win over body fields), then, unless the body is "*", the query
// parameters not bound by the path or the body.
func transcodeRequest(ctx *fasthttp.RequestCtx, pr *gateway.ProtoRoute, params *routes.Params, input *dynamicpb.Message, opts translate.ProtoJSONOptions) error {
	if pr.Body != "" {
		if err := transcodeBody(ctx.PostBody(), pr.Body, input, opts); err != nil {
			return err
		}
	}
	for i := 0; i < params.Len(); i++ {
		name := params.Name(i)
		v, err := params.Value(i)
		if err != nil {
			return &translate.Error{Code: translate.InvalidArgument, Message: "path variable " + name + ": " + err.Error(), Cause: err}
		}
		if err := transcodePopulate(input, name, v); err != nil {
			return &translate.Error{Code: translate.InvalidArgument,
				Message: "type mismatch, parameter: " + name + ", error: " + err.Error(), Cause: err}
		}
	}
	if pr.Body == "*" {
		return nil
	}
	args := ctx.QueryArgs()
	if args.Len() == 0 {
		return nil
	}
	return transcodeQuery(input, args, transcodeFilter(pr.Body, params))
}

// transcodeBody reads the JSON body into the whole message ("*") or into
// the field at path.
func transcodeBody(body []byte, path string, input *dynamicpb.Message, opts translate.ProtoJSONOptions) error {
	if transcodeBlank(body) {
		return nil // an empty body leaves the message (or field) empty, as in grpc-gateway
	}
	var err error
	if path == "*" {
		err = translate.UnmarshalProtoJSON(body, input, opts)
	} else {
		err = transcodeBodyField(body, path, input, opts)
	}
	if err != nil {
		var te *translate.Error
		if errors.As(err, &te) {
			return te
		}
		return &translate.Error{Code: translate.InvalidArgument, Message: "request body: " + err.Error(), Cause: err}
	}
	return nil
}

func transcodeBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// transcodeBodyField reads the body into the field at path. A message
// field (other than a well-known type) takes the JSON object directly;
// any other field (repeated, map, scalar, well-known type) takes the body
// as the value of that field: the body, checked to be exactly one JSON
// value, is wrapped as {"field": body} and merged into the parent message.
func transcodeBodyField(body []byte, path string, input *dynamicpb.Message, opts translate.ProtoJSONOptions) error {
	var m protoreflect.Message = input
	for {
		name, rest, more := strings.Cut(path, ".")
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return &translate.Error{Code: translate.Internal, Message: "body field " + strconv.Quote(path) + ": " +
				string(m.Descriptor().FullName()) + " has no field " + strconv.Quote(name)}
		}
		if more {
			m, path = m.Mutable(fd).Message(), rest
			continue
		}
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() && !strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
			return translate.UnmarshalProtoJSON(body, m.Mutable(fd).Message().Interface(), opts)
		}
		if !json.Valid(body) {
			var raw json.RawMessage
			err := json.Unmarshal(body, &raw)
			if err == nil {
				err = errors.New("not one JSON value")
			}
			return &translate.Error{Code: translate.InvalidArgument, Message: "request body: invalid JSON: " + err.Error(), Cause: err}
		}
		wrapped := make([]byte, 0, len(body)+len(name)+4)
		wrapped = append(wrapped, '{')
		wrapped = strconv.AppendQuote(wrapped, name)
		wrapped = append(wrapped, ':')
		wrapped = append(wrapped, body...)
		wrapped = append(wrapped, '}')
		return translate.UnmarshalProtoJSON(wrapped, m.Interface(), opts)
	}
}

// transcodeFilters caches the query filters by body field and path
// variable names: a route's shape, so the cache is bounded by the number
// of distinct templates, whatever the number of configuration reloads.
var transcodeFilters sync.Map // string → *utilities.DoubleArray

// transcodeFilter returns the grpc-gateway filter of the query parameters
// that must not set fields: those bound by the path and by the body.
func transcodeFilter(body string, params *routes.Params) *utilities.DoubleArray {
	var kb strings.Builder
	kb.WriteString(body)
	for i := 0; i < params.Len(); i++ {
		kb.WriteByte(0)
		kb.WriteString(params.Name(i))
	}
	key := kb.String()
	if f, ok := transcodeFilters.Load(key); ok {
		return f.(*utilities.DoubleArray)
	}
	var seqs [][]string
	if body != "" {
		seqs = append(seqs, strings.Split(body, "."))
	}
	for i := 0; i < params.Len(); i++ {
		seqs = append(seqs, strings.Split(params.Name(i), "."))
	}
	f, _ := transcodeFilters.LoadOrStore(key, utilities.NewDoubleArray(seqs))
	return f.(*utilities.DoubleArray)
}

// transcodeKeyRE is grpc-gateway's "key[mapkey]" syntax of map entries.
var transcodeKeyRE = regexp.MustCompile(`^(.*)\[(.*)\]$`)

// transcodeQuery sets fields from the query parameters with grpc-gateway's
// rules (runtime.PopulateQueryParameters): "a.b" paths through singular
// messages, proto or JSON field names, repeated fields from repeated
// parameters, map entries as "m[key]=value", unknown parameters ignored,
// parameters for fields in filter skipped. Each parameter is populated on
// its own so that an error names it.
func transcodeQuery(input *dynamicpb.Message, args *fasthttp.Args, filter *utilities.DoubleArray) error {
	var keys []string
	values := make(url.Values, args.Len())
	for k, v := range args.All() {
		key := string(k)
		if _, ok := values[key]; !ok {
			keys = append(keys, key)
		}
		values[key] = append(values[key], string(v))
	}
	one := make(url.Values, 1)
	for _, key := range keys {
		vals := values[key]
		path, pvals := key, vals
		if m := transcodeKeyRE.FindStringSubmatch(key); len(m) == 3 {
			path = m[1]
			pvals = append([]string{m[2]}, vals...)
		}
		var err error
		if fp := transcodeNormalize(input.Descriptor(), strings.Split(path, ".")); !filter.HasCommonPrefix(fp) && transcodeEnumLeaf(input.Descriptor(), strings.Join(fp, ".")) {
			err = transcodeSetEnum(input, fp, pvals)
		} else {
			clear(one)
			one[key] = vals
			err = runtime.PopulateQueryParameters(input, one, filter)
		}
		if err != nil {
			return &translate.Error{Code: translate.InvalidArgument,
				Message: "query parameter " + strconv.Quote(key) + ": " + err.Error(), Cause: err}
		}
	}
	return nil
}

// transcodePopulate sets the field at the dotted path from a path
// variable, with runtime.PopulateFieldFromPath.
func transcodePopulate(input *dynamicpb.Message, path, value string) error {
	if transcodeEnumLeaf(input.Descriptor(), path) {
		return transcodeSetEnum(input, strings.Split(path, "."), []string{value})
	}
	return runtime.PopulateFieldFromPath(input, path, value)
}

// transcodeNormalize is grpc-gateway's normalizeFieldPath: the path with
// each element, proto or JSON name, replaced by the field's proto name;
// the path as given when it does not resolve.
func transcodeNormalize(m protoreflect.MessageDescriptor, path []string) []string {
	out := make([]string, 0, len(path))
	for i, name := range path {
		fields := m.Fields()
		fd := fields.ByTextName(name)
		if fd == nil {
			fd = fields.ByJSONName(name)
		}
		if fd == nil {
			return path
		}
		out = append(out, string(fd.Name()))
		if i == len(path)-1 {
			break
		}
		if fd.Message() == nil || fd.Cardinality() == protoreflect.Repeated {
			return path
		}
		m = fd.Message()
	}
	return out
}

// transcodeEnumLeaf reports whether path leads, through singular message
// fields, to an enum field (singular, repeated, or a map with enum
// values). grpc-gateway's runtime looks enums up in
// protoregistry.GlobalTypes, where the enums of a schema loaded at run
// time are not, so meshgate sets those fields itself, by the same rules.
func transcodeEnumLeaf(m protoreflect.MessageDescriptor, path string) bool {
	for {
		name, rest, more := strings.Cut(path, ".")
		fields := m.Fields()
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil {
			fd = fields.ByJSONName(name)
		}
		if fd == nil {
			return false
		}
		if !more {
			if fd.IsMap() {
				return fd.MapValue().Kind() == protoreflect.EnumKind
			}
			return fd.Kind() == protoreflect.EnumKind
		}
		if fd.Message() == nil || fd.Cardinality() == protoreflect.Repeated {
			return false
		}
		m, path = fd.Message(), rest
	}
}

// transcodeSetEnum is runtime's populateFieldValueFromPath for a path that
// transcodeEnumLeaf accepted, with the same checks and messages.
func transcodeSetEnum(input *dynamicpb.Message, path []string, values []string) error {
	if len(values) < 1 {
		return errors.New("no value provided")
	}
	var m protoreflect.Message = input
	var fd protoreflect.FieldDescriptor
	for i, name := range path {
		fields := m.Descriptor().Fields()
		if fd = fields.ByName(protoreflect.Name(name)); fd == nil {
			fd = fields.ByJSONName(name)
		}
		if of := fd.ContainingOneof(); of != nil && !of.IsSynthetic() {
			if f := m.WhichOneof(of); f != nil && (fd.Message() == nil || fd.FullName() != f.FullName()) {
				return errors.New("field already set for oneof " + strconv.Quote(string(of.FullName().Name())))
			}
		}
		if i == len(path)-1 {
			break
		}
		m = m.Mutable(fd).Message()
	}
	switch {
	case fd.IsList():
		list := m.Mutable(fd).List()
		for _, v := range values {
			n, err := transcodeParseEnum(fd.Enum(), v)
			if err != nil {
				return errors.New("parsing list " + strconv.Quote(string(fd.Name())) + ": " + err.Error())
			}
			list.Append(protoreflect.ValueOfEnum(n))
		}
		return nil
	case fd.IsMap():
		if len(values) != 2 {
			return errors.New("more than one value provided for key " + strconv.Quote(values[0]) + " in map " + strconv.Quote(string(fd.FullName())))
		}
		key, err := transcodeParseMapKey(fd.MapKey(), values[0])
		if err != nil {
			return errors.New("parsing map key " + strconv.Quote(string(fd.Name())) + ": " + err.Error())
		}
		n, err := transcodeParseEnum(fd.MapValue().Enum(), values[1])
		if err != nil {
			return errors.New("parsing map value " + strconv.Quote(string(fd.Name())) + ": " + err.Error())
		}
		m.Mutable(fd).Map().Set(key, protoreflect.ValueOfEnum(n))
		return nil
	}
	if len(values) > 1 {
		return errors.New("too many values for field " + strconv.Quote(string(fd.Name())) + ": " + strings.Join(values, ", "))
	}
	n, err := transcodeParseEnum(fd.Enum(), values[0])
	if err != nil {
		return errors.New("parsing field " + strconv.Quote(string(fd.Name())) + ": " + err.Error())
	}
	m.Set(fd, protoreflect.ValueOfEnum(n))
	return nil
}

// transcodeParseEnum accepts a value name or number, as runtime.Enum.
func transcodeParseEnum(ed protoreflect.EnumDescriptor, s string) (protoreflect.EnumNumber, error) {
	if v := ed.Values().ByName(protoreflect.Name(s)); v != nil {
		return v.Number(), nil
	}
	if i, err := strconv.Atoi(s); err == nil {
		if v := ed.Values().ByNumber(protoreflect.EnumNumber(i)); v != nil {
			return v.Number(), nil
		}
	}
	return 0, errors.New(strconv.Quote(s) + " is not a valid value")
}

// transcodeParseMapKey parses a map key (the key kinds protobuf allows).
func transcodeParseMapKey(fd protoreflect.FieldDescriptor, s string) (protoreflect.MapKey, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s).MapKey(), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(b).MapKey(), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)).MapKey(), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(n).MapKey(), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)).MapKey(), err
	default: // Uint64Kind, Fixed64Kind
		n, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(n).MapKey(), err
	}
}

// transcodeMetadata builds the call's gRPC metadata from the request
// headers as grpc-gateway's runtime.AnnotateContext does with
// runtime.DefaultHeaderMatcher: permanent HTTP headers under
// "grpcgateway-" (Authorization also as itself), Grpc-Metadata-* without
// the prefix, *-Bin values base64-decoded, keys or values gRPC cannot
// carry skipped, X-Forwarded-Host and X-Forwarded-For added. It also
// returns the Grpc-Timeout header's duration (0 when absent).
func transcodeMetadata(ctx *fasthttp.RequestCtx) (metadata.MD, time.Duration, error) {
	md := metadata.MD{}
	var (
		timeout time.Duration
		xff     []string
		fwdHost string
	)
	for k, v := range ctx.Request.Header.All() {
		key := b2s(k)
		switch {
		case strings.EqualFold(key, "Host"):
			continue // net/http keeps Host out of the header map, so grpc-gateway never sees it there
		case strings.EqualFold(key, "X-Forwarded-For"):
			xff = append(xff, string(v))
			continue
		case strings.EqualFold(key, "X-Forwarded-Host"):
			if fwdHost == "" {
				fwdHost = string(v)
			}
			continue
		case strings.EqualFold(key, "Grpc-Timeout"):
			d, ok := transcodeTimeout(b2s(v))
			if !ok {
				return nil, 0, &translate.Error{Code: translate.InvalidArgument, Message: "invalid grpc-timeout: " + string(v)}
			}
			timeout = d
		}
		if strings.EqualFold(key, "Authorization") {
			md["authorization"] = append(md["authorization"], string(v))
		}
		h, ok := runtime.DefaultHeaderMatcher(key)
		if !ok || !transcodeValidKey(h) {
			continue
		}
		val := string(v)
		if len(key) > 4 && strings.EqualFold(key[len(key)-4:], "-Bin") {
			b, err := transcodeDecodeBin(val)
			if err != nil {
				return nil, 0, &translate.Error{Code: translate.InvalidArgument,
					Message: "invalid binary header " + string(k) + ": " + err.Error(), Cause: err}
			}
			val = string(b)
		} else if !transcodeValidValue(val) {
			continue
		}
		lk := strings.ToLower(h)
		if lk == h {
			lk = strings.Clone(h) // h may alias the request's header buffer
		}
		md[lk] = append(md[lk], val)
	}
	if fwdHost == "" {
		fwdHost = string(ctx.Host())
	}
	if fwdHost != "" {
		md["x-forwarded-host"] = []string{fwdHost}
	}
	if ip := ctx.RemoteIP(); ip != nil && !ip.IsUnspecified() {
		xff = append(xff, ip.String())
	}
	if len(xff) > 0 {
		md["x-forwarded-for"] = []string{strings.Join(xff, ", ")}
	}
	return md, timeout, nil
}

func transcodeValidKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return k != ""
}

func transcodeValidValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func transcodeDecodeBin(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// transcodeTimeout parses a gRPC timeout ("100m", "5S": at most 8 digits
// and a unit of H, M, S, m, u or n).
func transcodeTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// transcodeResponseHeaders writes the reply's metadata as grpc-gateway
// does: header metadata as Grpc-Metadata-<key>, trailer metadata as
// Grpc-Trailer-<key> (response headers here, since the whole response is
// buffered), binary (-bin) values base64-encoded; and the route's
// ResponseMeta keys from the Motan2 reply meta.
func transcodeResponseHeaders(ctx *fasthttp.RequestCtx, route *gateway.Route, reply *gateway.Reply) {
	transcodeAddMD(ctx, runtime.MetadataHeaderPrefix, reply.Header)
	transcodeAddMD(ctx, runtime.MetadataTrailerPrefix, reply.Trailer)
	for _, k := range route.ResponseMeta {
		if v, ok := reply.Meta.Lookup(k); ok {
			ctx.Response.Header.Set(k, v)
		}
	}
}

func transcodeAddMD(ctx *fasthttp.RequestCtx, prefix string, md metadata.MD) {
	for k, vs := range md {
		name := prefix + k
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			} else if !transcodeValidValue(v) {
				continue
			}
			ctx.Response.Header.Add(name, v)
		}
	}
}

// transcodeResponseField finds the message holding the response_body
// field and the field.
func transcodeResponseField(out *dynamicpb.Message, path string) (protoreflect.Message, protoreflect.FieldDescriptor) {
	var m protoreflect.Message = out
	for {
		name, rest, more := strings.Cut(path, ".")
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil, nil
		}
		if !more {
			return m, fd
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, nil
		}
		m, path = m.Get(fd).Message(), rest
	}
}

// transcodeError answers a transcoded request with a google.rpc.Status
// JSON body, as grpc-gateway does: {"code":5,"message":"...","details":
// [{"@type":...}]}, details resolved in the route's snapshot and then
// among the linked types; the HTTP status is the code's (or the error's
// more specific one). An Unauthenticated error also sets
// WWW-Authenticate to its message, as grpc-gateway does.
func (h *HTTP) transcodeError(ctx *fasthttp.RequestCtx, snap *descriptors.Snapshot, err error, id string) {
	e := translate.FromError(err)
	h.opts.Errors.add(KindHTTP, e.Code)
	status := e.Status()
	if status >= 500 {
		if n, ok := h.fails.allow(time.Now()); ok {
			h.log.Warn("http: request failed", withSuppressed(n, "status", status, "code", e.Code.String(), "error", e.Error(),
				"method", string(ctx.Method()), "path", string(ctx.Path()), "request_id", id)...)
		}
	}
	if e.Code == translate.Unauthenticated {
		ctx.Response.Header.Set("WWW-Authenticate", e.Message)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	if ctx.IsHead() {
		return
	}
	bp := scratchPool.Get().(*[]byte)
	b := translate.AppendStatusJSON((*bp)[:0], e, transcodeTypesOf(snap))
	ctx.SetBody(b)
	putScratch(bp, b)
}
