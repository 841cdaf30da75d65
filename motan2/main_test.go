package motan2

import (
	"testing"

	"github.com/meshgate/meshgate/internal/leakcheck"
)

// TestMain fails the package's tests if clients, servers or connections
// leave goroutines behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
