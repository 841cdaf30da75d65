package translate

import (
	"encoding/base64"
	"strconv"

	// Registers google.rpc.BadRequest, ErrorInfo, RetryInfo, ... so that the
	// standard error details print as JSON without a schema.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// StatusProto returns e as a google.rpc.Status: its code (Unknown for an
// error coded OK), the message callers see and its details. A nil e gives
// nil.
func (e *Error) StatusProto() *spb.Status {
	if e == nil {
		return nil
	}
	code := e.Code
	if code == OK || code >= NumCodes {
		code = Unknown
	}
	return &spb.Status{Code: int32(code), Message: e.message(), Details: e.Details}
}

// FromStatusProto returns the Error for a google.rpc.Status an upstream
// answered with (a gRPC status, or the grpc_status a meshgate peer put in
// a Motan2 exception): same code, message and details, Upstream set, and
// the upstream errcode/errtype that a Motan2 caller will see derived from
// the code (its HTTP status and the table's errtype). Codes outside 1..16
// become Unknown. A nil st gives nil.
func FromStatusProto(st *spb.Status) *Error {
	if st == nil {
		return nil
	}
	code := Code(st.GetCode())
	if st.GetCode() <= 0 || st.GetCode() >= NumCodes {
		code = Unknown
	}
	return &Error{
		Code: code, Message: st.GetMessage(), Details: st.GetDetails(),
		Upstream: true, UpstreamErrCode: code.HTTPStatus(), UpstreamErrType: codeTable[code].errType,
	}
}

// statusBytes is e's google.rpc.Status in protobuf encoding, for the
// grpc_status field of a Motan2 exception; nil when e has no details (the
// errcode and errtype then say all there is).
func (e *Error) statusBytes() []byte {
	if len(e.Details) == 0 {
		return nil
	}
	b, err := proto.Marshal(e.StatusProto())
	if err != nil {
		return nil
	}
	return b
}

// TypeResolver finds the message types of error details (and of Any
// fields) when they are written as JSON; descriptors.Snapshot.Types()
// is one. nil means the types linked into meshgate (the google.rpc
// details and the well-known types).
type TypeResolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// AppendStatusJSON appends e as a google.rpc.Status JSON object, the error
// body grpc-gateway and Envoy's transcoder answer with:
//
//	{"code":5,"message":"...","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo", ...}]}
//
// A detail whose type types cannot resolve is written as
// {"@type":"<url>","value":"<base64 of its bytes>"} rather than dropped.
func AppendStatusJSON(dst []byte, e *Error, types TypeResolver) []byte {
	if e == nil {
		e = errNilError
	}
	st := e.StatusProto()
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(st.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, st.Message)
	dst = appendDetailsJSON(dst, e.Details, types)
	return append(dst, '}')
}

// appendDetailsJSON appends `,"details":[...]` for a non-empty list.
func appendDetailsJSON(dst []byte, details []*anypb.Any, types TypeResolver) []byte {
	if len(details) == 0 {
		return dst
	}
	if types == nil {
		types = protoregistry.GlobalTypes
	}
	dst = append(dst, `,"details":[`...)
	for i, d := range details {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendAnyJSON(dst, d, types)
	}
	return append(dst, ']')
}

func appendAnyJSON(dst []byte, a *anypb.Any, types TypeResolver) []byte {
	if a != nil {
		b, err := protojson.MarshalOptions{Resolver: types}.MarshalAppend(dst, a)
		if err == nil {
			return b
		}
	}
	dst = append(dst, `{"@type":`...)
	dst = appendJSONString(dst, a.GetTypeUrl())
	dst = append(dst, `,"value":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, a.GetValue())
	return append(dst, `"}`...)
}
