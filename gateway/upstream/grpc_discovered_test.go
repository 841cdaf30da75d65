package upstream

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/testgrpc"
	"github.com/meshgate/meshgate/translate"
)

// connServedBy pings the Library through cc (grpc-go's default codec)
// and returns the address the answering server reports.
func connServedBy(t *testing.T, cc grpc.ClientConnInterface) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), grpcTestTimeout)
	defer cancel()
	var tr metadata.MD
	if err := cc.Invoke(ctx, testgrpc.Method("Ping"), &emptypb.Empty{}, &emptypb.Empty{}, grpc.Trailer(&tr)); err != nil {
		t.Fatalf("Ping through Conn: %v", err)
	}
	if v := tr.Get(testgrpc.ServedByKey); len(v) == 1 {
		return v[0]
	}
	return ""
}

// connUnavailable asserts that both kinds of call through cc fail with
// UNAVAILABLE and a message containing want.
func connUnavailable(t *testing.T, cc grpc.ClientConnInterface, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), grpcTestTimeout)
	defer cancel()
	err := cc.Invoke(ctx, testgrpc.Method("Ping"), &emptypb.Empty{}, &emptypb.Empty{})
	if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), want) {
		t.Errorf("Invoke: %v, want UNAVAILABLE %q", err, want)
	}
	_, err = cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, testgrpc.Method("Watch"))
	if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), want) {
		t.Errorf("NewStream: %v, want UNAVAILABLE %q", err, want)
	}
}

// A gRPC cluster made without endpoints (one a registry fills) answers
// UNAVAILABLE, through Invoke and through Conn, until Update brings
// endpoints; the Conn taken before then follows the update (server
// reflection loads through it), and an update to no endpoints empties it
// again.
func TestGRPCNoEndpointsThenUpdate(t *testing.T) {
	s := newShop(t)
	a, b := testgrpc.Start(t), testgrpc.Start(t)
	c, err := NewGRPCCluster("shop", nil, GRPCClusterOptions{Logger: quiet})
	if err != nil {
		t.Fatalf("a cluster without endpoints: %v", err)
	}
	t.Cleanup(c.Close)
	conn := c.Conn() // taken while empty, as a build does for reflection
	if conn == nil {
		t.Fatal("Conn is nil")
	}

	steps := []struct {
		name string
		set  []gateway.Endpoint
		// serving are the addresses that may answer; none: every call
		// fails with UNAVAILABLE "has no endpoints".
		serving []string
	}{
		{"empty at start", nil, nil},
		{"first endpoint", Endpoints(a.Addr()), []string{a.Addr()}},
		{"replaced", Endpoints(b.Addr()), []string{b.Addr()}},
		{"both", Endpoints(a.Addr(), b.Addr()), []string{a.Addr(), b.Addr()}},
		{"emptied", nil, nil},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if i > 0 {
				c.Update(gateway.EndpointSet{Endpoints: st.set})
			}
			if len(st.serving) == 0 {
				e := asError(t, c.Invoke(context.Background(), getBook(s, "b"), &gateway.Reply{}))
				if e.Code != translate.Unavailable || !strings.Contains(e.Message, `gRPC cluster "shop" has no endpoints`) {
					t.Errorf("Invoke: %+v", e)
				}
				connUnavailable(t, conn, `gRPC cluster "shop" has no endpoints`)
				return
			}
			var r gateway.Reply
			if err := c.Invoke(context.Background(), getBook(s, "b"), &r); err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if !contains(st.serving, servedBy(&r)) {
				t.Errorf("Invoke served by %q, want one of %v", servedBy(&r), st.serving)
			}
			if by := connServedBy(t, conn); !contains(st.serving, by) {
				t.Errorf("Conn served by %q, want one of %v", by, st.serving)
			}
			ctx, cancel := context.WithTimeout(context.Background(), grpcTestTimeout)
			defer cancel()
			snap, err := descriptors.LoadReflection(ctx, conn, c.Name())
			if err != nil {
				t.Fatalf("reflection through Conn: %v", err)
			}
			if _, ok := snap.Method(testgrpc.Method("GetBook")); !ok {
				t.Error("GetBook not loaded by reflection")
			}
		})
	}

	c.Close()
	connUnavailable(t, conn, `gRPC cluster "shop" is closed`)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
