package interop

// Schema-described calls through meshgate between real peers on both
// sides: a motan-go v1.2.0 client reaching a grpc-go server through the
// Motan2 ingress, and gRPC and HTTP/JSON callers reaching a motan-go
// v1.2.0 server through the gRPC ingress and transcoding, converted to
// Simple values through the shop.v1.Library schema.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	motan "github.com/weibocom/motan-go/core"
	"github.com/weibocom/motan-go/endpoint"
	"github.com/weibocom/motan-go/provider"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/internal/leakcheck"
)

const (
	// shopProtoDir is the import path of the shop schema (shop/v1/shop.proto).
	shopProtoDir = "../descriptors/testdata/protos"
	// libraryGRPCService is the gRPC service the schema describes.
	libraryGRPCService = "shop.v1.Library"
	// libraryMotan2Service is what motan-go clients call on meshgate's
	// Motan2 ingress to reach the gRPC Library.
	libraryMotan2Service = "com.example.Library"
	// libraryMotanGoService is the service the motan-go server exports
	// with libraryMotanGo.
	libraryMotanGoService = "com.example.LibraryMotan"
	// missingSuffix ends the book names the gRPC Library answers NOT_FOUND.
	missingSuffix = "/missing"
)

var (
	shopOnce sync.Once
	shopSnap *descriptors.Snapshot
	shopErr  error
)

// shopSchema returns the shop schema, compiled once per process.
func shopSchema(tb testing.TB) *descriptors.Snapshot {
	tb.Helper()
	shopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shopSnap, shopErr = descriptors.CompileProtos(ctx, []string{shopProtoDir}, []string{"shop/v1/shop.proto"})
	})
	if shopErr != nil {
		tb.Fatalf("compiling the shop schema: %v", shopErr)
	}
	return shopSnap
}

func absShopProtoDir(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(shopProtoDir)
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// ---------------------------------------------------------------------------
// A grpc-go server for shop.v1.Library, without generated code

// grpcLibrary is a running grpc-go server answering shop.v1.Library's
// GetBook with dynamicpb messages: Book{name, title: "Title of "+name};
// a name ending in missingSuffix fails with NOT_FOUND and a
// google.rpc.ErrorInfo detail. Every other method is UNIMPLEMENTED (grpc-go
// answers so for methods not in the ServiceDesc).
type grpcLibrary struct {
	Addr string

	mu sync.Mutex
	md metadata.MD // request metadata of the last call
}

func startGRPCLibrary(tb testing.TB) *grpcLibrary {
	tb.Helper()
	snap := shopSchema(tb)
	md, ok := snap.Method(libraryGRPCService + "/GetBook")
	if !ok {
		tb.Fatalf("%s/GetBook is not in the shop schema", libraryGRPCService)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	lib := &grpcLibrary{Addr: l.Addr().String()}
	srv := grpc.NewServer()
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: libraryGRPCService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "GetBook",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := dynamicpb.NewMessage(md.Input())
				if err := dec(in); err != nil {
					return nil, err
				}
				return lib.getBook(ctx, in, md.Output())
			},
		}},
		Metadata: md.ParentFile().Path(),
	}, struct{}{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	tb.Cleanup(func() {
		stopped := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			srv.Stop()
			<-stopped
		}
		<-done
	})
	return lib
}

func (lib *grpcLibrary) getBook(ctx context.Context, in *dynamicpb.Message, out protoreflect.MessageDescriptor) (any, error) {
	incoming, _ := metadata.FromIncomingContext(ctx)
	lib.mu.Lock()
	lib.md = incoming.Copy()
	lib.mu.Unlock()
	name := in.Get(in.Descriptor().Fields().ByName("name")).String()
	if strings.HasSuffix(name, missingSuffix) {
		st, err := status.New(codes.NotFound, "book "+name+" not found").WithDetails(
			&errdetails.ErrorInfo{Reason: "BOOK_NOT_FOUND", Domain: "shop.example", Metadata: map[string]string{"name": name}})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "building details: %v", err)
		}
		return nil, st.Err()
	}
	book := dynamicpb.NewMessage(out)
	book.Set(out.Fields().ByName("name"), protoreflect.ValueOfString(name))
	book.Set(out.Fields().ByName("title"), protoreflect.ValueOfString("Title of "+name))
	return book, nil
}

// lastMetadata returns the request metadata of the last call.
func (lib *grpcLibrary) lastMetadata() metadata.MD {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	return lib.md
}

// ---------------------------------------------------------------------------
// A motan-go service exported from Go methods

// libraryMotanGo is exported by the motan-go server as
// libraryMotanGoService through motan-go's provider.DefaultProvider, which
// calls the Go method named like the request's method (first letter
// upper-cased) by reflection and replies with its first result.
//
// The argument type is what motan-go's Simple serialization produces:
// DefaultProvider passes its target types to the serialization, but the
// Simple serialization ignores them and decodes a Simple map to
// map[interface{}]interface{} (a string map to map[string]string), which
// DefaultProvider then hands to reflect.Value.Call unchanged. A method
// taking map[string]interface{} therefore cannot be called with a map
// (see CheckBook).
type libraryMotanGo struct{}

// GetBook answers {"name": name, "title": "Title of "+name}.
func (*libraryMotanGo) GetBook(req map[interface{}]interface{}) map[string]interface{} {
	name, _ := req["name"].(string)
	return map[string]interface{}{"name": name, "title": "Title of " + name}
}

// CheckBook has the argument type Go code would naturally use. motan-go
// cannot call it with a map argument: reflect.Value.Call panics, and the
// motan-go server answers the panic with 500 "provider call panic".
func (*libraryMotanGo) CheckBook(req map[string]interface{}) map[string]interface{} {
	return map[string]interface{}{"name": req["name"]}
}

// attachmentRecorder wraps a motan-go provider and records the attachments
// (Motan2 meta) of the last request it got. motan-go hands the request,
// attachments included, to providers and filters; the Go methods of a
// DefaultProvider only get the decoded arguments.
type attachmentRecorder struct {
	motan.Provider
	mu   sync.Mutex
	last map[string]string
}

func (r *attachmentRecorder) Call(req motan.Request) motan.Response {
	seen := map[string]string{}
	if a := req.GetAttachments(); a != nil {
		a.Range(func(k, v string) bool {
			seen[k] = v
			return true
		})
	}
	r.mu.Lock()
	r.last = seen
	r.mu.Unlock()
	return r.Provider.Call(req)
}

func (r *attachmentRecorder) lastAttachments() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// startMotanGoLibrary starts a motan-go server that exports, besides the
// echo services, libraryMotanGoService (libraryMotanGo through a
// DefaultProvider wrapped in an attachmentRecorder).
func startMotanGoLibrary(tb testing.TB) (*motanGoServer, *attachmentRecorder) {
	tb.Helper()
	p := &provider.DefaultProvider{}
	p.SetURL(&motan.URL{Protocol: "motan2", Path: libraryMotanGoService, Parameters: map[string]string{}})
	p.SetService(&libraryMotanGo{})
	p.Initialize()
	rec := &attachmentRecorder{Provider: p}
	return startMotanGoServerWith(tb, []motan.Provider{rec}), rec
}

// ---------------------------------------------------------------------------
// Tests

// TestMotanGoClientToGRPCThroughMotan2Ingress: a motan-go v1.2.0 client
// (Simple serialization) calls com.example.Library.GetBook("…") on
// meshgate's Motan2 ingress; meshgate fills shop.v1.GetBookRequest.name
// from the argument, calls the grpc-go Library and answers the Book as a
// Simple map. A NOT_FOUND status reaches motan-go as an exception with
// errcode 404, the google.rpc.Status riding along in M_e.
func TestMotanGoClientToGRPCThroughMotan2Ingress(t *testing.T) {
	checkNoGatewayLeaks(t)
	lib := startGRPCLibrary(t)
	gw := startGateway(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: [%q], files: [shop/v1/shop.proto]}}
clusters:
  - {name: library-grpc, protocol: grpc, endpoints: [%q]}
motan2_routes:
  - service: %s
    schema: shop
    target: {cluster: library-grpc, service: %s, args: [name], timeout: 5s}
`, absShopProtoDir(t), lib.Addr, libraryMotan2Service, libraryGRPCService))
	ep := newMotanGoEndpoint(t, gw.Motan2Addr().String(), nil)

	resp := motanGoCallMeta(ep, libraryMotan2Service, "GetBook", map[string]string{"x-tenant": "acme"}, "shelves/1/books/2")
	if e := resp.GetException(); e != nil {
		t.Fatalf("GetBook: exception %+v", e)
	}
	book, ok := resp.GetValue().(map[interface{}]interface{})
	if !ok {
		t.Fatalf("GetBook: reply %#v (%T), want a map", resp.GetValue(), resp.GetValue())
	}
	if book["name"] != "shelves/1/books/2" || book["title"] != "Title of shelves/1/books/2" || len(book) != 2 {
		t.Errorf("GetBook: reply %#v, want name and title", book)
	}
	if got := lib.lastMetadata().Get("x-tenant"); len(got) != 1 || got[0] != "acme" {
		t.Errorf("gRPC upstream metadata x-tenant = %q, want [acme] (from the motan-go attachment)", got)
	}

	resp = motanGoCall(ep, libraryMotan2Service, "GetBook", "shelves/1/books"+missingSuffix)
	e := resp.GetException()
	if e == nil {
		t.Fatalf("missing book: no exception, value %#v", resp.GetValue())
	}
	// motan-go's Exception has errcode, errmsg and errtype only; the rest
	// of M_e (meshgate's grpc_status) is in the raw attachment.
	if e.ErrCode != 404 || e.ErrType != motan.BizException || !strings.Contains(e.ErrMsg, "not found") {
		t.Errorf("missing book: exception %+v, want errcode 404, errtype %d", e, motan.BizException)
	}
	checkGRPCStatusInMe(t, resp.GetAttachment("M_e"))

	t.Run("breeze", func(t *testing.T) {
		ep := newMotanGoEndpoint(t, gw.Motan2Addr().String(), map[string]string{motan.SerializationKey: "breeze"})
		resp := motanGoCall(ep, libraryMotan2Service, "GetBook", "shelves/3/books/4")
		book, _ := resp.GetValue().(map[interface{}]interface{})
		if resp.GetException() != nil || book["title"] != "Title of shelves/3/books/4" {
			t.Errorf("breeze GetBook: %#v, exception %+v", resp.GetValue(), resp.GetException())
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("shelves/%d/books/%d", i, i)
				resp := motanGoCall(ep, libraryMotan2Service, "GetBook", name)
				book, _ := resp.GetValue().(map[interface{}]interface{})
				if resp.GetException() != nil || book["title"] != "Title of "+name {
					errs <- fmt.Errorf("GetBook %s: %#v, exception %+v", name, resp.GetValue(), resp.GetException())
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// checkGRPCStatusInMe checks that the M_e meta of a motan-go response
// carries meshgate's grpc_status field: the google.rpc.Status of the gRPC
// upstream, base64, with its google.rpc.ErrorInfo detail.
func checkGRPCStatusInMe(t *testing.T, raw string) {
	t.Helper()
	var me struct {
		ErrCode    int    `json:"errcode"`
		GRPCStatus []byte `json:"grpc_status"` // base64 in JSON
	}
	if err := json.Unmarshal([]byte(raw), &me); err != nil {
		t.Fatalf("M_e %q: %v", raw, err)
	}
	var st spb.Status
	if err := proto.Unmarshal(me.GRPCStatus, &st); err != nil {
		t.Fatalf("M_e grpc_status: %v", err)
	}
	details := status.FromProto(&st).Details()
	if codes.Code(st.Code) != codes.NotFound || len(details) != 1 {
		t.Fatalf("M_e grpc_status: %v with details %v, want NOT_FOUND with one detail", &st, details)
	}
	if info, ok := details[0].(*errdetails.ErrorInfo); !ok || info.Reason != "BOOK_NOT_FOUND" {
		t.Errorf("M_e grpc_status detail: %v, want ErrorInfo BOOK_NOT_FOUND", details[0])
	}
}

// TestGRPCClientToMotanGoServer: a grpc-go client (dynamicpb messages)
// calls shop.v1.Library/GetBook on meshgate's gRPC ingress; meshgate sends
// the request to the motan-go server as one Simple map argument and turns
// the map motan-go returns into a Book. Request metadata reaches the
// motan-go server as Motan2 meta.
func TestGRPCClientToMotanGoServer(t *testing.T) {
	checkNoGatewayLeaks(t)
	srv, rec := startMotanGoLibrary(t)
	gw := startGateway(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: [%q], files: [shop/v1/shop.proto]}}
clusters:
  - {name: motan-go, endpoints: [%q]}
grpc_routes:
  - {service: %s, schema: shop, target: {cluster: motan-go, service: %s, encoding: simple, timeout: 5s}}
`, absShopProtoDir(t), srv.Addr, libraryGRPCService, libraryMotanGoService))
	conn, err := grpc.NewClient(gw.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-tenant", "acme")
	getBook := libraryMethod(t, "GetBook")

	book, err := callGetBook(ctx, conn, getBook, "shelves/1/books/2")
	if err != nil {
		t.Fatalf("GetBook: %v", err)
	}
	if got := bookField(book, "title"); got != "Title of shelves/1/books/2" {
		t.Errorf("GetBook: title %q in %v", got, book)
	}
	if got := bookField(book, "name"); got != "shelves/1/books/2" {
		t.Errorf("GetBook: name %q in %v", got, book)
	}
	att := rec.lastAttachments()
	if att["x-tenant"] != "acme" {
		t.Errorf("motan-go server attachments %v, want x-tenant=acme", att)
	}
	if att["M_m"] != "GetBook" || att["M_p"] != libraryMotanGoService {
		t.Errorf("motan-go server attachments %v, want M_p=%s, M_m=GetBook", att, libraryMotanGoService)
	}

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("shelves/%d/books/%d", i, i)
				book, err := callGetBook(ctx, conn, getBook, name)
				if err != nil || bookField(book, "title") != "Title of "+name {
					errs <- fmt.Errorf("GetBook %s: %v, %v", name, book, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	// A Go method taking map[string]interface{} cannot be called by
	// motan-go with a map argument (see libraryMotanGo): the motan-go
	// server answers 500 "provider call panic" (errtype 1), which meshgate
	// maps to INTERNAL (docs/errors.md).
	_, err = callGetBook(ctx, conn, libraryMethod(t, "CheckBook"), "shelves/1/books/2")
	if st := status.Convert(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "provider call panic") {
		t.Errorf("CheckBook (map[string]interface{} argument): %v, want INTERNAL carrying motan-go's \"provider call panic\"", err)
	}
}

// TestHTTPTranscodingToMotanGoServer: REST calls generated from the shop
// schema's google.api.http annotations reach the motan-go server with
// encoding simple, and the map it returns comes back as the JSON Book.
func TestHTTPTranscodingToMotanGoServer(t *testing.T) {
	checkNoGatewayLeaks(t)
	srv, rec := startMotanGoLibrary(t)
	gw := startGateway(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: [%q], files: [shop/v1/shop.proto]}}
clusters:
  - {name: motan-go, endpoints: [%q]}
transcoding:
  - {schema: shop, target: {cluster: motan-go, service: %s, encoding: simple, timeout: 5s}}
`, absShopProtoDir(t), srv.Addr, libraryMotanGoService))
	base := "http://" + gw.HTTPAddr().String()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, tc := range []struct {
		path string
		want string
	}{
		{"/v1/shelves/1/books/2", `{"name":"shelves/1/books/2","title":"Title of shelves/1/books/2"}`},
		// The additional binding, with a multi-segment variable.
		{"/v1/books/a/b/c", `{"name":"a/b/c","title":"Title of a/b/c"}`},
	} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		req.Header.Set("Grpc-Metadata-X-Tenant", "acme")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("GET %s: %d %s, want 200 %s", tc.path, resp.StatusCode, b, tc.want)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET %s: Content-Type %q", tc.path, ct)
		}
	}
	if att := rec.lastAttachments(); att["M_m"] != "GetBook" || att["M_p"] != libraryMotanGoService {
		t.Errorf("motan-go server attachments %v, want M_p=%s, M_m=GetBook", att, libraryMotanGoService)
	}
}

// ---------------------------------------------------------------------------
// Helpers

// libraryMethod returns the descriptor of a shop.v1.Library method.
func libraryMethod(t *testing.T, method string) protoreflect.MethodDescriptor {
	t.Helper()
	md, ok := shopSchema(t).Method(libraryGRPCService + "/" + method)
	if !ok {
		t.Fatalf("%s/%s is not in the shop schema", libraryGRPCService, method)
	}
	return md
}

// callGetBook calls md, a shop.v1.Library method taking a GetBookRequest
// and returning a Book, for the book name.
func callGetBook(ctx context.Context, conn *grpc.ClientConn, md protoreflect.MethodDescriptor, name string) (*dynamicpb.Message, error) {
	in := dynamicpb.NewMessage(md.Input())
	in.Set(md.Input().Fields().ByName("name"), protoreflect.ValueOfString(name))
	out := dynamicpb.NewMessage(md.Output())
	err := conn.Invoke(ctx, "/"+string(md.Parent().FullName())+"/"+string(md.Name()), in, out)
	return out, err
}

func bookField(m *dynamicpb.Message, name string) string {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name))).String()
}

// motanGoCallMeta is motanGoCall with request attachments.
func motanGoCallMeta(ep motan.EndPoint, service, method string, meta map[string]string, args ...interface{}) motan.Response {
	req := &motan.MotanRequest{
		RequestID:   endpoint.GenerateRequestID(),
		ServiceName: service,
		Method:      method,
		Arguments:   args,
	}
	for k, v := range meta {
		req.SetAttachment(k, v)
	}
	req.GetRPCContext(true)
	return ep.Call(req)
}

// checkNoGatewayLeaks is checkNoLeaks for tests that run the whole
// gateway and grpc-go peers: after every other cleanup it waits up to 5
// seconds for the goroutines of meshgate's motan2 and gateway packages, of
// grpc-go (servers, client connections, transports) and of the HTTP
// ingress's fasthttp worker pool to end.
func checkNoGatewayLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		for _, pkg := range []string{
			"github.com/meshgate/meshgate/motan2.",
			"github.com/meshgate/meshgate/gateway/",
			"google.golang.org/grpc",
			// meshgate's HTTP ingress (idle workers and the pool cleaner
			// end within MaxIdleWorkerDuration, 2s, of Shutdown).
			"github.com/valyala/fasthttp.(*workerPool)",
		} {
			if leaked := leakcheck.WaitMatching(pkg, 5*time.Second); len(leaked) > 0 {
				t.Errorf("%d goroutine(s) running %s code still running after close:\n%s",
					len(leaked), pkg, strings.Join(leaked, "\n\n"))
			}
		}
	})
}
