package ingress

import (
	"time"

	"github.com/valyala/fasthttp"
)

// Rejections logs the requests an ingress answers before any route chain
// runs, which the route chains' access-log filters never see: no route,
// a method not allowed, arguments that do not bind, a malformed or too
// large request, an unknown gRPC method or Motan2 service
// (accesslog.Rejected, set on a generation's snapshots when its access
// log is on).
type Rejections interface {
	// Log logs one request received at start that the ingress (http,
	// grpc, motan2) answered with err; route is the matched route's name
	// ("" when none matched), target what the caller asked for ("" when
	// unknown).
	Log(start time.Time, ingress, route, target, requestID string, err error)
}

// rejected logs an HTTP request answered with err before its route chain
// (route: the matched route's name, if any) and returns err.
func (h *HTTP) rejected(ctx *fasthttp.RequestCtx, route, id string, err error) error {
	if r := h.snap.Load().Rejects; r != nil {
		target := ""
		if m := ctx.Method(); len(m) > 0 {
			target = string(m) + " " + string(ctx.URI().PathOriginal())
		}
		r.Log(ctx.Time(), "http", route, target, id, err)
	}
	return err
}
