package descriptors

import (
	"context"
	"testing"

	"github.com/meshgate/meshgate/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const (
	protoRoot = "testdata/protos"
	shopProto = "shop/v1/shop.proto"
	shopSet   = "testdata/shop.pb"
)

// compileShop compiles the test service from source.
func compileShop(t testing.TB) *Snapshot {
	t.Helper()
	s, err := CompileProtos(context.Background(), []string{protoRoot}, []string{shopProto})
	if err != nil {
		t.Fatalf("CompileProtos: %v", err)
	}
	return s
}
