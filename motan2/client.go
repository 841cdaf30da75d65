package motan2

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client errors. They reach callers wrapped in a *CallError.
var (
	// ErrClientClosed: Close was called.
	ErrClientClosed = errors.New("motan2: client closed")
	// ErrUnavailable: the endpoint is marked unavailable after consecutive
	// errors (or its connection is in reconnect backoff) and a heartbeat
	// has not yet brought it back.
	ErrUnavailable = errors.New("motan2: endpoint unavailable")
	// ErrConnClosed: the connection died while the call was pending.
	ErrConnClosed = errors.New("motan2: connection closed")
)

// CallError is the error of a call that did not produce a response frame.
// Sent tells whether the request may have reached the server: when false
// the request never left this process and retrying it elsewhere is safe
// whatever the method.
type CallError struct {
	Addr string
	Sent bool
	Err  error
}

func (e *CallError) Error() string {
	state := "not sent"
	if e.Sent {
		state = "sent"
	}
	return fmt.Sprintf("motan2 call to %s failed (%s): %v", e.Addr, state, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// ClientOption configures a Client.
type ClientOption interface{ apply(*clientOptions) }

type clientOptions struct {
	conns             int
	maxInFlight       int
	dialTimeout       time.Duration
	requestTimeout    time.Duration
	writeTimeout      time.Duration
	limits            Limits
	gzipThreshold     int
	errorThreshold    int
	keepaliveInterval time.Duration
	idleHeartbeat     time.Duration
	javaHeartbeat     bool
	backoffMin        time.Duration
	backoffMax        time.Duration
	logger            *slog.Logger
	dial              func(ctx context.Context, network, addr string) (net.Conn, error)
}

type optionFunc func(*clientOptions)

func (f optionFunc) apply(o *clientOptions) { f(o) }

// WithConnections sets the number of connections per endpoint (default 2).
// Calls are spread over them round-robin.
func WithConnections(n int) ClientOption {
	return optionFunc(func(o *clientOptions) { o.conns = max(n, 1) })
}

// WithMaxInFlight caps the calls pending on one connection (default 1024).
// A call that finds every connection full waits for a slot until its
// deadline.
func WithMaxInFlight(n int) ClientOption {
	return optionFunc(func(o *clientOptions) { o.maxInFlight = max(n, 1) })
}

// WithDialTimeout sets the TCP connect timeout (default 1s, as motan-go).
func WithDialTimeout(d time.Duration) ClientOption {
	return optionFunc(func(o *clientOptions) { o.dialTimeout = d })
}

// WithRequestTimeout sets the deadline of calls whose context has none
// (default 1s, motan-go's requestTimeout).
func WithRequestTimeout(d time.Duration) ClientOption {
	return optionFunc(func(o *clientOptions) { o.requestTimeout = d })
}

// WithWriteTimeout bounds each socket write (default 5s, as motan-go).
func WithWriteTimeout(d time.Duration) ClientOption {
	return optionFunc(func(o *clientOptions) { o.writeTimeout = d })
}

// WithLimits sets the maximum meta and body sizes accepted in responses.
func WithLimits(l Limits) ClientOption { return optionFunc(func(o *clientOptions) { o.limits = l }) }

// WithGzipThreshold compresses request bodies longer than n bytes (default
// 0: never, as motan-go's mingzSize).
func WithGzipThreshold(n int) ClientOption {
	return optionFunc(func(o *clientOptions) { o.gzipThreshold = n })
}

// WithErrorThreshold sets how many consecutive failed calls (local errors
// and exceptions other than business ones) mark the endpoint unavailable
// (default 10, as motan-go's errorCountThreshold; 0 disables). While
// unavailable, calls fail fast with ErrUnavailable and a heartbeat probe
// runs every keepalive interval; the first answer makes it available again.
func WithErrorThreshold(n int) ClientOption {
	return optionFunc(func(o *clientOptions) { o.errorThreshold = n })
}

// WithKeepaliveInterval sets the period of recovery heartbeats while the
// endpoint is unavailable (default 1s, as motan-go).
func WithKeepaliveInterval(d time.Duration) ClientOption {
	return optionFunc(func(o *clientOptions) { o.keepaliveInterval = d })
}

// WithIdleHeartbeat sends a heartbeat on connections that received nothing
// for d and closes those that do not answer within d (default 0: off, like
// motan-go, which never pings healthy connections). It detects half-open
// TCP connections that would otherwise only be noticed by call timeouts.
func WithIdleHeartbeat(d time.Duration) ClientOption {
	return optionFunc(func(o *clientOptions) { o.idleHeartbeat = d })
}

// WithJavaHeartbeat sends Java-style heartbeats (flags 0x10) instead of
// motan-go's (0x12). Every Motan2 server answers both.
func WithJavaHeartbeat() ClientOption {
	return optionFunc(func(o *clientOptions) { o.javaHeartbeat = true })
}

// WithReconnectBackoff sets the bounds of the exponential backoff between
// failed dials of one connection (default 100ms to 5s, with jitter).
func WithReconnectBackoff(minDelay, maxDelay time.Duration) ClientOption {
	return optionFunc(func(o *clientOptions) { o.backoffMin, o.backoffMax = minDelay, maxDelay })
}

// WithLogger sets the logger for connection events (default slog.Default()).
func WithLogger(l *slog.Logger) ClientOption {
	return optionFunc(func(o *clientOptions) { o.logger = l })
}

// WithDialer replaces the dial function (default net.Dialer.DialContext).
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) ClientOption {
	return optionFunc(func(o *clientOptions) { o.dial = dial })
}

// Client is a pool of multiplexed connections to one Motan2 endpoint.
// Connections are made on first use; many calls share each connection,
// matched to their replies by request id. A Client is safe for concurrent
// use. Close it to release its connections and goroutines.
type Client struct {
	addr    string
	network string
	opts    clientOptions
	slots   []*slot
	next    atomic.Uint32

	closed    atomic.Bool
	done      chan struct{}
	wg        sync.WaitGroup
	errCount  atomic.Int32
	available atomic.Bool
	probing   atomic.Bool
}

// NewClient returns a client for addr ("host:port", or "unix:///path" for
// a Unix socket). It does not connect until the first call.
func NewClient(addr string, opts ...ClientOption) *Client {
	o := clientOptions{
		conns:             2,
		maxInFlight:       1024,
		dialTimeout:       time.Second,
		requestTimeout:    time.Second,
		writeTimeout:      5 * time.Second,
		errorThreshold:    10,
		keepaliveInterval: time.Second,
		backoffMin:        100 * time.Millisecond,
		backoffMax:        5 * time.Second,
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.dial == nil {
		d := &net.Dialer{}
		o.dial = d.DialContext
	}
	c := &Client{addr: addr, network: "tcp", opts: o, done: make(chan struct{})}
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		c.addr, c.network = path, "unix"
	}
	c.available.Store(true)
	c.slots = make([]*slot, o.conns)
	for i := range c.slots {
		c.slots[i] = &slot{c: c}
	}
	if o.idleHeartbeat > 0 {
		c.wg.Add(1)
		go c.idleLoop()
	}
	return c
}

// Addr returns the endpoint address.
func (c *Client) Addr() string { return c.addr }

// Available reports whether the endpoint is in service (see
// WithErrorThreshold).
func (c *Client) Available() bool { return c.available.Load() }

// Close fails every pending call with ErrClientClosed, closes the
// connections and stops background goroutines.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	close(c.done)
	for _, s := range c.slots {
		s.mu.Lock() // ordered with a dial ending, which checks c.closed under mu
		cn := s.cur.Load()
		s.mu.Unlock()
		if cn != nil {
			cn.close(ErrClientClosed)
		}
	}
	c.wg.Wait()
	return nil
}

// Call sends req and decodes the reply with the response's serialization
// (except for a request with a Body, see Request.Body). An exception reply
// is returned as a *Exception error together with the Response (whose
// Frame carries the exception's meta).
func (c *Client) Call(ctx context.Context, req *Request) (*Response, error) {
	resp := &Response{}
	if err := c.CallInto(ctx, req, resp); err != nil {
		if resp.Frame == nil {
			return nil, err
		}
		return resp, err
	}
	return resp, nil
}

// CallInto is Call writing the reply into resp, for callers that keep a
// Response per request (a gateway saves an allocation per call). On an
// error without a response frame, resp is left zero.
func (c *Client) CallInto(ctx context.Context, req *Request, resp *Response) error {
	*resp = Response{}
	cs := callPool.Get().(*callScratch)
	f := &cs.f
	buf, err := req.fill(f, cs.buf[:0])
	if err != nil {
		putCall(cs)
		return err
	}
	rf, err := c.RoundTripWithin(ctx, f, req.Timeout)
	cs.buf = buf
	reqSer := f.Serialization
	putCall(cs) // the frame was encoded before roundTrip returned
	if err != nil {
		return err
	}
	resp.Meta, resp.Frame = rf.Meta, rf
	if rf.IsException() {
		return rf.Exception()
	}
	if req.Body != nil {
		return nil // a pre-encoded request: the caller decodes the reply
	}
	s := rf.Serialization
	if s == SerializationHessian2 && len(rf.Body) > 0 {
		s = reqSer // an agent-made frame; the body is in the request's serialization
	}
	if resp.Value, err = DecodeReply(s, rf.Body); err != nil {
		return fmt.Errorf("motan2: decoding %s reply of %s.%s: %w", s, req.Service, req.Method, err)
	}
	return nil
}

// RoundTrip sends the request frame f and returns the response frame. f is
// not modified: it is sent with a request id of the connection's choosing,
// and the returned frame carries f.RequestID again, so a proxy can relay it
// as is. Exception replies are returned as frames, not errors; errors are
// *CallError values for calls that got no response.
func (c *Client) RoundTrip(ctx context.Context, f *Frame) (*Frame, error) {
	return c.RoundTripWithin(ctx, f, 0)
}

// RoundTripWithin is RoundTrip with a time limit in addition to ctx's
// deadline (0: the client's request timeout when ctx has no deadline). It
// is cheaper than a context with a deadline: the limit is enforced with a
// timer pooled with the pending call.
func (c *Client) RoundTripWithin(ctx context.Context, f *Frame, timeout time.Duration) (*Frame, error) {
	b := budget{ctx: ctx}
	if timeout <= 0 {
		if _, ok := ctx.Deadline(); !ok {
			timeout = c.opts.requestTimeout
		}
	}
	if timeout > 0 {
		b.deadline = now().Add(timeout)
	}
	resp, err := c.roundTrip(b, f, false)
	c.record(resp, err)
	if err != nil {
		return nil, err
	}
	resp.RequestID = f.RequestID
	return resp, nil
}

// Heartbeat sends one heartbeat and waits for its answer.
func (c *Client) Heartbeat(ctx context.Context) error {
	_, err := c.roundTrip(budget{ctx: ctx}, NewHeartbeatRequest(0, c.opts.javaHeartbeat), true)
	if err == nil {
		c.markAvailable()
	}
	return err
}

// budget is a call's time limit: its context plus an optional deadline
// that is enforced with a timer pooled with the pending call rather than a
// derived context, which would cost three allocations on every call.
type budget struct {
	ctx      context.Context
	deadline time.Time // zero: ctx alone
}

// waitCtx returns a context that ends with ctx or at the deadline, for the
// rare paths that block before sending (a dial, full connections).
func (b budget) waitCtx() (context.Context, context.CancelFunc) {
	if b.deadline.IsZero() {
		return b.ctx, func() {}
	}
	return context.WithDeadline(b.ctx, b.deadline)
}

func (c *Client) roundTrip(b budget, f *Frame, heartbeat bool) (*Frame, error) {
	if c.closed.Load() {
		return nil, &CallError{Addr: c.addr, Err: ErrClientClosed}
	}
	if !heartbeat && !c.available.Load() {
		return nil, &CallError{Addr: c.addr, Err: ErrUnavailable}
	}
	// A connection can die between being picked and taking the call; the
	// call then never left, so it is retried once on a fresh pick.
	for attempt := 0; ; attempt++ {
		cn, err := c.pick(b)
		if err != nil {
			return nil, &CallError{Addr: c.addr, Err: err}
		}
		resp, err := cn.roundTrip(b, f, heartbeat)
		if err != nil && attempt == 0 {
			// Only here: ce escapes to the heap (errors.As), which would
			// cost an allocation on every successful call.
			var ce *CallError
			if errors.As(err, &ce) && !ce.Sent && errors.Is(err, ErrConnClosed) {
				continue
			}
		}
		return resp, err
	}
}

// pick returns a live connection with a free in-flight slot, trying each
// slot once from the round-robin position before waiting on the first.
func (c *Client) pick(b budget) (*conn, error) {
	n := uint32(len(c.slots))
	if n > 1 {
		// Join the write being formed on the connection picked last, if
		// there is one: calls that arrive together then share one write
		// (and the server one read) instead of splitting into one write
		// per connection; the next call after it moves on round-robin.
		// HTTP -> Motan2 over 2 connections: Motan2 writes per request
		// 0.38 -> 0.16, -7.6% CPU per request (benchmarks/RESULTS.md).
		if cn := c.slots[c.next.Load()%n].cur.Load(); cn != nil && cn.w.forming.Load() && cn.alive() && cn.tryAcquire() {
			return cn, nil
		}
	}
	start := c.next.Add(1)
	var firstErr error
	var first *conn
	for i := uint32(0); i < n; i++ {
		cn, err := c.slots[(start+i)%n].get(b)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if cn.tryAcquire() {
			return cn, nil
		}
		if first == nil {
			first = cn
		}
	}
	if first == nil {
		return nil, firstErr
	}
	ctx, cancel := b.waitCtx()
	defer cancel()
	if err := first.acquire(ctx); err != nil {
		if errors.Is(err, ErrConnClosed) {
			return nil, err
		}
		return nil, fmt.Errorf("waiting for an in-flight slot (%d calls pending per connection): %w", c.opts.maxInFlight, err)
	}
	return first, nil
}

// notSentDeadline reports a call that was not sent because its time was
// already spent. Separate so that the CallError target escapes only on
// error paths.
func notSentDeadline(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && !ce.Sent && errors.Is(err, context.DeadlineExceeded)
}

// record keeps the consecutive-error count of spec 16.2.
func (c *Client) record(resp *Frame, err error) {
	if c.opts.errorThreshold <= 0 {
		return
	}
	failed := err != nil
	if resp != nil && resp.IsException() && resp.Exception().ErrType != ErrTypeBiz {
		failed = true
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrClientClosed) || errors.Is(err, context.Canceled) {
		return // not the endpoint's fault
	}
	if err != nil && notSentDeadline(err) {
		return // the caller's time ran out before sending: not the endpoint's fault
	}
	if !failed {
		if c.errCount.Load() != 0 { // no store (cache-line traffic) in the usual case
			c.errCount.Store(0)
		}
		return
	}
	if c.errCount.Add(1) >= int32(c.opts.errorThreshold) && c.available.CompareAndSwap(true, false) {
		c.opts.logger.Warn("motan2: endpoint marked unavailable", "addr", c.addr,
			"consecutive_errors", c.errCount.Load(), "last_error", errString(resp, err))
		c.startProbe()
	}
}

func errString(resp *Frame, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Exception().Error()
}

func (c *Client) markAvailable() {
	c.errCount.Store(0)
	if c.available.CompareAndSwap(false, true) {
		c.opts.logger.Info("motan2: endpoint available again", "addr", c.addr)
	}
}

// startProbe runs the keepalive loop of spec 16.2: a heartbeat every
// keepalive interval until one is answered.
func (c *Client) startProbe() {
	if !c.probing.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.probing.Store(false)
		c.every(c.opts.keepaliveInterval, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return c.Heartbeat(ctx) == nil
		})
	}()
}

// every runs fn every d until fn returns true or the client closes. It
// ends one unit of c.wg.
func (c *Client) every(d time.Duration, fn func() (stop bool)) {
	defer c.wg.Done()
	t := time.NewTicker(max(d, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if fn() {
			return
		}
	}
}

// idleLoop probes idle connections (WithIdleHeartbeat).
func (c *Client) idleLoop() {
	d := c.opts.idleHeartbeat
	c.every(d/2, func() bool {
		for _, s := range c.slots {
			cn := s.cur.Load()
			if cn == nil || nanotime()-cn.lastRead.Load() < int64(d) {
				continue
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				if cn.acquire(ctx) != nil {
					return // saturated, so certainly not idle (or closed)
				}
				if _, err := cn.roundTrip(budget{ctx: ctx}, NewHeartbeatRequest(0, c.opts.javaHeartbeat), true); err != nil {
					cn.close(fmt.Errorf("idle heartbeat failed: %w", err))
				}
			}()
		}
		return false
	})
}

// slot is one position of the connection pool. It holds the current
// connection, redials after the connection dies, and applies backoff
// between failed dials.
type slot struct {
	c  *Client
	mu sync.Mutex
	// cur is the current connection: changed under mu, read without it
	// where a stale answer is harmless (Client.pick, idleLoop).
	cur      atomic.Pointer[conn]
	dialing  chan struct{} // closed when the running dial ends
	lastErr  error
	failures int
	retryAt  time.Time
}

func (s *slot) get(b budget) (*conn, error) {
	for {
		s.mu.Lock()
		if cn := s.cur.Load(); cn != nil {
			select {
			case <-cn.closed: // dying: do not hand it out, dial a replacement
				s.cur.Store(nil)
			default:
				s.mu.Unlock()
				return cn, nil
			}
		}
		if s.dialing == nil {
			if s.failures > 0 && time.Now().Before(s.retryAt) {
				err := s.lastErr
				s.mu.Unlock()
				return nil, fmt.Errorf("%w: reconnecting after %v", ErrUnavailable, err)
			}
			s.startDialLocked()
		}
		wait := s.dialing
		s.mu.Unlock()
		ctx, cancel := b.waitCtx()
		select {
		case <-wait:
			cancel()
		case <-ctx.Done():
			cancel()
			return nil, fmt.Errorf("connecting: %w", ctx.Err())
		case <-s.c.done:
			cancel()
			return nil, ErrClientClosed
		}
		s.mu.Lock()
		if s.cur.Load() == nil && s.dialing == nil && s.lastErr != nil {
			err := s.lastErr
			s.mu.Unlock()
			return nil, err
		}
		s.mu.Unlock()
	}
}

// startDialLocked dials in the background so that a caller with a short
// deadline does not abort a dial other callers wait for.
func (s *slot) startDialLocked() {
	s.dialing = make(chan struct{})
	c := s.c
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.dialTimeout)
		nc, err := c.opts.dial(ctx, c.network, c.addr)
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		close(s.dialing)
		s.dialing = nil
		if err == nil && c.closed.Load() {
			nc.Close()
			err = ErrClientClosed
		}
		if err != nil {
			s.failures++
			s.lastErr = err
			backoff := c.opts.backoffMin << min(s.failures-1, 16)
			if backoff > c.opts.backoffMax || backoff <= 0 {
				backoff = c.opts.backoffMax
			}
			backoff = backoff/2 + rand.N(backoff/2+1)
			s.retryAt = time.Now().Add(backoff)
			c.opts.logger.Warn("motan2: dial failed", "addr", c.addr, "error", err, "retry_in", backoff)
			return
		}
		s.failures, s.lastErr = 0, nil
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		cn := newConn(c, s, nc)
		s.cur.Store(cn)
		c.wg.Add(1)
		go cn.readLoop()
	}()
}

// dropped is called by a dying connection; the next call redials.
func (s *slot) dropped(cn *conn, err error) {
	s.mu.Lock()
	if s.cur.Load() == cn {
		s.cur.Store(nil)
		s.lastErr = err
	}
	s.mu.Unlock()
}

// pendingCall is one call waiting for its response.
type pendingCall struct {
	ch        chan struct{}
	resp      *Frame
	err       error
	deadline  time.Time // zero: none (the context alone bounds the call)
	heartbeat bool
}

var pendingPool = sync.Pool{New: func() any { return &pendingCall{ch: make(chan struct{}, 1)} }}

// conn is one multiplexed connection.
type conn struct {
	c        *Client
	s        *slot
	nc       net.Conn
	w        frameWriter
	inflight atomic.Int32  // calls holding an in-flight slot
	waiters  atomic.Int32  // callers waiting in acquire
	freed    chan struct{} // a slot was released while someone waited; room for one
	maxCalls int32
	closed   chan struct{}
	lastRead atomic.Int64 // nanotime of the last frame read

	mu      sync.Mutex
	pending map[uint64]*pendingCall
	nextID  uint64
	err     error // why the connection closed
	// One timer per connection enforces the deadlines of its pending
	// calls: it is armed for the earliest one (armedAt) and, when it
	// fires, fails the expired calls and re-arms for the next. Calls with
	// the same timeout register in deadline order, so under load it fires
	// about once per timeout instead of being set and stopped per call.
	expiry  *time.Timer
	armedAt time.Time // zero: not armed
}

func newConn(c *Client, s *slot, nc net.Conn) *conn {
	cn := &conn{
		c: c, s: s, nc: nc,
		w:        frameWriter{nc: nc, timeout: c.opts.writeTimeout},
		freed:    make(chan struct{}, 1),
		maxCalls: int32(min(c.opts.maxInFlight, math.MaxInt32)),
		closed:   make(chan struct{}),
		pending:  make(map[uint64]*pendingCall),
		nextID:   rand.Uint64() >> 1, // arbitrary start: ids only need to be unique per connection
	}
	cn.lastRead.Store(nanotime())
	return cn
}

// alive reports whether cn has not started closing.
func (cn *conn) alive() bool {
	select {
	case <-cn.closed:
		return false
	default:
		return true
	}
}

// tryAcquire takes an in-flight slot if one is free.
func (cn *conn) tryAcquire() bool {
	for {
		n := cn.inflight.Load()
		if n >= cn.maxCalls {
			return false
		}
		if cn.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// acquire waits for an in-flight slot until ctx ends or cn closes.
func (cn *conn) acquire(ctx context.Context) error {
	cn.waiters.Add(1)
	defer cn.waiters.Add(-1)
	for {
		if cn.tryAcquire() {
			// A release that found freed full dropped its signal; pass
			// one on if a slot is still free for another waiter.
			if cn.waiters.Load() > 1 && cn.inflight.Load() < cn.maxCalls {
				cn.signalFreed()
			}
			return nil
		}
		select {
		case <-cn.freed:
		case <-ctx.Done():
			return ctx.Err()
		case <-cn.closed:
			return ErrConnClosed
		}
	}
}

// release gives back an in-flight slot.
func (cn *conn) release() {
	cn.inflight.Add(-1)
	if cn.waiters.Load() > 0 {
		cn.signalFreed()
	}
}

func (cn *conn) signalFreed() {
	select {
	case cn.freed <- struct{}{}:
	default:
	}
}

// roundTrip sends f on cn and waits for the response. The caller holds an
// in-flight slot of cn, which roundTrip releases.
func (cn *conn) roundTrip(b budget, f *Frame, heartbeat bool) (*Frame, error) {
	defer cn.release()
	// A call whose time is already spent is not sent: the deadline timer
	// would only fail it after the fact, and a fast reply could beat it.
	if !b.deadline.IsZero() && !now().Before(b.deadline) {
		return nil, &CallError{Addr: cn.c.addr, Err: context.DeadlineExceeded}
	}
	pc := pendingPool.Get().(*pendingCall)
	pc.heartbeat, pc.deadline = heartbeat, b.deadline

	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		pendingPool.Put(pc)
		return nil, &CallError{Addr: cn.c.addr, Err: err}
	}
	cn.nextID++
	id := cn.nextID
	cn.pending[id] = pc
	if !b.deadline.IsZero() && (cn.armedAt.IsZero() || b.deadline.Before(cn.armedAt)) {
		cn.armLocked(b.deadline)
	}
	cn.mu.Unlock()

	bp := getBuf()
	buf, err := AppendFrame((*bp)[:0], f, cn.c.opts.gzipThreshold)
	if err == nil {
		putUint64(buf[5:13], id)
		err = cn.w.write(buf)
	}
	*bp = buf
	putBuf(bp)
	if err != nil {
		if cn.forget(id) {
			pc.deadline = time.Time{}
			pendingPool.Put(pc)
		}
		return nil, &CallError{Addr: cn.c.addr, Sent: true, Err: cn.close(fmt.Errorf("write: %w", err))}
	}

	// Whoever removes the call from cn.pending (the reader, the expiry
	// timer, close, or a cancelled caller in forget) is the only one to
	// deliver to it, so pc.ch gets at most one signal per call.
	if done := b.ctx.Done(); done == nil {
		<-pc.ch
	} else {
		select {
		case <-pc.ch:
		case <-done:
			if cn.forget(id) {
				pc.deadline = time.Time{}
				pendingPool.Put(pc)
				return nil, &CallError{Addr: cn.c.addr, Sent: true, Err: b.ctx.Err()}
			}
			<-pc.ch // the reader, the timer or close took it first: use its verdict
		}
	}
	resp, err := pc.resp, pc.err
	pc.resp, pc.err, pc.deadline = nil, nil, time.Time{}
	pendingPool.Put(pc)
	if err != nil {
		return nil, &CallError{Addr: cn.c.addr, Sent: true, Err: err}
	}
	return resp, nil
}

// armLocked sets the expiry timer to fire at t. cn.mu is held.
func (cn *conn) armLocked(t time.Time) {
	cn.armedAt = t
	d := time.Until(t)
	if cn.expiry == nil {
		cn.expiry = time.AfterFunc(d, cn.expire)
		return
	}
	cn.expiry.Reset(d)
}

// expire fails the pending calls whose deadline has passed with
// context.DeadlineExceeded and re-arms the timer for the earliest deadline
// left.
func (cn *conn) expire() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.armedAt = time.Time{}
	now := time.Now()
	var next time.Time
	for id, pc := range cn.pending { // nil once closed
		if pc.deadline.IsZero() {
			continue
		}
		if !pc.deadline.After(now) {
			delete(cn.pending, id)
			pc.err = context.DeadlineExceeded
			pc.ch <- struct{}{} // never blocks: one signal per call, room for one
		} else if next.IsZero() || pc.deadline.Before(next) {
			next = pc.deadline
		}
	}
	if !next.IsZero() {
		cn.armLocked(next)
	}
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32)
	b[4], b[5], b[6], b[7] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// forget removes a pending call; false means someone else already did and
// will deliver to it.
func (cn *conn) forget(id uint64) bool {
	cn.mu.Lock()
	_, ok := cn.pending[id]
	delete(cn.pending, id)
	cn.mu.Unlock()
	return ok
}

// readLoop reads frames until the connection fails, delivering responses
// to their pending calls and answering heartbeat requests from the peer.
func (cn *conn) readLoop() {
	defer cn.c.wg.Done()
	br := bufio.NewReaderSize(cn.nc, 16<<10)
	lim := cn.c.opts.limits
	for n := 0; ; n++ {
		f := &Frame{}
		if err := ReadFrame(br, f, lim); err != nil {
			cn.close(fmt.Errorf("read: %w", err))
			return
		}
		// Frames read in one batch share a timestamp: it is taken when the
		// buffer runs dry (the next read blocks) or every 64 frames.
		if br.Buffered() == 0 || n%64 == 0 {
			cn.lastRead.Store(nanotime())
		}
		if f.IsRequest() {
			if f.IsHeartbeat() {
				var hb [MinFrameSize]byte
				b, _ := AppendFrame(hb[:0], NewHeartbeatResponse(f), 0)
				cn.w.write(b)
			} else {
				cn.c.opts.logger.Warn("motan2: dropping request frame received on a client connection",
					"addr", cn.c.addr, "request_id", f.RequestID)
			}
			continue
		}
		cn.mu.Lock()
		pc, ok := cn.pending[f.RequestID]
		if ok && pc.heartbeat == f.IsHeartbeat() {
			delete(cn.pending, f.RequestID)
		} else {
			ok = false
		}
		cn.mu.Unlock()
		if !ok {
			cn.c.opts.logger.Debug("motan2: dropping response with no pending call (late or unknown)",
				"addr", cn.c.addr, "request_id", f.RequestID)
			continue
		}
		pc.resp = f
		pc.ch <- struct{}{}
	}
}

// close fails every pending call with err's cause and closes the socket.
// It is idempotent: the first error wins and is returned to every caller.
func (cn *conn) close(err error) error {
	cn.mu.Lock()
	if cn.err != nil {
		err = cn.err
		cn.mu.Unlock()
		return err
	}
	if !errors.Is(err, ErrClientClosed) {
		err = fmt.Errorf("%w: %v", ErrConnClosed, err)
	}
	cn.err = err
	pending := cn.pending
	cn.pending = nil
	if cn.expiry != nil {
		cn.expiry.Stop()
		cn.armedAt = time.Time{}
	}
	cn.mu.Unlock()
	// Leave the pool before closing the socket, which can block behind a
	// write: new calls must dial a replacement, not pick this one.
	close(cn.closed)
	cn.s.dropped(cn, err)
	cn.nc.Close()
	for _, pc := range pending {
		pc.err = err
		pc.ch <- struct{}{}
	}
	if len(pending) > 0 || !errors.Is(err, ErrClientClosed) {
		cn.c.opts.logger.Warn("motan2: connection closed", "addr", cn.c.addr, "error", err, "failed_calls", len(pending))
	}
	return err
}
