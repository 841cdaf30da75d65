// Package testgrpc runs a real grpc-go server for tests: shop.v1.Library
// (descriptors/testdata/protos/shop/v1) served without generated code, plus
// gRPC server reflection over the same descriptors, on 127.0.0.1:0, in
// plaintext HTTP/2 (h2c) or TLS with a generated self-signed certificate.
//
//	srv := testgrpc.Start(t)                      // stopped when the test ends
//	conn, _ := grpc.NewClient(srv.Addr(), ...)    // or srv.ClientTLS() with WithTLS
//	snap, _ := descriptors.LoadReflection(ctx, conn, "test")
//
// The schema is compiled from source with descriptors.CompileProtos; the
// import path is found under the module root, located by walking up from
// the working directory to the go.mod of github.com/meshgate/meshgate
// (WithModuleRoot overrides it). Requests are decoded into dynamicpb
// messages and replies built the same way.
//
// # Behaviour
//
// Every answer is deterministic so that tests can assert it:
//
//   - GetBook{name}: Book{name, title: "Title of "+name, format: HARDCOVER}.
//     A name ending in "/missing" fails with NOT_FOUND, message
//     "book NAME not found" and two details: google.rpc.ErrorInfo{reason:
//     "BOOK_NOT_FOUND", domain: "shop.example", metadata: {name: NAME}} and
//     google.rpc.LocalizedMessage{locale: "en-US", message: "Book NAME does
//     not exist"}. The name "shelves/x/books/slow" (SlowBook) waits until the
//     call's context ends and returns its error (DEADLINE_EXCEEDED or
//     CANCELLED), to test deadline propagation.
//   - CheckBook{name}: Book{name, availability: IN_STOCK}; "/missing" and
//     SlowBook as for GetBook.
//   - DeleteBook{name}: google.protobuf.Empty; "/missing" and SlowBook as for
//     GetBook.
//   - CreateBook{parent, book}: the request's book with name
//     parent+"/books/"+Slug(book.title) (Slug lower-cases the title and
//     turns every run of other characters than letters and digits into one
//     "-"; an empty title gives "untitled").
//   - UpdateBook{book, update_mask}: the request's book, with
//     labels["updated"] set to the mask's paths joined by "," when the
//     mask has paths.
//   - CreateShelf(Shelf): the shelf; an empty name becomes
//     "shelves/"+Slug(theme).
//   - ListBooks{parent, page_size, page_token}: page_size books (3 when it
//     is 0 or less; more than 1000 is INVALID_ARGUMENT) named
//     parent+"/books/"+N, each as GetBook would return it, N counting from
//     page_token+1 (page_token is a decimal number, "" meaning 0; anything
//     else is INVALID_ARGUMENT); next_page_token is the last N.
//   - Ping(Empty): Empty.
//   - Watch{parent, page_size}: streams the books ListBooks would return
//     for the same request, then ends.
//
// Every call, failed or not, echoes the request metadata "x-echo" (all its
// values) as the response header "x-echo" and sets the trailer
// "x-served-by" to the server's address. Each call is recorded (method,
// metadata, deadline, request) before it is answered: see Calls, LastCall.
//
// WithDelay delays every answer (a call whose context ends first returns
// the context's error); WithFailures (or SetFailure at run time) fails
// every call with a status code, message "injected failure".
package testgrpc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
)

// Names of the served schema.
const (
	// Service is the full name of the served service.
	Service = "shop.v1.Library"
	// SlowBook is the book name whose calls wait for their context to end.
	SlowBook = "shelves/x/books/slow"
	// MissingSuffix ends the book names that are NOT_FOUND.
	MissingSuffix = "/missing"
	// EchoKey is the request metadata echoed as a response header.
	EchoKey = "x-echo"
	// ServedByKey is the trailer carrying the server's address.
	ServedByKey = "x-served-by"
	// FailureMessage is the status message of WithFailures' errors.
	FailureMessage = "injected failure"
)

// Method returns the gRPC path of a Library method ("/shop.v1.Library/" +
// name).
func Method(name string) string { return "/" + Service + "/" + name }

const (
	module     = "github.com/meshgate/meshgate"
	protoDir   = "descriptors/testdata/protos"
	shopProto  = "shop/v1/shop.proto"
	defaultLen = 3
	maxLen     = 1000
)

// Option configures Start.
type Option func(*config)

type config struct {
	tls     bool
	delay   time.Duration
	failure codes.Code
	root    string
}

// WithTLS serves TLS with a self-signed certificate for 127.0.0.1, ::1
// and localhost, generated for the server; clients trust it through
// CertPool or ClientTLS.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithDelay delays every answer by d.
func WithDelay(d time.Duration) Option { return func(c *config) { c.delay = d } }

// WithFailures fails every call with code (codes.OK: none).
func WithFailures(code codes.Code) Option { return func(c *config) { c.failure = code } }

// WithModuleRoot names the module root directory, where
// descriptors/testdata/protos is, instead of finding it from the working
// directory.
func WithModuleRoot(dir string) Option { return func(c *config) { c.root = dir } }

// Call is what the server received in one call.
type Call struct {
	// Method is the gRPC path ("/shop.v1.Library/GetBook").
	Method string
	// Metadata is the request metadata as grpc-go delivered it (":authority",
	// "content-type", "user-agent" and the caller's keys).
	Metadata metadata.MD
	// Deadline is the time that was left until the call's deadline when it
	// arrived; HasDeadline is false when the call had none.
	Deadline    time.Duration
	HasDeadline bool
	// Request is the decoded request message.
	Request proto.Message
}

// Server is a running test server.
type Server struct {
	addr     string
	snap     *descriptors.Snapshot
	grpc     *grpc.Server
	certPool *x509.CertPool
	delay    time.Duration
	done     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	calls    []Call
	failure  codes.Code
	canceled int // calls whose caller gave up while they were delayed
	// called is closed (and replaced) each time a call is recorded or
	// cancelled.
	called chan struct{}
}

// Start compiles the schema (once per module root and process), starts a
// server on 127.0.0.1:0 and stops it gracefully when tb ends (GracefulStop,
// then Stop if calls are still running after five seconds).
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	snap, err := schema(cfg.root)
	if err != nil {
		tb.Fatalf("testgrpc: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testgrpc: listen: %v", err)
	}
	s := &Server{addr: lis.Addr().String(), snap: snap, delay: cfg.delay, failure: cfg.failure, done: make(chan struct{})}
	var sopts []grpc.ServerOption
	if cfg.tls {
		cert, pool, err := selfSigned()
		if err != nil {
			lis.Close()
			tb.Fatalf("testgrpc: certificate: %v", err)
		}
		s.certPool = pool
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	}
	s.grpc = grpc.NewServer(sopts...)
	sd, ok := snap.Service(Service)
	if !ok {
		lis.Close()
		tb.Fatalf("testgrpc: %s not in the compiled schema", Service)
	}
	s.grpc.RegisterService(s.serviceDesc(sd), struct{}{})
	ropts := reflection.ServerOptions{Services: s.grpc, DescriptorResolver: snap.Resolver()}
	reflectionv1.RegisterServerReflectionServer(s.grpc, reflection.NewServerV1(ropts))
	reflectionv1alpha.RegisterServerReflectionServer(s.grpc, reflection.NewServer(ropts))
	go func() {
		defer close(s.done)
		_ = s.grpc.Serve(lis)
	}()
	tb.Cleanup(s.GracefulStop)
	return s
}

// Addr returns the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Snapshot returns the descriptors the server serves.
func (s *Server) Snapshot() *descriptors.Snapshot { return s.snap }

// CertPool returns a pool holding the server's certificate (nil without
// WithTLS).
func (s *Server) CertPool() *x509.CertPool { return s.certPool }

// ClientTLS returns a client TLS configuration trusting the server's
// certificate (nil without WithTLS).
func (s *Server) ClientTLS() *tls.Config {
	if s.certPool == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.certPool, MinVersion: tls.VersionTLS12}
}

// SetFailure makes every later call fail with code (codes.OK: answer
// normally again).
func (s *Server) SetFailure(code codes.Code) {
	s.mu.Lock()
	s.failure = code
	s.mu.Unlock()
}

// Calls returns the calls received so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount returns the number of calls received so far.
func (s *Server) CallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// WaitCalls waits until at least n calls have been received, or ctx ends
// (its error is returned then).
func (s *Server) WaitCalls(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return len(s.calls) >= n })
}

// WaitCanceled waits until at least n delayed calls (WithDelay) have been
// cancelled by their callers, or ctx ends (its error is returned then).
func (s *Server) WaitCanceled(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return s.canceled >= n })
}

// CanceledCount returns how many delayed calls their callers cancelled.
func (s *Server) CanceledCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.canceled
}

// cancelled counts a delayed call its caller cancelled.
func (s *Server) cancelled(ctx context.Context) error {
	s.mu.Lock()
	s.canceled++
	s.notifyLocked()
	s.mu.Unlock()
	return status.FromContextError(ctx.Err()).Err()
}

// notifyLocked wakes the waiters; s.mu is held.
func (s *Server) notifyLocked() {
	if s.called != nil {
		close(s.called)
		s.called = nil
	}
}

// wait waits until cond (called with s.mu held) is true or ctx ends.
func (s *Server) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		if s.called == nil {
			s.called = make(chan struct{})
		}
		ch := s.called
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// LastCall returns the last call received; false when there was none.
func (s *Server) LastCall() (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		return Call{}, false
	}
	return s.calls[len(s.calls)-1], true
}

// Stop stops the server at once, closing its connections (calls in flight
// fail), as a crashed endpoint would, and waits for it to end. It may be
// called more than once, and with GracefulStop.
func (s *Server) Stop() {
	s.stopOnce.Do(s.grpc.Stop)
	<-s.done
}

// GracefulStop stops accepting calls, waits up to five seconds for those
// in flight, then stops the server. It may be called more than once.
func (s *Server) GracefulStop() {
	s.stopOnce.Do(func() {
		stopped := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(stopped)
		}()
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-stopped:
		case <-t.C:
			s.grpc.Stop()
			<-stopped
		}
	})
	<-s.done
}

// serviceDesc describes sd to grpc-go with handlers decoding requests into
// dynamicpb messages.
func (s *Server) serviceDesc(sd protoreflect.ServiceDescriptor) *grpc.ServiceDesc {
	desc := &grpc.ServiceDesc{ServiceName: string(sd.FullName()), HandlerType: (*any)(nil), Metadata: sd.ParentFile().Path()}
	ms := sd.Methods()
	for i := 0; i < ms.Len(); i++ {
		md := ms.Get(i)
		path := "/" + string(sd.FullName()) + "/" + string(md.Name())
		if md.IsStreamingServer() || md.IsStreamingClient() {
			desc.Streams = append(desc.Streams, grpc.StreamDesc{
				StreamName:    string(md.Name()),
				ServerStreams: md.IsStreamingServer(),
				ClientStreams: md.IsStreamingClient(),
				Handler: func(_ any, ss grpc.ServerStream) error {
					return s.stream(path, md, ss)
				},
			})
			continue
		}
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: string(md.Name()),
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := dynamicpb.NewMessage(md.Input())
				if err := dec(in); err != nil {
					return nil, err
				}
				handle := func(ctx context.Context, req any) (any, error) {
					return s.unary(ctx, path, md, req.(*dynamicpb.Message))
				}
				if interceptor == nil {
					return handle(ctx, in)
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: path}, handle)
			},
		})
	}
	return desc
}

// begin records the call, sets the echo header and the served-by trailer,
// and applies the delay and the injected failure.
func (s *Server) begin(ctx context.Context, path string, req proto.Message, setHeader, setTrailer func(metadata.MD) error) error {
	md, _ := metadata.FromIncomingContext(ctx)
	c := Call{Method: path, Metadata: md, Request: req}
	if dl, ok := ctx.Deadline(); ok {
		c.Deadline, c.HasDeadline = time.Until(dl), true
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	failure := s.failure
	s.notifyLocked()
	s.mu.Unlock()

	if v := md.Get(EchoKey); len(v) > 0 {
		if err := setHeader(metadata.MD{EchoKey: v}); err != nil {
			if s.delay > 0 && ctx.Err() != nil {
				return s.cancelled(ctx) // cancelled before its delay began
			}
			return err
		}
	}
	if err := setTrailer(metadata.Pairs(ServedByKey, s.addr)); err != nil {
		if s.delay > 0 && ctx.Err() != nil {
			return s.cancelled(ctx)
		}
		return err
	}
	if s.delay > 0 {
		t := time.NewTimer(s.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return s.cancelled(ctx)
		}
	}
	if failure != codes.OK {
		return status.Error(failure, FailureMessage)
	}
	return nil
}

func (s *Server) unary(ctx context.Context, path string, md protoreflect.MethodDescriptor, in *dynamicpb.Message) (any, error) {
	err := s.begin(ctx, path, in,
		func(h metadata.MD) error { return grpc.SetHeader(ctx, h) },
		func(t metadata.MD) error { return grpc.SetTrailer(ctx, t) })
	if err != nil {
		return nil, err
	}
	out := dynamicpb.NewMessage(md.Output())
	switch md.Name() {
	case "GetBook", "CheckBook", "DeleteBook":
		name := getString(in, "name")
		if err := bookLookup(ctx, name); err != nil {
			return nil, err
		}
		switch md.Name() {
		case "GetBook":
			fillBook(out, name)
		case "CheckBook":
			setString(out, "name", name)
			setEnum(out, "availability", "IN_STOCK")
		}
	case "CreateBook":
		book := in.Get(field(in, "book")).Message()
		proto.Merge(out, book.Interface())
		setString(out, "name", getString(in, "parent")+"/books/"+Slug(getString(book, "title")))
	case "UpdateBook":
		proto.Merge(out, in.Get(field(in, "book")).Message().Interface())
		if in.Has(field(in, "update_mask")) {
			mask := in.Get(field(in, "update_mask")).Message()
			list := mask.Get(field(mask, "paths")).List()
			paths := make([]string, list.Len())
			for i := range paths {
				paths[i] = list.Get(i).String()
			}
			if len(paths) > 0 {
				labels := out.Mutable(field(out, "labels")).Map()
				labels.Set(protoreflect.ValueOfString("updated").MapKey(), protoreflect.ValueOfString(strings.Join(paths, ",")))
			}
		}
	case "CreateShelf":
		proto.Merge(out, in)
		if getString(out, "name") == "" {
			setString(out, "name", "shelves/"+Slug(getString(in, "theme")))
		}
	case "ListBooks":
		books, next, err := listBooks(in, field(out, "books").Message())
		if err != nil {
			return nil, err
		}
		list := out.Mutable(field(out, "books")).List()
		for _, b := range books {
			list.Append(protoreflect.ValueOfMessage(b))
		}
		setString(out, "next_page_token", next)
	case "Ping":
	default:
		return nil, status.Errorf(codes.Unimplemented, "testgrpc does not implement %s", md.FullName())
	}
	return out, nil
}

func (s *Server) stream(path string, md protoreflect.MethodDescriptor, ss grpc.ServerStream) error {
	in := dynamicpb.NewMessage(md.Input())
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	if err := s.begin(ss.Context(), path, in, ss.SetHeader, func(t metadata.MD) error { ss.SetTrailer(t); return nil }); err != nil {
		return err
	}
	if md.Name() != "Watch" {
		return status.Errorf(codes.Unimplemented, "testgrpc does not implement %s", md.FullName())
	}
	books, _, err := listBooks(in, md.Output())
	if err != nil {
		return err
	}
	for _, b := range books {
		if err := ss.SendMsg(b.Interface()); err != nil {
			return err
		}
	}
	return nil
}

// bookLookup applies the special names of GetBook, CheckBook and
// DeleteBook.
func bookLookup(ctx context.Context, name string) error {
	if name == SlowBook {
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
	if strings.HasSuffix(name, MissingSuffix) {
		return NotFound(name)
	}
	return nil
}

// NotFound returns the status GetBook answers for a missing book.
func NotFound(name string) error {
	st, err := status.New(codes.NotFound, "book "+name+" not found").WithDetails(
		&errdetails.ErrorInfo{Reason: "BOOK_NOT_FOUND", Domain: "shop.example", Metadata: map[string]string{"name": name}},
		&errdetails.LocalizedMessage{Locale: "en-US", Message: "Book " + name + " does not exist"},
	)
	if err != nil {
		return status.Errorf(codes.Internal, "testgrpc: building details: %v", err)
	}
	return st.Err()
}

// listBooks answers ListBooks and Watch.
func listBooks(in *dynamicpb.Message, bookDesc protoreflect.MessageDescriptor) ([]protoreflect.Message, string, error) {
	parent := getString(in, "parent")
	n := int(in.Get(field(in, "page_size")).Int())
	if n <= 0 {
		n = defaultLen
	}
	if n > maxLen {
		return nil, "", status.Errorf(codes.InvalidArgument, "page_size %d is over %d", n, maxLen)
	}
	offset := 0
	if tok := getString(in, "page_token"); tok != "" {
		var err error
		if offset, err = strconv.Atoi(tok); err != nil || offset < 0 {
			return nil, "", status.Errorf(codes.InvalidArgument, "page_token %q is not a page token", tok)
		}
	}
	books := make([]protoreflect.Message, n)
	for i := range books {
		b := dynamicpb.NewMessage(bookDesc)
		fillBook(b, parent+"/books/"+strconv.Itoa(offset+i+1))
		books[i] = b
	}
	return books, strconv.Itoa(offset + n), nil
}

// Slug lower-cases s and turns every run of characters other than ASCII
// letters and digits into one "-", trimmed at both ends; "" gives
// "untitled".
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "untitled"
	}
	return b.String()
}

// fillBook sets what GetBook answers for name.
func fillBook(m protoreflect.Message, name string) {
	setString(m, "name", name)
	setString(m, "title", "Title of "+name)
	setEnum(m, "format", "HARDCOVER")
}

func field(m protoreflect.Message, name string) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic(fmt.Sprintf("testgrpc: %s has no field %s", m.Descriptor().FullName(), name))
	}
	return fd
}

func getString(m protoreflect.Message, name string) string { return m.Get(field(m, name)).String() }

func setString(m protoreflect.Message, name, v string) {
	m.Set(field(m, name), protoreflect.ValueOfString(v))
}

func setEnum(m protoreflect.Message, name, value string) {
	fd := field(m, name)
	m.Set(fd, protoreflect.ValueOfEnum(fd.Enum().Values().ByName(protoreflect.Name(value)).Number()))
}

var (
	schemaMu sync.Mutex
	schemas  = map[string]*descriptors.Snapshot{}
)

// Schema returns the compiled shop schema, as Start serves it, for tests
// that need the descriptors without a server. root is the module root (""
// finds it from the working directory).
func Schema(tb testing.TB, root string) *descriptors.Snapshot {
	tb.Helper()
	s, err := schema(root)
	if err != nil {
		tb.Fatalf("testgrpc: %v", err)
	}
	return s
}

func schema(root string) (*descriptors.Snapshot, error) {
	if root == "" {
		var err error
		if root, err = ModuleRoot(); err != nil {
			return nil, err
		}
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemas[root]; ok {
		return s, nil
	}
	s, err := descriptors.CompileProtos(context.Background(), []string{filepath.Join(root, protoDir)}, []string{shopProto})
	if err != nil {
		return nil, fmt.Errorf("compiling %s under %s: %w", shopProto, filepath.Join(root, protoDir), err)
	}
	schemas[root] = s
	return s, nil
}

// ModuleRoot returns the directory of the go.mod of
// github.com/meshgate/meshgate, walking up from the working directory
// (go.mod files of other modules on the way, such as interop's, are passed
// over).
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declaresModule(string(b)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of " + module + " above " + wd + " (use WithModuleRoot)")
		}
		dir = parent
	}
}

func declaresModule(gomod string) bool {
	for _, line := range strings.Split(gomod, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == module {
			return true
		}
	}
	return false
}

// selfSigned returns a certificate for 127.0.0.1, ::1 and localhost, valid
// for a day, and a pool trusting it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "testgrpc"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
