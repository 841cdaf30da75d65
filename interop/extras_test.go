package interop

// Checks beyond the call matrix: byte-level comparison of the replies of
// both servers to identical raw frames, oneway requests, late replies,
// heartbeats switched off, and the breeze serialization.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/motan2"
	motan "github.com/weibocom/motan-go/core"
	"github.com/weibocom/motan-go/serialize"
)

// rawFrame is a frame parsed independently of both implementations.
type rawFrame struct {
	flags, verStatus, ser byte
	id                    uint64
	meta                  map[string]string
	body                  []byte
}

func parseRawFrame(b []byte) (rawFrame, error) {
	var f rawFrame
	if len(b) < 21 || b[0] != 0xF1 || b[1] != 0xF1 {
		return f, fmt.Errorf("not a frame: % x", b)
	}
	f.flags, f.verStatus, f.ser = b[2], b[3], b[4]
	f.id = binary.BigEndian.Uint64(b[5:13])
	m := int(binary.BigEndian.Uint32(b[13:17]))
	f.meta = map[string]string{}
	if m > 0 {
		parts := strings.Split(string(b[17:17+m]), "\n")
		if len(parts)%2 != 0 {
			return f, fmt.Errorf("odd meta: %q", b[17:17+m])
		}
		for i := 0; i < len(parts); i += 2 {
			f.meta[parts[i]] = parts[i+1]
		}
	}
	f.body = b[21+m:]
	return f, nil
}

// rawRequest builds a request frame by hand; the body is whatever the
// caller encoded (with motan-go's serializer, so neither side's encoder is
// involved in making the request).
func rawRequest(flags, ser byte, id uint64, meta []string, body []byte) []byte {
	b := []byte{0xF1, 0xF1, flags, 0x08, ser}
	b = binary.BigEndian.AppendUint64(b, id)
	m := strings.Join(meta, "\n")
	b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
	b = append(b, m...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

func goSimple(t *testing.T, args ...interface{}) []byte {
	t.Helper()
	b, err := (&serialize.SimpleSerialization{}).SerializeMulti(args)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRawRepliesMatchMotanGo sends byte-identical request frames to a
// motan-go server and to ours (both exporting the same echo service) and
// compares the replies field by field: flags, version/status and
// serialization bytes, request id, body bytes and meta (M_pt only for
// presence, as it is a time). Where the spec leaves the error text to the
// implementation, only errcode/errtype are compared.
func TestRawRepliesMatchMotanGo(t *testing.T) {
	checkNoLeaks(t)
	goSrv := startMotanGoServer(t)
	ourSrv := startOurServer(t)
	svc := func(s, m string) []string { return []string{"M_p", s, "M_m", m, "M_pp", "motan2"} }

	cases := []struct {
		name string
		req  []byte
		// errTextFree: the reply is an implementation-defined error frame
		// (spec 11.4): only errcode, errtype, status and id must agree.
		errTextFree bool
	}{
		{name: "echo_string", req: rawRequest(0x00, 0x30, 2, svc(echoService, "echo"), goSimple(t, "hello motan2"))},
		{name: "echo_several", req: rawRequest(0x00, 0x30, 3, svc(echoService, "echo"), goSimple(t, "a", int32(-7), []byte{0, 1}, int16(5), 2.5))},
		{name: "echo_map_one_entry", req: rawRequest(0x00, 0x30, 4, svc(echoService, "echo"), goSimple(t, map[string]interface{}{"k": []string{"v"}}))},
		{name: "void", req: rawRequest(0x00, 0x30, 5, svc(echoService, "void"), nil)},
		{name: "echo_null", req: rawRequest(0x00, 0x30, 6, svc(echoService, "echo"), goSimple(t, nil))},
		{name: "throw", req: rawRequest(0x00, 0x30, 27, svc(echoService, "throw"), nil)},
		{name: "throw_escaping", req: rawRequest(0x00, 0x30, 28, svc(echoService, "throw"), goSimple(t, int32(500), "<&>\"\n\t\u2028", int32(0)))},
		{name: "unknown_service", req: rawRequest(0x00, 0x30, 7, svc(unknownService, "echo"), goSimple(t, "x"))},
		{name: "id_max", req: rawRequest(0x00, 0x30, ^uint64(0), svc(echoService, "echo"), goSimple(t, "x"))},
		{name: "id_zero", req: rawRequest(0x00, 0x30, 0, svc(echoService, "echo"), goSimple(t, "x"))},
		{name: "oneway_flag", req: rawRequest(0x04, 0x30, 8, svc(echoService, "echo"), goSimple(t, "one way"))},
		{name: "proxy_flag", req: rawRequest(0x02, 0x30, 9, svc(echoService, "echo"), goSimple(t, "proxied"))},
		{name: "m_rid_and_extra_meta", req: rawRequest(0x00, 0x30, 10,
			append(svc(echoService, "echo"), "M_rid", "-5", "M_g", "grp", "M_s", "app", "custom", "v"), goSimple(t, "x"))},
		{name: "no_m_pp", req: rawRequest(0x00, 0x30, 11, []string{"M_p", echoService, "M_m", "echo"}, goSimple(t, "x"))},
		{name: "trailing_lf_in_meta", req: rawRequest(0x00, 0x30, 12, append(svc(echoService, "echo"), ""), goSimple(t, "x"))},
		{name: "unsupported_serialization_json", req: rawRequest(0x00, 0x10, 13, svc(echoService, "echo"), []byte(`"x"`)), errTextFree: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			theirsRaw, err := rawExchange(goSrv.Addr, c.req)
			if err != nil {
				t.Fatalf("motan-go server: %v", err)
			}
			oursRaw, err := rawExchange(ourSrv.Addr, c.req)
			if err != nil {
				t.Fatalf("our server: %v", err)
			}
			theirs, err := parseRawFrame(theirsRaw)
			if err != nil {
				t.Fatalf("motan-go reply: %v", err)
			}
			ours, err := parseRawFrame(oursRaw)
			if err != nil {
				t.Fatalf("our reply: %v", err)
			}
			where := fmt.Sprintf("\nrequest % x\n motan-go reply % x\n our reply      % x", c.req, theirsRaw, oursRaw)
			if c.errTextFree {
				// Only the outcome is pinned: an exception with the same
				// errcode and errtype, for the same id.
				if ours.flags != theirs.flags || ours.verStatus != theirs.verStatus || ours.id != theirs.id {
					t.Errorf("header: ours %02x %02x id %#x, motan-go %02x %02x id %#x%s",
						ours.flags, ours.verStatus, ours.id, theirs.flags, theirs.verStatus, theirs.id, where)
				}
				op, err1 := motan2.ParseException(ours.meta["M_e"])
				tp, err2 := motan2.ParseException(theirs.meta["M_e"])
				if err1 != nil || err2 != nil || op.ErrCode != tp.ErrCode || op.ErrType != tp.ErrType {
					t.Errorf("exception: ours %q, motan-go %q%s", ours.meta["M_e"], theirs.meta["M_e"], where)
				}
				t.Logf("motan-go: serialization byte %02x, meta %v; ours: serialization byte %02x, meta %v",
					theirs.ser, sortedMeta(theirs.meta), ours.ser, sortedMeta(ours.meta))
				return
			}
			if ours.flags != theirs.flags || ours.verStatus != theirs.verStatus || ours.ser != theirs.ser || ours.id != theirs.id {
				t.Errorf("header: ours %02x %02x %02x id %#x, motan-go %02x %02x %02x id %#x%s",
					ours.flags, ours.verStatus, ours.ser, ours.id, theirs.flags, theirs.verStatus, theirs.ser, theirs.id, where)
			}
			if !bytes.Equal(ours.body, theirs.body) {
				t.Errorf("body: ours % x, motan-go % x%s", ours.body, theirs.body, where)
			}
			_, ptOurs := ours.meta["M_pt"]
			_, ptTheirs := theirs.meta["M_pt"]
			if ptOurs != ptTheirs {
				t.Errorf("M_pt present: ours %v, motan-go %v%s", ptOurs, ptTheirs, where)
			}
			if ptOurs {
				if _, err := strconv.Atoi(ours.meta["M_pt"]); err != nil {
					t.Errorf("our M_pt %q is not a number", ours.meta["M_pt"])
				}
			}
			delete(ours.meta, "M_pt")
			delete(theirs.meta, "M_pt")
			if !reflect.DeepEqual(ours.meta, theirs.meta) {
				t.Errorf("meta (without M_pt): ours %v, motan-go %v%s", sortedMeta(ours.meta), sortedMeta(theirs.meta), where)
			}
		})
	}
}

func sortedMeta(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(out)
	return out
}

// TestMotanGoOnewayToOurServer: motan-go sets the oneway bit but still
// waits for a reply (spec 10.3); our server must send one.
func TestMotanGoOnewayToOurServer(t *testing.T) {
	checkNoLeaks(t)
	srv := startOurServer(t)
	ep := newMotanGoEndpoint(t, srv.Addr, nil)
	req := &motan.MotanRequest{ServiceName: echoService, Method: "echo", Arguments: []interface{}{"fire and forget"}}
	req.GetRPCContext(true).Oneway = true
	res := ep.Call(req)
	if e := res.GetException(); e != nil || res.GetValue() != "fire and forget" {
		t.Errorf("oneway call: value %s, exception %+v", goString(res.GetValue()), e)
	}
}

// TestOurClientLateReply: a call to a motan-go server that times out on
// our side, whose reply then arrives late, must not disturb later calls on
// the same connection (the late reply is dropped, not delivered to another
// call).
func TestOurClientLateReply(t *testing.T) {
	checkNoLeaks(t)
	srv := startMotanGoServer(t)
	c := newOurClient(t, srv.Addr, motan2.WithConnections(1), motan2.WithErrorThreshold(0))
	release := make(chan struct{})
	blockers.Store(t.Name(), release)
	defer blockers.Delete(t.Name())

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := c.Call(ctx, &motan2.Request{Service: echoService, Method: "block",
		Meta: motan2.Meta{{Key: caseKey, Value: t.Name()}}})
	cancel()
	var ce *motan2.CallError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || !ce.Sent {
		t.Fatalf("blocked call: %v, want a sent CallError wrapping DeadlineExceeded", err)
	}
	close(release) // the motan-go server now sends the late reply
	for i := 0; i < 50; i++ {
		want := fmt.Sprintf("after-%d", i)
		res, err := ourCall(c, echoService, "echo", "", motan2.String(want))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if res.Value.Str() != want {
			t.Fatalf("call %d got %v, want %q", i, res.Value, want)
		}
	}
}

// TestHeartbeatSwitchedOff: a server with heartbeats switched off closes
// the connection instead of answering (spec 10.1); both clients see the
// heartbeat fail, against both servers.
func TestHeartbeatSwitchedOff(t *testing.T) {
	checkNoLeaks(t)
	ours := startOurServer(t)
	ours.Srv.SetHeartbeatEnabled(false)
	if err := motanGoHeartbeat(ours.Addr); err == nil {
		t.Errorf("motan-go heartbeat to our server with heartbeats off succeeded")
	}
	ours.Srv.SetHeartbeatEnabled(true)
	if err := motanGoHeartbeat(ours.Addr); err != nil {
		t.Errorf("motan-go heartbeat after switching back on: %v", err)
	}

	theirs := startMotanGoServer(t)
	theirs.srv.SetHeartbeat(false)
	c := newOurClient(t, theirs.Addr, motan2.WithErrorThreshold(0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Heartbeat(ctx); err == nil {
		t.Errorf("our heartbeat to a motan-go server with heartbeats off succeeded")
	}
}

// TestBreeze runs a few values through the breeze serialization (number 8)
// in both directions. motan-go decodes breeze only with target types or
// generically with breeze.ReadValue; the expectations are what motan-go
// itself decodes its own encoding to.
func TestBreeze(t *testing.T) {
	checkNoLeaks(t)
	breezeSer := &serialize.BreezeSerialization{}
	goValues := []interface{}{
		"hello breeze", "", int32(-5), int32(1 << 20), int64(7), int64(-1 << 40), true, false,
		1.5, float32(-0.25), int16(-300), uint8(200), []byte{1, 2, 3},
		map[string]string{"k": "v"}, []string{"a", "b"}, []interface{}{"x", int32(1)},
		map[string]interface{}{"n": int64(1)},
	}

	t.Run("MotanGoClientToOurServer", func(t *testing.T) {
		srv := startOurServer(t)
		ep := newMotanGoEndpoint(t, srv.Addr, map[string]string{motan.SerializationKey: serialize.Breeze})
		for _, v := range goValues {
			own, err := breezeSer.Serialize(v)
			if err != nil {
				t.Fatalf("motan-go cannot breeze-encode %s: %v", goString(v), err)
			}
			want, err := breezeSer.DeSerialize(own, nil)
			if err != nil {
				t.Fatalf("motan-go cannot decode its own breeze % x: %v", own, err)
			}
			res := motanGoCall(ep, echoService, "echo", v)
			if e := res.GetException(); e != nil {
				t.Errorf("echo %s (% x): exception %+v", goString(v), own, *e)
				continue
			}
			if !sameGo(res.GetValue(), want) {
				t.Errorf("echo %s (% x): motan-go got back %s, want %s", goString(v), own, goString(res.GetValue()), goString(want))
			}
		}
	})

	t.Run("OurClientToMotanGoServer", func(t *testing.T) {
		srv := startMotanGoServer(t)
		c := newOurClient(t, srv.Addr)
		for _, v := range goValues {
			arg, err := motan2.ValueOf(v)
			if err != nil {
				t.Fatal(err)
			}
			name := t.Name() + "/" + goString(v)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := c.Call(ctx, &motan2.Request{Service: echoService, Method: "echo", Args: []motan2.Value{arg},
				Serialization: motan2.SerializationBreeze, Meta: motan2.Meta{{Key: caseKey, Value: name}}})
			cancel()
			if err != nil {
				t.Errorf("echo %v: %v", arg, err)
				continue
			}
			seen, _ := goSeen.LoadAndDelete(name)
			own, _ := breezeSer.Serialize(v)
			want, _ := breezeSer.DeSerialize(own, nil)
			if !sameGo(seen, []interface{}{want}) {
				t.Errorf("motan-go decoded our breeze %v to %s, want %s (what it decodes its own encoding to)", arg, goString(seen), goString(want))
			}
			ours, _ := motan2.AppendValues(nil, motan2.SerializationBreeze, []motan2.Value{arg})
			if !bytes.Equal(ours, own) {
				t.Logf("breeze encodings of %s differ: ours % x, motan-go % x", goString(v), ours, own)
			}
			if res.Frame.Serialization != motan2.SerializationBreeze {
				t.Errorf("reply serialization %v, want breeze", res.Frame.Serialization)
			}
			// motan-go echoes what it decoded, re-encoded by its rules (its
			// generic decoding turns packed string maps/arrays into generic
			// ones, so those come back as map/array kinds).
			reencoded, _ := breezeSer.Serialize(want)
			wantBack, err := motan2.DecodeReply(motan2.SerializationBreeze, reencoded)
			if err != nil || !motan2.Equal(res.Value, wantBack) {
				t.Errorf("echo of %v came back as %v, want %v (motan-go re-encodes its decoded %s as % x)", arg, res.Value, wantBack, goString(want), reencoded)
			}
		}
	})
}

// TestFrameSizeLimit: a body of exactly 10 MiB is accepted and one byte
// more makes the receiver close the connection without an error frame
// (spec 8), in both directions; the client then reconnects for the next
// call.
func TestFrameSizeLimit(t *testing.T) {
	checkNoLeaks(t)
	const limit = 10 << 20
	// A Simple byte array of n bytes is a body of n+5 bytes.
	exact, over := make([]byte, limit-5), make([]byte, limit-4)

	t.Run("OurClientToMotanGoServer", func(t *testing.T) {
		srv := startMotanGoServer(t)
		c := newOurClient(t, srv.Addr, motan2.WithConnections(1), motan2.WithErrorThreshold(0))
		if _, err := ourCall(c, echoService, "void", "", motan2.Bytes(exact)); err != nil {
			t.Errorf("10 MiB body: %v", err)
		}
		// Depending on timing the failure is seen by the writer (EPIPE /
		// ECONNRESET, returned as is) or by the reader (ErrConnClosed).
		_, err := ourCall(c, echoService, "void", "", motan2.Bytes(over))
		var ce *motan2.CallError
		if !errors.As(err, &ce) {
			t.Errorf("10 MiB + 1 body: %v, want a CallError: motan-go closes the connection", err)
		} else {
			t.Logf("10 MiB + 1 body: %v (errors.Is ErrConnClosed: %v)", err, errors.Is(err, motan2.ErrConnClosed))
		}
		// The next call must get through on a new connection. A call made
		// while the dead connection is still being torn down fails at once
		// with a not-sent error (see TestOurClientRedialsAfterPeerClose),
		// so retry those, bounded.
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, err := ourCall(c, echoService, "echo", "", motan2.String("again"))
			if err == nil {
				break
			}
			var ce *motan2.CallError
			if !errors.As(err, &ce) || ce.Sent || time.Now().After(deadline) {
				t.Errorf("call after the closed connection: %v", err)
				break
			}
			t.Logf("call after the closed connection, retrying: %v", err)
		}
	})

	t.Run("MotanGoClientToOurServer", func(t *testing.T) {
		srv := startOurServer(t)
		ep := newMotanGoEndpoint(t, srv.Addr, map[string]string{motan.ClientConnectionKey: "1"})
		if res := motanGoCall(ep, echoService, "void", exact); res.GetException() != nil {
			t.Errorf("10 MiB body: exception %+v", *res.GetException())
		}
		res := motanGoCall(ep, echoService, "void", over)
		if e := res.GetException(); e == nil || e.ErrCode != 400 || !strings.Contains(e.ErrMsg, "channel") {
			t.Errorf("10 MiB + 1 body: exception %+v, want motan-go's 400 channel error", e)
		}
		if res := motanGoCall(ep, echoService, "echo", "again"); res.GetException() != nil || res.GetValue() != "again" {
			t.Errorf("call after the closed connection: %s, %+v", goString(res.GetValue()), res.GetException())
		}
	})
}

// TestOurClientRedialsAfterPeerClose: when the peer closes a connection, a
// call made while the connection is still being torn down must dial a new
// one, not fail with a not-sent error on the dying one (a regression test:
// 63 of 100 such calls used to fail).
func TestOurClientRedialsAfterPeerClose(t *testing.T) {
	checkNoLeaks(t)
	// The motan-go server closes the connection on any frame with a body
	// over 1 KiB; a 4 MiB body makes the close race with our write.
	srv := startMotanGoServer(t, motan.MaxContentLength, "1024")
	c := newOurClient(t, srv.Addr, motan2.WithConnections(1), motan2.WithErrorThreshold(0))
	over := make([]byte, 4<<20)
	failures := 0
	for i := 0; i < 100; i++ {
		if _, err := ourCall(c, echoService, "void", "", motan2.Bytes(over)); err == nil {
			t.Fatal("oversized request accepted")
		}
		if _, err := ourCall(c, echoService, "echo", "", motan2.String("again")); err != nil {
			if failures++; failures <= 3 {
				t.Errorf("iteration %d: call right after the peer closed: %v", i, err)
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d of 100 calls made right after the peer closed the connection failed instead of redialing", failures)
	}
}
