package motan2

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("motan2: server closed")

// Handler answers Motan2 requests.
//
// ServeMotan2 is called on its own goroutine for every request frame, so
// calls run concurrently and replies go out in completion order. It returns
// the response frame (build it with NewResponse or NewExceptionResponse);
// the server sets the request id, the response flag, the proxy bit
// according to Server.Proxy, and M_pt when the handler did not. A nil
// return is answered with a 500 exception. ctx is cancelled when the
// connection closes and carries the M_tmo deadline when the caller sent
// one. The handler must not keep req or its Body after returning.
type Handler interface {
	ServeMotan2(ctx context.Context, req *Frame) *Frame
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Frame) *Frame

// ServeMotan2 calls f.
func (f HandlerFunc) ServeMotan2(ctx context.Context, req *Frame) *Frame { return f(ctx, req) }

// Server serves Motan2 on one or more listeners. Set the fields before
// calling Serve; they must not change afterwards.
type Server struct {
	// Handler answers requests. Required.
	Handler Handler
	// Limits bounds the frames the server reads.
	Limits Limits
	// MaxConcurrentRequests caps the requests being handled at once across
	// all connections (default 10,000). When reached, connections stop
	// being read until a handler finishes: TCP backpressure, not errors.
	MaxConcurrentRequests int
	// GzipThreshold compresses reply bodies longer than this (default 0:
	// off), like motan-go's mingzSize; a gzip request does not by itself
	// make the reply compressed.
	GzipThreshold int
	// Proxy sets the proxy bit on responses, as a motan-go agent does.
	Proxy bool
	// IdleTimeout closes connections with no frame read for this long
	// (default 0: never; motan-go does not time out idle connections).
	IdleTimeout time.Duration
	// WriteTimeout bounds each socket write (default 5s, as motan-go).
	WriteTimeout time.Duration
	// Logger receives connection-level events (default slog.Default()).
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	sem       chan struct{}
	inflight  sync.WaitGroup
	draining  atomic.Bool
	heartbeat atomic.Bool // false: heartbeats are answered by closing the connection
	initOnce  sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		n := s.MaxConcurrentRequests
		if n <= 0 {
			n = 10000
		}
		s.sem = make(chan struct{}, n)
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*serverConn]struct{})
		if s.WriteTimeout == 0 {
			s.WriteTimeout = 5 * time.Second
		}
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		s.heartbeat.Store(true)
		s.ctx, s.cancel = context.WithCancel(context.Background())
	})
}

// SetHeartbeatEnabled switches heartbeat answers on or off. With heartbeats
// off the server answers a heartbeat by closing the connection, which tells
// motan-go clients "do not use me" (spec 10.1), e.g. while a backend is
// unhealthy.
func (s *Server) SetHeartbeatEnabled(on bool) {
	s.init()
	s.heartbeat.Store(on)
}

// ListenAndServe listens on the TCP address addr and serves.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l until Shutdown or Close and returns
// ErrServerClosed then. Other accept errors are returned after closing l;
// temporary ones are retried with a short backoff.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if s.Handler == nil {
		return errors.New("motan2: Server.Handler is nil")
	}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.draining.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.Logger.Warn("motan2: accept error, retrying", "error", err, "in", delay)
				select {
				case <-time.After(delay):
					continue
				case <-s.ctx.Done():
					return ErrServerClosed
				}
			}
			return err
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			tc.SetKeepAlive(true)
		}
		sc := s.newConn(nc)
		if sc == nil {
			nc.Close()
			return ErrServerClosed
		}
		go sc.serve()
	}
}

// Shutdown stops accepting connections, answers requests that arrive from
// now on with a 503 exception (errtype 1, so motan-go clients count it and
// move on), waits for in-flight requests to finish or ctx to end, and then
// closes every connection. It returns ctx.Err() when requests were still
// running at the deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.closeConns(err == nil)
	return err
}

// Close closes listeners and connections at once; running handlers see
// their context cancelled and their replies are dropped.
func (s *Server) Close() error {
	s.stopAccepting()
	s.closeConns(false)
	return nil
}

// stopAccepting switches to draining and closes the listeners. Draining is
// set under s.mu: see the read loop.
func (s *Server) stopAccepting() {
	s.init()
	s.mu.Lock()
	s.draining.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
}

// closeConns closes every connection, after writing out their queued
// replies when flush is true.
func (s *Server) closeConns(flush bool) {
	s.mu.Lock()
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		if flush {
			c.w.flush()
		}
		c.nc.Close()
	}
	// Cancel handlers only now that their connections are closed, so a
	// handler that returns on cancellation cannot get a reply out.
	s.cancel()
	// Wait for the read loops so no goroutine outlives Shutdown/Close.
	for _, c := range conns {
		<-c.done
	}
}

func (s *Server) newConn(nc net.Conn) *serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return nil
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sc := &serverConn{
		s: s, nc: nc, ctx: context.WithValue(ctx, peerKey{}, nc.RemoteAddr()), cancel: cancel,
		w:    frameWriter{nc: nc, timeout: s.WriteTimeout},
		done: make(chan struct{}),
	}
	s.conns[sc] = struct{}{}
	return sc
}

type peerKey struct{}

// PeerAddr returns the remote address of the connection a request arrived
// on, from a handler's context.
func PeerAddr(ctx context.Context) net.Addr {
	a, _ := ctx.Value(peerKey{}).(net.Addr)
	return a
}

type serverConn struct {
	s      *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	w      frameWriter
	done   chan struct{}
}

func (c *serverConn) serve() {
	s := c.s
	defer func() {
		c.cancel()
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		close(c.done)
	}()
	br := bufio.NewReaderSize(c.nc, 16<<10)
	for {
		if s.IdleTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		f := &Frame{}
		if err := ReadFrame(br, f, s.Limits); err != nil {
			c.logReadError(err)
			return
		}
		start := time.Now()
		if f.IsHeartbeat() {
			if !f.IsRequest() {
				continue // a stray heartbeat response: nothing to do
			}
			if !s.heartbeat.Load() {
				s.Logger.Info("motan2: heartbeats disabled, closing connection", "peer", c.nc.RemoteAddr())
				return
			}
			var hb [MinFrameSize]byte
			b, _ := AppendFrame(hb[:0], NewHeartbeatResponse(f), 0)
			if c.w.write(b) != nil {
				return
			}
			continue
		}
		if !f.IsRequest() {
			s.Logger.Warn("motan2: dropping response frame received on a server connection",
				"peer", c.nc.RemoteAddr(), "request_id", f.RequestID)
			continue
		}
		select {
		case s.sem <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		// The draining check and Add share s.mu with Shutdown's switch to
		// draining, so no Add can race with Shutdown's Wait.
		s.mu.Lock()
		draining := s.draining.Load()
		if !draining {
			s.inflight.Add(1)
		}
		s.mu.Unlock()
		if draining {
			<-s.sem
			c.reply(f, NewExceptionResponse(f, &Exception{ErrCode: 503, ErrMsg: "server shutting down", ErrType: ErrTypeService}), start)
			continue
		}
		go c.handle(f, start)
	}
}

func (c *serverConn) logReadError(err error) {
	switch {
	case errors.Is(err, net.ErrClosed), errors.Is(err, ErrTruncated) && c.ctx.Err() != nil:
		return
	case errors.Is(err, ErrTruncated):
		// a peer closing between frames gives io.EOF, not ErrTruncated
		c.s.Logger.Warn("motan2: connection closed inside a frame", "peer", c.nc.RemoteAddr())
	case errors.Is(err, ErrBadMagic), errors.Is(err, ErrMotanV1), errors.Is(err, ErrUnsupportedVersion),
		errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrMalformedMeta), errors.Is(err, ErrBadGzip):
		c.s.Logger.Warn("motan2: protocol error, closing connection", "peer", c.nc.RemoteAddr(), "error", err)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.s.Logger.Debug("motan2: idle connection closed", "peer", c.nc.RemoteAddr())
			return
		}
		if err.Error() != "EOF" {
			c.s.Logger.Debug("motan2: connection read ended", "peer", c.nc.RemoteAddr(), "error", err)
		}
	}
}

func (c *serverConn) handle(req *Frame, start time.Time) {
	s := c.s
	defer func() {
		<-s.sem
		s.inflight.Done()
	}()
	ctx := c.ctx
	if tmo, err := strconv.ParseInt(req.Meta.Get(MetaTimeout), 10, 64); err == nil && tmo > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(tmo)*time.Millisecond)
		defer cancel()
	}
	c.reply(req, c.call(ctx, req), start)
}

func (c *serverConn) call(ctx context.Context, req *Frame) (resp *Frame) {
	defer func() {
		if p := recover(); p != nil {
			c.s.Logger.Error("motan2: handler panic", "service", req.Service(), "method", req.Method(),
				"panic", p, "stack", string(debug.Stack()))
			resp = NewExceptionResponse(req, &Exception{ErrCode: 500, ErrMsg: "provider call panic", ErrType: ErrTypeService})
		}
	}()
	resp = c.s.Handler.ServeMotan2(ctx, req)
	if resp == nil {
		resp = NewExceptionResponse(req, &Exception{ErrCode: 500, ErrMsg: "handler returned no response", ErrType: ErrTypeService})
	}
	return resp
}

func (c *serverConn) reply(req, resp *Frame, start time.Time) {
	resp.Flags = resp.Flags&^(FlagHeartbeat|FlagOneway|FlagProxy) | FlagResponse
	if c.s.Proxy {
		resp.Flags |= FlagProxy
	}
	resp.RequestID = req.RequestID
	if _, ok := resp.Meta.Lookup(MetaProcessTime); !ok && !resp.bare {
		resp.Meta = append(resp.Meta, MetaPair{MetaProcessTime, processTime(time.Since(start))})
	}
	bp := getBuf()
	b, err := AppendFrame((*bp)[:0], resp, c.s.GzipThreshold)
	if err != nil {
		c.s.Logger.Error("motan2: cannot encode response", "service", req.Service(), "error", err)
		b, _ = AppendFrame(b[:0], NewExceptionResponse(req, &Exception{ErrCode: 500,
			ErrMsg: fmt.Sprintf("convert to response fail. err:%v", err), ErrType: ErrTypeService}), 0)
	}
	if err := c.w.write(b); err != nil {
		c.nc.Close() // the read loop notices and cleans up
	}
	*bp = b
	putBuf(bp)
}
