package assembly_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

const testConfig = `
http:
  listen: 127.0.0.1:0
  max_body_bytes: 1024
  max_header_bytes: 2048
  read_timeout: %s
demo:
  listen: 127.0.0.1:0
clusters:
  - name: demo
    endpoints: [demo]
  - name: dead
    endpoints: ["%s"]
    dial_timeout: 200ms
routes:
  - {name: hello, method: GET, path: "/v1/hello/{name}", target: {cluster: demo, service: meshgate.demo.EchoService, method: hello},
     args: [{name: name, from: path, type: string}]}
  - {name: add, method: GET, path: /v1/add, target: {cluster: demo, service: meshgate.demo.EchoService, method: add},
     args: [{name: a, from: query, type: int64}, {name: b, from: query, type: int64, default: "0"}]}
  - {name: echo-body, method: POST, path: /v1/echo, target: {cluster: demo, service: meshgate.demo.EchoService, method: echo},
     args: [{name: body, from: body, type: map}]}
  - {name: echo-int64, method: GET, path: /v1/big, target: {cluster: demo, service: meshgate.demo.EchoService, method: echo},
     args: [{name: n, from: query, type: int64}], reply: {int64_as_string: true}}
  - {name: echo-bytes, method: GET, path: "/v1/bytes/{b}", target: {cluster: demo, service: meshgate.demo.EchoService, method: echo},
     args: [{name: b, from: path, type: bytes}]}
  - {name: upper, method: POST, path: /v1/upper, target: {cluster: demo, service: meshgate.demo.EchoService, method: upper},
     args: [{name: text, from: body_field, key: doc.text, type: string}], reply: {content_type: text/plain}}
  - {name: shelf, method: GET, path: "/v1/{name=shelves/*}", target: {cluster: demo, service: meshgate.demo.EchoService, method: echo},
     args: [{name: name, from: path, type: string}]}
  - {name: cancel, method: POST, path: "/v1/orders/{id}:cancel", target: {cluster: demo, service: meshgate.demo.EchoService, method: cancel},
     args: [{name: id, from: path, type: string}]}
  - {name: meta, method: GET, path: "/v1/meta/{key}", target: {cluster: demo, service: meshgate.demo.EchoService, method: meta},
     args: [{name: key, from: path, type: string}], request_headers: [X-Trace-Id], response_meta: [M_pt]}
  - {name: header-arg, method: GET, path: /v1/whoami, target: {cluster: demo, service: meshgate.demo.EchoService, method: hello},
     args: [{name: user, from: header, key: X-User, type: string}]}
  - {name: sleep, method: GET, path: "/v1/sleep/{ms}", target: {cluster: demo, service: meshgate.demo.EchoService, method: sleep, timeout: 100ms},
     args: [{name: ms, from: path, type: int64}]}
  - {name: nosuch, method: GET, path: /v1/nosuch, target: {cluster: demo, service: com.example.Missing, method: get}}
  - {name: dead, method: GET, path: /v1/dead, target: {cluster: dead, service: s, method: m}}
`

func startGateway(t *testing.T) (base string, gw *assembly.Gateway) {
	return startGatewayReadTimeout(t, 10*time.Second)
}

func startGatewayReadTimeout(t *testing.T, readTimeout time.Duration) (base string, gw *assembly.Gateway) {
	t.Helper()
	gw = startYAML(t, fmt.Sprintf(testConfig, readTimeout, deadAddr(t)))
	return "http://" + gw.HTTPAddr().String(), gw
}

type result struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, url, body string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

func TestHTTPToMotan2(t *testing.T) {
	base, _ := startGateway(t)
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		want                     string // substring of the body, or with a leading "=" the whole body
	}{
		{"path var", "GET", "/v1/hello/world", "", nil, 200, `="hello, world"`},
		{"percent-encoded path var", "GET", "/v1/hello/J%C3%BCrgen%20M", "", nil, 200, `="hello, Jürgen M"`},
		{"query int64 + default", "GET", "/v1/add?a=40", "", nil, 200, `=40`},
		{"query int64", "GET", "/v1/add?a=40&b=2", "", nil, 200, `=42`},
		{"bad int64 names the argument", "GET", "/v1/add?a=forty", "", nil, 400, `argument \"a\"`},
		{"missing argument", "GET", "/v1/add", "", nil, 400, `missing argument \"a\"`},
		{"whole body as map keeps order", "POST", "/v1/echo", `{"z":1,"a":{"list":[1,"two",3.5,true,null]},"m":"x"}`, nil, 200,
			`{"z":1,"a":{"list":[1,"two",3.5,true,null]},"m":"x"}`},
		{"malformed JSON body", "POST", "/v1/echo", "{\n  \"a\": 1,\n  \"b\": }", nil, 400, `line 3`},
		{"int64 as string", "GET", "/v1/big?n=9007199254740993", "", nil, 200, `="9007199254740993"`},
		{"bytes as base64", "GET", "/v1/bytes/AAEC_w", "", nil, 200, `="AAEC/w=="`},
		{"body field, raw reply", "POST", "/v1/upper", `{"doc":{"text":"shout"}}`, nil, 200, `=SHOUT`},
		{"multi-segment variable", "GET", "/v1/shelves/42", "", nil, 200, `="shelves/42"`},
		{"custom verb + business exception", "POST", "/v1/orders/7:cancel", "", nil, 409, `"upstream_errcode":409`},
		{"header argument", "GET", "/v1/whoami", "", []string{"X-User", "ada"}, 200, `="hello, ada"`},
		{"forwarded header", "GET", "/v1/meta/X-Trace-Id", "", []string{"X-Trace-Id", "t-123"}, 200, `="t-123"`},
		{"request id reaches upstream", "GET", "/v1/meta/X-Request-Id", "", []string{"X-Request-Id", "rid-42"}, 200, `="rid-42"`},
		{"no route", "GET", "/v2/nothing", "", nil, 404, `"code":"NOT_FOUND"`},
		{"wrong method", "DELETE", "/v1/hello/x", "", nil, 405, `not allowed`},
		{"upstream timeout", "GET", "/v1/sleep/2000", "", nil, 504, `"code":"DEADLINE_EXCEEDED"`},
		{"service not exported upstream", "GET", "/v1/nosuch", "", nil, 502, `provider not exist`},
		{"no reachable endpoint", "GET", "/v1/dead", "", nil, 503, `"code":"UNAVAILABLE"`},
		{"body too large", "POST", "/v1/echo", `{"a":"` + strings.Repeat("x", 2000) + `"}`, nil, 413, `larger than 1024`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, c, tc.method, base+tc.path, tc.body, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if exact, ok := strings.CutPrefix(tc.want, "="); ok {
				if r.body != exact {
					t.Fatalf("body %s, want %s", r.body, exact)
				}
			} else if !strings.Contains(r.body, tc.want) {
				t.Fatalf("body %s lacks %s", r.body, tc.want)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id on the response")
			}
			if r.status >= 400 {
				var e map[string]any
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e["code"] == nil || e["message"] == nil {
					t.Errorf("error body is not the JSON error shape: %s", r.body)
				}
			}
			if r.status == 405 && r.header.Get("Allow") != "GET" {
				t.Errorf("Allow: %q", r.header.Values("Allow"))
			}
		})
	}
}

func TestRequestIDAndReplyMeta(t *testing.T) {
	base, _ := startGateway(t)
	c := &http.Client{}
	defer c.CloseIdleConnections()
	r := do(t, c, "GET", base+"/v1/meta/X-Request-Id", "")
	id := r.header.Get("X-Request-Id")
	if id == "" || r.body != `"`+id+`"` {
		t.Fatalf("generated id %q, upstream saw %s", id, r.body)
	}
	if r.header.Get("M_pt") == "" {
		t.Fatalf("reply meta M_pt not copied to headers: %v", r.header)
	}
	r2 := do(t, c, "GET", base+"/v1/meta/X-Request-Id", "")
	if r2.header.Get("X-Request-Id") == id {
		t.Fatal("two requests got the same generated id")
	}
	r3 := do(t, c, "GET", base+"/v1/hello/x", "", "X-Request-Id", "mine")
	if r3.header.Get("X-Request-Id") != "mine" {
		t.Fatalf("caller's id not kept: %q", r3.header.Get("X-Request-Id"))
	}
}

func TestHeaderTooLarge(t *testing.T) {
	_, gw := startGateway(t)
	req := "GET /v1/hello/x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("h", 4096) + "\r\n\r\n"
	// The server answers before reading the whole request and closes, so
	// the kernel may reset the connection before the client reads the
	// answer; a reset attempt is retried, a wrong answer fails at once.
	for attempt := 0; attempt < 5; attempt++ {
		nc, err := net.Dial("tcp", gw.HTTPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		nc.Write([]byte(req))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		nc.Close()
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 431 || !strings.Contains(string(body), "larger than 2048") {
			t.Fatalf("status %d, body %s", resp.StatusCode, body)
		}
		return
	}
	t.Fatal("no answer in 5 attempts")
}

// A client that sends half a request is cut off after the read timeout
// instead of holding a connection forever.
func TestSlowClientIsCutOff(t *testing.T) {
	_, gw := startGatewayReadTimeout(t, 300*time.Millisecond)
	nc, err := net.Dial("tcp", gw.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("GET /v1/hello/x HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	resp, err := io.ReadAll(bufio.NewReader(nc))
	if err != nil {
		t.Fatalf("read: %v (after %v)", err, time.Since(start))
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("connection held for %v", time.Since(start))
	}
	if len(resp) > 0 && !bytes.Contains(resp, []byte("408")) {
		t.Fatalf("unexpected reply to a slow client: %q", resp)
	}
}

func TestKeepAliveAndConcurrency(t *testing.T) {
	base, _ := startGateway(t)
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	c := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	// Sequential requests share one kept-alive connection.
	reused := 0
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			reused++
		}
	}}
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", base+"/v1/hello/k", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if reused != 4 {
		t.Fatalf("%d of 4 follow-up requests reused the connection", reused)
	}

	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(fmt.Sprintf("%s/v1/add?a=%d&b=1", base, i))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprint(i + 1); resp.StatusCode != 200 || string(b) != want {
				t.Errorf("request %d: %d %s", i, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
}
