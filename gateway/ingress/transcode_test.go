package ingress

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

var transcodeUpdate = flag.Bool("update", false, "rewrite the golden files of testdata/transcode")

// transcodeSchema compiles shop.v1 and the query-parameter test service
// shoptest.v1 (testdata/transcode/protos) into a registry.
func transcodeSchema(tb testing.TB) *descriptors.Registry {
	tb.Helper()
	snap, err := descriptors.CompileProtos(context.Background(),
		[]string{"../../descriptors/testdata/protos", "testdata/transcode/protos"},
		[]string{"shop/v1/shop.proto", "shoptest/v1/search.proto"})
	if err != nil {
		tb.Fatal(err)
	}
	reg := new(descriptors.Registry)
	reg.Swap(snap)
	return reg
}

// transcodeTranslateReady skips a test while translate's proto JSON
// functions are still the stubs that answer "not implemented yet" (they
// are written alongside this file); once they land it does nothing.
func transcodeTranslateReady(tb testing.TB, reg *descriptors.Registry) {
	tb.Helper()
	md, _ := reg.Current().Message("shop.v1.Shelf")
	if _, err := translate.AppendProtoJSON(nil, dynamicpb.NewMessage(md), translate.ProtoJSONOptions{}); err != nil &&
		strings.Contains(err.Error(), "not implemented yet") {
		tb.Skip("translate's proto JSON functions are not implemented yet")
	}
}

// transcodeUpstream is what a fake upstream saw of one call, as recorded
// in the golden files.
type transcodeUpstream struct {
	FullMethod string `json:"full_method"`
	Service    string `json:"service"`
	Method     string `json:"method"`
	Group      string `json:"group,omitempty"`
	Version    string `json:"version,omitempty"`
	Timeout    string `json:"timeout,omitempty"`
	// Message is the decoded request message (protojson) of a Payload
	// call, Args the Simple arguments (as translate.AppendJSON writes
	// them) of a Simple call.
	Message  json.RawMessage   `json:"message,omitempty"`
	Args     []json.RawMessage `json:"args,omitempty"`
	Metadata metadata.MD       `json:"metadata,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
}

func transcodeRecord(call *gateway.Call) *transcodeUpstream {
	u := &transcodeUpstream{FullMethod: call.FullMethod, Service: call.Service, Method: call.Method,
		Group: call.Group, Version: call.Version, Metadata: call.Header}
	if call.Timeout > 0 {
		u.Timeout = call.Timeout.String()
	}
	if len(call.Meta) > 0 {
		u.Meta = map[string]string{}
		for _, p := range call.Meta {
			u.Meta[p.Key] = p.Value
		}
	}
	for _, a := range call.Args {
		b, err := translate.AppendJSON(nil, a, translate.JSONOptions{})
		if err != nil {
			b, _ = json.Marshal(err.Error())
		}
		u.Args = append(u.Args, b)
	}
	return u
}

// transcodeLibrary plays shop.v1.Library (and shoptest.v1.Search) behind
// a gRPC upstream, over dynamicpb: it decodes call.Payload by the method's
// input type and answers deterministic messages with header and trailer
// metadata. Book names ending in "/missing" are NOT_FOUND with an
// ErrorInfo detail, "/secret" UNAUTHENTICATED, "/garbled" a reply that is
// not a valid message.
type transcodeLibrary struct {
	snap *descriptors.Snapshot
	mu   sync.Mutex
	last *transcodeUpstream
}

func (f *transcodeLibrary) lastCall() *transcodeUpstream {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.last
	f.last = nil
	return u
}

func (f *transcodeLibrary) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	md, ok := f.snap.Method(call.FullMethod)
	if !ok {
		return translate.Errorf(translate.Unimplemented, "no method %s", call.FullMethod)
	}
	if call.Payload == nil {
		return translate.Errorf(translate.Internal, "not a Payload call")
	}
	in := dynamicpb.NewMessage(md.Input())
	if err := proto.Unmarshal(call.Payload, in); err != nil {
		return translate.Errorf(translate.InvalidArgument, "bad request message: %v", err)
	}
	u := transcodeRecord(call)
	u.Message = transcodeProtoJSON(in)
	f.mu.Lock()
	f.last = u
	f.mu.Unlock()

	reply.Header = metadata.Pairs("x-shop-version", "7", "trace-bin", "\x01\x02\x03")
	reply.Trailer = metadata.Pairs("x-shop-cost", "3")
	str := func(name string) string { return in.Get(md.Input().Fields().ByName(protoreflect.Name(name))).String() }
	var out string
	switch md.Name() {
	case "GetBook", "CheckBook":
		name := str("name")
		switch {
		case strings.HasSuffix(name, "/missing"):
			detail, _ := anypb.New(&errdetails.ErrorInfo{Reason: "BOOK_NOT_FOUND", Domain: "shop.example.com",
				Metadata: map[string]string{"name": name}})
			return &translate.Error{Code: translate.NotFound, Message: "book " + name + " does not exist",
				Upstream: true, Details: []*anypb.Any{detail}}
		case strings.HasSuffix(name, "/secret"):
			return &translate.Error{Code: translate.Unauthenticated, Message: `Bearer realm="shop"`, Upstream: true}
		case strings.HasSuffix(name, "/garbled"):
			reply.Payload = []byte{0xff, 0xff, 0xff}
			return nil
		}
		out = transcodeBookJSON(name)
	case "CreateBook", "UpdateBook":
		book := in.Mutable(md.Input().Fields().ByName("book")).Message().Interface()
		if md.Name() == "CreateBook" {
			book.ProtoReflect().Set(book.ProtoReflect().Descriptor().Fields().ByName("name"),
				protoreflect.ValueOfString(str("parent")+"/books/3"))
		}
		out = string(transcodeProtoJSON(book))
	case "CreateShelf":
		in.Set(md.Input().Fields().ByName("name"), protoreflect.ValueOfString("shelves/9"))
		out = string(transcodeProtoJSON(in))
	case "ListBooks":
		out = `{"books":[` + transcodeBookJSON(str("parent")+"/books/1") + `,` + transcodeBookJSON(str("parent")+"/books/2") +
			`],"nextPageToken":"page-2"}`
	case "SearchBooks", "TagBooks":
		out = `{"books":[{"name":` + string(translate.AppendJSONString(nil, str("shelf")+"/books/1")) + `,"format":"EBOOK","availability":"SOLD_OUT"}],` +
			`"totalSize":"1234567890123","availability":"IN_STOCK","checksum":"18446744073709551615"}`
	case "DeleteBook", "Ping":
		out = `{}`
	default:
		return translate.Errorf(translate.Unimplemented, "fake has no %s", md.Name())
	}
	msg := dynamicpb.NewMessage(md.Output())
	if err := (protojson.UnmarshalOptions{Resolver: f.snap.Types()}).Unmarshal([]byte(out), msg); err != nil {
		return translate.Errorf(translate.Internal, "fake reply %s: %v", out, err)
	}
	b, err := proto.Marshal(msg)
	reply.Payload = b
	return err
}

// transcodeBookJSON is a book named name; the name comes from the
// request's path and may hold any character, so it is escaped.
func transcodeBookJSON(name string) string {
	return `{"name":` + string(translate.AppendJSONString(nil, name)) + `,"title":"The Go Programming Language","format":"HARDCOVER",` +
		`"authors":[{"displayName":"Alan Donovan","contact":{"email":"alan@example.com"}}],` +
		`"published":"2015-10-26T00:00:00Z","metadata":{"pages":380},"labels":{"lang":"en"},"availability":"IN_STOCK"}`
}

func transcodeProtoJSON(m proto.Message) json.RawMessage {
	b, err := protojson.Marshal(m)
	if err != nil {
		b, _ = json.Marshal("protojson: " + err.Error())
	}
	return b
}

// transcodeSimple plays a Motan2 service taking Simple arguments: it
// records them and answers a Simple map (for DeleteBook one that does not
// fit the reply message).
type transcodeSimple struct {
	mu   sync.Mutex
	last *transcodeUpstream
}

func (f *transcodeSimple) lastCall() *transcodeUpstream {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.last
	f.last = nil
	return u
}

func (f *transcodeSimple) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	if call.Payload != nil {
		return translate.Errorf(translate.Internal, "a Payload call to a Simple service")
	}
	u := transcodeRecord(call)
	f.mu.Lock()
	f.last = u
	f.mu.Unlock()
	if call.Method == "DeleteBook" { // replies with what google.protobuf.Empty cannot hold
		reply.Value = motan2.Map(motan2.String("deleted"), motan2.Bool(true))
		return nil
	}
	reply.Value = motan2.Map(
		motan2.String("name"), motan2.String("shelves/1/books/2"),
		motan2.String("title"), motan2.String("Simple Book"),
		motan2.String("format"), motan2.String("PAPERBACK"),
		motan2.String("availability"), motan2.Int32(2),
		motan2.String("labels"), motan2.StringMapOf(map[string]string{"source": "motan2"}),
	)
	reply.Meta = motan2.Meta{{Key: "X-Shop-Node", Value: "node-1"}}
	return nil
}

// transcodeHTTP builds an HTTP ingress serving the routes TranscodeRoutes
// generates for target.
func transcodeHTTP(tb testing.TB, reg *descriptors.Registry, target TranscodeTarget) *HTTP {
	tb.Helper()
	target.Warn = func(string) {}
	trs, err := TranscodeRoutes(reg, target)
	if err != nil {
		tb.Fatal(err)
	}
	var b routes.Builder
	snap := &Snapshot{}
	for i, tr := range trs {
		if err := b.Add(tr.HTTPMethod, tr.Path, i); err != nil {
			tb.Fatal(err)
		}
		snap.Routes = append(snap.Routes, tr.Route)
	}
	if snap.Table, err = b.Build(); err != nil {
		tb.Fatal(err)
	}
	return NewHTTP(snap, HTTPOptions{RequestIDHeader: "X-Request-Id", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// transcodeCtx is a request as fasthttp hands it to the handler; the
// host is shop.example.
func transcodeCtx(method, uri, body string, header ...string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI("http://shop.example" + uri)
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil)
	return ctx
}

// transcodeResult is one golden file: the request, the response and what
// the upstream received.
type transcodeResult struct {
	Request  string              `json:"request"`
	Status   int                 `json:"status"`
	Headers  map[string][]string `json:"headers,omitempty"`
	Body     json.RawMessage     `json:"body,omitempty"`
	Upstream *transcodeUpstream  `json:"upstream,omitempty"`
}

func transcodeResponse(ctx *fasthttp.RequestCtx, request string, up *transcodeUpstream) transcodeResult {
	r := transcodeResult{Request: request, Status: ctx.Response.StatusCode(), Upstream: up, Headers: map[string][]string{}}
	for k, v := range ctx.Response.Header.All() {
		switch string(k) {
		case "Content-Length", "Date", "Server":
			continue
		}
		r.Headers[string(k)] = append(r.Headers[string(k)], string(v))
	}
	if body := ctx.Response.Body(); len(body) > 0 {
		if json.Valid(body) {
			r.Body = append(json.RawMessage(nil), body...)
		} else {
			r.Body, _ = json.Marshal("NOT JSON: " + string(body))
		}
	}
	return r
}

// transcodeGolden compares r with testdata/transcode/name.json, or writes
// it with -update.
func transcodeGolden(t *testing.T, name string, r transcodeResult) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", "transcode", name+".json")
	if *transcodeUpdate {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// transcodeCase is one request to a transcoded route.
type transcodeCase struct {
	name               string // golden file
	target             string // key of the ingress (see TestTranscode)
	method, uri, body  string
	header             []string
	status             int    // expected status (also in the golden file)
	noUpstream, noBody bool   // the upstream is not called; the response has no body
	bodyContains       string // a part of the body
}

func TestTranscode(t *testing.T) {
	reg := transcodeSchema(t)
	transcodeTranslateReady(t, reg)
	lib := &transcodeLibrary{snap: reg.Current()}
	simple := &transcodeSimple{}
	withJSON := func(o translate.ProtoJSONOptions) TranscodeTarget {
		return TranscodeTarget{Invoker: lib, JSON: o, GenericPost: true, Timeout: 5 * time.Second}
	}
	targets := map[string]TranscodeTarget{
		"grpc":             withJSON(translate.ProtoJSONOptions{}),
		"proto_names":      withJSON(translate.ProtoJSONOptions{UseProtoNames: true}),
		"emit_unpopulated": withJSON(translate.ProtoJSONOptions{EmitUnpopulated: true}),
		"enums_as_numbers": withJSON(translate.ProtoJSONOptions{EnumsAsNumbers: true}),
		"int64_as_numbers": withJSON(translate.ProtoJSONOptions{Int64AsNumbers: true}),
		"discard_unknown":  withJSON(translate.ProtoJSONOptions{DiscardUnknown: true}),
		"simple": {Services: []string{"shop.v1.Library"}, Invoker: simple, Mode: gateway.ConvertSimple,
			Service: "com.example.Library", Group: "books", Version: "1.0", ResponseMeta: []string{"X-Shop-Node"}},
		"simple_args": {Services: []string{"shop.v1.Library"}, Invoker: simple, Mode: gateway.ConvertSimple,
			Service: "com.example.Library", ArgFields: []string{"name"}, RequestHeaders: []string{"X-Tenant"}},
	}
	ingresses := map[string]*HTTP{}
	for k, tg := range targets {
		ingresses[k] = transcodeHTTP(t, reg, tg)
	}
	bin := base64.StdEncoding.EncodeToString([]byte{1, 2, 3})
	cases := []transcodeCase{
		// GET with a path variable; request headers become metadata.
		{name: "get_book", method: "GET", uri: "/v1/shelves/1/books/2", status: 200, header: []string{
			"Authorization", "Bearer t0k", "User-Agent", "shop-client/1.0", "Grpc-Metadata-X-Tenant", "acme",
			"Grpc-Metadata-Trace-Bin", bin, "X-Custom", "not forwarded", "Grpc-Timeout", "1500m",
			"X-Forwarded-For", "192.0.2.1", "Cookie", "session=1"}},
		// The additional binding, {name=**}.
		{name: "get_book_additional_binding", method: "GET", uri: "/v1/books/shelves/1/books/2", status: 200},
		// HEAD served by the GET route: no body.
		{name: "get_book_head", method: "HEAD", uri: "/v1/shelves/1/books/2", status: 200, noBody: true},
		// POST, body "book"; query parameters for the path or body fields are ignored.
		{name: "create_book_body_field", method: "POST", uri: "/v1/shelves/1/books?parent=shelves/x&book.title=ignored",
			body: `{"title":"New Book","format":"EBOOK","authors":[{"displayName":"Bo"}]}`, status: 200},
		// PATCH, body "book", update_mask from the query; the path wins over the body's book.name.
		{name: "update_book_patch", method: "PATCH", uri: "/v1/shelves/1/books/2?update_mask=title,format",
			body: `{"name":"shelves/other/books/0","title":"Renamed","format":"PAPERBACK"}`, status: 200},
		// PUT, body "*": the query string is not read.
		{name: "update_book_put", method: "PUT", uri: "/v1/shelves/1/books/2?update_mask=ignored",
			body: `{"book":{"title":"Put"},"updateMask":"title"}`, status: 200},
		// DELETE returning Empty; a body on a rule without one is ignored.
		{name: "delete_book_empty", method: "DELETE", uri: "/v1/shelves/1/books/2", body: `not even JSON`, status: 200},
		// POST, body "*".
		{name: "create_shelf_body_star", method: "POST", uri: "/v1/shelves", body: `{"theme":"poetry"}`, status: 200},
		// response_body "books": the array alone; JSON names accepted in the query.
		{name: "list_books_response_body", method: "GET", uri: "/v1/shelves/1/books?page_size=2&pageToken=abc", status: 200},
		// Custom verb and custom method HEAD.
		{name: "check_book_custom_verb_head", method: "HEAD", uri: "/v1/shelves/1/books/2:check", status: 200, noBody: true},
		// Query parameters of every kind.
		{name: "query_params", method: "GET", status: 200, uri: "/v1/shelves/3/books:search?shelf=ignored&page_size=10" +
			"&filter.title=Go&filter.availability=SOLD_OUT&filter.format=2&filter.authors=ann&filter.authors=bo" +
			"&formats=EBOOK&formats=1&tags=x&tags=y&labels[lang]=en&stock[ebook]=IN_STOCK&stock[print]=2" +
			"&published_after=2020-01-02T03:04:05Z&read_mask=title,format&minPages=100&unknown=1"},
		{name: "query_bad_int", method: "GET", uri: "/v1/shelves/3/books:search?page_size=ten", status: 400, noUpstream: true,
			bodyContains: `query parameter \"page_size\"`},
		{name: "query_bad_enum", method: "GET", uri: "/v1/shelves/3/books:search?formats=EBOOK&formats=VINYL", status: 400, noUpstream: true,
			bodyContains: `query parameter \"formats\"`},
		{name: "query_too_many_values", method: "GET", uri: "/v1/shelves/3/books:search?filter.format=1&filter.format=2", status: 400, noUpstream: true},
		// Generic POST: an unannotated method, and an annotated one.
		{name: "generic_post_ping", method: "POST", uri: "/shop.v1.Library/Ping", status: 200},
		{name: "generic_post_get_book", method: "POST", uri: "/shop.v1.Library/GetBook", body: `{"name":"shelves/1/books/2"}`, status: 200},
		// Unknown fields: rejected by default, dropped with DiscardUnknown.
		{name: "unknown_field_rejected", method: "POST", uri: "/v1/shelves", body: `{"theme":"x","colour":"red"}`, status: 400, noUpstream: true},
		{name: "unknown_field_discarded", target: "discard_unknown", method: "POST", uri: "/v1/shelves", body: `{"theme":"x","colour":"red"}`, status: 200},
		// A body field that is not a message: repeated, a well-known type.
		{name: "body_repeated_field", method: "POST", uri: "/v1/shelves/3/books:tag?page_size=5&tags=ignored", body: `["new", "classic"]`, status: 200},
		{name: "body_well_known_type_field", method: "POST", uri: "/v1/shelves/3/books:since", body: `"2021-02-03T04:05:06Z"`, status: 200},
		{name: "body_field_not_one_value", method: "POST", uri: "/v1/shelves/3/books:tag", body: `["a"],"shelf":"shelves/x"`, status: 400, noUpstream: true},
		{name: "bad_json", method: "POST", uri: "/v1/shelves", body: `{"theme":`, status: 400, noUpstream: true},
		// Every JSON option, on a reply with an enum, an int64, a uint64 and an empty field.
		{name: "json_default", method: "GET", uri: "/v1/shelves/3/books:search", status: 200},
		{name: "json_proto_names", target: "proto_names", method: "GET", uri: "/v1/shelves/1/books/2", status: 200},
		{name: "json_emit_unpopulated", target: "emit_unpopulated", method: "GET", uri: "/v1/shelves/3/books:search", status: 200},
		{name: "json_enums_as_numbers", target: "enums_as_numbers", method: "GET", uri: "/v1/shelves/3/books:search", status: 200},
		{name: "json_int64_as_numbers", target: "int64_as_numbers", method: "GET", uri: "/v1/shelves/3/books:search", status: 200},
		// Upstream errors: google.rpc.Status bodies.
		{name: "error_details", method: "GET", uri: "/v1/shelves/1/books/missing", status: 404},
		{name: "error_unauthenticated", method: "GET", uri: "/v1/shelves/1/books/secret", status: 401},
		{name: "error_bad_reply", method: "GET", uri: "/v1/shelves/1/books/garbled", status: 502},
		{name: "error_bad_path_escape", method: "GET", uri: "/v1/shelves/1/books/%zz", status: 400, noUpstream: true},
		{name: "error_bad_bin_header", method: "GET", uri: "/v1/shelves/1/books/2", header: []string{"Grpc-Metadata-Trace-Bin", "!!"}, status: 400, noUpstream: true},
		{name: "error_bad_grpc_timeout", method: "GET", uri: "/v1/shelves/1/books/2", header: []string{"Grpc-Timeout", "soon"}, status: 400, noUpstream: true},
		// ConvertSimple: a Motan2 service taking the message as a map, or by ArgFields.
		{name: "simple_map", target: "simple", method: "PATCH", uri: "/v1/shelves/1/books/2?update_mask=title",
			body: `{"title":"T","format":"EBOOK"}`, status: 200},
		{name: "simple_bad_reply", target: "simple", method: "DELETE", uri: "/v1/shelves/1/books/2", status: 502},
		{name: "simple_arg_fields", target: "simple_args", method: "GET", uri: "/v1/shelves/1/books/2", header: []string{"X-Tenant", "acme"}, status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = "grpc"
			}
			h := ingresses[target]
			ctx := transcodeCtx(tc.method, tc.uri, tc.body, append([]string{"X-Request-Id", "req-" + tc.name}, tc.header...)...)
			h.handle(ctx)
			var up *transcodeUpstream
			if strings.HasPrefix(target, "simple") {
				up = simple.lastCall()
			} else {
				up = lib.lastCall()
			}
			if got := ctx.Response.StatusCode(); got != tc.status {
				t.Errorf("status %d, want %d: %s", got, tc.status, ctx.Response.Body())
			}
			if (up == nil) != tc.noUpstream {
				t.Errorf("upstream called: %v, want %v", up != nil, !tc.noUpstream)
			}
			if (len(ctx.Response.Body()) == 0) != tc.noBody {
				t.Errorf("body %q, want a body: %v", ctx.Response.Body(), !tc.noBody)
			}
			if tc.bodyContains != "" && !strings.Contains(string(ctx.Response.Body()), tc.bodyContains) {
				t.Errorf("body %s does not contain %s", ctx.Response.Body(), tc.bodyContains)
			}
			if ct := string(ctx.Response.Header.ContentType()); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if id := string(ctx.Response.Header.Peek("X-Request-Id")); id != "req-"+tc.name {
				t.Errorf("X-Request-Id %q", id)
			}
			request := tc.method + " " + tc.uri
			if tc.body != "" {
				request += " " + tc.body
			}
			transcodeGolden(t, tc.name, transcodeResponse(ctx, request, up))
		})
	}
}

// TestTranscodeOverListener serves transcoded routes on a loopback
// listener to concurrent net/http clients, as a grpc-gateway client would
// call them.
func TestTranscodeOverListener(t *testing.T) {
	reg := transcodeSchema(t)
	transcodeTranslateReady(t, reg)
	h := transcodeHTTP(t, reg, TranscodeTarget{Invoker: &transcodeLibrary{snap: reg.Current()}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.Serve(l) }()
	client := &http.Client{Timeout: 10 * time.Second}
	defer func() {
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + l.Addr().String()
	do := func(method, path, body string) (*http.Response, string, error) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Grpc-Metadata-X-Tenant", "acme")
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*10*3)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				name := fmt.Sprintf("shelves/%d/books/%d", g, i)
				resp, body, err := do("GET", "/v1/"+name, "")
				switch {
				case err != nil:
					errs <- err
				case resp.StatusCode != 200 || !strings.HasPrefix(body, `{"name":"`+name+`",`) ||
					resp.Header.Get("Grpc-Metadata-X-Shop-Version") != "7" || resp.Header.Get("Content-Type") != "application/json":
					errs <- fmt.Errorf("GET %s: %d %v %s", name, resp.StatusCode, resp.Header, body)
				}
				resp, body, err = do("HEAD", "/v1/"+name+":check", "")
				if err != nil || resp.StatusCode != 200 || body != "" {
					errs <- fmt.Errorf("HEAD %s: %v %v %q", name, err, resp, body)
				}
				resp, body, err = do("POST", "/v1/shelves", `{"theme":"t`+name+`"}`)
				if err != nil || resp.StatusCode != 200 || body != `{"name":"shelves/9","theme":"t`+name+`"}` {
					errs <- fmt.Errorf("POST: %v %v %s", err, resp, body)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestTranscodeErrorBody checks the error body against the
// google.rpc.Status it stands for, decoded with protojson, independently
// of the golden file.
func TestTranscodeErrorBody(t *testing.T) {
	reg := transcodeSchema(t)
	transcodeTranslateReady(t, reg)
	h := transcodeHTTP(t, reg, TranscodeTarget{Invoker: &transcodeLibrary{snap: reg.Current()}})
	ctx := transcodeCtx("GET", "/v1/shelves/1/books/missing", "")
	h.handle(ctx)
	if ctx.Response.StatusCode() != 404 {
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	var st struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &st); err != nil {
		t.Fatalf("%v: %s", err, ctx.Response.Body())
	}
	if st.Code != 5 || st.Message != "book shelves/1/books/missing does not exist" || len(st.Details) != 1 {
		t.Fatalf("status %+v", st)
	}
	var any anypb.Any
	if err := protojson.Unmarshal(st.Details[0], &any); err != nil {
		t.Fatalf("detail %s: %v", st.Details[0], err)
	}
	var info errdetails.ErrorInfo
	if err := any.UnmarshalTo(&info); err != nil {
		t.Fatal(err)
	}
	if info.GetReason() != "BOOK_NOT_FOUND" || info.GetMetadata()["name"] != "shelves/1/books/missing" {
		t.Fatalf("ErrorInfo %v", &info)
	}
	if v := string(ctx.Response.Header.Peek("Grpc-Metadata-X-Shop-Version")); v != "7" {
		t.Errorf("error response lost the header metadata: %q", v)
	}
}

// TestTranscodeSchemaLacksMethod: a route whose method the schema in
// force does not have answers 503.
func TestTranscodeSchemaLacksMethod(t *testing.T) {
	reg := transcodeSchema(t)
	var b routes.Builder
	if err := b.Add("GET", "/v1/gone", 0); err != nil {
		t.Fatal(err)
	}
	table, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	route := &gateway.Route{Name: "gone", Invoker: &transcodeLibrary{snap: reg.Current()},
		Proto: &gateway.ProtoRoute{Schema: reg, Method: "shop.v1.Library.Gone"}}
	h := NewHTTP(&Snapshot{Table: table, Routes: []*gateway.Route{route}},
		HTTPOptions{RequestIDHeader: "X-Request-Id", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := transcodeCtx("GET", "/v1/gone", "")
	h.handle(ctx)
	body := string(ctx.Response.Body())
	if ctx.Response.StatusCode() != 503 || !strings.Contains(body, `"code":14`) || !strings.Contains(body, "lacks method shop.v1.Library.Gone") {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), body)
	}
}

// TestTranscodeSchemaReload: the descriptor is read per request, so a
// reload applies to the next request.
func TestTranscodeSchemaReload(t *testing.T) {
	reg := transcodeSchema(t)
	transcodeTranslateReady(t, reg)
	lib := &transcodeLibrary{snap: reg.Current()}
	h := transcodeHTTP(t, reg, TranscodeTarget{Invoker: lib})
	only, err := descriptors.CompileProtos(context.Background(), []string{"../../descriptors/testdata/protos"}, []string{"shop/v1/types.proto"})
	if err != nil {
		t.Fatal(err)
	}
	reg.Swap(only)
	ctx := transcodeCtx("GET", "/v1/shelves/1/books/2", "")
	h.handle(ctx)
	if ctx.Response.StatusCode() != 503 {
		t.Fatalf("after a reload without the service: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

func TestTranscodeRoutes(t *testing.T) {
	reg := transcodeSchema(t)
	type row struct{ method, path, name, body, responseBody string }
	library := []row{
		{"GET", "/v1/{name=shelves/*/books/*}", "shop.v1.Library.GetBook", "", ""},
		{"GET", "/v1/books/{name=**}", "shop.v1.Library.GetBook", "", ""},
		{"POST", "/v1/{parent=shelves/*}/books", "shop.v1.Library.CreateBook", "book", ""},
		{"PATCH", "/v1/{book.name=shelves/*/books/*}", "shop.v1.Library.UpdateBook", "book", ""},
		{"PUT", "/v1/{book.name=shelves/*/books/*}", "shop.v1.Library.UpdateBook", "*", ""},
		{"DELETE", "/v1/{name=shelves/*/books/*}", "shop.v1.Library.DeleteBook", "", ""},
		{"POST", "/v1/shelves", "shop.v1.Library.CreateShelf", "*", ""},
		{"GET", "/v1/{parent=shelves/*}/books", "shop.v1.Library.ListBooks", "", "books"},
		{"HEAD", "/v1/{name=shelves/*/books/*}:check", "shop.v1.Library.CheckBook", "", ""},
	}
	search := []row{
		{"GET", "/v1/{shelf=shelves/*}/books:search", "shoptest.v1.Search.SearchBooks", "", ""},
		{"POST", "/v1/{shelf=shelves/*}/books:tag", "shoptest.v1.Search.TagBooks", "tags", ""},
		{"POST", "/v1/{shelf=shelves/*}/books:since", "shoptest.v1.Search.TagBooks", "published_after", ""},
	}
	generic := func(method string) row {
		return row{"POST", "/shop.v1.Library/" + method, "shop.v1.Library." + method, "*", ""}
	}
	withGeneric := []row{
		library[0], library[1], generic("GetBook"),
		library[2], generic("CreateBook"),
		library[3], library[4], generic("UpdateBook"),
		library[5], generic("DeleteBook"),
		library[6], generic("CreateShelf"),
		library[7], generic("ListBooks"),
		library[8], generic("CheckBook"),
		generic("Ping"),
		search[0], {"POST", "/shoptest.v1.Search/SearchBooks", "shoptest.v1.Search.SearchBooks", "*", ""},
		search[1], search[2], {"POST", "/shoptest.v1.Search/TagBooks", "shoptest.v1.Search.TagBooks", "*", ""},
	}
	inv := &transcodeLibrary{snap: reg.Current()}
	for _, tc := range []struct {
		name   string
		target TranscodeTarget
		want   []row
		warns  []string
	}{
		{"all services", TranscodeTarget{Invoker: inv}, append(append([]row{}, library...), search...), nil},
		{"one service", TranscodeTarget{Invoker: inv, Services: []string{"shop.v1.Library"}}, library, nil},
		{"generic post", TranscodeTarget{Invoker: inv, GenericPost: true}, withGeneric,
			[]string{"transcoding: shop.v1.Library.Watch gets no HTTP route: it is a server streaming method and only unary methods are transcoded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warns []string
			tc.target.Warn = func(msg string) { warns = append(warns, msg) }
			trs, err := TranscodeRoutes(reg, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			var b routes.Builder
			for i, tr := range trs {
				r := tr.Route
				got = append(got, row{tr.HTTPMethod, tr.Path, string(r.Proto.Method), r.Proto.Body, r.Proto.ResponseBody})
				if want := string(r.Proto.Method) + " (" + tr.HTTPMethod + " " + tr.Path + ")"; r.Name != want {
					t.Errorf("route name %q, want %q", r.Name, want)
				}
				svc, method, _ := strings.Cut(string(r.Proto.Method)[:strings.LastIndexByte(string(r.Proto.Method), '.')]+"/"+
					string(r.Proto.Method)[strings.LastIndexByte(string(r.Proto.Method), '.')+1:], "/")
				if r.Service != svc || r.Method != method || r.FullMethod != "/"+svc+"/"+method {
					t.Errorf("route %s: Service %q Method %q FullMethod %q", r.Name, r.Service, r.Method, r.FullMethod)
				}
				if r.Proto.Schema != reg || r.Invoker != inv || r.Args != nil {
					t.Errorf("route %s: schema, invoker or args not as generated", r.Name)
				}
				if err := b.Add(tr.HTTPMethod, tr.Path, i); err != nil {
					t.Errorf("Add(%s %s): %v", tr.HTTPMethod, tr.Path, err)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("routes:\n%v\nwant:\n%v", got, tc.want)
			}
			if _, err := b.Build(); err != nil {
				t.Errorf("generated routes conflict: %v", err)
			}
			if fmt.Sprint(warns) != fmt.Sprint(tc.warns) {
				t.Errorf("warnings %q, want %q", warns, tc.warns)
			}
		})
	}

	t.Run("settings copied", func(t *testing.T) {
		o := translate.ProtoJSONOptions{UseProtoNames: true, DiscardUnknown: true}
		var warns []string
		trs, err := TranscodeRoutes(reg, TranscodeTarget{Services: []string{"shop.v1.Library"}, Invoker: inv,
			Service: "com.example.Library", Group: "g", Version: "2", Timeout: 3 * time.Second, Mode: gateway.ConvertSimple,
			PayloadSerialization: motan2.SerializationPB, ArgFields: []string{"name"}, JSON: o,
			RequestHeaders: []string{"X-A"}, ResponseMeta: []string{"X-B"}, GenericPost: true,
			Warn: func(msg string) { warns = append(warns, msg) }})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tr := range trs {
			got = append(got, tr.Route.Name)
		}
		// The methods whose request has a "name" field.
		want := []string{
			"shop.v1.Library.GetBook (GET /v1/{name=shelves/*/books/*})",
			"shop.v1.Library.GetBook (GET /v1/books/{name=**})",
			"shop.v1.Library.GetBook (POST /shop.v1.Library/GetBook)",
			"shop.v1.Library.DeleteBook (DELETE /v1/{name=shelves/*/books/*})",
			"shop.v1.Library.DeleteBook (POST /shop.v1.Library/DeleteBook)",
			"shop.v1.Library.CreateShelf (POST /v1/shelves)",
			"shop.v1.Library.CreateShelf (POST /shop.v1.Library/CreateShelf)",
			"shop.v1.Library.CheckBook (HEAD /v1/{name=shelves/*/books/*}:check)",
			"shop.v1.Library.CheckBook (POST /shop.v1.Library/CheckBook)",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		wantWarns := []string{
			`transcoding: shop.v1.Library.CreateBook gets no HTTP route: args field "name": shop.v1.CreateBookRequest has no field "name"`,
			`transcoding: shop.v1.Library.UpdateBook gets no HTTP route: args field "name": shop.v1.UpdateBookRequest has no field "name"`,
			`transcoding: shop.v1.Library.ListBooks gets no HTTP route: args field "name": shop.v1.ListBooksRequest has no field "name"`,
			`transcoding: shop.v1.Library.Ping gets no HTTP route: args field "name": google.protobuf.Empty has no field "name"`,
			`transcoding: shop.v1.Library.Watch gets no HTTP route: it is a server streaming method and only unary methods are transcoded`,
		}
		if strings.Join(warns, "\n") != strings.Join(wantWarns, "\n") {
			t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warns, "\n"), strings.Join(wantWarns, "\n"))
		}
		r := trs[0].Route
		if r.Service != "com.example.Library" || r.Method != "GetBook" || r.FullMethod != "/shop.v1.Library/GetBook" ||
			r.Group != "g" || r.Version != "2" || r.Timeout != 3*time.Second || r.Proto.Mode != gateway.ConvertSimple ||
			r.Proto.PayloadSerialization != motan2.SerializationPB || r.Proto.JSON != o ||
			fmt.Sprint(r.Proto.ArgFields, r.RequestHeaders, r.ResponseMeta) != "[name] [X-A] [X-B]" {
			t.Errorf("route %+v proto %+v", r, r.Proto)
		}

		_, err = TranscodeRoutes(reg, TranscodeTarget{Services: []string{"shop.v1.Library"}, Invoker: inv,
			Mode: gateway.ConvertSimple, ArgFields: []string{"nope"}, Warn: func(string) {}})
		if err == nil || !strings.Contains(err.Error(), "the args mapping fits no method") {
			t.Errorf("ArgFields fitting no method: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if trs, err := TranscodeRoutes(new(descriptors.Registry), TranscodeTarget{Invoker: inv}); err != nil || trs != nil {
			t.Errorf("schema not loaded yet: %v, %v; want no routes and no error", trs, err)
		}
		if _, err := TranscodeRoutes(nil, TranscodeTarget{Invoker: inv}); err == nil {
			t.Error("no error without a registry")
		}
		if _, err := TranscodeRoutes(reg, TranscodeTarget{}); err == nil || !strings.Contains(err.Error(), "no invoker") {
			t.Errorf("without an invoker: %v", err)
		}
		_, err := TranscodeRoutes(reg, TranscodeTarget{Invoker: inv, Services: []string{"shop.v1.Nope", "shop.v1.Library", "shop.v1.Gone"}})
		if err == nil || !strings.Contains(err.Error(), `has no service "shop.v1.Nope"`) || !strings.Contains(err.Error(), `has no service "shop.v1.Gone"`) {
			t.Errorf("error %v", err)
		}
		broken, err := descriptors.CompileProtos(context.Background(), []string{"../../descriptors/testdata"}, []string{"broken/bad_http.proto"})
		if err != nil {
			t.Fatal(err)
		}
		breg := new(descriptors.Registry)
		breg.Swap(broken)
		_, err = TranscodeRoutes(breg, TranscodeTarget{Invoker: inv})
		var list descriptors.ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Errorf("invalid annotations: %v", err)
		}
	})
}

// TestTranscodeSimplePathUnchanged: the Simple-argument path keeps its
// allocation budget with transcoded routes in the same table.
func TestTranscodeSimplePathUnchanged(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	reg := transcodeSchema(t)
	trs, err := TranscodeRoutes(reg, TranscodeTarget{Invoker: &transcodeLibrary{snap: reg.Current()}})
	if err != nil {
		t.Fatal(err)
	}
	var b routes.Builder
	snap := &Snapshot{}
	for i, tr := range trs {
		if err := b.Add(tr.HTTPMethod, tr.Path, i); err != nil {
			t.Fatal(err)
		}
		snap.Routes = append(snap.Routes, tr.Route)
	}
	if err := b.Add("GET", "/v1/echo/{id}", len(trs)); err != nil {
		t.Fatal(err)
	}
	snap.Routes = append(snap.Routes, &gateway.Route{Name: "echo", Service: "s", Method: "m", Invoker: echoInvoker{},
		Args: []gateway.ArgBinding{{Name: "id", From: gateway.FromPath, Key: "id", Type: translate.ArgInt64}}})
	if snap.Table, err = b.Build(); err != nil {
		t.Fatal(err)
	}
	h := NewHTTP(snap, HTTPOptions{RequestIDHeader: "X-Request-Id", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := newCtx("/v1/echo/42", "X-Request-Id", "r1")
	if n := testing.AllocsPerRun(200, func() { ctx.Response.Reset(); h.handle(ctx) }); n > 1 {
		t.Errorf("%v allocations per Simple request, want at most 1", n)
	}
}

// transcodeFixedReply answers every call with one encoded message.
type transcodeFixedReply struct{ payload []byte }

func (f transcodeFixedReply) Invoke(_ context.Context, _ *gateway.Call, reply *gateway.Reply) error {
	reply.Payload = f.payload
	return nil
}

func BenchmarkTranscodeGetBook(b *testing.B) {
	reg := transcodeSchema(b)
	transcodeTranslateReady(b, reg)
	md, _ := reg.Current().Method("shop.v1.Library.GetBook")
	book := dynamicpb.NewMessage(md.Output())
	if err := (protojson.UnmarshalOptions{Resolver: reg.Current().Types()}).Unmarshal([]byte(transcodeBookJSON("shelves/1/books/2")), book); err != nil {
		b.Fatal(err)
	}
	payload, err := proto.Marshal(book)
	if err != nil {
		b.Fatal(err)
	}
	h := transcodeHTTP(b, reg, TranscodeTarget{Invoker: transcodeFixedReply{payload}})
	ctx := transcodeCtx("GET", "/v1/shelves/1/books/2", "", "X-Request-Id", "r1", "User-Agent", "bench/1.0")
	h.handle(ctx)
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		h.handle(ctx)
	}
}
