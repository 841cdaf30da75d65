package motan2

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// pbCases are the req_pb examples of spec 13.1 plus edge values.
var pbCases = []struct {
	name string
	kind Kind
	v    Value
	wire string
}{
	{"message", KindMessage, Message("", hx("0a03616263")), "00 05 0a03616263"},
	{"int32_-5", KindInt32, Int32(-5), "00 09"},
	{"string", KindString, String("text"), "00 04 74657874"},
	{"bool_true", KindBool, Bool(true), "00 01"},
	{"bool_false", KindBool, Bool(false), "00 00"},
	{"null_string", KindString, Null, "01"},
	{"null_message", KindMessage, Null, "01"},
	{"int64_2^40", KindInt64, Int64(1 << 40), "00 808080808040"},
	{"int64_min", KindInt64, Int64(math.MinInt64), "00 ffffffffffffffffff01"},
	{"float64_2.5", KindFloat64, Float64(2.5), "00 0000000000000440"},
	{"float32_-1.25", KindFloat32, Float32(-1.25), "00 0000a0bf"},
	{"float32_nan", KindFloat32, Float32Bits(0x7fc00001), "00 0100c07f"},
	{"byte_7", KindByte, Byte(7), "00 07"},
	{"byte_255", KindByte, Byte(255), "00 ff01"},
	{"int16_-2", KindInt16, Int16(-2), "00 03"},
	{"int16_min", KindInt16, Int16(math.MinInt16), "00 ffff03"},
	{"bytes", KindBytes, Bytes([]byte{0, 1}), "00 02 0001"},
	{"empty_string", KindString, String(""), "00 00"},
	{"empty_message", KindMessage, Message("", nil), "00 00"},
}

func TestPBRoundTrip(t *testing.T) {
	for _, c := range pbCases {
		t.Run(c.name, func(t *testing.T) {
			wire := hx(c.wire)
			got, err := AppendPB([]byte{0xAA}, c.v)
			if err != nil || !bytes.Equal(got[1:], wire) {
				t.Fatalf("AppendPB = %x, %v; want %x", got[1:], err, wire)
			}
			vs, err := DecodePB(wire, []Kind{c.kind})
			if err != nil {
				t.Fatalf("DecodePB: %v", err)
			}
			if !Equal(vs[0], c.v) {
				t.Fatalf("DecodePB = %v, want %v", vs[0], c.v)
			}
		})
	}
}

func TestPBMultipleValues(t *testing.T) {
	var body []byte
	var kinds []Kind
	var want []Value
	for _, c := range pbCases {
		body = append(body, hx(c.wire)...)
		kinds = append(kinds, c.kind)
		want = append(want, c.v)
	}
	got, err := DecodePB(body, kinds)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !Equal(got[i], want[i]) {
			t.Errorf("value %d = %v, want %v", i, got[i], want[i])
		}
	}
	enc, err := AppendValues(nil, SerializationPB, got)
	if err != nil || !bytes.Equal(enc, body) {
		t.Fatalf("AppendValues(pb) = %x, %v", enc, err)
	}
	// Every strict prefix lacks part of a value or a whole value.
	for n := 0; n < len(body); n++ {
		if _, err := DecodePB(body[:n], kinds); !errors.Is(err, ErrBadValue) {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
}

func TestPBErrors(t *testing.T) {
	for _, v := range []Value{StringMap(nil), StringArray(nil), Map(), Array(nil)} {
		out, err := AppendPB([]byte("keep"), v)
		var ke *KindError
		if !errors.As(err, &ke) || ke.Serialization != SerializationPB || string(out) != "keep" {
			t.Errorf("AppendPB(%v) = %q, %v; want a *KindError and dst unchanged", v, out, err)
		}
	}
	tests := []struct {
		name   string
		wire   string
		kinds  []Kind
		reason string
	}{
		{"bad_marker", "02 00", []Kind{KindInt32}, "marker"},
		{"missing_value", "00 02", []Kind{KindInt32, KindInt32}, "body ends"},
		{"trailing", "00 02 00", []Kind{KindInt32}, "trailing"},
		{"length_beyond_body", "00 ffffffff0f 00", []Kind{KindBytes}, "exceeds the remaining body"},
		{"truncated_float", "00 0000", []Kind{KindFloat32}, "truncated"},
		{"value_for_null_kind", "00", []Kind{KindNull}, "null"},
		{"map_kind", "00 00", []Kind{KindMap}, "no encoding"},
		{"varint_overflow", "00 ffffffffffffffffffff01", []Kind{KindInt64}, "overflows"},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodePB(hx(c.wire), c.kinds)
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Serialization != SerializationPB || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %v, want a pb *ValueError about %q", err, c.reason)
			}
		})
	}
	if vs, err := DecodePB(hx("01"), []Kind{KindNull}); err != nil || !vs[0].IsNull() {
		t.Fatalf("null for a null kind: %v, %v", vs, err)
	}
}

func TestGrpcPB(t *testing.T) {
	body := hx("0a0f677270632d7062207061796c6f6164")
	v, err := DecodeGrpcPB(body)
	if err != nil || v.Kind() != KindMessage || !bytes.Equal(v.Raw(), body) || &v.Raw()[0] != &body[0] {
		t.Fatalf("DecodeGrpcPB = %v, %v; want the body itself", v, err)
	}
	for _, in := range []Value{v, Bytes(body), Message("google.protobuf.StringValue", body)} {
		out, err := AppendGrpcPB([]byte{0xAA}, in)
		if err != nil || !bytes.Equal(out[1:], body) {
			t.Errorf("AppendGrpcPB(%v) = %x, %v", in, out, err)
		}
	}
	for _, in := range []Value{Null, String("x"), Array(nil)} {
		if _, err := AppendGrpcPB(nil, in); !errors.Is(err, ErrUnsupportedKind) {
			t.Errorf("AppendGrpcPB(%v): %v, want ErrUnsupportedKind", in, err)
		}
	}
	for _, vs := range [][]Value{nil, {v, v}} {
		if out, err := AppendValues([]byte("k"), SerializationGrpcPB, vs); err == nil || string(out) != "k" {
			t.Errorf("AppendValues(grpc-pb, %d values) = %q, %v; want an error", len(vs), out, err)
		}
	}
	args, err := DecodeArgs(SerializationGrpcPB, nil)
	if err != nil || len(args) != 1 || args[0].Kind() != KindMessage || args[0].Len() != 0 {
		t.Fatalf("empty grpc-pb request body: %v, %v; want one empty message", args, err)
	}
}

func TestPBAllocations(t *testing.T) {
	body := hx("00 04 74657874 00 09 00 01")
	kinds := []Kind{KindString, KindInt32, KindBool}
	if n := testing.AllocsPerRun(100, func() { DecodePB(body, kinds) }); n != 1 {
		t.Errorf("DecodePB: %v allocations, want 1", n)
	}
	vs, _ := DecodePB(body, kinds)
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { AppendValues(dst[:0], SerializationPB, vs) }); n != 0 {
		t.Errorf("AppendValues(pb): %v allocations, want 0", n)
	}
}
