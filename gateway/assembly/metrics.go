package assembly

import (
	"log/slog"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
)

// metricsState is the process-wide metrics state (nil: metrics off).
type metricsState struct{}

func newMetricsState(cfg *config.Config, log *slog.Logger) (*metricsState, error) { return nil, nil }

func (m *metricsState) reconfigure(cfg *config.Config) error { return nil }

func (m *metricsState) close() {}

// filters appends the metrics filters of a chain to fs.
func (m *metricsState) filters(spec gateway.FilterSpec, fs []gateway.Filter) []gateway.Filter {
	return fs
}
