package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// syncBuffer is an output the test reads after Close.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

type answer struct {
	reply gateway.Reply
	err   error
}

func (a answer) Invoke(_ context.Context, _ *gateway.Call, reply *gateway.Reply) error {
	*reply = a.reply
	return a.err
}

// parseLogfmt reads a line of key=value pairs, values plain or Go-quoted.
func parseLogfmt(t *testing.T, line string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for s := line; s != ""; {
		s = strings.TrimLeft(s, " ")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			t.Fatalf("no '=' in %q", s)
		}
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("value of %s in %q: %v", k, line, err)
			}
			m[k], _ = strconv.Unquote(q)
			s = rest[len(q):]
		} else {
			v, after, _ := strings.Cut(rest, " ")
			m[k], s = v, after
		}
	}
	return m
}

// closeAndParse closes l and returns the fields of the one line it wrote
// to out, and the line.
func closeAndParse(t *testing.T, l *Log, out *syncBuffer, ft Format) (map[string]string, string) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := out.lines()
	if len(lines) != 1 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	return parseLine(t, ft, lines[0]), lines[0]
}

// wantFields checks that got has want's fields with their values.
func wantFields(t *testing.T, got, want map[string]string, line string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (line %s)", k, got[k], v, line)
		}
	}
}

// parseLine reads a line of either format into its fields, as strings.
func parseLine(t *testing.T, ft Format, line string) map[string]string {
	t.Helper()
	if ft == Logfmt {
		return parseLogfmt(t, line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	got := map[string]string{}
	for k, v := range m {
		got[k] = fmt.Sprint(v)
	}
	return got
}

var traceCtx = func() context.Context {
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	return trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
}()

// Every field, in both formats, for the call shapes of every ingress.
func TestLineFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		call   gateway.Call
		answer answer
		want   map[string]string
	}{
		{"simple ok", traceCtx,
			gateway.Call{Service: "com.example.Users", Method: "get", RequestID: "req-1", Args: []motan2.Value{motan2.String("abcd"), motan2.Int64(7)}},
			answer{reply: gateway.Reply{Value: motan2.String("hello"), Endpoint: "10.0.0.1:8002", Attempts: 1}},
			map[string]string{"route": "GET /v1/users/{id}", "target": "com.example.Users/get", "endpoint": "10.0.0.1:8002",
				"grpc_status": "OK", "http_status": "200", "req_bytes": "12", "resp_bytes": "5", "attempts": "1",
				"trace_id": "0af7651916cd43dd8448eb211c80319c", "request_id": "req-1"}},
		{"grpc payload failover error", context.Background(),
			gateway.Call{FullMethod: "/shop.v1.Library/GetBook", Payload: make([]byte, 33), RequestID: `id "quoted"`},
			answer{reply: gateway.Reply{Endpoint: "10.0.0.2:9090", Attempts: 3, Backups: 1},
				err: &translate.Error{Code: translate.NotFound, Message: "no book\nnamed \"x\""}},
			map[string]string{"route": "GET /v1/users/{id}", "target": "/shop.v1.Library/GetBook", "endpoint": "10.0.0.2:9090",
				"grpc_status": "NOT_FOUND", "http_status": "404", "req_bytes": "33", "resp_bytes": "0", "attempts": "3", "backups": "1",
				"request_id": `id "quoted"`, "error": "no book\nnamed \"x\""}},
		{"motan2 frame", context.Background(),
			gateway.Call{Service: "svc", Method: "m", Frame: &motan2.Frame{Body: make([]byte, 10), Meta: motan2.Meta{{Key: motan2.MetaRequestID, Value: "77"}}}},
			answer{reply: gateway.Reply{Frame: &motan2.Frame{Body: make([]byte, 20)}, Attempts: 1}},
			map[string]string{"target": "svc/m", "grpc_status": "OK", "http_status": "200", "req_bytes": "10", "resp_bytes": "20", "request_id": "77"}},
		{"no endpoint reached", context.Background(),
			gateway.Call{Service: "svc", Method: "m"},
			answer{err: translate.Errorf(translate.Unavailable, "no endpoint")},
			map[string]string{"grpc_status": "UNAVAILABLE", "http_status": "503", "attempts": "0", "error": "no endpoint"}},
	} {
		for _, ft := range []Format{JSON, Logfmt} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, ft), func(t *testing.T) {
				out := &syncBuffer{}
				l := New(out, Options{})
				inv := gateway.Chain(tc.answer, l.Filter(FilterOptions{Route: "GET /v1/users/{id}", Format: ft, SampleRatio: 1}))
				before := time.Now().UTC().Truncate(time.Microsecond)
				call := tc.call
				err := inv.Invoke(tc.ctx, &call, &gateway.Reply{})
				if err != tc.answer.err {
					t.Fatalf("error %v, want %v passed through", err, tc.answer.err)
				}
				got, line := closeAndParse(t, l, out, ft)
				wantFields(t, got, tc.want, line)
				for _, k := range []string{"trace_id", "endpoint", "backups", "error", "request_id"} {
					if _, want := tc.want[k]; !want && got[k] != "" {
						t.Errorf("%s = %q, want absent", k, got[k])
					}
				}
				ts, err := time.Parse(time.RFC3339Nano, got["time"])
				if err != nil || ts.Before(before) || ts.After(time.Now()) {
					t.Errorf("time %q (%v) not the request's start", got["time"], err)
				}
				if lat, err := strconv.Atoi(got["latency_us"]); err != nil || lat < 0 {
					t.Errorf("latency_us %q", got["latency_us"])
				}
			})
		}
	}
}

// Sampling applies to successful requests; errors_always keeps failures.
func TestSampling(t *testing.T) {
	fail := answer{err: translate.Errorf(translate.Internal, "x")}
	for _, tc := range []struct {
		name         string
		ratio        float64
		errorsAlways bool
		okLines      int // of 200 successes
		errLines     int // of 10 failures
		approx       bool
	}{
		{"all", 1, false, 200, 10, false},
		{"none", 0, false, 0, 0, false},
		{"errors only", 0, true, 0, 10, false},
		{"half", 0.5, true, 100, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &syncBuffer{}
			l := New(out, Options{Buffer: 1000})
			f := l.Filter(FilterOptions{Route: "r", SampleRatio: tc.ratio, ErrorsAlways: tc.errorsAlways})
			for range 200 {
				gateway.Chain(answer{}, f).Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
			}
			for range 10 {
				gateway.Chain(fail, f).Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			okN, errN := 0, 0
			for _, line := range out.lines() {
				switch {
				case strings.Contains(line, `"grpc_status":"OK"`):
					okN++
				case strings.Contains(line, `"grpc_status":"INTERNAL"`):
					errN++
				}
			}
			if errN != tc.errLines {
				t.Errorf("%d error lines, want %d", errN, tc.errLines)
			}
			if tc.approx {
				if okN < 50 || okN > 150 { // p(fail) < 1e-12 at ratio 0.5
					t.Errorf("%d ok lines of 200 at ratio %v", okN, tc.ratio)
				}
			} else if okN != tc.okLines {
				t.Errorf("%d ok lines, want %d", okN, tc.okLines)
			}
		})
	}
}

// gatedWriter blocks every write until the test opens the gate.
type gatedWriter struct {
	entered chan struct{}
	gate    chan struct{}
	syncBuffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	return g.syncBuffer.Write(p)
}

// logCapture is a slog handler that passes records to a channel.
type logCapture struct{ recs chan slog.Record }

func (c logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c logCapture) Handle(_ context.Context, r slog.Record) error {
	select {
	case c.recs <- r:
	default:
	}
	return nil
}
func (c logCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c logCapture) WithGroup(string) slog.Handler      { return c }

// A stuck output never blocks a request: lines beyond the buffer are
// dropped, counted and reported.
func TestFullQueueDropsAndReports(t *testing.T) {
	w := &gatedWriter{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	logs := logCapture{recs: make(chan slog.Record, 16)}
	l := New(w, Options{Buffer: 4, Logger: slog.New(logs), ReportEvery: 5 * time.Millisecond})
	f := l.Filter(FilterOptions{Route: "r", SampleRatio: 1})
	inv := gateway.Chain(answer{}, f)
	// The first line occupies the writer (blocked in Write, bufio's
	// 64 KiB buffer is bypassed only at flush), then 4 fill the queue.
	inv.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			inv.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("requests blocked on a stuck access log")
	}
	select {
	case <-w.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("writer never wrote")
	}
	if d := l.Dropped(); d < 90 {
		t.Fatalf("%d dropped of 101 with a stuck writer and a queue of 4", d)
	}
	close(w.gate)
	deadline := time.After(10 * time.Second)
	for reported := uint64(0); reported < l.Dropped(); {
		select {
		case r := <-logs.recs:
			if !strings.Contains(r.Message, "dropped") {
				t.Fatalf("unexpected log %q", r.Message)
			}
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "dropped_total" {
					reported = a.Value.Uint64()
				}
				return true
			})
		case <-deadline:
			t.Fatalf("drops never reported (%d dropped)", l.Dropped())
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := uint64(len(w.lines())); got+l.Dropped() != 101 || l.Written() != got {
		t.Fatalf("%d written + %d dropped != 101 (written counter %d)", got, l.Dropped(), l.Written())
	}
}

// Close writes what is queued, closes a closer output once, and lines
// after it are dropped, never a panic.
func TestCloseFlushes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	f, err := OpenRotating(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	l := New(f, Options{})
	inv := gateway.Chain(answer{}, l.Filter(FilterOptions{Route: "r", Format: Logfmt, SampleRatio: 1}))
	for range 50 {
		inv.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	inv.Invoke(context.Background(), &gateway.Call{}, &gateway.Reply{})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 50 {
		t.Fatalf("%d lines in the file, want 50", n)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("the file is still open after Close")
	}
}

func TestRotatingFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backups int
		files   []string // expected, with their line counts
		counts  []int
	}{
		{"two backups", 2, []string{"a.log", "a.log.1", "a.log.2"}, []int{1, 4, 4}},
		{"no backups", 0, []string{"a.log"}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.log")
			// An existing file counts towards the size.
			if err := os.WriteFile(path, []byte("line-00\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := OpenRotating(path, 32, tc.backups) // 4 lines of 8 bytes
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 12; i++ {
				if _, err := fmt.Fprintf(r, "line-%02d\n", i); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(dir)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if strings.Join(names, ",") != strings.Join(tc.files, ",") {
				t.Fatalf("files %v, want %v", names, tc.files)
			}
			for i, name := range tc.files {
				b, _ := os.ReadFile(filepath.Join(dir, name))
				if n := strings.Count(string(b), "\n"); n != tc.counts[i] {
					t.Errorf("%s: %d lines, want %d:\n%s", name, n, tc.counts[i], b)
				}
			}
			// The newest line is in the live file, the previous ones in .1.
			if b, _ := os.ReadFile(path); string(b) != "line-12\n" {
				t.Errorf("live file %q", b)
			}
			if tc.backups > 0 {
				if b, _ := os.ReadFile(path + ".1"); !strings.HasPrefix(string(b), "line-08\n") {
					t.Errorf(".1 = %q", b)
				}
			}
		})
	}
	// A line larger than the limit still goes whole into a fresh file.
	dir := t.TempDir()
	r, err := OpenRotating(filepath.Join(dir, "b.log"), 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 2 {
		if n, err := r.Write([]byte("0123456789\n")); n != 11 || err != nil {
			t.Fatalf("%d %v", n, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b.log")); string(b) != "0123456789\n" {
		t.Fatalf("%q", b)
	}
	if _, err := OpenRotating(filepath.Join(dir, "missing", "c.log"), 1, 1); err == nil || !strings.Contains(err.Error(), "c.log") {
		t.Fatalf("error %v does not name the file", err)
	}
}

// A rotation that cannot reopen the file (its directory is gone) loses
// the lines of that write, is logged, and the log writes again once the
// file can be opened: neither the file nor the log's buffered writer
// stays failed.
func TestOutputRecoversAfterFailedRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.log")
	r, err := OpenRotating(path, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("line-one-xxxxxx\n")); err != nil { // 16 bytes: full
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	logs := logCapture{recs: make(chan slog.Record, 16)}
	l := New(r, Options{Logger: slog.New(logs)})
	put := func(line string) {
		b := getBuf()
		*b = append(*b, line...)
		l.enqueue(b)
	}
	put("line-two\n") // rotation: renaming and reopening fail
	select {
	case rec := <-logs.recs:
		if !strings.Contains(rec.Message, "write failed") {
			t.Fatalf("logged %q", rec.Message)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the failed rotation was not logged")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	put("line-three\n")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "line-three\n" {
		t.Fatalf("after the directory came back: %q, %v", b, err)
	}
}

// The ingress's receipt time, when set, is the line's time and the
// start of its latency.
func TestLineUsesIngressStart(t *testing.T) {
	out := &syncBuffer{}
	l := New(out, Options{})
	start := time.Date(2026, 11, 21, 20, 0, 0, 123456000, time.UTC)
	call := gateway.Call{Service: "s", Method: "m", Start: start}
	gateway.Chain(answer{}, l.Filter(FilterOptions{Route: "r", SampleRatio: 1})).Invoke(context.Background(), &call, &gateway.Reply{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Time    string `json:"time"`
		Latency int64  `json:"latency_us"`
	}
	if err := json.Unmarshal([]byte(out.lines()[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Time != "2026-11-21T20:00:00.123456Z" || m.Latency < time.Since(start).Microseconds()-60e6 {
		t.Fatalf("time %s latency %dµs, want the call's start", m.Time, m.Latency)
	}
}

// The filter allocates nothing per request once the line buffers
// circulate: the line is formatted into a pooled buffer that the writer
// returns. (A lagging writer makes the pool allocate a buffer now and
// then: hence the tolerance.)
func TestFilterAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	// A short queue: at most 64 buffers are out of the pool, whether the
	// writer keeps up or lines are dropped.
	l := New(io.Discard, Options{Buffer: 64, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer l.Close()
	inv := gateway.Chain(answer{reply: gateway.Reply{Value: motan2.String("v"), Endpoint: "10.0.0.1:1", Attempts: 1}},
		l.Filter(FilterOptions{Route: "GET /v1/users/{id}", SampleRatio: 1}))
	call := gateway.Call{Service: "com.example.Users", Method: "get", RequestID: "r-1", Args: []motan2.Value{motan2.String("1")}}
	var reply gateway.Reply
	ctx := traceCtx
	// Not testing.AllocsPerRun: it runs with GOMAXPROCS=1, where the
	// writer goroutine, and so the buffers' return, waits for the loop.
	run := func(n int) {
		for range n {
			inv.Invoke(ctx, &call, &reply)
		}
	}
	run(1000) // the pool fills
	const n = 5000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run(n)
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.5 {
		t.Fatalf("%.2f allocations per request", per)
	}
}
