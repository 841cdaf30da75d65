package translate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshgate/meshgate/motan2"
)

// Code is a gRPC status code. meshgate uses it as its one error
// classification whatever the caller's protocol: the HTTP status, the gRPC
// status and the Motan2 errcode/errtype of an error are all derived from it
// through the literal tables of this file (see docs/errors.md).
type Code uint8

// The 17 gRPC status codes, with gRPC's numbering and meaning.
const (
	// OK is not an error; an Error coded OK is a bug and is answered as
	// UNKNOWN would be.
	OK Code = 0
	// Canceled means the caller cancelled the call.
	Canceled Code = 1
	// Unknown means an error with no better classification.
	Unknown Code = 2
	// InvalidArgument means the request is malformed whatever the server's
	// state (bad JSON, an argument that does not fit its type).
	InvalidArgument Code = 3
	// DeadlineExceeded means the deadline passed before the call completed.
	DeadlineExceeded Code = 4
	// NotFound means the requested entity (or route) does not exist.
	NotFound Code = 5
	// AlreadyExists means the entity the caller tried to create exists.
	AlreadyExists Code = 6
	// PermissionDenied means the caller may not do this.
	PermissionDenied Code = 7
	// ResourceExhausted means a quota, rate limit or size limit was hit.
	ResourceExhausted Code = 8
	// FailedPrecondition means the system is not in a state the call needs.
	FailedPrecondition Code = 9
	// Aborted means a concurrency conflict; retry at a higher level.
	Aborted Code = 10
	// OutOfRange means an argument is past the valid range.
	OutOfRange Code = 11
	// Unimplemented means the operation is not served (by meshgate or by the
	// upstream the route targets).
	Unimplemented Code = 12
	// Internal means a broken invariant, in meshgate or in the upstream.
	Internal Code = 13
	// Unavailable means the service cannot be reached now; usually transient.
	Unavailable Code = 14
	// DataLoss means unrecoverable data loss or corruption.
	DataLoss Code = 15
	// Unauthenticated means the caller has no valid credentials.
	Unauthenticated Code = 16
)

// NumCodes is the number of defined codes; codes are 0 to NumCodes-1.
const NumCodes = 17

// codeInfo is one row of the code table: the code's google.rpc.Code name,
// its HTTP status (grpc-gateway's runtime.HTTPStatusFromCode), and the
// Motan2 errtype used when meshgate answers a Motan2 caller with it.
type codeInfo struct {
	name    string
	status  int
	errType int
}

// codeTable is the literal Code ↔ HTTP ↔ Motan2 errtype table. Codes that
// say the caller is at fault are business exceptions (errtype 2, which
// motan-go clients do not count against the endpoint); codes that say the
// server or the path to it failed are service exceptions (errtype 1).
var codeTable = [NumCodes]codeInfo{
	OK:                 {"OK", 200, motan2.ErrTypeService}, // an error with code OK is a bug: answered like Unknown
	Canceled:           {"CANCELLED", 499, motan2.ErrTypeService},
	Unknown:            {"UNKNOWN", 500, motan2.ErrTypeService},
	InvalidArgument:    {"INVALID_ARGUMENT", 400, motan2.ErrTypeBiz},
	DeadlineExceeded:   {"DEADLINE_EXCEEDED", 504, motan2.ErrTypeService},
	NotFound:           {"NOT_FOUND", 404, motan2.ErrTypeBiz},
	AlreadyExists:      {"ALREADY_EXISTS", 409, motan2.ErrTypeBiz},
	PermissionDenied:   {"PERMISSION_DENIED", 403, motan2.ErrTypeBiz},
	ResourceExhausted:  {"RESOURCE_EXHAUSTED", 429, motan2.ErrTypeService},
	FailedPrecondition: {"FAILED_PRECONDITION", 400, motan2.ErrTypeBiz},
	Aborted:            {"ABORTED", 409, motan2.ErrTypeService},
	OutOfRange:         {"OUT_OF_RANGE", 400, motan2.ErrTypeBiz},
	Unimplemented:      {"UNIMPLEMENTED", 501, motan2.ErrTypeService},
	Internal:           {"INTERNAL", 500, motan2.ErrTypeService},
	Unavailable:        {"UNAVAILABLE", 503, motan2.ErrTypeService},
	DataLoss:           {"DATA_LOSS", 500, motan2.ErrTypeService},
	Unauthenticated:    {"UNAUTHENTICATED", 401, motan2.ErrTypeBiz},
}

// String returns the code's google.rpc.Code name in upper snake case
// ("NOT_FOUND"; Canceled is "CANCELLED", as google.rpc.Code spells it), or
// "CODE(n)" for a value outside the 17 codes.
func (c Code) String() string {
	if c < NumCodes {
		return codeTable[c].name
	}
	return "CODE(" + strconv.Itoa(int(c)) + ")"
}

// ParseCode returns the code whose String is name (upper snake case, as in
// the "code" field of the JSON error body).
func ParseCode(name string) (Code, bool) {
	for c := range codeTable {
		if codeTable[c].name == name {
			return Code(c), true
		}
	}
	return 0, false
}

// HTTPStatus returns the HTTP status for the code, as grpc-gateway's
// runtime.HTTPStatusFromCode does (OK is 200, Canceled 499). A value
// outside the 17 codes is 500.
func (c Code) HTTPStatus() int {
	if c < NumCodes {
		return codeTable[c].status
	}
	return 500
}

// httpToCode is the literal reverse table for the statuses that have a
// code of their own. Where several codes share a status, the one chosen is
// the one an HTTP service most likely means:
//   - 400: InvalidArgument (FailedPrecondition and OutOfRange also map to
//     400, but a plain 400 says "bad request");
//   - 409: AlreadyExists rather than Aborted: both are 409, and a gRPC
//     client may retry Aborted, which is unsafe when the conflict was a
//     create that already happened;
//   - 500: Internal (Unknown and DataLoss are also 500).
var httpToCode = map[int]Code{
	200: OK,
	400: InvalidArgument,
	401: Unauthenticated,
	403: PermissionDenied,
	404: NotFound,
	405: Unimplemented, // method not allowed, as grpc-gateway's routing error
	408: DeadlineExceeded,
	409: AlreadyExists,
	412: FailedPrecondition,
	413: ResourceExhausted,
	416: OutOfRange,
	429: ResourceExhausted,
	431: ResourceExhausted,
	499: Canceled,
	500: Internal,
	501: Unimplemented,
	502: Unavailable,
	503: Unavailable,
	504: DeadlineExceeded,
}

// CodeFromHTTPStatus returns the code for an HTTP status: the statuses of
// the table in docs/errors.md map to their code, other 2xx statuses to OK,
// and every other status to Unknown.
func CodeFromHTTPStatus(status int) Code {
	if c, ok := httpToCode[status]; ok {
		return c
	}
	if status >= 200 && status <= 299 {
		return OK
	}
	return Unknown
}

// Error is meshgate's one error type. It carries a Code, a message meant
// for the caller, where it arose (the gateway itself, or an upstream that
// answered with a Motan2 exception), an optional HTTP status more specific
// than the code's, and a cause for errors.Is and errors.As.
//
// Every protocol answers from it: HTTP with Status and AppendErrorJSON,
// Motan2 with ToMotan2Exception, gRPC with Code and Message.
type Error struct {
	// Code classifies the error.
	Code Code
	// Message is the text returned to the caller. It must not carry
	// secrets; the cause can hold the details meant for logs.
	Message string
	// HTTPStatus, when not zero, is the HTTP status to answer with instead
	// of Code.HTTPStatus(): 405, 413, 431 and 502 are more precise than
	// their code's status.
	HTTPStatus int
	// UpstreamErrCode and UpstreamErrType are the errcode and errtype of
	// the upstream's Motan2 exception; they are set only when Upstream is.
	UpstreamErrCode int
	UpstreamErrType int
	// Upstream reports that the error is an exception an upstream
	// answered with (the error arose there, not in meshgate).
	Upstream bool
	// Details are typed error payloads (the details of a google.rpc.Status)
	// that travel with the error across protocols: grpc-status-details-bin
	// for gRPC, "details" in HTTP error bodies, grpc_status in a Motan2
	// exception's M_e.
	Details []*anypb.Any
	// Cause is the underlying error, if any (returned by Unwrap).
	Cause error
}

// Error returns "CODE: message" (the message as AppendErrorJSON writes
// it), followed by the upstream errcode and errtype for an upstream
// exception and by the cause's text when the message does not already end
// with it.
func (e *Error) Error() string {
	var b strings.Builder
	msg := e.message()
	b.WriteString(e.Code.String())
	b.WriteString(": ")
	b.WriteString(msg)
	if e.Upstream {
		fmt.Fprintf(&b, " (upstream errcode=%d errtype=%d)", e.UpstreamErrCode, e.UpstreamErrType)
	}
	if e.Cause != nil {
		if c := e.Cause.Error(); !strings.HasSuffix(msg, c) {
			b.WriteString(": ")
			b.WriteString(c)
		}
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Status returns the HTTP status to answer with: HTTPStatus when set,
// Code.HTTPStatus() otherwise.
func (e *Error) Status() int {
	if e.HTTPStatus != 0 {
		return e.HTTPStatus
	}
	return e.Code.HTTPStatus()
}

// Errorf returns an Error with the given code and a message formatted as
// fmt.Sprintf does. When format wraps an error with %w, the error also
// becomes the cause (the message keeps its text).
func Errorf(code Code, format string, args ...any) *Error {
	if len(args) == 0 && !strings.Contains(format, "%") {
		return &Error{Code: code, Message: format}
	}
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Cause: errors.Unwrap(err)}
}

// FromError returns err as an *Error: the *Error in its chain when there is
// one; the mapping of FromMotan2Exception for a *motan2.Exception;
// InvalidArgument for an *ArgError; DeadlineExceeded for
// context.DeadlineExceeded and os.ErrDeadlineExceeded; Canceled for
// context.Canceled; and Unknown with the error's text otherwise. It returns
// nil for a nil err.
func FromError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ex *motan2.Exception
	if errors.As(err, &ex) {
		e = FromMotan2Exception(ex)
		e.Cause = err
		return e
	}
	var ae *ArgError
	if errors.As(err, &ae) {
		return &Error{Code: InvalidArgument, Message: ae.Error(), Cause: err}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return &Error{Code: DeadlineExceeded, Message: err.Error(), Cause: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: Canceled, Message: err.Error(), Cause: err}
	}
	return &Error{Code: Unknown, Message: err.Error(), Cause: err}
}

// exceptionRow is one row of the Motan2 exception table: a service or
// framework exception (errtype 0 or 1) with errcode code and, when match is
// set, a message containing match, is answered with HTTP status and Code.
type exceptionRow struct {
	errCode int
	match   string // substring of errmsg; "" matches any message
	status  int
	code    Code
	why     string
}

// serviceExceptionTable maps framework and service exceptions (errtype 0
// and 1, and any errtype other than 2). These say that the upstream side,
// not the caller, failed, so they are 5xx for the HTTP caller: 503/504/429
// when the upstream said so, 502 Bad Gateway otherwise. Rows are tried in
// order; rows with a message pattern come before the catch-all row of their
// errcode. The messages are motan-go v1.2.0's (spec section 11.2).
var serviceExceptionTable = []exceptionRow{
	{400, "cluster not found", 502, Unimplemented, "agent has no cluster for the service"},
	{400, "timeout err", 504, DeadlineExceeded, "agent's call to the server timed out"},
	{400, "[rateLimit]", 429, ResourceExhausted, "agent's rate limit"},
	{400, "channels is null", 503, Unavailable, "agent has no connection to the server"},
	{400, "", 502, Unknown, "other client-side (agent) failure"},
	{404, "", 502, Unimplemented, "provider not exist: the server does not export the service"},
	{409, "", 409, Aborted, "concurrency conflict (meshgate answers Aborted so)"},
	{429, "", 429, ResourceExhausted, "upstream overloaded"},
	{499, "", 499, Canceled, "call canceled (meshgate answers Canceled so)"},
	{500, "is not found in provider", 502, Unimplemented, "motan-go provider has no such method"},
	{500, "", 502, Internal, "upstream internal failure (panic, (de)serialization, failover exhausted)"},
	{501, "", 502, Unimplemented, "service not support (framework service path)"},
	{503, "", 503, Unavailable, "upstream unavailable or shutting down"},
	{504, "", 504, DeadlineExceeded, "upstream timed out"},
	{1001, "", 503, Unavailable, "no endpoints (ENoEndpoints)"},
	{1002, "", 503, Unavailable, "can not get a channel (ENoChannel)"},
	{1003, "", 502, Internal, "receive unsupported msg (EUnkonwnMsg)"},
	{1004, "", 502, Internal, "convert response fail (EConvertMsg)"},
}

// serviceExceptionDefault answers service exceptions no row matches.
var serviceExceptionDefault = exceptionRow{0, "", 502, Unknown, "any other errcode"}

// bizExceptionDefault answers business exceptions whose errcode is not an
// HTTP error status (400..599).
var bizExceptionDefault = exceptionRow{0, "", 500, Unknown, "business exception with a non-HTTP errcode"}

// FromMotan2Exception maps an exception an upstream answered with to an
// Error (Upstream set, errcode and errtype kept, Message = errmsg):
//
//   - errtype 2 (business): an errcode in 400..599 is the HTTP status, and
//     the code is CodeFromHTTPStatus(errcode) (404 → NotFound, 409 →
//     AlreadyExists, 429 → ResourceExhausted, 503 → Unavailable, 504 →
//     DeadlineExceeded, ...); any other errcode is 500 Unknown.
//   - any other errtype (0 framework, 1 service): the first matching row of
//     the service exception table (docs/errors.md), 502 Bad Gateway with
//     Code Unknown when none matches.
//
// A nil ex gives an Internal error.
func FromMotan2Exception(ex *motan2.Exception) *Error {
	if ex == nil {
		return &Error{Code: Internal, Message: "nil Motan2 exception"}
	}
	if len(ex.Status) > 0 {
		// A meshgate peer's exception with the full status: keep its code
		// and details, and the errcode/errtype as they were sent.
		var st spb.Status
		if proto.Unmarshal(ex.Status, &st) == nil {
			e := FromStatusProto(&st)
			e.UpstreamErrCode, e.UpstreamErrType = ex.ErrCode, ex.ErrType
			return e
		}
	}
	e := &Error{
		Message:         ex.ErrMsg,
		Upstream:        true,
		UpstreamErrCode: ex.ErrCode,
		UpstreamErrType: ex.ErrType,
	}
	if ex.ErrType == motan2.ErrTypeBiz {
		if ex.ErrCode >= 400 && ex.ErrCode <= 599 {
			e.Code, e.HTTPStatus = CodeFromHTTPStatus(ex.ErrCode), ex.ErrCode
		} else {
			e.Code, e.HTTPStatus = bizExceptionDefault.code, bizExceptionDefault.status
		}
		return e
	}
	row := serviceExceptionRow(ex.ErrCode, ex.ErrMsg)
	e.Code, e.HTTPStatus = row.code, row.status
	return e
}

func serviceExceptionRow(code int, msg string) *exceptionRow {
	for i := range serviceExceptionTable {
		r := &serviceExceptionTable[i]
		if r.errCode == code && (r.match == "" || strings.Contains(msg, r.match)) {
			return r
		}
	}
	return &serviceExceptionDefault
}

// ToMotan2Exception returns the exception meshgate answers a Motan2 caller
// with. An upstream exception passes through unchanged (same errcode,
// errtype and errmsg). Otherwise errcode is e.Status() (the HTTP status an
// HTTP caller would get, so 413 stays 413) — 500 for code OK, which no
// error should carry — and errtype is 2 (business) for the codes that
// blame the caller (InvalidArgument, NotFound, AlreadyExists,
// PermissionDenied, Unauthenticated, FailedPrecondition, OutOfRange) and 1
// (service) for the others. A nil e gives nil.
func ToMotan2Exception(e *Error) *motan2.Exception {
	if e == nil {
		return nil
	}
	if e.Upstream {
		return &motan2.Exception{ErrCode: e.UpstreamErrCode, ErrMsg: e.Message, ErrType: e.UpstreamErrType, Status: e.statusBytes()}
	}
	code, errType := e.Status(), motan2.ErrTypeService
	if e.Code < NumCodes {
		errType = codeTable[e.Code].errType
	}
	if e.Code == OK {
		code = 500
	}
	return &motan2.Exception{ErrCode: code, ErrMsg: e.message(), ErrType: errType, Status: e.statusBytes()}
}

// message is the text given to the caller: the message, or the cause's
// text or the code's name when there is no message.
func (e *Error) message() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Cause != nil {
		return e.Cause.Error()
	}
	return e.Code.String()
}

var errNilError = &Error{Code: Internal, Message: "nil error"}

// AppendErrorJSON appends the JSON body of an HTTP error answer to dst:
//
//	{"code":"NOT_FOUND","status":404,"message":"...","upstream_errcode":404,"upstream_errtype":1,"details":[...],"request_id":"..."}
//
// upstream_errcode and upstream_errtype appear only for an upstream
// exception, request_id only when requestID is not empty. The message is
// the Error's Message (the cause's text when Message is empty); strings are
// escaped so that the output is valid JSON whatever their bytes (invalid
// UTF-8 becomes U+FFFD). It allocates nothing when dst has room.
func AppendErrorJSON(dst []byte, e *Error, requestID string) []byte {
	if e == nil {
		e = errNilError
	}
	dst = append(dst, `{"code":"`...)
	dst = append(dst, e.Code.String()...)
	dst = append(dst, `","status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status()), 10)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.message())
	if e.Upstream {
		dst = append(dst, `,"upstream_errcode":`...)
		dst = strconv.AppendInt(dst, int64(e.UpstreamErrCode), 10)
		dst = append(dst, `,"upstream_errtype":`...)
		dst = strconv.AppendInt(dst, int64(e.UpstreamErrType), 10)
	}
	dst = appendDetailsJSON(dst, e.Details, nil)
	if requestID != "" {
		dst = append(dst, `,"request_id":`...)
		dst = appendJSONString(dst, requestID)
	}
	return append(dst, '}')
}
