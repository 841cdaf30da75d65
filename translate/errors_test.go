package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/motan2"
)

// wantCodes is the specification of the code table, written out again so
// that a change to the table has to change the test too.
var wantCodes = []struct {
	code      Code
	name      string
	status    int
	errType   int  // Motan2 errtype meshgate answers with
	backHTTP  Code // CodeFromHTTPStatus(status)
	backMotan Code // FromMotan2Exception(ToMotan2Exception(code)).Code
	motanHTTP int  // FromMotan2Exception(ToMotan2Exception(code)).Status()
}{
	{OK, "OK", 200, 1, OK, Internal, 502},
	{Canceled, "CANCELLED", 499, 1, Canceled, Canceled, 499},
	{Unknown, "UNKNOWN", 500, 1, Internal, Internal, 502},
	{InvalidArgument, "INVALID_ARGUMENT", 400, 2, InvalidArgument, InvalidArgument, 400},
	{DeadlineExceeded, "DEADLINE_EXCEEDED", 504, 1, DeadlineExceeded, DeadlineExceeded, 504},
	{NotFound, "NOT_FOUND", 404, 2, NotFound, NotFound, 404},
	{AlreadyExists, "ALREADY_EXISTS", 409, 2, AlreadyExists, AlreadyExists, 409},
	{PermissionDenied, "PERMISSION_DENIED", 403, 2, PermissionDenied, PermissionDenied, 403},
	{ResourceExhausted, "RESOURCE_EXHAUSTED", 429, 1, ResourceExhausted, ResourceExhausted, 429},
	{FailedPrecondition, "FAILED_PRECONDITION", 400, 2, InvalidArgument, InvalidArgument, 400},
	{Aborted, "ABORTED", 409, 1, AlreadyExists, Aborted, 409},
	{OutOfRange, "OUT_OF_RANGE", 400, 2, InvalidArgument, InvalidArgument, 400},
	{Unimplemented, "UNIMPLEMENTED", 501, 1, Unimplemented, Unimplemented, 502},
	{Internal, "INTERNAL", 500, 1, Internal, Internal, 502},
	{Unavailable, "UNAVAILABLE", 503, 1, Unavailable, Unavailable, 503},
	{DataLoss, "DATA_LOSS", 500, 1, Internal, Internal, 502},
	{Unauthenticated, "UNAUTHENTICATED", 401, 2, Unauthenticated, Unauthenticated, 401},
}

func TestCodeTableExhaustive(t *testing.T) {
	if len(wantCodes) != NumCodes {
		t.Fatalf("test covers %d codes, want %d", len(wantCodes), NumCodes)
	}
	for i, w := range wantCodes {
		t.Run(w.name, func(t *testing.T) {
			if int(w.code) != i {
				t.Fatalf("code %s = %d, want gRPC number %d", w.name, w.code, i)
			}
			if got := w.code.String(); got != w.name {
				t.Errorf("String = %q, want %q", got, w.name)
			}
			if c, ok := ParseCode(w.name); !ok || c != w.code {
				t.Errorf("ParseCode(%q) = %v, %v", w.name, c, ok)
			}
			if got := w.code.HTTPStatus(); got != w.status {
				t.Errorf("HTTPStatus = %d, want %d", got, w.status)
			}
			// HTTP → Code → HTTP is stable even where the code changes.
			back := CodeFromHTTPStatus(w.status)
			if back != w.backHTTP || back.HTTPStatus() != w.status {
				t.Errorf("CodeFromHTTPStatus(%d) = %v (HTTP %d), want %v", w.status, back, back.HTTPStatus(), w.backHTTP)
			}
			e := Errorf(w.code, "boom")
			ex := ToMotan2Exception(e)
			wantErrCode := w.status
			if w.code == OK {
				wantErrCode = 500
			}
			if ex.ErrCode != wantErrCode || ex.ErrType != w.errType || ex.ErrMsg != "boom" {
				t.Errorf("ToMotan2Exception = %+v, want errcode %d errtype %d", ex, wantErrCode, w.errType)
			}
			got := FromMotan2Exception(ex)
			if got.Code != w.backMotan || got.Status() != w.motanHTTP {
				t.Errorf("FromMotan2Exception(ToMotan2Exception) = %v HTTP %d, want %v HTTP %d", got.Code, got.Status(), w.backMotan, w.motanHTTP)
			}
			if !got.Upstream || got.UpstreamErrCode != ex.ErrCode || got.UpstreamErrType != ex.ErrType || got.Message != "boom" {
				t.Errorf("upstream fields not kept: %+v", got)
			}
		})
	}
	if got := Code(17).String(); got != "CODE(17)" {
		t.Errorf("Code(17).String() = %q", got)
	}
	if got := Code(200).HTTPStatus(); got != 500 {
		t.Errorf("Code(200).HTTPStatus() = %d", got)
	}
	if _, ok := ParseCode("NOPE"); ok {
		t.Error("ParseCode accepted NOPE")
	}
}

func TestCodeFromHTTPStatus(t *testing.T) {
	for status, want := range map[int]Code{
		200: OK, 201: OK, 204: OK, 299: OK,
		100: Unknown, 301: Unknown, 302: Unknown,
		400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound,
		405: Unimplemented, 408: DeadlineExceeded, 409: AlreadyExists, 412: FailedPrecondition,
		413: ResourceExhausted, 416: OutOfRange, 418: Unknown, 422: Unknown, 429: ResourceExhausted,
		431: ResourceExhausted, 499: Canceled,
		500: Internal, 501: Unimplemented, 502: Unavailable, 503: Unavailable, 504: DeadlineExceeded,
		505: Unknown, 599: Unknown, 0: Unknown, -1: Unknown,
	} {
		if got := CodeFromHTTPStatus(status); got != want {
			t.Errorf("CodeFromHTTPStatus(%d) = %v, want %v", status, got, want)
		}
	}
	// Every entry of the literal reverse table is consistent with the
	// forward table: the status of the code chosen is the status itself,
	// or the code's status is the generic one for a more precise status.
	for status, c := range httpToCode {
		if c.HTTPStatus() != status {
			switch status {
			case 405, 408, 412, 413, 416, 431, 502:
			default:
				t.Errorf("httpToCode[%d] = %v whose status is %d", status, c, c.HTTPStatus())
			}
		}
	}
}

func TestFromMotan2Exception(t *testing.T) {
	type want struct {
		code   Code
		status int
	}
	cases := []struct {
		name string
		ex   motan2.Exception
		want want
	}{
		// errtype 2: the errcode is the HTTP status when it is one.
		{"biz 400", motan2.Exception{ErrCode: 400, ErrType: 2}, want{InvalidArgument, 400}},
		{"biz 401", motan2.Exception{ErrCode: 401, ErrType: 2}, want{Unauthenticated, 401}},
		{"biz 403", motan2.Exception{ErrCode: 403, ErrType: 2}, want{PermissionDenied, 403}},
		{"biz 404", motan2.Exception{ErrCode: 404, ErrMsg: "service not found", ErrType: 2}, want{NotFound, 404}},
		{"biz 409", motan2.Exception{ErrCode: 409, ErrType: 2}, want{AlreadyExists, 409}},
		{"biz 418", motan2.Exception{ErrCode: 418, ErrType: 2}, want{Unknown, 418}},
		{"biz 429", motan2.Exception{ErrCode: 429, ErrType: 2}, want{ResourceExhausted, 429}},
		{"biz 500", motan2.Exception{ErrCode: 500, ErrType: 2}, want{Internal, 500}},
		{"biz 503", motan2.Exception{ErrCode: 503, ErrMsg: "dial tcp: connection refused", ErrType: 2}, want{Unavailable, 503}},
		{"biz 504", motan2.Exception{ErrCode: 504, ErrType: 2}, want{DeadlineExceeded, 504}},
		{"biz 599", motan2.Exception{ErrCode: 599, ErrType: 2}, want{Unknown, 599}},
		{"biz 399", motan2.Exception{ErrCode: 399, ErrType: 2}, want{Unknown, 500}},
		{"biz 600", motan2.Exception{ErrCode: 600, ErrType: 2}, want{Unknown, 500}},
		{"biz 0", motan2.Exception{ErrCode: 0, ErrType: 2}, want{Unknown, 500}},
		{"biz 1001", motan2.Exception{ErrCode: 1001, ErrType: 2}, want{Unknown, 500}},
		{"biz -1", motan2.Exception{ErrCode: -1, ErrType: 2}, want{Unknown, 500}},
		// motan-go's own service exceptions (spec 11.2).
		{"agent cluster not found", motan2.Exception{ErrCode: 400, ErrMsg: "cluster not found. cluster: com.x.Y", ErrType: 1}, want{Unimplemented, 502}},
		{"agent channel timeout", motan2.Exception{ErrCode: 400, ErrMsg: "channel call error:timeout err: receive request timeout", ErrType: 1}, want{DeadlineExceeded, 504}},
		{"agent rate limit", motan2.Exception{ErrCode: 400, ErrMsg: "[rateLimit] wait time exceed timeout(1s)", ErrType: 1}, want{ResourceExhausted, 429}},
		{"agent no channels", motan2.Exception{ErrCode: 400, ErrMsg: "motanEndpoint error: channels is null", ErrType: 1}, want{Unavailable, 503}},
		{"agent other 400", motan2.Exception{ErrCode: 400, ErrMsg: "call backup request fail.Exception:x", ErrType: 1}, want{Unknown, 502}},
		{"provider not exist", *motan2.ServiceNotFound("com.x.Y"), want{Unimplemented, 502}},
		{"framework 404", motan2.Exception{ErrCode: 404, ErrType: 0}, want{Unimplemented, 502}},
		{"service 409", motan2.Exception{ErrCode: 409, ErrType: 1}, want{Aborted, 409}},
		{"service 429", motan2.Exception{ErrCode: 429, ErrType: 1}, want{ResourceExhausted, 429}},
		{"service 499", motan2.Exception{ErrCode: 499, ErrType: 1}, want{Canceled, 499}},
		{"method not found", motan2.Exception{ErrCode: 500, ErrMsg: "method Foo is not found in provider.", ErrType: 1}, want{Unimplemented, 502}},
		{"provider panic", motan2.Exception{ErrCode: 500, ErrMsg: "provider call panic", ErrType: 1}, want{Internal, 502}},
		{"service not support", motan2.Exception{ErrCode: 501, ErrMsg: "service not support", ErrType: 1}, want{Unimplemented, 502}},
		{"shutting down", motan2.Exception{ErrCode: 503, ErrMsg: "server shutting down", ErrType: 1}, want{Unavailable, 503}},
		{"service 504", motan2.Exception{ErrCode: 504, ErrType: 1}, want{DeadlineExceeded, 504}},
		{"no endpoints", motan2.Exception{ErrCode: 1001, ErrMsg: "No refers for request", ErrType: 1}, want{Unavailable, 503}},
		{"no channel", motan2.Exception{ErrCode: 1002, ErrMsg: "can not get a channel", ErrType: 1}, want{Unavailable, 503}},
		{"unsupported msg", motan2.Exception{ErrCode: 1003, ErrType: 1}, want{Internal, 502}},
		{"convert fail", motan2.Exception{ErrCode: 1004, ErrType: 1}, want{Internal, 502}},
		{"service 418", motan2.Exception{ErrCode: 418, ErrType: 1}, want{Unknown, 502}},
		{"service 0", motan2.Exception{}, want{Unknown, 502}},
		{"errtype 7", motan2.Exception{ErrCode: 503, ErrType: 7}, want{Unavailable, 503}},
		{"errtype -1", motan2.Exception{ErrCode: 404, ErrType: -1}, want{Unimplemented, 502}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := tc.ex
			e := FromMotan2Exception(&ex)
			if e.Code != tc.want.code || e.Status() != tc.want.status {
				t.Fatalf("got %v HTTP %d, want %v HTTP %d", e.Code, e.Status(), tc.want.code, tc.want.status)
			}
			if !e.Upstream || e.UpstreamErrCode != ex.ErrCode || e.UpstreamErrType != ex.ErrType || e.Message != ex.ErrMsg {
				t.Fatalf("upstream fields not kept: %+v", e)
			}
			// An upstream exception passes back to a Motan2 caller unchanged.
			if back := ToMotan2Exception(e); !reflect.DeepEqual(*back, ex) {
				t.Fatalf("ToMotan2Exception = %+v, want %+v", back, ex)
			}
		})
	}
	// Every row of the service table is reached by its own errcode and
	// message, and answers with its own status and code.
	for _, r := range serviceExceptionTable {
		t.Run(fmt.Sprintf("row %d %q", r.errCode, r.match), func(t *testing.T) {
			for _, errType := range []int{motan2.ErrTypeFramework, motan2.ErrTypeService} {
				e := FromMotan2Exception(&motan2.Exception{ErrCode: r.errCode, ErrMsg: "x " + r.match + " y", ErrType: errType})
				if e.Code != r.code || e.Status() != r.status {
					t.Errorf("errtype %d: got %v %d, want %v %d", errType, e.Code, e.Status(), r.code, r.status)
				}
				if e.Status() < 400 || r.why == "" {
					t.Errorf("row must be an error status with a reason: %+v", r)
				}
			}
		})
	}
	if e := FromMotan2Exception(nil); e.Code != Internal {
		t.Errorf("nil exception: %v", e)
	}
}

func TestToMotan2Exception(t *testing.T) {
	if ToMotan2Exception(nil) != nil {
		t.Error("nil error gave an exception")
	}
	// An explicit HTTP status is the errcode.
	e := &Error{Code: ResourceExhausted, HTTPStatus: 413, Message: "request body larger than 4 MiB"}
	if ex := ToMotan2Exception(e); !reflect.DeepEqual(*ex, motan2.Exception{ErrCode: 413, ErrMsg: e.Message, ErrType: 1}) {
		t.Errorf("413: %+v", ex)
	}
	// No message: the cause's text.
	e = &Error{Code: Internal, Cause: io.ErrUnexpectedEOF}
	if ex := ToMotan2Exception(e); ex.ErrMsg != "unexpected EOF" || ex.ErrCode != 500 {
		t.Errorf("cause: %+v", ex)
	}
	e = &Error{Code: Code(99)}
	if ex := ToMotan2Exception(e); ex.ErrCode != 500 || ex.ErrType != 1 || ex.ErrMsg != "CODE(99)" {
		t.Errorf("unknown code: %+v", ex)
	}
}

func TestErrorMethods(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	e := Errorf(Unavailable, "dial %s: %w", "10.0.0.1:8002", cause)
	if e.Cause != cause || !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Fatalf("%%w did not set the cause: %+v", e)
	}
	if got := e.Error(); got != "UNAVAILABLE: dial 10.0.0.1:8002: unexpected EOF" {
		t.Errorf("Error() = %q", got)
	}
	if e.Status() != 503 {
		t.Errorf("Status = %d", e.Status())
	}
	e = &Error{Code: Internal, Message: "upstream connection lost", HTTPStatus: 502, Cause: cause}
	if got := e.Error(); got != "INTERNAL: upstream connection lost: unexpected EOF" || e.Status() != 502 {
		t.Errorf("Error() = %q, Status %d", got, e.Status())
	}
	e = FromMotan2Exception(motan2.ServiceNotFound("a.B"))
	if got := e.Error(); got != "UNIMPLEMENTED: provider not exist serviceKey=a.B (upstream errcode=404 errtype=1)" {
		t.Errorf("Error() = %q", got)
	}
	if e := Errorf(NotFound, "100%% sure"); e.Message != "100% sure" {
		t.Errorf("Errorf without args = %q", e.Message)
	}
	if e := Errorf(NotFound, "no route"); e.Message != "no route" || e.Cause != nil {
		t.Errorf("Errorf plain = %+v", e)
	}
	var target *Error
	if !errors.As(fmt.Errorf("wrapped: %w", e), &target) || target != e {
		t.Error("errors.As failed")
	}
}

func TestFromError(t *testing.T) {
	own := Errorf(NotFound, "no route for GET /x")
	cases := []struct {
		name string
		err  error
		code Code
		msg  string
	}{
		{"own", fmt.Errorf("ctx: %w", own), NotFound, "no route for GET /x"},
		{"exception", fmt.Errorf("call: %w", &motan2.Exception{ErrCode: 503, ErrMsg: "busy", ErrType: 1}), Unavailable, "busy"},
		{"arg", &ArgError{Arg: "id", Type: ArgInt64, Value: `"x"`, Reason: "is not a valid int64"}, InvalidArgument, `argument "id": "x" is not a valid int64`},
		{"deadline", context.DeadlineExceeded, DeadlineExceeded, "context deadline exceeded"},
		{"os deadline", os.ErrDeadlineExceeded, DeadlineExceeded, "i/o timeout"},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), Canceled, "x: context canceled"},
		{"other", io.EOF, Unknown, "EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := FromError(tc.err)
			if e.Code != tc.code || e.Message != tc.msg {
				t.Fatalf("got %v %q, want %v %q", e.Code, e.Message, tc.code, tc.msg)
			}
			if tc.name != "own" && !errors.Is(e, tc.err) {
				t.Fatal("cause lost")
			}
		})
	}
	if FromError(nil) != nil {
		t.Error("FromError(nil) != nil")
	}
}

func TestAppendErrorJSON(t *testing.T) {
	cases := []struct {
		name string
		e    *Error
		rid  string
		want string
	}{
		{"plain", Errorf(NotFound, "no route for GET /v1/users"), "",
			`{"code":"NOT_FOUND","status":404,"message":"no route for GET /v1/users"}`},
		{"request id", &Error{Code: ResourceExhausted, HTTPStatus: 413, Message: "body too large"}, "r-1",
			`{"code":"RESOURCE_EXHAUSTED","status":413,"message":"body too large","request_id":"r-1"}`},
		{"upstream", FromMotan2Exception(motan2.ServiceNotFound("a.B")), "7",
			`{"code":"UNIMPLEMENTED","status":502,"message":"provider not exist serviceKey=a.B","upstream_errcode":404,"upstream_errtype":1,"request_id":"7"}`},
		{"escapes", Errorf(InvalidArgument, "bad \"q\"\\\n\t<&>\x01\u2028é\xff"), "",
			`{"code":"INVALID_ARGUMENT","status":400,"message":"bad \"q\"\\\n\t<&>\u0001\u2028é\ufffd"}`},
		{"empty message", &Error{Code: Internal, Cause: io.ErrUnexpectedEOF}, "",
			`{"code":"INTERNAL","status":500,"message":"unexpected EOF"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendErrorJSON([]byte("prefix"), tc.e, tc.rid))
			if !strings.HasPrefix(got, "prefix") || got[6:] != tc.want {
				t.Fatalf("got  %s\nwant %s", got[6:], tc.want)
			}
			if !json.Valid([]byte(got[6:])) {
				t.Fatal("not valid JSON")
			}
		})
	}
	// Hostile messages and request ids: always valid JSON, and the message
	// reads back as the input with invalid UTF-8 replaced.
	hostile := []string{"", "\x00\x1f\x7f", "\xff\xfe\xfd", "\xed\xa0\x80", `"}{"code":"OK"`, "\\u0000", strings.Repeat("\xe2\x82", 100), "\u2029</script>"}
	for _, m := range hostile {
		out := AppendErrorJSON(nil, &Error{Code: Unknown, Message: m}, m)
		var back struct {
			Code, Message string
			RequestID     string `json:"request_id"`
		}
		if err := json.Unmarshal(out, &back); err != nil || !json.Valid(out) {
			t.Fatalf("%q: %s: %v", m, out, err)
		}
		// encoding/json replaces invalid bytes the same way, one U+FFFD each.
		ref, _ := json.Marshal(m)
		var want string
		_ = json.Unmarshal(ref, &want)
		wantMsg := want
		if m == "" {
			wantMsg = "UNKNOWN" // no message: the code's name
		}
		if back.Message != wantMsg || back.RequestID != want {
			t.Errorf("%q read back as %q / %q, want %q", m, back.Message, back.RequestID, want)
		}
	}
	e := Errorf(NotFound, "no route")
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendErrorJSON(buf[:0], e, "abc") }); n != 0 {
		t.Errorf("AppendErrorJSON allocates %v times", n)
	}
}
