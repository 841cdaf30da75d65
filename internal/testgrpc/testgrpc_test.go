package testgrpc_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/internal/testgrpc"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const testTimeout = 10 * time.Second

func dial(t *testing.T, srv *testgrpc.Server) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if cfg := srv.ClientTLS(); cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient("passthrough:///"+srv.Addr(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// client calls the Library with dynamic messages.
type client struct {
	t    *testing.T
	conn *grpc.ClientConn
	snap *descriptors.Snapshot
}

func newClient(t *testing.T, srv *testgrpc.Server) *client {
	return &client{t: t, conn: dial(t, srv), snap: srv.Snapshot()}
}

func (c *client) method(name string) protoreflect.MethodDescriptor {
	c.t.Helper()
	md, ok := c.snap.Method(testgrpc.Method(name))
	if !ok {
		c.t.Fatalf("no method %s", name)
	}
	return md
}

// msg builds a message of desc from protojson.
func (c *client) msg(desc protoreflect.MessageDescriptor, js string) *dynamicpb.Message {
	c.t.Helper()
	m := dynamicpb.NewMessage(desc)
	if err := (protojson.UnmarshalOptions{Resolver: c.snap.Types()}).Unmarshal([]byte(js), m); err != nil {
		c.t.Fatalf("request %s: %v", js, err)
	}
	return m
}

type result struct {
	out             *dynamicpb.Message
	header, trailer metadata.MD
	err             error
}

func (c *client) call(ctx context.Context, name, req string) result {
	c.t.Helper()
	md := c.method(name)
	in := c.msg(md.Input(), req)
	r := result{out: dynamicpb.NewMessage(md.Output())}
	r.err = c.conn.Invoke(ctx, testgrpc.Method(name), in, r.out, grpc.Header(&r.header), grpc.Trailer(&r.trailer))
	return r
}

func (c *client) json(m proto.Message) string {
	b, err := protojson.MarshalOptions{Resolver: c.snap.Types()}.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	// protojson's output is deliberately unstable in spacing: normalise.
	return strings.Join(strings.Fields(string(b)), "")
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMethods(t *testing.T) {
	srv := testgrpc.Start(t)
	c := newClient(t, srv)
	ctx := ctxTimeout(t, testTimeout)
	for _, tc := range []struct{ method, req, want string }{
		{"GetBook", `{"name":"shelves/1/books/2"}`, `{"name":"shelves/1/books/2","title":"Titleofshelves/1/books/2","format":"HARDCOVER"}`},
		{"CheckBook", `{"name":"shelves/1/books/2"}`, `{"name":"shelves/1/books/2","availability":"IN_STOCK"}`},
		{"DeleteBook", `{"name":"shelves/1/books/2"}`, `{}`},
		{"CreateBook", `{"parent":"shelves/1","book":{"title":"Go, 2nd Edition!","format":"EBOOK"}}`, `{"name":"shelves/1/books/go-2nd-edition","title":"Go,2ndEdition!","format":"EBOOK"}`},
		{"CreateBook", `{"parent":"shelves/1","book":{}}`, `{"name":"shelves/1/books/untitled"}`},
		{"UpdateBook", `{"book":{"name":"shelves/1/books/2","title":"T"},"updateMask":"title,format"}`, `{"name":"shelves/1/books/2","title":"T","labels":{"updated":"title,format"}}`},
		{"UpdateBook", `{"book":{"name":"b"}}`, `{"name":"b"}`},
		{"CreateShelf", `{"theme":"Science Fiction"}`, `{"name":"shelves/science-fiction","theme":"ScienceFiction"}`},
		{"CreateShelf", `{"name":"shelves/7","theme":"x"}`, `{"name":"shelves/7","theme":"x"}`},
		{"ListBooks", `{"parent":"shelves/1","pageSize":2,"pageToken":"4"}`, `{"books":[{"name":"shelves/1/books/5","title":"Titleofshelves/1/books/5","format":"HARDCOVER"},{"name":"shelves/1/books/6","title":"Titleofshelves/1/books/6","format":"HARDCOVER"}],"nextPageToken":"6"}`},
		{"ListBooks", `{"parent":"s"}`, `{"books":[{"name":"s/books/1","title":"Titleofs/books/1","format":"HARDCOVER"},{"name":"s/books/2","title":"Titleofs/books/2","format":"HARDCOVER"},{"name":"s/books/3","title":"Titleofs/books/3","format":"HARDCOVER"}],"nextPageToken":"3"}`},
		{"Ping", `{}`, `{}`},
	} {
		r := c.call(ctx, tc.method, tc.req)
		if r.err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.req, r.err)
		}
		if got := c.json(r.out); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.method, tc.req, got, tc.want)
		}
		if got := r.trailer.Get(testgrpc.ServedByKey); len(got) != 1 || got[0] != srv.Addr() {
			t.Errorf("%s: trailer %v, want %s=%s", tc.method, r.trailer, testgrpc.ServedByKey, srv.Addr())
		}
	}
	if n := srv.CallCount(); n != 12 {
		t.Errorf("CallCount = %d, want 12", n)
	}
	for _, tc := range []struct{ method, req string }{
		{"ListBooks", `{"pageSize":1001}`},
		{"ListBooks", `{"pageToken":"x"}`},
	} {
		if r := c.call(ctx, tc.method, tc.req); status.Code(r.err) != codes.InvalidArgument {
			t.Errorf("%s %s: %v, want InvalidArgument", tc.method, tc.req, r.err)
		}
	}
}

func TestWatchStreams(t *testing.T) {
	srv := testgrpc.Start(t)
	c := newClient(t, srv)
	md := c.method("Watch")
	ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, testTimeout), testgrpc.EchoKey, "w")
	st, err := c.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, testgrpc.Method("Watch"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(c.msg(md.Input(), `{"parent":"p","pageSize":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		b := dynamicpb.NewMessage(md.Output())
		err := st.RecvMsg(b)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, b.Get(md.Output().Fields().ByName("name")).String())
	}
	if strings.Join(names, " ") != "p/books/1 p/books/2" {
		t.Errorf("streamed %v", names)
	}
	h, err := st.Header()
	if err != nil || strings.Join(h.Get(testgrpc.EchoKey), ",") != "w" {
		t.Errorf("header %v, %v", h, err)
	}
	if got := st.Trailer().Get(testgrpc.ServedByKey); len(got) != 1 || got[0] != srv.Addr() {
		t.Errorf("trailer %v", st.Trailer())
	}
}

func TestNotFoundCarriesDetails(t *testing.T) {
	srv := testgrpc.Start(t)
	c := newClient(t, srv)
	ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, testTimeout), testgrpc.EchoKey, "a", testgrpc.EchoKey, "b")
	r := c.call(ctx, "GetBook", `{"name":"shelves/1/books/missing"}`)
	st := status.Convert(r.err)
	if st.Code() != codes.NotFound || st.Message() != "book shelves/1/books/missing not found" {
		t.Fatalf("status %v", st)
	}
	var info *errdetails.ErrorInfo
	var loc *errdetails.LocalizedMessage
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.LocalizedMessage:
			loc = d
		}
	}
	if info == nil || info.Reason != "BOOK_NOT_FOUND" || info.Domain != "shop.example" || info.Metadata["name"] != "shelves/1/books/missing" {
		t.Errorf("ErrorInfo %v", info)
	}
	if loc == nil || loc.Locale != "en-US" || loc.Message != "Book shelves/1/books/missing does not exist" {
		t.Errorf("LocalizedMessage %v", loc)
	}
	// Failed calls echo and serve the trailer too.
	if got := strings.Join(r.header.Get(testgrpc.EchoKey), ","); got != "a,b" {
		t.Errorf("header %v", r.header)
	}
	if got := r.trailer.Get(testgrpc.ServedByKey); len(got) != 1 || got[0] != srv.Addr() {
		t.Errorf("trailer %v", r.trailer)
	}
	for _, m := range []string{"CheckBook", "DeleteBook"} {
		if r := c.call(ctx, m, `{"name":"x/missing"}`); status.Code(r.err) != codes.NotFound {
			t.Errorf("%s: %v", m, r.err)
		}
	}
}

func TestSlowBookSeesTheDeadline(t *testing.T) {
	srv := testgrpc.Start(t)
	c := newClient(t, srv)
	const timeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-trace", "t1"), timeout)
	defer cancel()
	start := time.Now()
	r := c.call(ctx, "GetBook", `{"name":"`+testgrpc.SlowBook+`"}`)
	if status.Code(r.err) != codes.DeadlineExceeded {
		t.Fatalf("slow book: %v", r.err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a %v deadline took %v", timeout, took)
	}
	call, ok := srv.LastCall()
	if !ok || call.Method != "/shop.v1.Library/GetBook" {
		t.Fatalf("LastCall %+v, %v", call, ok)
	}
	if !call.HasDeadline || call.Deadline <= 0 || call.Deadline > timeout {
		t.Errorf("server saw deadline %v (set %v), want in (0, %v]", call.Deadline, call.HasDeadline, timeout)
	}
	if got := call.Metadata.Get("x-trace"); len(got) != 1 || got[0] != "t1" {
		t.Errorf("metadata %v", call.Metadata)
	}
	if name := call.Request.ProtoReflect().Get(call.Request.ProtoReflect().Descriptor().Fields().ByName("name")).String(); name != testgrpc.SlowBook {
		t.Errorf("recorded request name %q", name)
	}

	// Without a deadline the call records none.
	if r := c.call(ctxTimeout(t, testTimeout), "Ping", `{}`); r.err != nil {
		t.Fatal(r.err)
	}
	if call, _ := srv.LastCall(); call.Method != testgrpc.Method("Ping") || !call.HasDeadline {
		// ctxTimeout sets a deadline: it must be seen.
		t.Errorf("LastCall %+v", call)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	if r := c.call(ctx2, "Ping", `{}`); r.err != nil {
		t.Fatal(r.err)
	}
	if call, _ := srv.LastCall(); call.HasDeadline {
		t.Errorf("call without deadline recorded %v", call.Deadline)
	}
}

func TestSlowBookCancelled(t *testing.T) {
	srv := testgrpc.Start(t)
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- c.call(ctx, "GetBook", `{"name":"`+testgrpc.SlowBook+`"}`) }()
	// Wait until the server has the call, then cancel it.
	for srv.CallCount() == 0 {
		select {
		case r := <-done:
			t.Fatalf("returned before cancel: %v", r.err)
		case <-time.After(time.Millisecond): // polling an external condition, not synchronising
		}
	}
	cancel()
	if r := <-done; status.Code(r.err) != codes.Canceled {
		t.Fatalf("cancelled slow book: %v", r.err)
	}
}

func TestOptions(t *testing.T) {
	t.Run("failures", func(t *testing.T) {
		srv := testgrpc.Start(t, testgrpc.WithFailures(codes.Unavailable))
		c := newClient(t, srv)
		ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, testTimeout), testgrpc.EchoKey, "e")
		r := c.call(ctx, "Ping", `{}`)
		if st := status.Convert(r.err); st.Code() != codes.Unavailable || st.Message() != testgrpc.FailureMessage {
			t.Fatalf("WithFailures: %v", r.err)
		}
		if r.header.Get(testgrpc.EchoKey)[0] != "e" || r.trailer.Get(testgrpc.ServedByKey)[0] != srv.Addr() {
			t.Errorf("header %v trailer %v", r.header, r.trailer)
		}
		srv.SetFailure(codes.OK)
		if r := c.call(ctx, "Ping", `{}`); r.err != nil {
			t.Fatalf("after SetFailure(OK): %v", r.err)
		}
		srv.SetFailure(codes.ResourceExhausted)
		if r := c.call(ctx, "Ping", `{}`); status.Code(r.err) != codes.ResourceExhausted {
			t.Fatalf("SetFailure: %v", r.err)
		}
	})
	t.Run("delay", func(t *testing.T) {
		const delay = 50 * time.Millisecond
		srv := testgrpc.Start(t, testgrpc.WithDelay(delay))
		c := newClient(t, srv)
		start := time.Now()
		if r := c.call(ctxTimeout(t, testTimeout), "Ping", `{}`); r.err != nil {
			t.Fatal(r.err)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("answered after %v, delay %v", took, delay)
		}
		if r := c.call(ctxTimeout(t, 10*time.Millisecond), "Ping", `{}`); status.Code(r.err) != codes.DeadlineExceeded {
			t.Errorf("deadline under the delay: %v", r.err)
		}
	})
	t.Run("module root", func(t *testing.T) {
		root, err := testgrpc.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "descriptors", "testdata", "protos", "shop", "v1", "shop.proto")); err != nil {
			t.Fatalf("ModuleRoot %s: %v", root, err)
		}
		srv := testgrpc.Start(t, testgrpc.WithModuleRoot(root))
		if _, ok := srv.Snapshot().Service(testgrpc.Service); !ok {
			t.Fatal("no Library in the snapshot")
		}
		if testgrpc.Schema(t, root) != srv.Snapshot() {
			t.Error("the schema is compiled once per root")
		}
	})
}

func TestTLS(t *testing.T) {
	srv := testgrpc.Start(t, testgrpc.WithTLS())
	if srv.CertPool() == nil {
		t.Fatal("no cert pool")
	}
	c := newClient(t, srv)
	if r := c.call(ctxTimeout(t, testTimeout), "GetBook", `{"name":"b"}`); r.err != nil {
		t.Fatalf("over TLS: %v", r.err)
	}
	// A plaintext client cannot talk to it.
	plain, err := grpc.NewClient("passthrough:///"+srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Invoke(ctxTimeout(t, testTimeout), testgrpc.Method("Ping"), c.msg(c.method("Ping").Input(), `{}`), c.msg(c.method("Ping").Output(), `{}`)); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext to TLS: %v", err)
	}
	if testgrpc.Start(t).ClientTLS() != nil {
		t.Error("ClientTLS without WithTLS")
	}
}

func TestReflection(t *testing.T) {
	srv := testgrpc.Start(t)
	conn := dial(t, srv)
	snap, err := descriptors.LoadReflection(ctxTimeout(t, testTimeout), conn, "test")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sd := range snap.Services() {
		names = append(names, string(sd.FullName()))
	}
	if strings.Join(names, ",") != testgrpc.Service {
		t.Fatalf("services %v", names)
	}
	if _, ok := snap.Method(testgrpc.Method("ListBooks")); !ok {
		t.Error("ListBooks not found by reflection")
	}
	if _, ok := snap.Message("shop.v1.Book"); !ok {
		t.Error("shop.v1.Book not found by reflection")
	}
}

func TestStop(t *testing.T) {
	srv := testgrpc.Start(t)
	c := newClient(t, srv)
	if r := c.call(ctxTimeout(t, testTimeout), "Ping", `{}`); r.err != nil {
		t.Fatal(r.err)
	}
	done := make(chan result, 1)
	go func() {
		done <- c.call(ctxTimeout(t, testTimeout), "GetBook", `{"name":"`+testgrpc.SlowBook+`"}`)
	}()
	if err := srv.WaitCalls(ctxTimeout(t, testTimeout), 2); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Stop()
	srv.GracefulStop()
	if r := <-done; status.Code(r.err) != codes.Unavailable {
		t.Errorf("call in flight at Stop: %v", r.err)
	}
	if r := c.call(ctxTimeout(t, testTimeout), "Ping", `{}`); status.Code(r.err) != codes.Unavailable {
		t.Errorf("call after Stop: %v", r.err)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"": "untitled", "!!": "untitled", "A b": "a-b", " Go, 2nd!": "go-2nd", "x--y": "x-y"} {
		if got := testgrpc.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
	if status.Code(testgrpc.NotFound("a")) != codes.NotFound {
		t.Error("NotFound code")
	}
}
