// Package ingress holds meshgate's listeners: HTTP/1.1 today.
package ingress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/routes"
	"github.com/meshgate/meshgate/translate"
)

// Snapshot is one configuration generation as the HTTP ingress sees it:
// the compiled route table and the routes its ids index. It is immutable
// and swapped atomically.
type Snapshot struct {
	Table  *routes.Table
	Routes []*gateway.Route
	// Rejects logs requests answered before a route chain (nil: not
	// logged).
	Rejects Rejections
}

// HTTPOptions configures the HTTP ingress.
type HTTPOptions struct {
	MaxBodyBytes    int
	MaxHeaderBytes  int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	MaxConnections  int
	RequestIDHeader string
	// TimeoutHeader names a request header carrying the caller's time
	// budget ("250ms", "2s", or a number of milliseconds); it shortens the
	// route's timeout, never lengthens it ("" : none).
	TimeoutHeader string
	// Errors counts the error responses (nil: not counted).
	Errors *ErrorCounts
	Logger *slog.Logger
}

// HTTP is the HTTP/1.1 ingress: it matches requests against the current
// Snapshot, binds arguments, invokes the route's upstream and writes the
// reply as JSON (or raw), and every failure as a JSON error body.
type HTTP struct {
	srv      *fasthttp.Server
	snap     atomic.Pointer[Snapshot]
	opts     HTTPOptions
	idHeader []byte
	ids      requestIDs
	log      *slog.Logger
	fails    failLog
}

// NewHTTP returns an HTTP ingress serving snap.
func NewHTTP(snap *Snapshot, o HTTPOptions) *HTTP {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &HTTP{opts: o, idHeader: []byte(o.RequestIDHeader), log: o.Logger}
	h.ids.init()
	h.snap.Store(snap)
	h.srv = &fasthttp.Server{
		Handler:            h.handle,
		ErrorHandler:       h.transportError,
		Name:               "meshgate",
		MaxRequestBodySize: o.MaxBodyBytes,
		ReadBufferSize:     o.MaxHeaderBytes,
		// ReadTimeout, WriteTimeout and IdleTimeout are enforced by the
		// listener's connections (timeouts.go), not by fasthttp.
		Concurrency:                   o.MaxConnections,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		// Idle workers exit after this; it also bounds how long fasthttp's
		// pool cleaner outlives Shutdown (10s by default).
		MaxIdleWorkerDuration: 2 * time.Second,
		Logger:                fasthttpLogger{o.Logger},
	}
	return h
}

// Swap installs a new configuration generation; requests already matched
// finish on the old one.
func (h *HTTP) Swap(snap *Snapshot) { h.snap.Store(snap) }

// Serve serves on l until Shutdown.
func (h *HTTP) Serve(l net.Listener) error {
	return h.srv.Serve(&timedListener{Listener: l, read: h.opts.ReadTimeout, write: h.opts.WriteTimeout, idle: h.opts.IdleTimeout})
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends
// and closes idle connections.
func (h *HTTP) Shutdown(ctx context.Context) error { return h.srv.ShutdownWithContext(ctx) }

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp: " + fmt.Sprintf(format, args...))
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// scratchCall holds a request's Call with inline room for its arguments
// and meta; pooled because a Call passed to an Invoker escapes to the heap.
type scratchCall struct {
	call  gateway.Call
	reply gateway.Reply
	args  [8]motan2.Value
	meta  [8]motan2.MetaPair
}

var scratchCalls = sync.Pool{New: func() any { return new(scratchCall) }}

// release clears references into the request and pools sc; the reply has
// been written by then, and upstreams keep nothing of a Call. Arguments
// and meta are appended to args[:0] and meta[:0] and the Call holds what
// was appended (bind and simpleArgs return what they appended even with
// an error), so only that many entries are cleared: the others were
// cleared by the previous release (a Value is 128 bytes).
func (sc *scratchCall) release() {
	clear(sc.args[:min(len(sc.call.Args), len(sc.args))])
	clear(sc.meta[:min(len(sc.call.Meta), len(sc.meta))])
	sc.call, sc.reply = gateway.Call{}, gateway.Reply{}
	scratchCalls.Put(sc)
}

// b2s views b as a string without copying; the string must not outlive
// the request whose buffer b is.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (h *HTTP) handle(ctx *fasthttp.RequestCtx) {
	reqID := ctx.Request.Header.PeekBytes(h.idHeader)
	var id string
	if len(reqID) > 0 {
		id = string(reqID)
	} else {
		id = h.ids.next()
	}
	ctx.Response.Header.SetBytesK(h.idHeader, id)
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("http: handler panic", "panic", p, "path", string(ctx.Path()), "request_id", id)
			h.writeError(ctx, translate.Errorf(translate.Internal, "internal error"), id)
		}
	}()

	snap := h.snap.Load()
	var params routes.Params
	path := ctx.URI().PathOriginal()
	rid, res := snap.Table.Match(b2s(ctx.Method()), path, &params)
	if res != routes.Found && ctx.IsHead() {
		rid, res = snap.Table.Match(fasthttp.MethodGet, path, &params) // HEAD is served by GET routes
	}
	switch res {
	case routes.NotFound:
		h.writeError(ctx, h.rejected(ctx, "", id, &translate.Error{Code: translate.NotFound,
			Message: "no route for " + string(ctx.Method()) + " " + string(path)}), id)
		return
	case routes.MethodNotAllowed:
		allowed := snap.Table.Allowed(path)
		for _, m := range allowed {
			ctx.Response.Header.Add("Allow", m)
		}
		h.writeError(ctx, h.rejected(ctx, "", id, &translate.Error{Code: translate.Unimplemented, HTTPStatus: 405,
			Message: "method " + string(ctx.Method()) + " not allowed for " + string(path) + " (allowed: " + joinComma(allowed) + ")"}), id)
		return
	}
	route := snap.Routes[rid]
	if route.Proto != nil {
		h.transcode(ctx, route, &params, id) // transcode.go
		return
	}

	sc := scratchCalls.Get().(*scratchCall)
	defer sc.release()
	call := &sc.call
	*call = gateway.Call{Service: route.Service, Method: route.Method, Group: route.Group, Version: route.Version,
		RequestID: id, Timeout: route.Timeout, Start: ctx.Time(), Idempotent: route.Policy.Idempotent}
	if err := h.callerBudget(ctx, call); err != nil {
		h.writeError(ctx, h.rejected(ctx, route.Name, id, err), id)
		return
	}
	args, err := h.bind(ctx, route, &params, sc.args[:0])
	call.Args = args // even with an error: release clears what bind appended
	if err != nil {
		h.writeError(ctx, h.rejected(ctx, route.Name, id, err), id)
		return
	}
	call.HashKey = httpHashKey(ctx, route.Policy.HashKey, &params, args)
	call.Meta = append(sc.meta[:0], motan2.MetaPair{Key: h.opts.RequestIDHeader, Value: id})
	for _, name := range route.RequestHeaders {
		if v := ctx.Request.Header.Peek(name); len(v) > 0 {
			call.Meta = append(call.Meta, motan2.MetaPair{Key: name, Value: string(v)})
		}
	}
	call.Meta = appendTraceContext(call.Meta, &ctx.Request.Header) // tracecontext.go

	// The deadline travels as call.Timeout, which the Motan2 client
	// enforces with a pooled timer: no per-request context allocations.
	reply := &sc.reply
	if err := route.Invoker.Invoke(context.Background(), call, reply); err != nil {
		h.writeError(ctx, err, id)
		return
	}
	for _, k := range route.ResponseMeta {
		if v, ok := reply.Meta.Lookup(k); ok {
			ctx.Response.Header.Set(k, v)
		}
	}
	h.writeReply(ctx, route, reply.Value, id)
}

// bind builds the route's arguments from the request, appended to dst; with
// an error it returns those appended so far.
func (h *HTTP) bind(ctx *fasthttp.RequestCtx, route *gateway.Route, params *routes.Params, dst []motan2.Value) ([]motan2.Value, error) {
	var body *translate.Body
	if route.NeedsBody {
		var err error
		if body, err = translate.ParseJSONBody(ctx.PostBody()); err != nil {
			return nil, err
		}
	}
	for i := range route.Args {
		a := &route.Args[i]
		var (
			v     motan2.Value
			found bool
			err   error
		)
		switch a.From {
		case gateway.FromPath:
			var s string
			if s, found, err = pathVar(params, a.Key); found && err == nil {
				v, err = translate.FromString(a.Name, s, a.Type)
			}
		case gateway.FromQuery:
			if raw := ctx.QueryArgs().Peek(a.Key); raw != nil {
				found = true
				v, err = translate.FromString(a.Name, b2s(raw), a.Type)
			}
		case gateway.FromHeader:
			if raw := ctx.Request.Header.Peek(a.Key); raw != nil {
				found = true
				v, err = translate.FromString(a.Name, b2s(raw), a.Type)
			}
		case gateway.FromBody:
			if len(ctx.PostBody()) > 0 {
				found = true
				v, err = body.Whole(a.Name, a.Type)
			}
		case gateway.FromBodyField:
			v, found, err = body.Field(a.Name, a.Key, a.Type)
		}
		if err != nil {
			return dst, translate.FromError(err)
		}
		if !found {
			if !a.HasDefault {
				return dst, &translate.Error{Code: translate.InvalidArgument,
					Message: "missing argument \"" + a.Name + "\" (" + sourceText(a) + ")"}
			}
			v = a.Default
		}
		dst = append(dst, v)
	}
	return dst, nil
}

// pathVar returns the decoded path variable name; a malformed escape
// (e.g. %zz) is an error, not an absence.
func pathVar(p *routes.Params, name string) (string, bool, error) {
	for i := 0; i < p.Len(); i++ {
		if p.Name(i) == name {
			s, err := p.Value(i)
			if err != nil {
				return "", true, &translate.Error{Code: translate.InvalidArgument, Message: "path variable " + name + ": " + err.Error(), Cause: err}
			}
			return s, true, nil
		}
	}
	return "", false, nil
}

func sourceText(a *gateway.ArgBinding) string {
	switch a.From {
	case gateway.FromPath:
		return "path variable " + a.Key
	case gateway.FromQuery:
		return "query parameter " + a.Key
	case gateway.FromHeader:
		return "header " + a.Key
	case gateway.FromBody:
		return "JSON request body"
	default:
		return "JSON body field " + a.Key
	}
}

func (h *HTTP) writeReply(ctx *fasthttp.RequestCtx, route *gateway.Route, v motan2.Value, id string) {
	if route.ContentType != "" && (v.Kind() == motan2.KindString || v.Kind() == motan2.KindBytes) {
		ctx.SetContentType(route.ContentType)
		if v.Kind() == motan2.KindString {
			ctx.SetBodyString(v.Str())
		} else {
			ctx.SetBody(v.Raw())
		}
		return
	}
	bp := scratchPool.Get().(*[]byte)
	b, err := translate.AppendJSON((*bp)[:0], v, route.JSON)
	if err != nil {
		putScratch(bp, b)
		h.writeError(ctx, &translate.Error{Code: translate.Internal, HTTPStatus: 502,
			Message: "upstream reply cannot be written as JSON: " + err.Error()}, id)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	putScratch(bp, b)
}

func putScratch(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		scratchPool.Put(bp)
	}
}

func (h *HTTP) writeError(ctx *fasthttp.RequestCtx, err error, id string) {
	e := translate.FromError(err)
	h.opts.Errors.add(KindHTTP, e.Code)
	status := e.Status()
	if status >= 500 {
		if n, ok := h.fails.allow(time.Now()); ok {
			h.log.Warn("http: request failed", withSuppressed(n, "status", status, "code", e.Code.String(), "error", e.Message,
				"method", string(ctx.Method()), "path", string(ctx.Path()), "request_id", id)...)
		}
	}
	bp := scratchPool.Get().(*[]byte)
	b := translate.AppendErrorJSON((*bp)[:0], e, id)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	putScratch(bp, b)
}

// transportError answers requests fasthttp could not read: too large a
// body (413) or header (431), timeouts (408), malformed HTTP (400).
func (h *HTTP) transportError(ctx *fasthttp.RequestCtx, err error) {
	var e *translate.Error
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = &translate.Error{Code: translate.InvalidArgument, HTTPStatus: 413,
			Message: "request body larger than " + strconv.Itoa(h.opts.MaxBodyBytes) + " bytes"}
	case errors.As(err, &small):
		e = &translate.Error{Code: translate.InvalidArgument, HTTPStatus: 431,
			Message: "request line and headers larger than " + strconv.Itoa(h.opts.MaxHeaderBytes) + " bytes"}
	case errors.As(err, &ne) && ne.Timeout():
		e = &translate.Error{Code: translate.DeadlineExceeded, HTTPStatus: 408, Message: "request not received in time"}
	default:
		e = &translate.Error{Code: translate.InvalidArgument, Message: "malformed HTTP request: " + err.Error()}
	}
	ctx.Response.Header.Set(fasthttp.HeaderConnection, "close")
	id := h.ids.next()
	ctx.Response.Header.SetBytesK(h.idHeader, id)
	h.writeError(ctx, h.rejected(ctx, "", id, e), id)
}

func joinComma(list []string) string { return strings.Join(list, ", ") }
