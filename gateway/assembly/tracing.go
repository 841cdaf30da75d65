package assembly

import (
	"log/slog"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
)

// tracingState is the process-wide tracing and access-log state (nil:
// both off).
type tracingState struct{}

func newTracingState(cfg *config.Config, log *slog.Logger) (*tracingState, error) { return nil, nil }

func (t *tracingState) reconfigure(cfg *config.Config) error { return nil }

func (t *tracingState) close() {}

// filters appends the tracing and access-log filters of a chain to fs.
func (t *tracingState) filters(spec gateway.FilterSpec, fs []gateway.Filter) []gateway.Filter {
	return fs
}
