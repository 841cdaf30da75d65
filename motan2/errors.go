package motan2

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Frame decoding errors. Every error the decoder returns wraps one of these,
// so callers can test with errors.Is. All of them leave the stream in an
// unknown position: the connection must be closed, as motan-go does.
var (
	// ErrBadMagic: the bytes are not a Motan frame at all.
	ErrBadMagic = errors.New("motan2: bad magic, not a Motan frame")
	// ErrMotanV1: a legacy Motan v1 (Java "motan" protocol) frame.
	ErrMotanV1 = errors.New("motan2: Motan v1 frame (legacy Java motan protocol) is not supported, use motan2")
	// ErrUnsupportedVersion: a version other than 0 (v1) and 1 (Motan2).
	ErrUnsupportedVersion = errors.New("motan2: unsupported protocol version")
	// ErrTruncated: the input ended inside a frame.
	ErrTruncated = errors.New("motan2: truncated frame")
	// ErrFrameTooLarge: a meta or body section exceeds the configured limit.
	// The concrete error is a *SizeError.
	ErrFrameTooLarge = errors.New("motan2: frame too large")
	// ErrMalformedMeta: the meta section does not pair up.
	ErrMalformedMeta = errors.New("motan2: malformed meta")
	// ErrBadGzip: a body flagged gzip is not a valid gzip stream.
	ErrBadGzip = errors.New("motan2: bad gzip body")
)

// SizeError reports a section larger than its limit. It is detected from
// the size field, before anything is allocated.
type SizeError struct {
	Section string // "meta", "body" or "gzip body" (decompressed size)
	Size    int64
	Limit   int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("motan2: %s size %d exceeds limit %d", e.Section, e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrFrameTooLarge) true.
func (e *SizeError) Is(target error) bool { return target == ErrFrameTooLarge }

// Exception types (errtype in M_e, spec section 11).
const (
	ErrTypeFramework = 0 // MotanFrameworkException
	ErrTypeService   = 1 // MotanServiceException
	ErrTypeBiz       = 2 // MotanBizException: application error, does not count against the endpoint
)

// Exception is a Motan2 exception as carried in the M_e meta key. It is also
// a Go error, so a handler can return one and a client returns the
// exception a server sent.
type Exception struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	ErrType int    `json:"errtype"`
	// Status, when not empty, is a google.rpc.Status (code, message and
	// typed details) in protobuf encoding, carried so that error details
	// survive a Motan2 hop between gateways. It is written as the extra
	// M_e field "grpc_status" (base64), which motan-go and Java Motan
	// ignore; without it the JSON is exactly motan-go's.
	Status []byte `json:"grpc_status,omitempty"`
}

// Error returns the exception as text.
func (e *Exception) Error() string {
	return fmt.Sprintf("motan2 exception: errcode=%d errtype=%d: %s", e.ErrCode, e.ErrType, e.ErrMsg)
}

// JSON returns the M_e form, byte-identical to motan-go's: the fields in the
// order errcode, errmsg, errtype, with encoding/json's HTML escaping.
func (e *Exception) JSON() string {
	b, err := json.Marshal(e)
	if err != nil { // cannot happen for this struct
		return `{"errcode":500,"errmsg":"unencodable exception","errtype":1}`
	}
	return string(b)
}

// ParseException parses an M_e value. Extra fields are ignored and missing
// ones default to zero, so Java (fastjson) exceptions parse too.
func ParseException(s string) (*Exception, error) {
	var raw struct {
		ErrCode json.Number `json:"errcode"`
		ErrMsg  string      `json:"errmsg"`
		ErrType json.Number `json:"errtype"`
		Status  any         `json:"grpc_status"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	e := &Exception{ErrMsg: raw.ErrMsg}
	if st, ok := raw.Status.(string); ok { // a malformed status is dropped, not an error
		e.Status, _ = base64.StdEncoding.DecodeString(st)
	}
	var err error
	if e.ErrCode, err = numberToInt(raw.ErrCode); err != nil {
		return nil, fmt.Errorf("errcode: %w", err)
	}
	if e.ErrType, err = numberToInt(raw.ErrType); err != nil {
		return nil, fmt.Errorf("errtype: %w", err)
	}
	return e, nil
}

func numberToInt(n json.Number) (int, error) {
	if n == "" {
		return 0, nil
	}
	if i, err := n.Int64(); err == nil {
		return int(i), nil
	}
	f, err := n.Float64()
	return int(f), err
}

// ServiceNotFound returns the exception a motan-go server answers for a
// service it does not export (spec 11.5): 404, errtype 1.
func ServiceNotFound(serviceKey string) *Exception {
	return &Exception{ErrCode: 404, ErrMsg: "provider not exist serviceKey=" + serviceKey, ErrType: ErrTypeService}
}
