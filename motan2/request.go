package motan2

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Request is a typed Motan2 call: what a Client sends with Call and what a
// ServiceMux hands to a ServiceFunc.
type Request struct {
	Service string // M_p, required
	Method  string // M_m, required
	Group   string // M_g, optional
	Version string // M_v, optional
	Args    []Value
	// Body, when not nil, is the request body already encoded in
	// Serialization (which must say which one it is), sent as it is in
	// place of Args: a protobuf message passed through in grpc-pb, say.
	// The reply to such a call is not decoded either: Client.CallInto
	// leaves Response.Value null and the body is Response.Frame.Body, in
	// Response.Frame.Serialization. Client side only.
	Body []byte
	// Meta holds further meta pairs (attachments); on the server side it is
	// the request's whole meta.
	Meta Meta
	// Serialization of the arguments; the zero value (hessian2, which no
	// peer supports) means Simple on the client side.
	Serialization Serialization
	// Timeout bounds the call (client side) in addition to the context's
	// deadline; 0 means the client's request timeout when the context has
	// no deadline. Cheaper than a context with a deadline.
	Timeout time.Duration
	// SendTimeout, with a Timeout, also sends it as M_tmo (milliseconds,
	// rounded up) unless Meta already has an M_tmo, so that the server, a
	// motan-go agent or another gateway, bounds its own work by what is
	// left of the caller's. Client side only.
	SendTimeout bool

	// Frame is the request frame a server decoded Args from (server side only).
	Frame *Frame
}

// Response is the reply to a Call.
type Response struct {
	Value Value
	Meta  Meta
	Frame *Frame // the response frame as received
}

// fill makes f the request frame for r: M_p, M_m, M_pp=motan2 first, then
// M_g, M_v, then r.Meta, with the body appended to dst in r's
// serialization (or r.Body, not copied). It returns dst with the body
// appended, which is dst itself for r.Body.
func (r *Request) fill(f *Frame, dst []byte) ([]byte, error) {
	s := r.Serialization
	if s == SerializationHessian2 {
		s = SerializationSimple
	}
	body, buf := r.Body, dst
	if body == nil {
		var err error
		if body, err = AppendValues(dst, s, r.Args); err != nil {
			return dst, err
		}
		buf = body
	}
	f.Reset()
	f.Version, f.Serialization, f.Body = Version2, s, body
	f.Meta = append(f.Meta, MetaPair{MetaPath, r.Service}, MetaPair{MetaMethod, r.Method}, MetaPair{MetaProxyProtocol, "motan2"})
	if r.Group != "" {
		f.Meta = append(f.Meta, MetaPair{MetaGroup, r.Group})
	}
	if r.Version != "" {
		f.Meta = append(f.Meta, MetaPair{MetaVersion, r.Version})
	}
	f.Meta = append(f.Meta, r.Meta...)
	if r.SendTimeout && r.Timeout > 0 {
		if _, ok := r.Meta.Lookup(MetaTimeout); !ok {
			f.Meta = append(f.Meta, MetaPair{MetaTimeout, millis(r.Timeout)})
		}
	}
	return buf, nil
}

// millisCache holds the M_tmo texts already made: a route's timeout is
// the same for all its calls, so the text is made once, not per call.
var (
	millisCache sync.Map // int64 → string
	millisSize  atomic.Int32
)

// millis returns d in milliseconds, rounded up, as decimal text.
func millis(d time.Duration) string {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	if s, ok := millisCache.Load(ms); ok {
		return s.(string)
	}
	s := strconv.FormatInt(ms, 10)
	if millisSize.Load() < 4096 { // bounded: budgets left over vary
		millisSize.Add(1)
		millisCache.Store(ms, s)
	}
	return s
}

// callScratch is what Client.CallInto needs until its request is encoded:
// the request frame and the buffer its body is encoded into, pooled
// together (one pool operation each way instead of two).
type callScratch struct {
	f   Frame
	buf []byte
}

var callPool = sync.Pool{New: func() any {
	cs := &callScratch{buf: make([]byte, 0, 1024)}
	cs.f.Meta = cs.f.metaStore[:0]
	return cs
}}

// putCall pools cs unless its frame's meta or its buffer grew large.
func putCall(cs *callScratch) {
	if cap(cs.f.Meta) > 64 || cap(cs.buf) > maxPooledBuf {
		return
	}
	cs.f.Reset()
	cs.buf = cs.buf[:0]
	callPool.Put(cs)
}

// processTime formats a duration as motan-go's M_pt value (milliseconds).
func processTime(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10)
}
