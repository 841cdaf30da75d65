package ingress

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/clock"
)

// countingConn counts the deadline moves a timedConn makes.
type countingConn struct {
	net.Conn
	reads, writes atomic.Int32
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.reads.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.writes.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

// tcpPair returns a connected loopback pair: the server side wrapped in a
// timedConn with the timeouts of l (over a countingConn), and the client.
func tcpPair(t *testing.T, l timedListener) (*timedConn, *countingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: server}
	tc := &timedConn{Conn: cc, l: &l, reqStart: clock.Mono()}
	t.Cleanup(func() { client.Close(); server.Close() })
	return tc, cc, client
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// Many request/response exchanges on a kept-alive connection move its
// deadlines a few times, not three times per request as fasthttp does.
func TestTimedConnMovesDeadlinesRarely(t *testing.T) {
	tc, cc, client := tcpPair(t, timedListener{read: time.Minute, write: time.Minute, idle: 2 * time.Minute})
	buf := make([]byte, 64)
	const exchanges = 500
	for i := 0; i < exchanges; i++ {
		if _, err := client.Write([]byte("request")); err != nil {
			t.Fatal(err)
		}
		if n, err := tc.Read(buf); err != nil || string(buf[:n]) != "request" {
			t.Fatalf("exchange %d: read %q, %v", i, buf[:n], err)
		}
		if _, err := tc.Write([]byte("reply")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf[:5]); err != nil {
			t.Fatal(err)
		}
	}
	// The first read (request phase) and the second (idle phase) each set
	// the read deadline, the first write the write deadline; the slack is
	// minutes, far longer than this test.
	if r, w := cc.reads.Load(), cc.writes.Load(); r > 2 || w > 1 {
		t.Fatalf("%d exchanges moved the read deadline %d times and the write deadline %d times; want at most 2 and 1", exchanges, r, w)
	}
}

// A connection waiting for its next request is given up after the idle
// timeout, within the slack.
func TestTimedConnIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	tc, _, _ := tcpPair(t, timedListener{read: 10 * time.Second, write: 10 * time.Second, idle: idle})
	if _, err := tc.Write([]byte("reply")); err != nil { // a response: the connection is idle now
		t.Fatal(err)
	}
	start := time.Now()
	_, err := tc.Read(make([]byte, 8))
	took := time.Since(start)
	if !isTimeout(err) {
		t.Fatalf("idle read: %v, want a timeout", err)
	}
	if took < idle*9/10 || took > idle+idle/timeoutSlack+time.Second {
		t.Fatalf("idle timeout of %v fired after %v", idle, took)
	}
}

// A request whose bytes stop coming is given up after the read timeout
// counted from its first bytes, not the idle timeout.
func TestTimedConnReadTimeout(t *testing.T) {
	const read = 200 * time.Millisecond
	tc, _, client := tcpPair(t, timedListener{read: read, write: 10 * time.Second, idle: time.Minute})
	if _, err := tc.Write([]byte("previous reply")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n")); err != nil { // half a request
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := tc.Read(buf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := tc.Read(buf) // the rest never comes
	took := time.Since(start)
	if !isTimeout(err) {
		t.Fatalf("read of the rest: %v, want a timeout", err)
	}
	if took > read+read/timeoutSlack+time.Second {
		t.Fatalf("read timeout of %v fired after %v (the idle timeout is a minute)", read, took)
	}
}

// A response the client does not read is given up after the write
// timeout.
func TestTimedConnWriteTimeout(t *testing.T) {
	const write = 200 * time.Millisecond
	tc, _, _ := tcpPair(t, timedListener{read: 10 * time.Second, write: write, idle: time.Minute})
	chunk := make([]byte, 1<<20)
	start := time.Now()
	var err error
	for i := 0; i < 256 && err == nil; i++ { // fills the socket buffers, then blocks
		_, err = tc.Write(chunk)
	}
	if !isTimeout(err) {
		t.Fatalf("writes to a client that does not read: %v, want a timeout", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("write timeout of %v fired after %v", write, took)
	}
}

// Without timeouts no deadline is ever set.
func TestTimedConnNoTimeouts(t *testing.T) {
	tc, cc, client := tcpPair(t, timedListener{})
	client.Write([]byte("x"))
	if _, err := tc.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if r, w := cc.reads.Load(), cc.writes.Load(); r != 0 || w != 0 {
		t.Fatalf("deadlines set without timeouts: %d read, %d write", r, w)
	}
}

// serveHTTP serves h on a loopback port until the test ends and returns
// the address.
func serveHTTP(t *testing.T, h *HTTP) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// Through the HTTP ingress: a kept-alive connection is closed after the
// idle timeout, and keeps serving before it.
func TestHTTPIdleConnectionClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	h := newTestHTTP(t)
	h.opts.IdleTimeout, h.opts.ReadTimeout, h.opts.WriteTimeout = idle, 5*time.Second, 5*time.Second
	addr := serveHTTP(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		if _, err := c.Write([]byte("GET /v1/echo/7?q=x HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		status, err := br.ReadString('\n')
		if err != nil || !strings.Contains(status, "200") {
			t.Fatalf("request %d: %q, %v", i, status, err)
		}
		for { // headers, then the 1-byte body
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
		}
		if _, err := br.Discard(1); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF (closed by the gateway)", err)
	}
	if took := time.Since(start); took < idle*9/10 || took > 5*time.Second {
		t.Fatalf("idle timeout of %v closed the connection after %v", idle, took)
	}
}

// A request whose body takes many reads, and one sent with "Expect:
// 100-continue" (fasthttp writes the interim response before reading the
// body), are read whole under the ingress's timeouts.
func TestHTTPLargeAndContinueBodies(t *testing.T) {
	h := newTestHTTP(t)
	h.opts.IdleTimeout, h.opts.ReadTimeout, h.opts.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	h.opts.MaxBodyBytes = 4 << 20
	h.srv.MaxRequestBodySize = h.opts.MaxBodyBytes
	addr := serveHTTP(t, h)
	body := strings.Repeat("x", 2<<20)
	for _, expect := range []string{"", "100-continue"} {
		req, err := http.NewRequest("POST", "http://"+addr+"/v1/echo/7?q=x", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if expect != "" {
			req.Header.Set("Expect", expect)
		}
		tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("Expect %q: %v", expect, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		// The route is GET only: a body read whole gets 405, not 408.
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("Expect %q: status %d, want 405 after reading the body", expect, resp.StatusCode)
		}
	}
}
