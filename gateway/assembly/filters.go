package assembly

// The governance filters a configuration can name; each registers itself.
import (
	_ "github.com/meshgate/meshgate/gateway/filter/breaker"
	_ "github.com/meshgate/meshgate/gateway/filter/concurrency"
	_ "github.com/meshgate/meshgate/gateway/filter/mock"
	_ "github.com/meshgate/meshgate/gateway/filter/ratelimit"
	_ "github.com/meshgate/meshgate/gateway/filter/switcher"
)
