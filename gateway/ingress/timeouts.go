package ingress

import (
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/clock"
)

// The HTTP ingress enforces its read, write and idle timeouts itself
// instead of through fasthttp, which moves the connection's deadline three
// times per request (before waiting for a request, when it starts, before
// the response): each move is a clock read and a timer update in the
// runtime, together about 2% of an HTTP -> Motan2 request's CPU. A
// timedConn moves a deadline only when the one in force is too early or
// more than a slack too late, so a kept-alive connection updates it a few
// times a minute; a timeout then fires between its nominal time and that
// plus timeoutSlack of it.
//
// The same wrapper yields before waiting for a kept-alive connection's next
// request (see Read).
//
// The phases come from the order of reads and writes, as fasthttp serves
// a connection (one goroutine reads a request, then writes its response):
//   - from accept, and from the first bytes read after a response, a
//     request is being read: reads must end within ReadTimeout of its
//     start (408 otherwise, by fasthttp's error handler);
//   - after a response was written, the connection waits for the next
//     request for at most IdleTimeout (then it is closed);
//   - each write must end within WriteTimeout of its start.

// timeoutSlack is the share of a timeout by which it may fire late: 1/8.
const timeoutSlack = 8

// timedListener wraps the accepted connections in timedConns.
type timedListener struct {
	net.Listener
	read, write, idle time.Duration
}

func (l *timedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &timedConn{Conn: c, l: l}
	tc.reqStart = clock.Mono()
	return tc, nil
}

// timedConn is a connection of the HTTP ingress with its timeouts. Reads
// and writes come from one goroutine at a time each (fasthttp's), but the
// phase a write ends is read by the next read, hence the atomics.
type timedConn struct {
	net.Conn
	l *timedListener

	// Read side.
	reqStart int64 // when the request being read started (mono ns); -1: at the next read
	rdl      int64 // read deadline in force (mono ns); 0: none

	// Write side.
	wdl int64 // write deadline in force (mono ns); 0: none

	// Set by a write, read by the next read.
	idleFrom atomic.Int64 // when the last response write started (mono ns)
	awaiting atomic.Bool  // a response was written: the next bytes start a request
}

// due reports whether a deadline in force (0: none) must move to serve
// want: it is early, or later than want by more than slack.
func due(inForce, want, slack int64) bool {
	return inForce == 0 || inForce < want || inForce > want+slack
}

func (c *timedConn) Read(p []byte) (int, error) {
	var want, slack int64
	awaiting := c.awaiting.Load()
	switch {
	case awaiting && c.l.idle > 0:
		want, slack = c.idleFrom.Load()+int64(c.l.idle), int64(c.l.idle)/timeoutSlack
	case !awaiting && c.l.read > 0:
		if c.reqStart < 0 {
			c.reqStart = clock.Mono()
		}
		want, slack = c.reqStart+int64(c.l.read), int64(c.l.read)/timeoutSlack
	}
	if want != 0 && due(c.rdl, want, slack) {
		c.rdl = want + slack/2
		if err := c.Conn.SetReadDeadline(clock.At(c.rdl)); err != nil {
			return 0, err
		}
	} else if want == 0 && c.rdl != 0 {
		c.rdl = 0
		if err := c.Conn.SetReadDeadline(time.Time{}); err != nil {
			return 0, err
		}
	}
	if awaiting {
		// The first read after a response waits for the client's next
		// request, which can only have been sent after the response
		// arrived. Read at once, it nearly always finds nothing (a
		// wasted system call) and parks; let the goroutines that are
		// ready to run go first, and by then the request is often there.
		// With nothing else to run, Gosched returns at once. HTTP ->
		// Motan2 at 32 connections: reads 2.15 -> 1.54 per request, -8.6%
		// CPU per request (benchmarks/RESULTS.md).
		runtime.Gosched()
	}
	n, err := c.Conn.Read(p)
	if n > 0 && awaiting {
		// The next request's first bytes: its read timeout counts from
		// here, read at the next read (if there is one: most requests
		// arrive whole in this one).
		c.awaiting.Store(false)
		c.reqStart = -1
	}
	return n, err
}

func (c *timedConn) Write(p []byte) (int, error) {
	now := clock.Mono()
	if w := c.l.write; w > 0 {
		if want, slack := now+int64(w), int64(w)/timeoutSlack; due(c.wdl, want, slack) {
			c.wdl = want + slack/2
			if err := c.Conn.SetWriteDeadline(clock.At(c.wdl)); err != nil {
				return 0, err
			}
		}
	}
	n, err := c.Conn.Write(p)
	c.idleFrom.Store(now)
	c.awaiting.Store(true)
	return n, err
}
