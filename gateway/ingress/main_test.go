package ingress

import (
	"testing"

	"github.com/meshgate/meshgate/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
