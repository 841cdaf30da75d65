package assembly_test

// The ingress × upstream matrix: HTTP, gRPC and Motan2 callers against
// real gRPC (internal/testgrpc) and Motan2 (motan2Library) upstreams, all
// on loopback, through a gateway started from YAML.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/testgrpc"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

const motan2LibraryService = "com.example.Library"

func protoDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../descriptors/testdata/protos")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func shopSchema(t *testing.T) *descriptors.Snapshot {
	t.Helper()
	snap, err := descriptors.CompileProtos(context.Background(), []string{protoDir(t)}, []string{"shop/v1/shop.proto"})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// startMotan2Library serves shop.v1.Library's GetBook and CheckBook as
// the Motan2 service com.example.Library: grpc-pb bodies are the message
// bytes, Simple bodies one map argument; the reply comes back the same
// way. Titles end in " (motan2)" so tests see which upstream answered; a
// name ending in /missing is a 404 business exception; testgrpc.SlowBook
// answers only when the call's deadline (M_tmo) has passed. The x-echo
// meta is echoed back, and the M_tmo the call carried as x-m-tmo.
func startMotan2Library(t *testing.T) string {
	t.Helper()
	snap := shopSchema(t)
	h := motan2.HandlerFunc(func(ctx context.Context, req *motan2.Frame) *motan2.Frame {
		fail := func(code int, msg string) *motan2.Frame {
			return motan2.NewExceptionResponse(req, &motan2.Exception{ErrCode: code, ErrMsg: msg, ErrType: motan2.ErrTypeBiz})
		}
		md, ok := snap.Method(testgrpc.Service + "/" + req.Method())
		if !ok || (req.Method() != "GetBook" && req.Method() != "CheckBook") {
			return fail(500, "method "+req.Method()+" is not found in provider")
		}
		in := dynamicpb.NewMessage(md.Input())
		if req.Serialization == motan2.SerializationGrpcPB {
			if err := proto.Unmarshal(req.Body, in); err != nil {
				return fail(400, err.Error())
			}
		} else {
			args, err := motan2.DecodeArgs(req.Serialization, req.Body)
			if err != nil || len(args) != 1 {
				return fail(400, fmt.Sprintf("want one map argument: %v %v", args, err))
			}
			if err := translate.SimpleToProto(in, args[0]); err != nil {
				return fail(400, err.Error())
			}
		}
		name := in.Get(md.Input().Fields().ByName("name")).String()
		if name == testgrpc.SlowBook { // answers when the caller's M_tmo has passed
			<-ctx.Done()
			return fail(504, "timed out waiting for "+name)
		}
		if strings.HasSuffix(name, testgrpc.MissingSuffix) {
			return fail(404, "book "+name+" not found")
		}
		out := dynamicpb.NewMessage(md.Output())
		f := md.Output().Fields()
		out.Set(f.ByName("name"), protoreflect.ValueOfString(name))
		out.Set(f.ByName("title"), protoreflect.ValueOfString("Title of "+name+" (motan2)"))
		var body []byte
		if req.Serialization == motan2.SerializationGrpcPB {
			body, _ = proto.Marshal(out)
		} else {
			v, err := translate.ProtoToSimple(out, false)
			if err != nil {
				return fail(500, err.Error())
			}
			body, _ = motan2.AppendValues(nil, req.Serialization, []motan2.Value{v})
		}
		resp := motan2.NewResponse(req, body)
		if v := req.Meta.Get(testgrpc.EchoKey); v != "" {
			resp.Meta = append(resp.Meta, motan2.MetaPair{Key: testgrpc.EchoKey, Value: v})
		}
		if v := req.Meta.Get(motan2.MetaTimeout); v != "" {
			resp.Meta = append(resp.Meta, motan2.MetaPair{Key: "x-m-tmo", Value: v})
		}
		return resp
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &motan2.Server{Handler: h, Logger: quiet}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return l.Addr().String()
}

// gatewayToGRPC: gRPC, HTTP (transcoding from the upstream's reflection)
// and Motan2 callers reach the gRPC Library; CheckBook over gRPC goes to
// the Motan2 Library (grpc-pb).
const gatewayToGRPC = `
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: ["%[1]s"], files: [shop/v1/shop.proto]}}
  - {name: remote, reflection: {cluster: lib-grpc, refresh: -1s}}
clusters:
  - {name: lib-grpc, protocol: grpc, endpoints: ["%[2]s"]}
  - {name: lib-m2, endpoints: ["%[3]s"]}
grpc_routes:
  - {service: shop.v1.Library, schema: shop, target: {cluster: lib-grpc, timeout: 5s}}
  - {service: shop.v1.Library, method: CheckBook, schema: shop, target: {cluster: lib-m2, service: com.example.Library, timeout: 5s}}
transcoding:
  - {schema: remote, target: {cluster: lib-grpc, timeout: 5s}}
motan2_routes:
  - {service: com.example.Library, schema: shop, target: {cluster: lib-grpc, service: shop.v1.Library, args: [name], timeout: 5s}}
`

// gatewayToMotan2: gRPC and HTTP callers reach the Motan2 Library, gRPC
// converted to Simple values, HTTP as grpc-pb bytes.
const gatewayToMotan2 = `
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: ["%[1]s"], files: [shop/v1/shop.proto]}}
clusters:
  - {name: lib-m2, endpoints: ["%[2]s"]}
grpc_routes:
  - {service: shop.v1.Library, schema: shop, target: {cluster: lib-m2, service: com.example.Library, encoding: simple}}
transcoding:
  - {schema: shop, generic_post: true, target: {cluster: lib-m2, service: com.example.Library}}
`

func startYAML(t *testing.T, yaml string) *assembly.Gateway {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return startConfig(t, cfg)
}

// startConfig starts a gateway that shuts down when the test ends.
func startConfig(t *testing.T, cfg *config.Config) *assembly.Gateway {
	t.Helper()
	gw, err := assembly.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return gw
}

type matrix struct {
	grpcLib *testgrpc.Server
	m2Lib   string
	toGRPC  *assembly.Gateway
	toM2    *assembly.Gateway
	schema  *descriptors.Snapshot
}

func startMatrix(t *testing.T) *matrix {
	t.Helper()
	m := &matrix{grpcLib: testgrpc.Start(t), m2Lib: startMotan2Library(t), schema: shopSchema(t)}
	m.toGRPC = startYAML(t, fmt.Sprintf(gatewayToGRPC, protoDir(t), m.grpcLib.Addr(), m.m2Lib))
	m.toM2 = startYAML(t, fmt.Sprintf(gatewayToMotan2, protoDir(t), m.m2Lib))
	return m
}

func grpcConn(t *testing.T, addr net.Addr) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type grpcResult struct {
	out             *dynamicpb.Message
	header, trailer metadata.MD
	err             error
}

// callBook calls a Library method taking a name with the proto codec.
func (m *matrix) callBook(ctx context.Context, conn *grpc.ClientConn, method, name string) grpcResult {
	md, _ := m.schema.Method(testgrpc.Service + "/" + method)
	in := dynamicpb.NewMessage(md.Input())
	in.Set(md.Input().Fields().ByName("name"), protoreflect.ValueOfString(name))
	r := grpcResult{out: dynamicpb.NewMessage(md.Output())}
	r.err = conn.Invoke(ctx, testgrpc.Method(method), in, r.out, grpc.Header(&r.header), grpc.Trailer(&r.trailer))
	return r
}

func str(m *dynamicpb.Message, field string) string {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).String()
}

func TestMatrixGRPCToGRPC(t *testing.T) {
	m := startMatrix(t)
	conn := grpcConn(t, m.toGRPC.GRPCAddr())
	ctx := metadata.AppendToOutgoingContext(context.Background(), testgrpc.EchoKey, "e-1", "x-tenant", "acme")

	r := m.callBook(ctx, conn, "GetBook", "shelves/1/books/2")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if str(r.out, "title") != "Title of shelves/1/books/2" {
		t.Errorf("reply %v", r.out)
	}
	if got := r.header.Get(testgrpc.EchoKey); len(got) != 1 || got[0] != "e-1" {
		t.Errorf("header x-echo = %q", got)
	}
	if got := r.trailer.Get(testgrpc.ServedByKey); len(got) != 1 || got[0] != m.grpcLib.Addr() {
		t.Errorf("trailer x-served-by = %q, want %s", got, m.grpcLib.Addr())
	}
	last, _ := m.grpcLib.LastCall()
	if got := last.Metadata.Get("x-tenant"); len(got) != 1 || got[0] != "acme" {
		t.Errorf("upstream metadata x-tenant = %q", got)
	}

	t.Run("status and details unchanged", func(t *testing.T) {
		r := m.callBook(ctx, conn, "GetBook", "shelves/1/books/missing")
		st := status.Convert(r.err)
		if st.Code() != codes.NotFound || st.Message() != "book shelves/1/books/missing not found" {
			t.Fatalf("status %v", st)
		}
		if len(st.Details()) != 2 {
			t.Fatalf("details %v", st.Details())
		}
		if info, ok := st.Details()[0].(*errdetails.ErrorInfo); !ok || info.Reason != "BOOK_NOT_FOUND" {
			t.Errorf("detail 0: %v", st.Details()[0])
		}
		if got := r.trailer.Get(testgrpc.ServedByKey); len(got) != 1 {
			t.Errorf("trailer lost on error: %v", r.trailer)
		}
	})
	t.Run("caller deadline propagates", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		r := m.callBook(dctx, conn, "GetBook", testgrpc.SlowBook)
		if status.Code(r.err) != codes.DeadlineExceeded {
			t.Fatalf("err %v", r.err)
		}
		last, ok := m.grpcLib.LastCall()
		if !ok || last.Deadline <= 0 || last.Deadline > 300*time.Millisecond {
			t.Errorf("upstream saw %v left, want (0, 300ms]", last.Deadline)
		}
	})
}

func TestMatrixGRPCToMotan2(t *testing.T) {
	m := startMatrix(t)
	ctx := metadata.AppendToOutgoingContext(context.Background(), testgrpc.EchoKey, "e-2")
	for _, tc := range []struct {
		name string
		gw   *assembly.Gateway
		meth string
	}{
		{"grpc-pb bytes", m.toGRPC, "CheckBook"},
		{"converted to simple", m.toM2, "GetBook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := grpcConn(t, tc.gw.GRPCAddr())
			r := m.callBook(ctx, conn, tc.meth, "shelves/3/books/4")
			if r.err != nil {
				t.Fatal(r.err)
			}
			if str(r.out, "title") != "Title of shelves/3/books/4 (motan2)" {
				t.Errorf("reply %v", r.out)
			}
			if got := r.header.Get(testgrpc.EchoKey); len(got) != 1 || got[0] != "e-2" {
				t.Errorf("Motan2 reply meta as header: x-echo = %q", got)
			}
			// The route's time limit reaches the Motan2 service as M_tmo.
			if got := r.header.Get("x-m-tmo"); len(got) != 1 || got[0] == "" || len(got[0]) > 4 {
				t.Errorf("M_tmo seen upstream: %q", got)
			}
			r = m.callBook(ctx, conn, tc.meth, "shelves/3/books/missing")
			if st := status.Convert(r.err); st.Code() != codes.NotFound || !strings.Contains(st.Message(), "not found") {
				t.Errorf("business 404 → %v", st)
			}
			// The caller's deadline reaches the Motan2 service as M_tmo:
			// the slow book answers when it has passed, long before the
			// route's own time limit.
			dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			began := time.Now()
			r = m.callBook(dctx, conn, tc.meth, testgrpc.SlowBook)
			if status.Code(r.err) != codes.DeadlineExceeded || time.Since(began) > 900*time.Millisecond {
				t.Errorf("slow book: %v after %v", r.err, time.Since(began))
			}
		})
	}
}

func httpGet(t *testing.T, c *http.Client, method, url, body string) result {
	t.Helper()
	return do(t, c, method, url, body)
}

func TestMatrixHTTPToGRPC(t *testing.T) {
	m := startMatrix(t)
	base := "http://" + m.toGRPC.HTTPAddr().String()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()

	r := httpGet(t, c, "GET", base+"/v1/shelves/1/books/2", "")
	if r.status != 200 || r.body != `{"name":"shelves/1/books/2","title":"Title of shelves/1/books/2","format":"HARDCOVER"}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = httpGet(t, c, "GET", base+"/v1/shelves/1/books?page_size=2", "")
	if r.status != 200 || !strings.HasPrefix(r.body, `[{"name":"shelves/1/books/1"`) {
		t.Fatalf("response_body: %d %s", r.status, r.body)
	}
	r = httpGet(t, c, "POST", base+"/v1/shelves/7/books", `{"title":"Go Programming"}`)
	if r.status != 200 || !strings.Contains(r.body, `"name":"shelves/7/books/go-programming"`) {
		t.Fatalf("body field: %d %s", r.status, r.body)
	}
	r = httpGet(t, c, "GET", base+"/v1/shelves/1/books/missing", "")
	if r.status != 404 {
		t.Fatalf("missing: %d %s", r.status, r.body)
	}
	var st struct {
		Code    int              `json:"code"`
		Message string           `json:"message"`
		Details []map[string]any `json:"details"`
	}
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if st.Code != 5 || len(st.Details) != 2 || st.Details[0]["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" || st.Details[0]["reason"] != "BOOK_NOT_FOUND" {
		t.Errorf("google.rpc.Status body: %s", r.body)
	}

	// Metadata both ways, grpc-gateway style.
	r = do(t, c, "GET", base+"/v1/shelves/1/books/3", "", "Grpc-Metadata-X-Echo", "e-4")
	if r.status != 200 || r.header.Get("Grpc-Metadata-X-Echo") != "e-4" || r.header.Get("Grpc-Trailer-X-Served-By") != m.grpcLib.Addr() {
		t.Errorf("metadata: %d %v", r.status, r.header)
	}
	// A Grpc-Timeout header bounds the upstream call.
	began := time.Now()
	r = do(t, c, "GET", base+"/v1/"+testgrpc.SlowBook, "", "Grpc-Timeout", "200m")
	if r.status != 504 || time.Since(began) > 3*time.Second {
		t.Errorf("slow book: %d after %v: %s", r.status, time.Since(began), r.body)
	}
	if last, ok := m.grpcLib.LastCall(); !ok || last.Deadline <= 0 || last.Deadline > 200*time.Millisecond {
		t.Errorf("gRPC upstream saw %v left, want (0, 200ms]", last.Deadline)
	}
}

func TestMatrixHTTPToMotan2ByProto(t *testing.T) {
	m := startMatrix(t)
	base := "http://" + m.toM2.HTTPAddr().String()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	r := httpGet(t, c, "GET", base+"/v1/shelves/5/books/6", "")
	if r.status != 200 || !strings.Contains(r.body, `"title":"Title of shelves/5/books/6 (motan2)"`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = httpGet(t, c, "POST", base+"/shop.v1.Library/GetBook", `{"name":"a/b"}`)
	if r.status != 200 || !strings.Contains(r.body, `"title":"Title of a/b (motan2)"`) {
		t.Fatalf("generic POST: %d %s", r.status, r.body)
	}
	r = httpGet(t, c, "GET", base+"/v1/shelves/5/books/missing", "")
	if r.status != 404 || !strings.Contains(r.body, `"code":5`) {
		t.Fatalf("missing: %d %s", r.status, r.body)
	}
}

func TestMatrixMotan2ToGRPC(t *testing.T) {
	m := startMatrix(t)
	c := motan2.NewClient(m.toGRPC.Motan2Addr().String(), motan2.WithLogger(quiet), motan2.WithErrorThreshold(0))
	defer c.Close()
	ctx := context.Background()

	resp, err := c.Call(ctx, &motan2.Request{Service: motan2LibraryService, Method: "GetBook",
		Args: []motan2.Value{motan2.String("shelves/8/books/9")}, Meta: motan2.Meta{{Key: testgrpc.EchoKey, Value: "e-3"}}})
	if err != nil {
		t.Fatal(err)
	}
	if title, _ := resp.Value.Lookup("title"); title.Str() != "Title of shelves/8/books/9" {
		t.Errorf("simple reply %v", resp.Value)
	}
	if resp.Meta.Get(testgrpc.EchoKey) != "e-3" || resp.Meta.Get(testgrpc.ServedByKey) != m.grpcLib.Addr() {
		t.Errorf("reply meta %v", resp.Meta)
	}

	_, err = c.Call(ctx, &motan2.Request{Service: motan2LibraryService, Method: "GetBook",
		Args: []motan2.Value{motan2.String("shelves/8/books/missing")}})
	var ex *motan2.Exception
	if !errors.As(err, &ex) || ex.ErrCode != 404 || ex.ErrType != motan2.ErrTypeBiz || len(ex.Status) == 0 {
		t.Fatalf("exception %v", err)
	}
	if e := translate.FromMotan2Exception(ex); e.Code != translate.NotFound || len(e.Details) != 2 {
		t.Errorf("status from M_e: %v, %d details", e, len(e.Details))
	}

	// The caller's M_tmo bounds the gRPC call.
	_, err = c.Call(ctx, &motan2.Request{Service: motan2LibraryService, Method: "GetBook", Timeout: 2 * time.Second,
		Meta: motan2.Meta{{Key: motan2.MetaTimeout, Value: "300"}}, Args: []motan2.Value{motan2.String(testgrpc.SlowBook)}})
	if err == nil {
		t.Fatal("slow book answered")
	}
	last, ok := m.grpcLib.LastCall()
	if !ok || last.Deadline <= 0 || last.Deadline > 300*time.Millisecond {
		t.Errorf("gRPC upstream saw %v left, want (0, 300ms]", last.Deadline)
	}

	// A grpc-pb caller gets the reply message's bytes untouched.
	md, _ := m.schema.Method(testgrpc.Service + "/GetBook")
	in := dynamicpb.NewMessage(md.Input())
	in.Set(md.Input().Fields().ByName("name"), protoreflect.ValueOfString("x/y"))
	body, _ := proto.Marshal(in)
	req := motan2.NewRequest(motan2LibraryService, "GetBook", motan2.SerializationGrpcPB, body)
	rf, err := c.RoundTrip(ctx, req)
	if err != nil || rf.IsException() {
		t.Fatalf("grpc-pb call: %v %v", err, rf)
	}
	out := dynamicpb.NewMessage(md.Output())
	if err := proto.Unmarshal(rf.Body, out); err != nil || str(out, "title") != "Title of x/y" {
		t.Errorf("grpc-pb reply %v %v", out, err)
	}
}

func TestReflectionThroughGateway(t *testing.T) {
	m := startMatrix(t)
	for name, gw := range map[string]*assembly.Gateway{"gRPC upstream": m.toGRPC, "Motan2 upstream": m.toM2} {
		t.Run(name, func(t *testing.T) {
			snap, err := descriptors.LoadReflection(context.Background(), grpcConn(t, gw.GRPCAddr()), "gw")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := snap.Method("shop.v1.Library/GetBook"); !ok {
				t.Fatalf("reflection lacks shop.v1.Library/GetBook; services: %v", snap.Services())
			}
		})
	}
}

// A schema reloaded 50 times while HTTP, gRPC and Motan2 traffic runs:
// no request fails.
func TestSchemaReloadUnderLoad(t *testing.T) {
	m := startMatrix(t)
	gw := m.toGRPC
	base := "http://" + gw.HTTPAddr().String()
	conn := grpcConn(t, gw.GRPCAddr())
	// Generous time limits: under the race detector on two busy cores a
	// call can take long; what must not happen is a failed call.
	m2 := motan2.NewClient(gw.Motan2Addr().String(), motan2.WithLogger(quiet), motan2.WithErrorThreshold(0),
		motan2.WithRequestTimeout(10*time.Second))
	defer m2.Close()
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()

	tr := startTraffic(libraryWorkers(m, hc, base, conn, m2)...)
	before := gw.Schema("shop").Current().Version
	for i := 0; i < 50; i++ {
		for _, name := range []string{"shop", "remote"} {
			if err := gw.ReloadSchema(name); err != nil {
				t.Fatalf("reload %d of %s: %v", i, name, err)
			}
		}
		tr.waitCalls(t, 5) // let traffic interleave with every reload
	}
	calls := tr.stopAndCheck(t)
	if got := gw.Schema("shop").Current().Version; got != before+50 {
		t.Errorf("schema version %d after 50 reloads from %d", got, before)
	}
	t.Logf("%d calls across 100 schema reloads, none failed", calls)
}

// libraryWorkers are the calls load tests keep making: the book over
// HTTP (transcoded), gRPC and Motan2 (bridged).
func libraryWorkers(m *matrix, hc *http.Client, base string, conn *grpc.ClientConn, m2 *motan2.Client) []func() error {
	return []func() error{
		func() error {
			resp, err := hc.Get(base + "/v1/shelves/1/books/2")
			if err != nil {
				return fmt.Errorf("HTTP: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return nil
		},
		func() error {
			if r := m.callBook(context.Background(), conn, "GetBook", "a/b"); r.err != nil {
				return fmt.Errorf("gRPC GetBook: %w", r.err)
			}
			return nil
		},
		func() error {
			if _, err := m2.Call(context.Background(), &motan2.Request{Service: motan2LibraryService, Method: "GetBook",
				Args: []motan2.Value{motan2.String("a/b")}}); err != nil {
				return fmt.Errorf("Motan2: %w", err)
			}
			return nil
		},
	}
}

// traffic runs each worker in two goroutines until stopped, counting
// calls and failures.
type traffic struct {
	stop            atomic.Bool
	calls, failures atomic.Int64
	errOnce         sync.Once
	firstErr        error
	wg              sync.WaitGroup
	progress        chan struct{}
}

func startTraffic(workers ...func() error) *traffic {
	tr := &traffic{progress: make(chan struct{}, 64)}
	for _, w := range workers {
		for range 2 {
			tr.wg.Add(1)
			go func() {
				defer tr.wg.Done()
				for !tr.stop.Load() {
					if err := w(); err != nil {
						tr.failures.Add(1)
						tr.errOnce.Do(func() { tr.firstErr = err })
					}
					tr.calls.Add(1)
					select {
					case tr.progress <- struct{}{}:
					default:
					}
				}
			}()
		}
	}
	return tr
}

// waitCalls waits until n more calls have completed.
func (tr *traffic) waitCalls(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-tr.progress:
		case <-time.After(10 * time.Second):
			t.Fatal("no call completed for 10s")
		}
	}
}

// stopAndCheck stops the traffic and fails the test if any call failed;
// it returns the number of calls made.
func (tr *traffic) stopAndCheck(t *testing.T) int64 {
	t.Helper()
	tr.stop.Store(true)
	tr.wg.Wait()
	if n := tr.failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed; first: %v", n, tr.calls.Load(), tr.firstErr)
	}
	return tr.calls.Load()
}

// The embedded default serves the demo's schema-described service to gRPC
// and REST callers, converted to Simple Motan2 calls, and in reflection.
func TestDefaultDemoSchema(t *testing.T) {
	cfg := config.Default()
	cfg.HTTP.Listen, cfg.GRPC.Listen, cfg.Demo.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	gw := startConfig(t, cfg)
	base := "http://" + gw.HTTPAddr().String()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for _, tc := range []struct{ method, path, body, want string }{
		{"GET", "/v2/hello/world", "", `{"message":"hello, world"}`},
		{"POST", "/v2/add", `{"a": 40, "b": 2}`, `{"sum":"42"}`},
		{"GET", "/v2/add?a=40&b=2", "", `{"sum":"42"}`},
	} {
		if r := do(t, c, tc.method, base+tc.path, tc.body); r.status != 200 || r.body != tc.want {
			t.Errorf("%s %s: %d %s, want %s", tc.method, tc.path, r.status, r.body, tc.want)
		}
	}
	if r := do(t, c, "POST", base+"/v2/fail", `{"code": 404, "message": "no such thing"}`); r.status != 404 || r.body != `{"code":5,"message":"no such thing"}` {
		t.Errorf("fail: %d %s", r.status, r.body)
	}

	conn := grpcConn(t, gw.GRPCAddr())
	snap, err := descriptors.LoadReflection(context.Background(), conn, "default")
	if err != nil {
		t.Fatal(err)
	}
	md, ok := snap.Method("meshgate.demo.v1.Demo/Add")
	if !ok {
		t.Fatalf("reflection lacks meshgate.demo.v1.Demo/Add: %v", snap.Services())
	}
	in := dynamicpb.NewMessage(md.Input())
	in.Set(md.Input().Fields().ByName("a"), protoreflect.ValueOfInt64(40))
	in.Set(md.Input().Fields().ByName("b"), protoreflect.ValueOfInt64(2))
	out := dynamicpb.NewMessage(md.Output())
	if err := conn.Invoke(context.Background(), "/meshgate.demo.v1.Demo/Add", in, out); err != nil {
		t.Fatal(err)
	}
	if got := out.Get(md.Output().Fields().ByName("sum")).Int(); got != 42 {
		t.Errorf("gRPC Add = %d", got)
	}
}
