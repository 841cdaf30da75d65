package ingress

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

// callerBudget applies the caller's time budget from the configured
// timeout header: it shortens call.Timeout (the route's), never lengthens
// it. A value that is not a duration is a 400 naming the header.
func (h *HTTP) callerBudget(ctx *fasthttp.RequestCtx, call *gateway.Call) error {
	if h.opts.TimeoutHeader == "" {
		return nil
	}
	v := ctx.Request.Header.Peek(h.opts.TimeoutHeader)
	if len(v) == 0 {
		return nil
	}
	d, err := parseBudget(b2s(v))
	if err != nil {
		return &translate.Error{Code: translate.InvalidArgument,
			Message: "header " + h.opts.TimeoutHeader + ": " + err.Error()}
	}
	if call.Timeout <= 0 || d < call.Timeout {
		call.Timeout, call.TimeoutSource = d, h.opts.TimeoutHeader
	}
	return nil
}

// parseBudget reads a time budget: a Go duration ("250ms", "1.5s") or a
// whole number of milliseconds ("250"). It must be positive.
func parseBudget(s string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms <= 0 || ms > int64(24*time.Hour/time.Millisecond) {
			return 0, fmt.Errorf("%q is not a time budget (a positive duration such as 250ms, or milliseconds)", s)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a time budget (a positive duration such as 250ms, or milliseconds)", s)
	}
	return d, nil
}

// httpHashKey reads a route's consistent-hash key from the request. The
// string may alias the request's buffers: it is read while the call is
// picked, inside the request's lifetime.
func httpHashKey(ctx *fasthttp.RequestCtx, k gateway.KeySource, params *routes.Params, args []motan2.Value) string {
	switch k.From {
	case gateway.KeyFromHeader:
		return b2s(ctx.Request.Header.Peek(k.Name))
	case gateway.KeyFromQuery:
		return b2s(ctx.QueryArgs().Peek(k.Name))
	case gateway.KeyFromPath:
		v, _ := params.Get(k.Name)
		return v
	case gateway.KeyFromArg:
		if k.Arg < len(args) {
			a := args[k.Arg]
			if a.Kind() == motan2.KindString {
				return a.Str()
			}
			return a.String()
		}
	}
	return ""
}

// motan2Budget sets a Motan2 call's budget: the route's timeout, or the
// caller's M_tmo (the server's context deadline) when that is shorter.
func motan2Budget(ctx context.Context, call *gateway.Call, routeTimeout time.Duration) {
	call.Start, call.Timeout = time.Now(), routeTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := dl.Sub(call.Start); call.Timeout <= 0 || left < call.Timeout {
			call.Timeout, call.TimeoutSource = left, "M_tmo"
		}
	}
}
