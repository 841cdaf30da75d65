package ingress

import (
	"github.com/valyala/fasthttp"

	"github.com/meshgate/meshgate/motan2"
)

// traceHeaders are the W3C trace-context headers the HTTP ingress always
// forwards (docs/telemetry.md), whatever a route's request_headers say:
// the tracing filter reads them from the Call's meta, and upstreams send
// them on.
var traceHeaders = [...]string{"traceparent", "tracestate"}

// appendTraceContext appends the request's traceparent and tracestate
// headers, when present and not already forwarded, to meta under their
// lower-case names. It allocates nothing when they are absent.
func appendTraceContext(meta motan2.Meta, h *fasthttp.RequestHeader) motan2.Meta {
	for _, k := range traceHeaders {
		if v := h.Peek(k); len(v) > 0 {
			if _, dup := meta.Lookup(k); !dup {
				meta = append(meta, motan2.MetaPair{Key: k, Value: string(v)})
			}
		}
	}
	return meta
}
