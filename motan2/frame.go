package motan2

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Magic is the first two bytes of every Motan frame (spec section 2).
const Magic uint16 = 0xF1F1

// Wire constants (spec sections 2-6).
const (
	HeaderSize   = 13 // magic, flags, version/status, serialization, request id
	MinFrameSize = 21 // header + two zero size fields
	// Version2 is the protocol version carried by every Motan2 frame.
	Version2 uint8 = 1
	// DefaultMaxSize is the default limit for each of the meta and body
	// sections, as in motan-go (10 MiB; exactly 10 MiB is allowed).
	DefaultMaxSize = 10 << 20
)

// Flags is byte 2 of the header. Each bit is interpreted on its own.
type Flags uint8

// Header flag bits.
const (
	FlagResponse  Flags = 0x01 // response; clear for requests
	FlagProxy     Flags = 0x02 // produced or forwarded by a proxy (informational)
	FlagOneway    Flags = 0x04 // oneway request (carried, not acted upon by motan-go)
	FlagGzip      Flags = 0x08 // body is a gzip stream on the wire
	FlagHeartbeat Flags = 0x10 // heartbeat frame
)

// Has reports whether all bits of g are set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Status is the low 3 bits of header byte 3.
type Status uint8

// Frame statuses.
const (
	StatusNormal    Status = 0
	StatusException Status = 1
)

// Serialization is the serialization number of header byte 4 (byte >> 3).
type Serialization uint8

// Serialization numbers (spec section 6).
const (
	SerializationHessian2   Serialization = 0
	SerializationGrpcPB     Serialization = 1
	SerializationJSON       Serialization = 2
	SerializationMsgpack    Serialization = 3
	SerializationHprose     Serialization = 4
	SerializationPB         Serialization = 5
	SerializationSimple     Serialization = 6
	SerializationGrpcPBJSON Serialization = 7
	SerializationBreeze     Serialization = 8
)

var serializationNames = [...]string{
	"hessian2", "grpc-pb", "json", "msgpack", "hprose", "pb", "simple", "grpc-pb-json", "breeze",
}

// String returns the serialization's name ("simple", "pb", "grpc-pb", ...).
func (s Serialization) String() string {
	if int(s) < len(serializationNames) {
		return serializationNames[s]
	}
	return "serialization-" + strconv.Itoa(int(s))
}

// ParseSerialization accepts a serialization name (as String returns it, plus
// motan-go's aliases "protobuf" for pb) or a decimal number.
func ParseSerialization(name string) (Serialization, error) {
	switch name {
	case "protobuf":
		return SerializationPB, nil
	case "grpcpb":
		return SerializationGrpcPB, nil
	}
	for i, n := range serializationNames {
		if n == name {
			return Serialization(i), nil
		}
	}
	if n, err := strconv.ParseUint(name, 10, 5); err == nil {
		return Serialization(n), nil
	}
	return 0, fmt.Errorf("motan2: unknown serialization %q", name)
}

// Reserved meta keys (spec section 7.2).
const (
	MetaPath          = "M_p"
	MetaMethod        = "M_m"
	MetaMethodDesc    = "M_md"
	MetaGroup         = "M_g"
	MetaVersion       = "M_v"
	MetaProxyProtocol = "M_pp"
	MetaModule        = "M_mdu"
	MetaSource        = "M_s"
	MetaRequestID     = "M_rid"
	MetaTimeout       = "M_tmo"
	MetaFramework     = "M_fws"
	MetaException     = "M_e"
	MetaProcessTime   = "M_pt"
)

// MetaPair is one meta entry.
type MetaPair struct {
	Key, Value string
}

// Meta is the ordered list of meta pairs of a frame. Order carries no
// meaning to receivers but is kept so that frames re-encode byte for byte.
// Lookups see the last pair with a key, as on the wire.
type Meta []MetaPair

// Get returns the value of the last pair with key k, or "".
func (m Meta) Get(k string) string {
	v, _ := m.Lookup(k)
	return v
}

// Lookup returns the value of the last pair with key k.
func (m Meta) Lookup(k string) (string, bool) {
	for i := len(m) - 1; i >= 0; i-- {
		if m[i].Key == k {
			return m[i].Value, true
		}
	}
	return "", false
}

// Set replaces the value of every pair with key k, or appends a pair.
func (m *Meta) Set(k, v string) {
	found := false
	for i := range *m {
		if (*m)[i].Key == k {
			(*m)[i].Value = v
			found = true
		}
	}
	if !found {
		*m = append(*m, MetaPair{k, v})
	}
}

// Del removes every pair with key k.
func (m *Meta) Del(k string) {
	out := (*m)[:0]
	for _, p := range *m {
		if p.Key != k {
			out = append(out, p)
		}
	}
	clear((*m)[len(out):])
	*m = out
}

// encodable reports whether a pair can be put on the wire: motan-go drops
// pairs with an empty key or value or with a LF in either (spec 7.1).
func (p MetaPair) encodable() bool {
	return p.Key != "" && p.Value != "" &&
		strings.IndexByte(p.Key, '\n') < 0 && strings.IndexByte(p.Value, '\n') < 0
}

// Frame is one Motan2 message: header fields, meta and body.
//
// Body always holds the serialized arguments or value uncompressed: the
// decoder gunzips bodies flagged FlagGzip (and keeps the flag, so callers
// know how the frame travelled); the encoder compresses when the frame has
// FlagGzip or its body exceeds the writer's gzip threshold.
type Frame struct {
	Flags         Flags
	Version       uint8 // always Version2 for frames this package decodes
	Status        Status
	Serialization Serialization
	RequestID     uint64
	Meta          Meta
	Body          []byte

	// WireBodySize is the body size as it was on the wire (compressed size
	// for gzip frames). Set by the decoder; ignored by the encoder.
	WireBodySize int

	metaStore [4]MetaPair // backing store for small meta lists (replies carry one or two pairs), saves an allocation

	// bare marks the minimal error frames motan-go sends when a request
	// fails before it has a response object (spec 11.4): a Server adds no
	// M_pt to them.
	bare bool
}

// IsRequest reports whether f is a request (including heartbeat requests).
func (f *Frame) IsRequest() bool { return f.Flags&FlagResponse == 0 }

// IsHeartbeat reports whether f is a heartbeat (request or response).
func (f *Frame) IsHeartbeat() bool { return f.Flags&FlagHeartbeat != 0 }

// IsException reports whether f is an exception response.
func (f *Frame) IsException() bool { return f.Flags&FlagResponse != 0 && f.Status == StatusException }

// Service returns the M_p meta value.
func (f *Frame) Service() string { return f.Meta.Get(MetaPath) }

// Method returns the M_m meta value.
func (f *Frame) Method() string { return f.Meta.Get(MetaMethod) }

// Group returns the M_g meta value, falling back to the v1 name "group".
func (f *Frame) Group() string {
	if g, ok := f.Meta.Lookup(MetaGroup); ok {
		return g
	}
	return f.Meta.Get("group")
}

// Exception parses the M_e meta of an exception frame. A missing or
// malformed M_e yields a generic service exception (spec 11.1), never nil.
func (f *Frame) Exception() *Exception {
	raw, ok := f.Meta.Lookup(MetaException)
	if !ok {
		return &Exception{ErrCode: 500, ErrMsg: "exception response without M_e", ErrType: ErrTypeService}
	}
	e, err := ParseException(raw)
	if err != nil {
		return &Exception{ErrCode: 500, ErrMsg: "malformed M_e: " + err.Error(), ErrType: ErrTypeService}
	}
	return e
}

// Reset clears f for reuse, keeping its meta backing store.
func (f *Frame) Reset() {
	meta := f.Meta[:0]
	clear(f.Meta)
	*f = Frame{Meta: meta}
	if cap(meta) == 0 {
		f.Meta = f.metaStore[:0]
	}
}

// NewRequest returns a request frame for service and method with the given
// serialization and body, carrying M_p, M_m and M_pp=motan2 as motan-go does.
func NewRequest(service, method string, s Serialization, body []byte) *Frame {
	f := &Frame{Version: Version2, Serialization: s, Body: body}
	f.Meta = append(f.metaStore[:0],
		MetaPair{MetaPath, service}, MetaPair{MetaMethod, method}, MetaPair{MetaProxyProtocol, "motan2"})
	return f
}

// NewResponse returns a normal response to req: same id and serialization,
// the proxy bit copied from req when proxy is true.
func NewResponse(req *Frame, body []byte) *Frame {
	f := &Frame{Flags: FlagResponse, Version: Version2, Serialization: req.Serialization, RequestID: req.RequestID, Body: body}
	f.Meta = f.metaStore[:0]
	return f
}

// NewExceptionResponse returns an exception response to req carrying e in
// M_e, with the request's id and serialization and no body.
func NewExceptionResponse(req *Frame, e *Exception) *Frame {
	f := &Frame{Flags: FlagResponse, Version: Version2, Status: StatusException,
		Serialization: req.Serialization, RequestID: req.RequestID}
	f.Meta = append(f.metaStore[:0], MetaPair{MetaException, e.JSON()})
	return f
}

// newEarlyFailure returns motan-go's minimal error frame for a request that
// could not even be decoded: serialization simple, M_e only (spec 11.4).
func newEarlyFailure(req *Frame, e *Exception) *Frame {
	f := NewExceptionResponse(req, e)
	f.Serialization = SerializationSimple
	f.bare = true
	return f
}

// NewHeartbeatRequest returns a heartbeat request in motan-go style (flags
// 0x12, serialization simple) or, when java is true, in Java style (0x10,
// serialization grpc-pb).
func NewHeartbeatRequest(id uint64, java bool) *Frame {
	f := &Frame{Flags: FlagHeartbeat | FlagProxy, Version: Version2, Serialization: SerializationSimple, RequestID: id}
	if java {
		f.Flags, f.Serialization = FlagHeartbeat, SerializationGrpcPB
	}
	return f
}

// NewHeartbeatResponse answers the heartbeat request req in its own style:
// 0x12 is answered with 0x13 and 0x10 with 0x11, same id and serialization,
// no meta and no body.
func NewHeartbeatResponse(req *Frame) *Frame {
	return &Frame{Flags: (req.Flags & (FlagHeartbeat | FlagProxy)) | FlagResponse, Version: Version2,
		Serialization: req.Serialization, RequestID: req.RequestID}
}

// putHeader writes the 13-byte header of f into b.
func (f *Frame) putHeader(b []byte, flags Flags) {
	binary.BigEndian.PutUint16(b[0:2], Magic)
	b[2] = byte(flags)
	b[3] = Version2<<3 | byte(f.Status&0x07)
	b[4] = byte(f.Serialization) << 3
	binary.BigEndian.PutUint64(b[5:13], f.RequestID)
}

// metaSize returns the encoded size of the encodable pairs of m.
func (m Meta) encodedSize() int {
	n := 0
	for _, p := range m {
		if p.encodable() {
			n += len(p.Key) + len(p.Value) + 2
		}
	}
	if n > 0 {
		n-- // no trailing LF
	}
	return n
}

// appendMeta appends the wire form of the encodable pairs of m.
func (m Meta) appendTo(dst []byte) []byte {
	first := true
	for _, p := range m {
		if !p.encodable() {
			continue
		}
		if !first {
			dst = append(dst, '\n')
		}
		first = false
		dst = append(dst, p.Key...)
		dst = append(dst, '\n')
		dst = append(dst, p.Value...)
	}
	return dst
}

// parseMeta splits the meta section into pairs the way motan-go does
// (spec 7.1): pieces separated by LF alternate key and value; an empty piece
// where a key is expected is skipped (so a trailing LF is tolerated), an
// empty value is kept, and a key left without a value is an error. The
// pairs' strings are substrings of s, so parsing allocates nothing beyond
// growing dst.
func parseMetaPieces(dst Meta, s string) (Meta, error) {
	if len(s) == 0 {
		return dst, nil
	}
	// Size dst once for the pairs the pieces can make, so a long meta list
	// costs one allocation rather than a series of appends.
	if need := (strings.Count(s, "\n") + 1) / 2; cap(dst)-len(dst) < need {
		nd := make(Meta, len(dst), len(dst)+need)
		copy(nd, dst)
		dst = nd
	}
	var key string
	haveKey := false
	for start := 0; start <= len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		piece := s[start:end]
		start = end + 1
		switch {
		case haveKey:
			dst = append(dst, MetaPair{key, piece})
			haveKey = false
		case piece != "":
			key, haveKey = piece, true
		}
	}
	if haveKey {
		return dst, fmt.Errorf("%w: key %q has no value", ErrMalformedMeta, truncateForError(key))
	}
	return dst, nil
}

func truncateForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
