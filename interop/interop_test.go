package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/motan2"
	motan "github.com/weibocom/motan-go/core"
)

const notFoundMsg = "provider not exist serviceKey=" + unknownService

// payload returns n pseudo-random bytes (fixed seed), i.e. incompressible.
func payload(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// compressible returns n bytes that gzip shrinks a lot.
func compressible(n int) []byte {
	return bytes.Repeat([]byte("meshgate motan2 interop "), n/24+1)[:n]
}

// ---------------------------------------------------------------------------
// Harness self-check: motan-go client → motan-go server.

// TestHarnessMotanGoToMotanGo checks the motan-go harness on its own, so
// that a failure of the cross tests cannot be blamed on it.
func TestHarnessMotanGoToMotanGo(t *testing.T) {
	srv := startMotanGoServer(t)
	ep := newMotanGoEndpoint(t, srv.Addr, nil)
	res := motanGoCall(ep, echoService, "echo", "hi", int32(2))
	if e := res.GetException(); e != nil {
		t.Fatalf("exception: %+v", e)
	}
	if want := []interface{}{"hi", int32(2)}; !sameGo(res.GetValue(), want) {
		t.Errorf("echo = %s, want %s", goString(res.GetValue()), goString(want))
	}
	res = motanGoCall(ep, echoService, "throw")
	if e := res.GetException(); e == nil || *e != (motan.Exception{ErrCode: 503, ErrMsg: "boom", ErrType: 2}) {
		t.Errorf("throw: exception %+v", e)
	}
	if err := motanGoHeartbeat(srv.Addr); err != nil {
		t.Errorf("motan-go heartbeat: %v", err)
	}
	checkRawHeartbeats(t, srv.Addr)
}

// ---------------------------------------------------------------------------
// 1. motan-go client → our server

func TestMotanGoClientToOurServer(t *testing.T) {
	checkNoLeaks(t)
	srv := startOurServer(t)
	ep := newMotanGoEndpoint(t, srv.Addr, nil)

	t.Run("SimpleTypes", func(t *testing.T) {
		for _, c := range simpleCases() {
			t.Run(c.name, func(t *testing.T) {
				req := &motan.MotanRequest{ServiceName: echoService, Method: "echo", Arguments: []interface{}{c.goArg}}
				req.SetAttachment(caseKey, t.Name())
				res := ep.Call(req)
				if e := res.GetException(); e != nil {
					t.Fatalf("exception: %+v", e)
				}
				if got := res.GetValue(); !sameGo(got, c.want()) {
					t.Errorf("motan-go got back %s, want %s", goString(got), goString(c.want()))
				}
				checkOurSeen(t, t.Name(), c.ourArg)
			})
		}
	})

	t.Run("MultipleArgs", func(t *testing.T) {
		args := []interface{}{"s", int32(7), []byte{1, 0}, map[string]string{"k": "v"}, nil, 1.5, true,
			[]string{"a"}, map[string]interface{}{"n": int64(1)}, uint8(3), int16(-4), float32(2), int64(1 << 40)}
		req := &motan.MotanRequest{ServiceName: echoService, Method: "echo", Arguments: args}
		req.SetAttachment(caseKey, t.Name())
		res := ep.Call(req)
		if e := res.GetException(); e != nil {
			t.Fatalf("exception: %+v", e)
		}
		want := []interface{}{"s", int32(7), []byte{1, 0}, map[string]string{"k": "v"}, nil, 1.5, true,
			[]string{"a"}, map[interface{}]interface{}{"n": int64(1)}, uint8(3), int16(-4), float32(2), int64(1 << 40)}
		if got := res.GetValue(); !sameGo(got, want) {
			t.Errorf("motan-go got back %s, want %s", goString(got), goString(want))
		}
		checkOurSeen(t, t.Name(), motan2.String("s"), motan2.Int32(7), motan2.Bytes([]byte{1, 0}),
			motan2.StringMapOf(map[string]string{"k": "v"}), motan2.Null, motan2.Float64(1.5), motan2.Bool(true),
			motan2.StringArray([]string{"a"}), motan2.Map(motan2.String("n"), motan2.Int64(1)), motan2.Byte(3),
			motan2.Int16(-4), motan2.Float32(2), motan2.Int64(1<<40))
	})

	t.Run("NoArgsVoid", func(t *testing.T) {
		res := motanGoCall(ep, echoService, "void")
		if e := res.GetException(); e != nil || res.GetValue() != nil {
			t.Errorf("void: value %s, exception %+v; want nil, nil", goString(res.GetValue()), e)
		}
	})

	t.Run("Exception", func(t *testing.T) {
		res := motanGoCall(ep, echoService, "throw")
		want := motan.Exception{ErrCode: 503, ErrMsg: "boom", ErrType: 2}
		if e := res.GetException(); e == nil || *e != want {
			t.Errorf("exception %+v, want %+v", e, want)
		}
		// Characters JSON must escape, and types 0 and 1.
		msg := "it's <b>bad</b> & \"quoted\"\nsecond line \\ ü"
		for _, typ := range []int32{0, 1, 2} {
			res = motanGoCall(ep, echoService, "throw", int32(418), msg, typ)
			want = motan.Exception{ErrCode: 418, ErrMsg: msg, ErrType: int(typ)}
			if e := res.GetException(); e == nil || *e != want {
				t.Errorf("exception %+v, want %+v", e, want)
			}
		}
	})

	t.Run("UnknownService", func(t *testing.T) {
		res := motanGoCall(ep, unknownService, "echo", "x")
		want := motan.Exception{ErrCode: 404, ErrMsg: notFoundMsg, ErrType: 1}
		if e := res.GetException(); e == nil || *e != want {
			t.Errorf("exception %+v, want %+v", e, want)
		}
	})

	t.Run("Heartbeat", func(t *testing.T) {
		if err := motanGoHeartbeat(srv.Addr); err != nil {
			t.Errorf("motan-go channel heartbeat: %v", err)
		}
		checkRawHeartbeats(t, srv.Addr)
	})

	t.Run("LargePayload", func(t *testing.T) {
		big := payload(100 << 10)
		res := motanGoCall(ep, echoService, "echo", big)
		if e := res.GetException(); e != nil {
			t.Fatalf("exception: %+v", e)
		}
		if got, ok := res.GetValue().([]byte); !ok || !bytes.Equal(got, big) {
			t.Errorf("100 KiB echo: got %T of length %d, want []byte identical to the argument", res.GetValue(), len(got))
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		concurrent(t, func(i int) error {
			arg := fmt.Sprintf("request-%02d-%s", i, strings.Repeat("x", i))
			res := motanGoCall(ep, echoService, "echo", arg, int32(i))
			if e := res.GetException(); e != nil {
				return fmt.Errorf("exception %+v", e)
			}
			if want := []interface{}{arg, int32(i)}; !sameGo(res.GetValue(), want) {
				return fmt.Errorf("got %s, want %s", goString(res.GetValue()), goString(want))
			}
			return nil
		})
	})

	t.Run("Gzip", func(t *testing.T) {
		// motan-go compresses request bodies longer than mingzSize; our
		// server gunzips them and, as motan-go servers do not, compresses
		// the reply to a gzip request; motan-go gunzips it.
		gz := newMotanGoEndpoint(t, srv.Addr, map[string]string{motan.GzipSizeKey: "1024"})
		big := compressible(100 << 10)
		res := motanGoCall(gz, echoService, "echo", big)
		if e := res.GetException(); e != nil {
			t.Fatalf("exception: %+v", e)
		}
		if got, ok := res.GetValue().([]byte); !ok || !bytes.Equal(got, big) {
			t.Errorf("gzip echo: got %T of length %d, want the 100 KiB argument", res.GetValue(), len(got))
		}
		res = motanGoCall(gz, echoService, "wiresize", big)
		if n, ok := res.GetValue().(int64); !ok || n <= 0 || n >= int64(len(big))/10 {
			t.Errorf("our server saw a request body of %v bytes on the wire, want a gzip stream far below %d", res.GetValue(), len(big))
		}
		// Below the threshold the request travels plain.
		res = motanGoCall(gz, echoService, "wiresize", "small")
		if n, ok := res.GetValue().(int64); !ok || n != 10 {
			t.Errorf("small request: wire body %v bytes, want 10 (uncompressed)", res.GetValue())
		}
	})
}

// checkOurSeen checks the arguments our server decoded for the request
// tagged name.
func checkOurSeen(t *testing.T, name string, want ...motan2.Value) {
	t.Helper()
	v, ok := ourSeen.LoadAndDelete(name)
	if !ok {
		t.Errorf("our server recorded no arguments for %s", name)
		return
	}
	got := v.([]motan2.Value)
	if len(got) != len(want) {
		t.Errorf("our server decoded %d args %v, want %d %v", len(got), got, len(want), want)
		return
	}
	for i := range want {
		if !motan2.Equal(got[i], want[i]) {
			t.Errorf("our server decoded arg %d as %v, want %v", i, got[i], want[i])
		}
	}
}

// checkGoSeen checks the arguments the motan-go server decoded for the
// request tagged name.
func checkGoSeen(t *testing.T, name string, want ...interface{}) {
	t.Helper()
	v, ok := goSeen.LoadAndDelete(name)
	if !ok {
		t.Errorf("motan-go server recorded no arguments for %s", name)
		return
	}
	if got := v.([]interface{}); !sameGo(got, want) {
		t.Errorf("motan-go server decoded %s, want %s", goString(got), goString(want))
	}
}

// concurrent runs 64 calls at once, each with its own argument, and
// reports every failure. Each call checks that its reply is its own.
func concurrent(t *testing.T, call func(i int) error) {
	t.Helper()
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
}

// ---------------------------------------------------------------------------
// 2. our client → motan-go server

func TestOurClientToMotanGoServer(t *testing.T) {
	checkNoLeaks(t)
	srv := startMotanGoServer(t)
	c := newOurClient(t, srv.Addr)

	t.Run("SimpleTypes", func(t *testing.T) {
		for _, tc := range simpleCases() {
			t.Run(tc.name, func(t *testing.T) {
				res, err := ourCall(c, echoService, "echo", t.Name(), tc.ourArg)
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				if !motan2.Equal(res.Value, tc.ourArg) {
					t.Errorf("our client got back %v, want %v", res.Value, tc.ourArg)
				}
				checkGoSeen(t, t.Name(), tc.want())
			})
		}
	})

	t.Run("MultipleArgs", func(t *testing.T) {
		// motan-go cannot encode a nil inside a container (spec 12, quirk
		// 1), so the echoed argument list holds no null; NullArgument below
		// covers null arguments.
		args := []motan2.Value{motan2.String("s"), motan2.Int32(7), motan2.Bytes([]byte{1, 0}),
			motan2.StringMapOf(map[string]string{"k": "v"}), motan2.Float64(1.5), motan2.Bool(true),
			motan2.StringArray([]string{"a"}), motan2.Map(motan2.String("n"), motan2.Int64(1)),
			motan2.Byte(3), motan2.Int16(-4), motan2.Float32(2), motan2.Int64(1 << 40),
			motan2.Array([]motan2.Value{motan2.Int32(1)})}
		res, err := ourCall(c, echoService, "echo", t.Name(), args...)
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if want := motan2.Array(args); !motan2.Equal(res.Value, want) {
			t.Errorf("got back %v, want %v", res.Value, want)
		}
		checkGoSeen(t, t.Name(), "s", int32(7), []byte{1, 0}, map[string]string{"k": "v"}, 1.5, true,
			[]string{"a"}, map[interface{}]interface{}{"n": int64(1)}, uint8(3), int16(-4), float32(2),
			int64(1<<40), []interface{}{int32(1)})
	})

	t.Run("NullArgument", func(t *testing.T) {
		res, err := ourCall(c, echoService, "void", t.Name(), motan2.String("a"), motan2.Null, motan2.Int32(1))
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if !res.Value.IsNull() {
			t.Errorf("void returned %v, want null", res.Value)
		}
		checkGoSeen(t, t.Name(), "a", nil, int32(1))

		// Echoing them makes motan-go encode []interface{}{"a", nil, 1},
		// which it cannot do: its server answers with a 500 exception.
		_, err = ourCall(c, echoService, "echo", "", motan2.String("a"), motan2.Null, motan2.Int32(1))
		var e *motan2.Exception
		if !errors.As(err, &e) || e.ErrCode != 500 || !strings.HasPrefix(e.ErrMsg, "convert to response fail") {
			t.Errorf("echo of a null inside a list: %v, want motan-go's 500 convert to response fail", err)
		}
	})

	t.Run("NoArgsVoid", func(t *testing.T) {
		res, err := ourCall(c, echoService, "void", "")
		if err != nil || !res.Value.IsNull() {
			t.Errorf("void: %v, %v; want null, nil", res, err)
		}
		if res != nil && res.Frame != nil && len(res.Frame.Body) != 0 {
			t.Errorf("motan-go void reply has a %d byte body, want none", len(res.Frame.Body))
		}
	})

	t.Run("Exception", func(t *testing.T) {
		_, err := ourCall(c, echoService, "throw", "")
		checkException(t, err, motan2.Exception{ErrCode: 503, ErrMsg: "boom", ErrType: 2})
		msg := "it's <b>bad</b> & \"quoted\"\nsecond line \\ ü"
		for _, typ := range []int32{0, 1, 2} {
			_, err = ourCall(c, echoService, "throw", "", motan2.Int32(418), motan2.String(msg), motan2.Int32(typ))
			checkException(t, err, motan2.Exception{ErrCode: 418, ErrMsg: msg, ErrType: int(typ)})
		}
	})

	t.Run("UnknownService", func(t *testing.T) {
		_, err := ourCall(c, unknownService, "echo", "", motan2.String("x"))
		checkException(t, err, motan2.Exception{ErrCode: 404, ErrMsg: notFoundMsg, ErrType: 1})
	})

	t.Run("Heartbeat", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Heartbeat(ctx); err != nil {
			t.Errorf("Heartbeat: %v", err)
		}
		java := newOurClient(t, srv.Addr, motan2.WithJavaHeartbeat())
		if err := java.Heartbeat(ctx); err != nil {
			t.Errorf("Java-style Heartbeat: %v", err)
		}
	})

	t.Run("LargePayload", func(t *testing.T) {
		big := payload(100 << 10)
		res, err := ourCall(c, echoService, "echo", "", motan2.Bytes(big))
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if res.Value.Kind() != motan2.KindBytes || !bytes.Equal(res.Value.Raw(), big) {
			t.Errorf("100 KiB echo: got %v of length %d", res.Value.Kind(), len(res.Value.Raw()))
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		concurrent(t, func(i int) error {
			arg := motan2.String(fmt.Sprintf("request-%02d-%s", i, strings.Repeat("x", i)))
			res, err := ourCall(c, echoService, "echo", "", arg, motan2.Int32(int32(i)))
			if err != nil {
				return err
			}
			if want := motan2.Array([]motan2.Value{arg, motan2.Int32(int32(i))}); !motan2.Equal(res.Value, want) {
				return fmt.Errorf("got %v, want %v", res.Value, want)
			}
			return nil
		})
	})

	t.Run("GzipRequest", func(t *testing.T) {
		gz := newOurClient(t, srv.Addr, motan2.WithGzipThreshold(1024))
		big := compressible(100 << 10)
		res, err := ourCall(gz, echoService, "echo", "", motan2.Bytes(big))
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if !bytes.Equal(res.Value.Raw(), big) {
			t.Errorf("gzip echo: got %v of length %d", res.Value.Kind(), len(res.Value.Raw()))
		}
		// motan-go records the body size before gunzipping it.
		res, err = ourCall(gz, echoService, "wiresize", "", motan2.Bytes(big))
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if n := res.Value.Int(); res.Value.Kind() != motan2.KindInt64 || n <= 0 || n >= int64(len(big))/10 {
			t.Errorf("motan-go saw a request body of %v bytes on the wire, want a gzip stream far below %d", res.Value, len(big))
		}
		res, err = ourCall(gz, echoService, "wiresize", "", motan2.String("small"))
		if err != nil || res.Value.Int() != 10 {
			t.Errorf("small request: wire body %v (%v), want 10 bytes (uncompressed)", res, err)
		}
	})

	t.Run("GzipReply", func(t *testing.T) {
		// gzipEchoService has mingzSize = 1024: motan-go compresses replies
		// whose body is longer.
		big := compressible(8 << 10)
		res, err := ourCall(c, gzipEchoService, "echo", "", motan2.Bytes(big))
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if !bytes.Equal(res.Value.Raw(), big) {
			t.Errorf("gzip reply: got %v of length %d", res.Value.Kind(), len(res.Value.Raw()))
		}
		if res.Frame.Flags&motan2.FlagGzip == 0 || res.Frame.WireBodySize >= len(big)/4 {
			t.Errorf("reply flags %#02x, wire body %d bytes: want a gzip'ed body", uint8(res.Frame.Flags), res.Frame.WireBodySize)
		}
		small := []byte("short")
		res, err = ourCall(c, gzipEchoService, "echo", "", motan2.Bytes(small))
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		if !bytes.Equal(res.Value.Raw(), small) || res.Frame.Flags&motan2.FlagGzip != 0 {
			t.Errorf("small reply: %v, flags %#02x; want plain", res.Value, uint8(res.Frame.Flags))
		}
	})
}

func checkException(t *testing.T, err error, want motan2.Exception) {
	t.Helper()
	var e *motan2.Exception
	if !errors.As(err, &e) {
		t.Errorf("error %v (%T), want *motan2.Exception %+v", err, err, want)
		return
	}
	if !reflect.DeepEqual(*e, want) {
		t.Errorf("exception %+v, want %+v", *e, want)
	}
}
