package descriptors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// reflectionServer is a real grpc-go server on 127.0.0.1 serving the
// services of a snapshot (every method answers Unimplemented) and the
// reflection service over that snapshot, so no generated code is needed.
type reflectionServer struct {
	addr string
	srv  *grpc.Server
	done chan struct{}
}

type reflectionVersions struct {
	v1, v1alpha bool
	// drop, if set, names files the v1 service never sends, as a server
	// built without some descriptors would.
	drop func(path string) bool
}

type droppingReflection struct {
	reflectionv1.ServerReflectionServer
	drop func(path string) bool
}

func (d droppingReflection) ServerReflectionInfo(stream reflectionv1.ServerReflection_ServerReflectionInfoServer) error {
	return d.ServerReflectionServer.ServerReflectionInfo(droppingStream{stream, d.drop})
}

type droppingStream struct {
	reflectionv1.ServerReflection_ServerReflectionInfoServer
	drop func(path string) bool
}

func (d droppingStream) Send(resp *reflectionv1.ServerReflectionResponse) error {
	if fdr := resp.GetFileDescriptorResponse(); fdr != nil {
		var keep [][]byte
		for _, b := range fdr.FileDescriptorProto {
			fdp := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fdp); err != nil {
				return err
			}
			if !d.drop(fdp.GetName()) {
				keep = append(keep, b)
			}
		}
		fdr.FileDescriptorProto = keep
	}
	return d.ServerReflection_ServerReflectionInfoServer.Send(resp)
}

// startReflectionServer listens on addr ("127.0.0.1:0" for a fresh port)
// and serves snap; extra names more services to list without descriptors
// (grpc.health.v1.Health, as a real server registers it). The server is
// stopped when the test ends, or earlier by stop.
func startReflectionServer(t *testing.T, addr string, snap *Snapshot, versions reflectionVersions, extra ...string) *reflectionServer {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := grpc.NewServer()
	for _, sd := range snap.Services() {
		srv.RegisterService(unimplementedService(sd), struct{}{})
	}
	for _, name := range extra {
		srv.RegisterService(&grpc.ServiceDesc{ServiceName: name, HandlerType: (*any)(nil)}, struct{}{})
	}
	opts := reflection.ServerOptions{Services: srv, DescriptorResolver: snap.Resolver()}
	if versions.v1 {
		var v1 reflectionv1.ServerReflectionServer = reflection.NewServerV1(opts)
		if versions.drop != nil {
			v1 = droppingReflection{v1, versions.drop}
		}
		reflectionv1.RegisterServerReflectionServer(srv, v1)
	}
	if versions.v1alpha {
		reflectionv1alpha.RegisterServerReflectionServer(srv, reflection.NewServer(opts))
	}
	s := &reflectionServer{addr: lis.Addr().String(), srv: srv, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop stops the server and waits for Serve to return. It may be called
// more than once.
func (s *reflectionServer) stop() {
	s.srv.Stop()
	<-s.done
}

// unimplementedService describes sd to grpc-go with handlers that all
// answer Unimplemented.
func unimplementedService(sd protoreflect.ServiceDescriptor) *grpc.ServiceDesc {
	desc := &grpc.ServiceDesc{ServiceName: string(sd.FullName()), HandlerType: (*any)(nil)}
	ms := sd.Methods()
	for i := 0; i < ms.Len(); i++ {
		md := ms.Get(i)
		desc.Streams = append(desc.Streams, grpc.StreamDesc{
			StreamName: string(md.Name()),
			Handler: func(any, grpc.ServerStream) error {
				return status.Errorf(codes.Unimplemented, "%s is a test stub", md.FullName())
			},
			ServerStreams: md.IsStreamingServer(),
			ClientStreams: md.IsStreamingClient(),
		})
	}
	return desc
}

// dial opens a client conn to addr, closed when the test ends. Its
// reconnect backoff is short so that a restarted server is seen quickly.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.2, MaxDelay: 100 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// shopWithAdmin is the shop schema plus shop/v1/admin.proto declaring a
// second service, shop.v1.Admin.
func shopWithAdmin(t *testing.T) *Snapshot {
	t.Helper()
	shop := compileShop(t)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("shop/v1/admin.proto"),
		Package:    proto.String("shop.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/empty.proto", "shop/v1/types.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Admin"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:       proto.String("Purge"),
				InputType:  proto.String(".google.protobuf.Empty"),
				OutputType: proto.String(".shop.v1.Book"),
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, shop.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot("test", append(shop.Files(), fd))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serviceNames(s *Snapshot) []string {
	var out []string
	for _, sd := range s.Services() {
		out = append(out, string(sd.FullName()))
	}
	return out
}

// ruleStrings renders HTTP rules comparably across snapshots.
func ruleStrings(t *testing.T, s *Snapshot) []string {
	t.Helper()
	rules, err := HTTPRules(s)
	if err != nil {
		t.Fatalf("HTTPRules: %v", err)
	}
	var out []string
	for _, r := range rules {
		out = append(out, fmt.Sprintf("%s %s %s body=%q response_body=%q additional=%v",
			r.Method.FullName(), r.Verb, r.Path, r.Body, r.ResponseBody, r.Additional))
	}
	return out
}

func TestLoadReflection(t *testing.T) {
	want := compileShop(t)
	for _, tc := range []struct {
		name     string
		versions reflectionVersions
	}{
		{"v1", reflectionVersions{v1: true}},
		{"v1alpha", reflectionVersions{v1alpha: true}},
		{"both", reflectionVersions{v1: true, v1alpha: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startReflectionServer(t, "127.0.0.1:0", want, tc.versions, healthService)
			conn := dial(t, srv.addr)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()

			s, err := LoadReflection(ctx, conn, "users")
			if err != nil {
				t.Fatalf("LoadReflection: %v", err)
			}
			if s.Source != "reflection:users" {
				t.Errorf("Source = %q", s.Source)
			}
			// Neither reflection nor health: only the application service.
			if got := serviceNames(s); strings.Join(got, ",") != "shop.v1.Library" {
				t.Errorf("services = %v, want [shop.v1.Library]", got)
			}
			lib, ok := s.Service("shop.v1.Library")
			if !ok {
				t.Fatal("shop.v1.Library not found")
			}
			wantLib, _ := want.Service("shop.v1.Library")
			if lib.Methods().Len() != wantLib.Methods().Len() {
				t.Fatalf("%d methods, want %d", lib.Methods().Len(), wantLib.Methods().Len())
			}
			for i := 0; i < wantLib.Methods().Len(); i++ {
				wm, gm := wantLib.Methods().Get(i), lib.Methods().Get(i)
				if wm.FullName() != gm.FullName() || wm.Input().FullName() != gm.Input().FullName() ||
					wm.Output().FullName() != gm.Output().FullName() || wm.IsStreamingServer() != gm.IsStreamingServer() {
					t.Errorf("method %d: got %s(%s) %s, want %s(%s) %s", i,
						gm.FullName(), gm.Input().FullName(), gm.Output().FullName(),
						wm.FullName(), wm.Input().FullName(), wm.Output().FullName())
				}
			}
			if _, ok := s.Method("/shop.v1.Library/Watch"); !ok {
				t.Error("Method(/shop.v1.Library/Watch) not found")
			}
			if _, ok := s.Message("shop.v1.Book"); !ok {
				t.Error("message shop.v1.Book not found")
			}
			if _, ok := s.File("google/api/annotations.proto"); !ok {
				t.Error("google/api/annotations.proto not in the snapshot")
			}
			got, wantRules := ruleStrings(t, s), ruleStrings(t, want)
			if strings.Join(got, "\n") != strings.Join(wantRules, "\n") {
				t.Errorf("HTTP rules over reflection:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRules, "\n"))
			}
			if len(got) == 0 {
				t.Error("no HTTP rules")
			}
		})
	}
}

func TestLoadReflectionFallsBackOnBuiltins(t *testing.T) {
	want := compileShop(t)
	noGoogleAPI := func(p string) bool { return strings.HasPrefix(p, "google/api/") }
	srv := startReflectionServer(t, "127.0.0.1:0", want, reflectionVersions{v1: true, drop: noGoogleAPI})
	conn := dial(t, srv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	s, err := LoadReflection(ctx, conn, "users")
	if err != nil {
		t.Fatalf("LoadReflection without google/api on the server: %v", err)
	}
	fd, ok := s.File("google/api/annotations.proto")
	if !ok || fd != builtinFiles["google/api/annotations.proto"] {
		t.Errorf("google/api/annotations.proto is not the builtin file (found %v)", ok)
	}
	if got, wantRules := ruleStrings(t, s), ruleStrings(t, want); strings.Join(got, "\n") != strings.Join(wantRules, "\n") {
		t.Errorf("HTTP rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRules, "\n"))
	}

	// A file that is neither on the server nor builtin is an error naming
	// the service.
	noTypes := func(p string) bool { return p == "shop/v1/types.proto" }
	srv2 := startReflectionServer(t, "127.0.0.1:0", want, reflectionVersions{v1: true, drop: noTypes})
	_, err = LoadReflection(ctx, dial(t, srv2.addr), "users")
	if err == nil || !strings.Contains(err.Error(), "reflection users: service shop.v1.Library: ") || !strings.Contains(err.Error(), "shop/v1/types.proto") {
		t.Errorf("missing import: %v", err)
	}
}

func TestLoadReflectionServiceSelection(t *testing.T) {
	two := shopWithAdmin(t)
	srv := startReflectionServer(t, "127.0.0.1:0", two, reflectionVersions{v1: true}, healthService)
	conn := dial(t, srv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	s, err := LoadReflection(ctx, conn, "users")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(serviceNames(s), ","); got != "shop.v1.Admin,shop.v1.Library" {
		t.Errorf("all services: %s", got)
	}

	s, err = LoadReflection(ctx, conn, "users", ReflectServices("shop.v1.Admin"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(serviceNames(s), ","); got != "shop.v1.Admin" {
		t.Errorf("ReflectServices(shop.v1.Admin): %s", got)
	}
	if _, ok := s.Message("shop.v1.Book"); !ok {
		t.Error("shop.v1.Admin's imports were not fetched")
	}

	// Asking for the health service loads it; this server cannot describe
	// it, and the error names the server and the service.
	_, err = LoadReflection(ctx, conn, "users", ReflectServices(healthService))
	if err == nil || !strings.Contains(err.Error(), "reflection users: service grpc.health.v1.Health: ") {
		t.Errorf("health without descriptors: %v", err)
	}
	// So does ReflectInternalServices (the reflection service is listed
	// too, and is not in this server's resolver either).
	_, err = LoadReflection(ctx, conn, "users", ReflectInternalServices())
	if err == nil || !strings.Contains(err.Error(), "reflection users: service grpc.") {
		t.Errorf("internal services without descriptors: %v", err)
	}

	_, err = LoadReflection(ctx, conn, "users", ReflectServices("shop.v1.Nope"))
	if err == nil || !strings.Contains(err.Error(), "reflection users: service shop.v1.Nope not listed by the server") {
		t.Errorf("unknown service: %v", err)
	}
}

func TestLoadReflectionNoServices(t *testing.T) {
	// A server with nothing but reflection and health (an upstream caught
	// mid-start) must not replace a schema with an empty one.
	srv := startReflectionServer(t, "127.0.0.1:0", &Snapshot{}, reflectionVersions{v1: true}, healthService)
	conn := dial(t, srv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := LoadReflection(ctx, conn, "users")
	if err == nil || !strings.Contains(err.Error(), "reflection users: the server lists no service to load") {
		t.Errorf("no services: %v", err)
	}
}

func TestLoadReflectionUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	conn := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	start := time.Now()
	_, err = LoadReflection(ctx, conn, "users")
	if err == nil {
		t.Fatal("no error from an unreachable server")
	}
	if !strings.HasPrefix(err.Error(), "reflection users: listing services: ") || status.Code(err) != codes.Unavailable {
		t.Errorf("error: %v", err)
	}
	if d := time.Since(start); d > testTimeout/2 {
		t.Errorf("took %v to fail", d)
	}

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := LoadReflection(canceled, conn, "users"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
}

func TestReflectionRefresh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	srvA := startReflectionServer(t, "127.0.0.1:0", shopWithAdmin(t), reflectionVersions{v1: true, v1alpha: true}, healthService)
	conn := dial(t, srvA.addr)
	load := ReflectionLoader(ctx, conn, "users", 5*time.Second)

	var reg Registry
	if err := reg.Reload(load); err != nil {
		t.Fatalf("first load: %v", err)
	}
	first := reg.Current()
	if got := strings.Join(serviceNames(first), ","); first.Version != 1 || got != "shop.v1.Admin,shop.v1.Library" {
		t.Fatalf("first snapshot: version %d, services %s", first.Version, got)
	}

	// The upstream goes away: the reload fails, naming it, and the
	// snapshot in force stays.
	srvA.stop()
	err := reg.Reload(load)
	if err == nil {
		t.Fatal("reload from a stopped server succeeded")
	}
	for _, want := range []string{"version 1 (reflection:users) stays in force", "reflection users: listing services: ", "Unavailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reload error %q lacks %q", err, want)
		}
	}
	if reg.Current() != first {
		t.Fatal("a failed reload replaced the snapshot")
	}

	// It comes back on the same address with one service fewer; Refresh
	// picks that up. Each load reports to the test, which waits for the
	// new version without sleeping.
	startReflectionServer(t, srvA.addr, compileShop(t), reflectionVersions{v1: true}, healthService)
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	loaded := make(chan error)
	reporting := func() (*Snapshot, error) {
		s, err := load()
		select {
		case loaded <- err:
		case <-refreshCtx.Done():
		}
		return s, err
	}
	refreshed := make(chan error, 1)
	go func() { refreshed <- reg.Refresh(refreshCtx, 5*time.Millisecond, reporting, nil) }()

	var lastErr error
	for cur := reg.Current(); cur.Version == 1; cur = reg.Current() {
		select {
		case lastErr = <-loaded:
		case <-ctx.Done():
			stopRefresh()
			<-refreshed
			t.Fatalf("no new snapshot before the deadline; last load error: %v", lastErr)
		}
	}
	stopRefresh()
	if err := <-refreshed; !errors.Is(err, context.Canceled) {
		t.Errorf("Refresh returned %v", err)
	}

	cur := reg.Current()
	if got := strings.Join(serviceNames(cur), ","); cur.Version < 2 || got != "shop.v1.Library" || cur.Source != "reflection:users" {
		t.Fatalf("after the restart: version %d, services %s, source %s", cur.Version, got, cur.Source)
	}
	if _, ok := cur.Service("shop.v1.Admin"); ok {
		t.Error("the removed service is still there")
	}
	if _, ok := first.Service("shop.v1.Admin"); !ok {
		t.Error("the old snapshot changed")
	}
	if rules := ruleStrings(t, cur); len(rules) == 0 {
		t.Error("no HTTP rules after the refresh")
	}
}
