package accesslog

import "time"

// Rejected writes the lines of requests an ingress answers before a route
// chain runs, which the route filters never see: no route matches, a
// method not allowed, arguments that do not bind, a malformed, too large
// or too slow request, an unknown gRPC method or Motan2 service. Such a
// line has an ingress field, the route only when one matched, and no
// endpoint, sizes or trace id; attempts is 0.
type Rejected struct {
	f filter // its route field is unused
}

// Rejected returns the writer of rejected requests' lines, sampled as o
// says (they are all failures: ErrorsAlways logs every one).
func (l *Log) Rejected(o FilterOptions) *Rejected {
	return &Rejected{f: filter{l: l, format: o.Format, ratio: o.SampleRatio, errorsAlways: o.ErrorsAlways}}
}

// Log writes the line of a request that the ingress named ingress (http,
// grpc, motan2) received at start (zero: now) and answered with err
// before any route chain. route is the matched route's name, "" when
// none matched; target what the caller asked for ("GET /v1/x", a gRPC
// full method, SERVICE/METHOD), "" when unknown.
func (r *Rejected) Log(start time.Time, ingress, route, target, requestID string, err error) {
	if !(err != nil && r.f.errorsAlways) && !r.f.sampled() {
		return
	}
	now := time.Now()
	if start.IsZero() {
		start = now
	}
	ft := r.f.format
	b := getBuf()
	*b = appendTime(*b, ft, start)
	*b = appendStr(*b, ft, "ingress", ingress)
	if route != "" {
		*b = appendStr(*b, ft, "route", route)
	}
	if target != "" {
		*b = appendStr(*b, ft, "target", target)
	}
	var msg string
	*b, msg = appendOutcome(*b, ft, err, now.Sub(start))
	*b = appendInt(*b, ft, "attempts", 0)
	if requestID != "" {
		*b = appendStr(*b, ft, "request_id", requestID)
	}
	if msg != "" {
		*b = appendStr(*b, ft, "error", msg)
	}
	if ft == JSON {
		*b = append(*b, '}')
	}
	*b = append(*b, '\n')
	r.f.l.enqueue(b)
}
