package accesslog

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// Format is a line format.
type Format uint8

// Line formats.
const (
	// JSON writes one JSON object per line.
	JSON Format = iota
	// Logfmt writes space-separated key=value pairs, values quoted (Go
	// syntax) when they hold spaces, quotes, '=' or control characters.
	Logfmt
)

// FilterOptions configure one route's access-log filter.
type FilterOptions struct {
	// Route is the route's name, written in every line.
	Route  string
	Format Format
	// SampleRatio is the fraction of successful requests logged (0 to 1).
	SampleRatio float64
	// ErrorsAlways logs every failed request whatever SampleRatio says.
	ErrorsAlways bool
}

// Filter returns the route-scope filter that logs the route's requests.
// Put it after the tracing filter so that the trace id is in the context
// it sees.
func (l *Log) Filter(o FilterOptions) gateway.Filter {
	f := &filter{l: l, format: o.Format, ratio: o.SampleRatio, errorsAlways: o.ErrorsAlways}
	f.route = appendStr(nil, o.Format, "route", o.Route)
	return f
}

type filter struct {
	l            *Log
	format       Format
	ratio        float64
	errorsAlways bool
	route        []byte // the route field, formatted once
}

func (f *filter) sampled() bool {
	return f.ratio >= 1 || f.ratio > 0 && rand.Float64() < f.ratio
}

func (f *filter) Filter(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
	// The ingress's receipt time when it set one (the line then counts
	// what the ingress spent too), else now.
	start := call.Start
	if start.IsZero() {
		start = time.Now()
	}
	err := next.Invoke(ctx, call, reply)
	if !(err != nil && f.errorsAlways) && !f.sampled() {
		return err
	}
	lat := time.Since(start)
	b := getBuf()
	*b = f.appendLine(*b, ctx, start, lat, call, reply, err)
	f.l.enqueue(b)
	return err
}

// appendLine formats one line, newline included.
func (f *filter) appendLine(b []byte, ctx context.Context, start time.Time, lat time.Duration,
	call *gateway.Call, reply *gateway.Reply, err error) []byte {
	ft := f.format
	b = appendTime(b, ft, start)
	b = append(b, f.route...)
	b = appendTarget(b, ft, call)
	if reply.Endpoint != "" {
		b = appendStr(b, ft, "endpoint", reply.Endpoint)
	}
	var msg string
	b, msg = appendOutcome(b, ft, err, lat)
	b = appendInt(b, ft, "req_bytes", int64(requestSize(call)))
	b = appendInt(b, ft, "resp_bytes", int64(replySize(reply)))
	b = appendInt(b, ft, "attempts", int64(reply.Attempts))
	if reply.Backups > 0 {
		b = appendInt(b, ft, "backups", int64(reply.Backups))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		tid := sc.TraceID()
		b = appendKey(b, ft, "trace_id")
		if ft == JSON {
			b = append(b, '"')
		}
		b = hex.AppendEncode(b, tid[:])
		if ft == JSON {
			b = append(b, '"')
		}
	}
	id := call.RequestID
	if id == "" && call.Frame != nil {
		id = call.Frame.Meta.Get(motan2.MetaRequestID)
	}
	if id != "" {
		b = appendStr(b, ft, "request_id", id)
	}
	if msg != "" {
		b = appendStr(b, ft, "error", msg)
	}
	if ft == JSON {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// appendTime opens a line with its time field.
func appendTime(b []byte, ft Format, start time.Time) []byte {
	if ft == JSON {
		b = append(b, `{"time":"`...)
	} else {
		b = append(b, "time="...)
	}
	b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	if ft == JSON {
		b = append(b, '"')
	}
	return b
}

// appendOutcome writes the grpc_status, http_status and latency_us fields
// and returns the error message to write last ("" on success).
func appendOutcome(b []byte, ft Format, err error, lat time.Duration) ([]byte, string) {
	code, status, msg := translate.OK, 200, ""
	if err != nil {
		e := translate.FromError(err)
		code, status, msg = e.Code, e.Status(), e.Message
	}
	b = appendStr(b, ft, "grpc_status", code.String())
	b = appendInt(b, ft, "http_status", int64(status))
	return appendInt(b, ft, "latency_us", lat.Microseconds()), msg
}

// appendTarget writes the call's target: the gRPC full method, else
// SERVICE/METHOD.
func appendTarget(b []byte, ft Format, call *gateway.Call) []byte {
	if call.FullMethod != "" {
		return appendStr(b, ft, "target", call.FullMethod)
	}
	b = appendKey(b, ft, "target")
	if ft == JSON {
		b = append(b, '"')
		b = translate.AppendJSONEscaped(b, call.Service)
		b = append(b, '/')
		b = translate.AppendJSONEscaped(b, call.Method)
		return append(b, '"')
	}
	if plainLogfmt(call.Service) && plainLogfmt(call.Method) && call.Service != "" {
		b = append(b, call.Service...)
		b = append(b, '/')
		return append(b, call.Method...)
	}
	return strconv.AppendQuote(b, call.Service+"/"+call.Method)
}

// requestSize is the request body's size: the message, the forwarded
// frame's body, or an estimate of the Simple arguments' encoded size.
func requestSize(call *gateway.Call) int {
	switch {
	case call.Payload != nil:
		return len(call.Payload)
	case call.Frame != nil:
		return len(call.Frame.Body)
	}
	n := 0
	for _, a := range call.Args {
		n += valueSize(a)
	}
	return n
}

// replySize is the reply body's size, estimated for a Simple value.
func replySize(reply *gateway.Reply) int {
	switch {
	case reply.Payload != nil:
		return len(reply.Payload)
	case reply.Frame != nil:
		return len(reply.Frame.Body)
	}
	return valueSize(reply.Value)
}

// valueSize estimates a value's encoded size: its bytes for strings and
// byte arrays, 8 per number, the sum of the parts for containers.
func valueSize(v motan2.Value) int {
	switch v.Kind() {
	case motan2.KindNull:
		return 0
	case motan2.KindString, motan2.KindBytes, motan2.KindMessage:
		return v.Len()
	case motan2.KindStringArray:
		n := 0
		for _, s := range v.Strings() {
			n += len(s) + 4
		}
		return n
	case motan2.KindStringMap:
		n := 0
		for _, p := range v.Pairs() {
			n += len(p.Key) + len(p.Value) + 8
		}
		return n
	case motan2.KindArray:
		n := 0
		for _, it := range v.Items() {
			n += valueSize(it)
		}
		return n
	case motan2.KindMap:
		n := 0
		for i := range v.Len() {
			k, val := v.Entry(i)
			n += valueSize(k) + valueSize(val)
		}
		return n
	}
	return 8
}

func appendKey(b []byte, ft Format, key string) []byte {
	if ft == JSON {
		b = append(b, ',', '"')
		b = append(b, key...)
		return append(b, '"', ':')
	}
	b = append(b, ' ')
	b = append(b, key...)
	return append(b, '=')
}

func appendStr(b []byte, ft Format, key, val string) []byte {
	b = appendKey(b, ft, key)
	if ft == JSON {
		b = append(b, '"')
		b = translate.AppendJSONEscaped(b, val)
		return append(b, '"')
	}
	return appendLogfmtValue(b, val)
}

func appendInt(b []byte, ft Format, key string, n int64) []byte {
	return strconv.AppendInt(appendKey(b, ft, key), n, 10)
}

// plainLogfmt reports whether s can be written as a logfmt value without
// quotes: not empty, printable ASCII without spaces, quotes or '='.
func plainLogfmt(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// appendLogfmtValue appends s as is when it is plain, else quoted in Go
// syntax (strconv.Unquote reads it back exactly).
func appendLogfmtValue(b []byte, s string) []byte {
	if plainLogfmt(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}
