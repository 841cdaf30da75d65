package accesslog

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/meshgate/meshgate/translate"
)

// A rejected request's line, in both formats: the ingress, the route when
// one matched, the target, the outcome, no sizes or endpoint.
func TestRejectedLine(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		route, target, reqID string
		err                  error
		want                 map[string]string
		absent               []string
	}{
		{"no route", "", "GET /v1/nothing", "r-1",
			&translate.Error{Code: translate.NotFound, Message: "no route for GET /v1/nothing"},
			map[string]string{"ingress": "http", "target": "GET /v1/nothing", "grpc_status": "NOT_FOUND", "http_status": "404",
				"attempts": "0", "request_id": "r-1", "error": "no route for GET /v1/nothing"},
			[]string{"route", "endpoint", "req_bytes", "resp_bytes", "trace_id"}},
		{"argument that does not bind", "get-user", "GET /v1/users/x", "",
			&translate.Error{Code: translate.InvalidArgument, Message: `argument "id": "x" is not an int64`},
			map[string]string{"ingress": "http", "route": "get-user", "target": "GET /v1/users/x", "grpc_status": "INVALID_ARGUMENT",
				"http_status": "400", "error": `argument "id": "x" is not an int64`},
			[]string{"request_id"}},
		{"malformed request", "", "", "",
			&translate.Error{Code: translate.InvalidArgument, Message: "malformed HTTP request"},
			map[string]string{"ingress": "http", "grpc_status": "INVALID_ARGUMENT", "http_status": "400"},
			[]string{"route", "target"}},
	} {
		for _, ft := range []Format{JSON, Logfmt} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, ft), func(t *testing.T) {
				out := &syncBuffer{}
				l := New(out, Options{})
				start := time.Now().Add(-3 * time.Millisecond)
				l.Rejected(FilterOptions{Format: ft, ErrorsAlways: true}).Log(start, "http", tc.route, tc.target, tc.reqID, tc.err)
				got, line := closeAndParse(t, l, out, ft)
				wantFields(t, got, tc.want, line)
				for _, k := range tc.absent {
					if v, ok := got[k]; ok {
						t.Errorf("%s = %q, want absent (line %s)", k, v, line)
					}
				}
				ts, err := time.Parse(time.RFC3339Nano, got["time"])
				if err != nil || !ts.Equal(start.UTC().Truncate(time.Microsecond)) {
					t.Errorf("time %q (%v), want the request's start %v", got["time"], err, start)
				}
				if lat, err := strconv.Atoi(got["latency_us"]); err != nil || lat < 3000 {
					t.Errorf("latency_us %q, want at least 3000 (the request started 3ms before)", got["latency_us"])
				}
			})
		}
	}
}

// Rejections are failures: errors_always logs them all, otherwise they are
// sampled at the ratio like any request.
func TestRejectedSampling(t *testing.T) {
	fail := translate.Errorf(translate.NotFound, "no route")
	for _, tc := range []struct {
		o    FilterOptions
		want int
	}{
		{FilterOptions{ErrorsAlways: true}, 20},
		{FilterOptions{SampleRatio: 0}, 0},
		{FilterOptions{SampleRatio: 1}, 20},
	} {
		out := &syncBuffer{}
		l := New(out, Options{})
		r := l.Rejected(tc.o)
		for i := 0; i < 20; i++ {
			r.Log(time.Time{}, "grpc", "", "/pkg.S/M", "", fail)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		n := 0
		if s := out.lines(); len(s) > 1 || s[0] != "" {
			n = len(s)
		}
		if n != tc.want {
			t.Errorf("%+v: %d lines, want %d", tc.o, n, tc.want)
		}
	}
}
