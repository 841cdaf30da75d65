package config

// The shipped filters, registered as meshgate registers them
// (gateway/assembly/filters.go), so that the examples under deploy/ are
// validated as `meshgate validate` would.
import (
	_ "github.com/meshgate/meshgate/gateway/filter/breaker"
	_ "github.com/meshgate/meshgate/gateway/filter/concurrency"
	_ "github.com/meshgate/meshgate/gateway/filter/mock"
	_ "github.com/meshgate/meshgate/gateway/filter/ratelimit"
	_ "github.com/meshgate/meshgate/gateway/filter/switcher"
)
