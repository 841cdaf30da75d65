package interop

// Our half of the harness (a motan2.Server with a typed echo service and
// motan2.Client construction), raw-frame helpers, readiness polling and a
// goroutine-leak check for the motan2 package.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/motan2"
)

func TestMain(m *testing.M) {
	initMotanGoLogging()
	os.Exit(m.Run())
}

// caseKey is the meta key (attachment) a test puts on a request so that
// the server records the arguments it decoded under that name.
const caseKey = "x-interop-case"

// seenArgs records what each server decoded, by caseKey value:
// ourSeen holds []motan2.Value, goSeen holds []interface{}.
var ourSeen, goSeen sync.Map

// ourLogger is the slog logger given to our client and server: warnings
// and errors go to stderr when INTEROP_LOG is set, otherwise nowhere.
var ourLogger = func() *slog.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("INTEROP_LOG") != "" {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}()

// ourEcho is the typed service our server exports as echoService. It has
// the same methods as the motan-go echoProvider (see motango_test.go).
func ourEcho(ctx context.Context, req *motan2.Request) (motan2.Value, error) {
	if name := req.Meta.Get(caseKey); name != "" {
		// Record a copy: a handler must not keep the request body, which
		// byte-array values alias.
		body := append([]byte(nil), req.Frame.Body...)
		args, err := motan2.DecodeArgs(req.Frame.Serialization, body)
		if err != nil {
			return motan2.Null, err
		}
		ourSeen.Store(name, args)
	}
	args := req.Args
	switch req.Method {
	case "echo":
		switch len(args) {
		case 0:
			return motan2.Null, nil
		case 1:
			return args[0], nil
		default:
			return motan2.Array(args), nil
		}
	case "throw":
		if len(args) == 3 {
			return motan2.Null, &motan2.Exception{ErrCode: int(args[0].Int()), ErrMsg: args[1].Str(), ErrType: int(args[2].Int())}
		}
		return motan2.Null, &motan2.Exception{ErrCode: 503, ErrMsg: "boom", ErrType: 2}
	case "wiresize":
		return motan2.Int64(int64(req.Frame.WireBodySize)), nil
	case "void":
		return motan2.Null, nil
	}
	return motan2.Null, &motan2.Exception{ErrCode: 500, ErrMsg: "no such method: " + req.Method, ErrType: 1}
}

// ourServer is a running motan2.Server.
type ourServer struct {
	Srv  *motan2.Server
	Addr string
}

// startOurServer serves echoService with a motan2.ServiceMux on a fresh
// 127.0.0.1 port, waits until it accepts connections and registers a
// Shutdown with tb.Cleanup that also checks Serve's result.
func startOurServer(tb testing.TB) *ourServer {
	tb.Helper()
	mux := motan2.NewServiceMux()
	mux.HandleFunc(echoService, ourEcho)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &motan2.Server{Handler: mux, Logger: ourLogger}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	s := &ourServer{Srv: srv, Addr: l.Addr().String()}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, motan2.ErrServerClosed) {
				tb.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			tb.Errorf("Serve did not return after Shutdown")
		}
	})
	waitDial(tb, s.Addr)
	return s
}

// newOurClient returns a motan2.Client for addr, closed by tb.Cleanup.
func newOurClient(tb testing.TB, addr string, opts ...motan2.ClientOption) *motan2.Client {
	tb.Helper()
	opts = append([]motan2.ClientOption{
		motan2.WithLogger(ourLogger),
		motan2.WithRequestTimeout(5 * time.Second),
		motan2.WithConnections(2),
	}, opts...)
	c := motan2.NewClient(addr, opts...)
	tb.Cleanup(func() { c.Close() })
	return c
}

// ourCall calls service.method with args through c, with a bounded context.
func ourCall(c *motan2.Client, service, method, caseName string, args ...motan2.Value) (*motan2.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &motan2.Request{Service: service, Method: method, Args: args}
	if caseName != "" {
		req.Meta = motan2.Meta{{Key: caseKey, Value: caseName}}
	}
	return c.Call(ctx, req)
}

// waitDial polls addr with TCP dials until one succeeds, failing tb after
// 5 seconds. It is how tests wait for a server to be ready.
func waitDial(tb testing.TB, addr string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	backoff := time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("server at %s not ready: %v", addr, err)
		}
		time.Sleep(backoff) // polling interval, not synchronisation
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Raw frames

// heartbeatFrame returns the 21-byte heartbeat request
// F1 F1 <flags> 08 <serialization byte> <id> 00000000 00000000.
func heartbeatFrame(flags, ser byte, id uint64) []byte {
	b := []byte{0xF1, 0xF1, flags, 0x08, ser}
	b = binary.BigEndian.AppendUint64(b, id)
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0)
}

// rawExchange dials addr, writes frame and reads back one whole frame
// (header, meta, body) as raw bytes, with a 5 second deadline.
func rawExchange(addr string, frame []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(frame); err != nil {
		return nil, err
	}
	return readRawFrame(c)
}

func readRawFrame(r io.Reader) ([]byte, error) {
	out := make([]byte, 17)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	meta := binary.BigEndian.Uint32(out[13:17])
	if meta > 1<<20 {
		return nil, fmt.Errorf("meta size %d: not a sane frame: % x", meta, out)
	}
	out = append(out, make([]byte, meta+4)...)
	if _, err := io.ReadFull(r, out[17:]); err != nil {
		return nil, fmt.Errorf("reading meta: %w", err)
	}
	body := binary.BigEndian.Uint32(out[len(out)-4:])
	if body > 16<<20 {
		return nil, fmt.Errorf("body size %d: not a sane frame", body)
	}
	n := len(out)
	out = append(out, make([]byte, body)...)
	if _, err := io.ReadFull(r, out[n:]); err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	return out, nil
}

// checkRawHeartbeats sends motan-go-style and Java-style heartbeat frames on
// raw TCP connections to addr and checks the answers byte for byte where
// the spec pins them (motan-go style) and by flag bits otherwise.
func checkRawHeartbeats(t *testing.T, addr string) {
	t.Helper()
	const id = 0x0123456789ABCDEF
	// motan-go style: F1F1 12 08 30 <id> 0 0 → F1F1 13 08 30 <id> 0 0
	got, err := rawExchange(addr, heartbeatFrame(0x12, 0x30, id))
	if err != nil {
		t.Fatalf("motan-go style heartbeat: %v", err)
	}
	if want := heartbeatFrame(0x13, 0x30, id); !bytes.Equal(got, want) {
		t.Errorf("motan-go style heartbeat reply\n got % x\nwant % x", got, want)
	}
	// Java style: F1F1 10 08 08 <id> 0 0 → heartbeat|response, same id, empty.
	got, err = rawExchange(addr, heartbeatFrame(0x10, 0x08, id))
	if err != nil {
		t.Fatalf("Java style heartbeat: %v", err)
	}
	if len(got) != 21 || got[0] != 0xF1 || got[1] != 0xF1 || got[2]&0x11 != 0x11 || got[3] != 0x08 ||
		binary.BigEndian.Uint64(got[5:13]) != id || !bytes.Equal(got[13:], make([]byte, 8)) {
		t.Errorf("Java style heartbeat reply: % x", got)
	}
}

// ---------------------------------------------------------------------------
// Goroutine leaks

// checkNoLeaks registers a cleanup, to run after every other cleanup of t
// (servers shut down, clients closed), that waits up to 5 seconds for all
// goroutines running motan2 package code to end, and fails t otherwise.
// motan-go's own goroutines are not checked: motan-go keeps process-wide
// worker pools and tickers by design.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		if leaked := leakcheck.WaitMatching("github.com/meshgate/meshgate/motan2.", 5*time.Second); len(leaked) > 0 {
			t.Errorf("%d goroutine(s) of the motan2 package still running after close:\n%s",
				len(leaked), strings.Join(leaked, "\n\n"))
		}
	})
}
