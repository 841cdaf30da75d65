package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const runYAML = `
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
admin: {listen: "127.0.0.1:0"}
clusters:
  - {name: demo, endpoints: [demo]}
routes:
  - {name: hello, method: GET, path: "/v1/hello/{name}", target: {cluster: demo, service: meshgate.demo.EchoService, method: hello},
     args: [{name: name, from: path, type: string}]}
`

// addRoute is runYAML with one more route.
const addRoute = runYAML + `  - {name: add, method: GET, path: /v1/add, target: {cluster: demo, service: meshgate.demo.EchoService, method: add},
     args: [{name: a, from: query, type: int64}, {name: b, from: query, type: int64, default: "0"}]}
`

// running is a `meshgate run` started by a test, with its log.
type running struct {
	t     *testing.T
	lines chan string
	http  string // base URL of the HTTP ingress
	admin string // base URL of the management API ("" when off)
	c     *http.Client
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startRun runs meshgate with args until the test ends, and waits until
// it serves.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &running{t: t, lines: make(chan string, 1024), c: &http.Client{Timeout: 10 * time.Second}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"run"}, args...), nil, io.Discard, pw)
		pw.Close()
	}()
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		for range r.lines { // drain until the pipe closes
		}
		r.c.CloseIdleConnections()
	})
	serving := r.wait(`msg="meshgate: serving"`)
	r.http = "http://" + regexp.MustCompile(`http=(\S+)`).FindStringSubmatch(serving)[1]
	for {
		line := r.wait(`msg="meshgate: `)
		if strings.Contains(line, `msg="meshgate: management API"`) {
			r.admin = "http://" + regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)[1]
		}
		if strings.Contains(line, `msg="meshgate: built-in demo Motan2 service"`) {
			return r // the last line of the start
		}
	}
}

// wait returns the next log line containing every one of subs; lines
// before it are skipped.
func (r *running) wait(subs ...string) string {
	r.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("meshgate exited before logging %q", subs)
			}
			match := true
			for _, s := range subs {
				match = match && strings.Contains(line, s)
			}
			if match {
				return line
			}
		case <-timeout:
			r.t.Fatalf("no log line with %q in 20s", subs)
		}
	}
}

func (r *running) get(url string) (int, string) {
	r.t.Helper()
	resp, err := r.c.Get(url)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) generation() int64 {
	r.t.Helper()
	code, body := r.get(r.admin + "/status")
	var st struct {
		Generation struct {
			Number int64 `json:"number"`
		} `json:"generation"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		r.t.Fatalf("status: %d %s", code, body)
	}
	return st.Generation.Number
}

// TestWatchReloads: with --watch, a change of the file's content reloads
// it; an invalid change is logged with its line and the old routes keep
// serving.
func TestWatchReloads(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, file, runYAML)
	r := startRun(t, "-c", file, "--watch=100ms")
	if code, _ := r.get(r.http + "/v1/add?a=1"); code != 404 {
		t.Fatalf("add before: %d", code)
	}
	writeFile(t, file, addRoute)
	r.wait(`msg="meshgate: configuration reloaded"`, `trigger="file change"`, "generation=2")
	if code, body := r.get(r.http + "/v1/add?a=40&b=2"); code != 200 || body != "42" {
		t.Fatalf("add after: %d %s", code, body)
	}
	writeFile(t, file, strings.Replace(addRoute, "endpoints: [demo]", "endpoints: [nohostport]", 1))
	r.wait(`msg="meshgate: invalid configuration"`, `problem="`+file+`:6: clusters[0].endpoints[0]: \"nohostport\" is not a host:port address`)
	if code, _ := r.get(r.http + "/v1/add?a=1"); code != 200 || r.generation() != 2 {
		t.Fatalf("after an invalid change: %d, generation %d", code, r.generation())
	}
	writeFile(t, file, runYAML)
	r.wait(`msg="meshgate: configuration reloaded"`, "generation=3")
	if code, _ := r.get(r.http + "/v1/add?a=1"); code != 404 {
		t.Fatalf("add removed: %d", code)
	}
}

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--watch"}, "--watch needs -c FILE"},
		{[]string{"run", "--watch=1ms", "-c", "x.yaml"}, "no such file"},
		{[]string{"run", "--watch", "2s"}, `unexpected argument "2s"`},
		{[]string{"run", "--watch=soon"}, "want a duration"},
		{[]string{"run", "--admin-addr", "0.0.0.0:0"}, "not a loopback address and admin.token is not set"},
		{[]string{"run", "--admin-addr", "nohostport"}, "is not a host:port address"},
	} {
		err := run(context.Background(), tc.args, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
	}
	// The management API can be turned off.
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, file, runYAML)
	r := startRun(t, "-c", file, "--admin-addr", "off")
	if r.admin != "" {
		t.Fatalf("management API served at %s", r.admin)
	}
}
