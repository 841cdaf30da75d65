package motan2

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// allocatedBytes returns the average number of heap bytes one call of f
// allocates.
func allocatedBytes(f func()) uint64 {
	const runs = 50
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// wireCase is a value with its exact bytes in one serialization.
type wireCase struct {
	name string
	v    Value
	wire string
}

// simpleCases are values with their exact Simple bytes (spec 12 and the
// vectors).
var simpleCases = []wireCase{
	{"null", Null, "00"},
	{"string_empty", String(""), "01 00000000"},
	{"string", String("hello motan2"), "01 0000000c 68656c6c6f206d6f74616e32"},
	{"string_nul_lf", String("a\x00\nb"), "01 00000004 61000a62"},
	{"bytes", Bytes(hx("deadbeef")), "03 00000004 deadbeef"},
	{"bytes_empty", Bytes(nil), "03 00000000"},
	{"bool_true", Bool(true), "05 01"},
	{"bool_false", Bool(false), "05 00"},
	{"byte_0", Byte(0), "06 00"},
	{"byte_255", Byte(255), "06 ff"},
	{"int16_-1", Int16(-1), "07 ffff"},
	{"int16_300", Int16(300), "07 012c"},
	{"int16_min", Int16(math.MinInt16), "07 8000"},
	{"int16_max", Int16(math.MaxInt16), "07 7fff"},
	{"int32_0", Int32(0), "08 00"},
	{"int32_1", Int32(1), "08 02"},
	{"int32_-1", Int32(-1), "08 01"},
	{"int32_63", Int32(63), "08 7e"},
	{"int32_-64", Int32(-64), "08 7f"},
	{"int32_64", Int32(64), "08 8001"},
	{"int32_-65", Int32(-65), "08 8101"},
	{"int32_max", Int32(math.MaxInt32), "08 feffffff0f"},
	{"int32_min", Int32(math.MinInt32), "08 ffffffff0f"},
	{"int64_300", Int64(300), "09 d804"},
	{"int64_-300", Int64(-300), "09 d704"},
	{"int64_2^62", Int64(1 << 62), "09 80808080808080808001"},
	{"int64_max", Int64(math.MaxInt64), "09 feffffffffffffffff01"},
	{"int64_min", Int64(math.MinInt64), "09 ffffffffffffffffff01"},
	{"float32_1.5", Float32(1.5), "0a 3fc00000"},
	{"float32_-0", Float32Bits(0x80000000), "0a 80000000"},
	{"float32_nan", Float32Bits(0x7fc00000), "0a 7fc00000"},
	{"float32_nan_payload", Float32Bits(0x7fc00001), "0a 7fc00001"},
	{"float64_pi", Float64(math.Pi), "0b 400921fb54442d18"},
	{"float64_go_nan", Float64(math.NaN()), "0b 7ff8000000000001"},
	{"float64_neg_nan", Float64Bits(0xfff0000000000001), "0b fff0000000000001"},
	{"float64_-inf", Float64(math.Inf(-1)), "0b fff0000000000000"},
	{"string_map_empty", StringMap(nil), "02 00000000"},
	{"string_array_empty", StringArray(nil), "04 00000000"},
	{"map_empty", Map(), "14 00000000"},
	{"array_empty", Array(nil), "15 00000000"},
	{"string_map", StringMap([]StringPair{{"a", "1"}, {"b", ""}, {"ü", "ß"}, {"key with\nnewline", "v"}}),
		"02 00000038 00000001 61 00000001 31 00000001 62 00000000 00000002 c3bc 00000002 c39f" +
			" 00000010 6b657920776974680a6e65776c696e65 00000001 76"},
	{"string_array", StringArray([]string{"x", "", "ü"}), "04 0000000f 00000001 78 00000000 00000002 c3bc"},
	{"array_generic", Array([]Value{Int64(1), String("two"), Float64(3), Bool(true), Bytes([]byte{1, 2}), Int16(-1)}),
		"15 0000001f 0902 01 00000003 74776f 0b 4008000000000000 0501 03 00000002 0102 07ffff"},
	{"map_int32_keys", Map(Int32(1), String("a"), Int32(-1), Bool(false)), "14 0000000c 0802 01 00000001 61 0801 0500"},
	{"map_bool_and_null_keys", Map(Bool(true), Null, Null, Int64(1)), "14 00000006 0501 00 00 0902"},
	{"null_in_containers", Array([]Value{Null, String("x"), Null}), "15 00000008 00 01 00000001 78 00"},
	{"nested", Map(String("m"), Array([]Value{Map(), StringArray([]string{"a"})})),
		"14 0000001a 01 00000001 6d 15 0000000f 14 00000000 04 00000005 00000001 61"},
}

func TestSimpleRoundTrip(t *testing.T) {
	for _, c := range simpleCases {
		t.Run(c.name, func(t *testing.T) {
			wire := hx(c.wire)
			got, err := AppendSimple([]byte{0xAA}, c.v)
			if err != nil {
				t.Fatalf("AppendSimple: %v", err)
			}
			if !bytes.Equal(got[1:], wire) || got[0] != 0xAA {
				t.Fatalf("AppendSimple = %x, want aa%x", got, wire)
			}
			v, err := DecodeSimpleValue(wire)
			if err != nil {
				t.Fatalf("DecodeSimpleValue: %v", err)
			}
			if !Equal(v, c.v) || v.Kind() != c.v.Kind() {
				t.Fatalf("DecodeSimpleValue = %v, want %v", v, c.v)
			}
			vs, err := DecodeSimple(wire)
			if err != nil || len(vs) != 1 || !Equal(vs[0], c.v) {
				t.Fatalf("DecodeSimple = %v, %v", vs, err)
			}
		})
	}
}

// TestConcatenatedArgs decodes every case back to back as one request
// body, the way arguments travel, and encodes them back to the same bytes.
func TestConcatenatedArgs(t *testing.T) {
	for _, tc := range []struct {
		s     Serialization
		cases []wireCase
	}{{SerializationSimple, simpleCases}, {SerializationBreeze, breezeCases}} {
		t.Run(tc.s.String(), func(t *testing.T) {
			var body []byte
			var want []Value
			for _, c := range tc.cases {
				body = append(body, hx(c.wire)...)
				want = append(want, c.v)
			}
			got, err := DecodeArgs(tc.s, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d values, want %d", len(got), len(want))
			}
			for i := range want {
				if !Equal(got[i], want[i]) {
					t.Errorf("arg %d = %v, want %v", i, got[i], want[i])
				}
			}
			enc, err := AppendValues(nil, tc.s, got)
			if err != nil || !bytes.Equal(enc, body) {
				t.Fatalf("AppendValues = %x, %v", enc, err)
			}
		})
	}
}

func TestSimpleJavaForms(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want Value
		kind Kind
	}{
		{"empty_tag20_is_empty_map", "14 00000000", Map(), KindMap},
		{"empty_tag21_is_empty_array", "15 00000000", Array(nil), KindArray},
		{"empty_tag2_stays_string_map", "02 00000000", StringMap(nil), KindStringMap},
		{"empty_tag4_stays_string_array", "04 00000000", StringArray(nil), KindStringArray},
		{"reply_null_byte", "00", Null, KindNull},
		{"reply_empty_body", "", Null, KindNull},
		{"null_map_value", "14 00000007 01 00000001 6b 00", Map(String("k"), Null), KindMap},
		{"bool_2_is_false", "05 02", Bool(false), KindBool},
		{"bool_ff_is_false", "05 ff", Bool(false), KindBool},
		{"byte_is_unsigned", "06 80", Byte(128), KindByte},
		// motan-go keeps the low 32 bits of an over-long zigzag32 varint.
		{"int32_wide_varint_truncates", "09 02", Int64(1), KindInt64},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			v, err := DecodeSimpleValue(hx(c.wire))
			if err != nil {
				t.Fatal(err)
			}
			if v.Kind() != c.kind || !Equal(v, c.want) {
				t.Fatalf("got %v (%s), want %v", v, v.Kind(), c.want)
			}
		})
	}
	if v, _ := DecodeSimpleValue(hx("06 ff")); v.Int() != 255 {
		t.Errorf("byte 0xff reads as %d, want 255", v.Int())
	}
}

func TestSimpleDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		wire   string
		reason string
		offset int
	}{
		{"unknown_tag_12", "0c", "unknown tag", 0},
		{"unknown_tag_19", "13", "unknown tag", 0},
		{"unknown_tag_22", "16", "unknown tag", 0},
		{"unknown_tag_ff", "ff", "unknown tag", 0},
		{"unknown_tag_inside_array", "15 00000001 0c", "unknown tag", 5},
		{"truncated_string_size", "01 0000", "truncated size", 0},
		{"string_longer_than_body", "01 00000005 6162", "exceeds the remaining body", 0},
		{"bytes_longer_than_body", "03 ffffffff", "exceeds the remaining body", 0},
		{"truncated_int16", "07 01", "truncated", 0},
		{"truncated_float64", "0b 00000000", "truncated", 0},
		{"truncated_bool", "05", "truncated", 0},
		{"truncated_varint", "08 80", "truncated varint", 0},
		{"varint_overflow", "09 ffffffffffffffffffff01", "overflows", 0},
		{"array_element_overshoots", "15 00000002 01 00000001 61", "wrong size", 0},
		{"map_element_overshoots", "14 00000003 0802 0801", "wrong size", 0},
		{"string_map_entry_overshoots", "02 00000006 00000001 61 00", "wrong size", 10},
		{"string_map_key_without_value", "02 00000005 00000001 61", "wrong size", 10},
		{"string_array_overshoots", "04 00000003 00000001 61", "wrong size", 5},
		{"map_key_without_value", "14 00000002 0802", "key without a value", 0},
		{"container_size_beyond_body", "14 00000009 0802", "exceeds the remaining body", 0},
		{"empty_tag_in_array", "15 00000001", "exceeds the remaining body", 0},
		{"trailing_bytes", "0802 00", "trailing bytes", 2},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			v, err := DecodeSimpleValue(hx(c.wire))
			if err == nil {
				t.Fatalf("decoded %v, want an error", v)
			}
			if !errors.Is(err, ErrBadValue) {
				t.Fatalf("error %v does not wrap ErrBadValue", err)
			}
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Serialization != SerializationSimple {
				t.Fatalf("error %T %v is not a Simple *ValueError", err, err)
			}
			if !strings.Contains(ve.Reason, c.reason) || ve.Offset != c.offset {
				t.Fatalf("error %q at offset %d, want %q at %d", err, ve.Offset, c.reason, c.offset)
			}
			if _, err := DecodeSimple(hx(c.wire)); err == nil && c.reason != "trailing bytes" {
				t.Fatalf("DecodeSimple accepted it")
			}
		})
	}
}

// nestedArrays returns depth Simple arrays, each holding the next, the
// innermost one empty.
func nestedArrays(depth int) []byte {
	b := hx("15 00000000")
	for i := 1; i < depth; i++ {
		inner := b
		b = append(hx("15 00000000"), inner...)
		b[1], b[2], b[3], b[4] = byte(len(inner)>>24), byte(len(inner)>>16), byte(len(inner)>>8), byte(len(inner))
	}
	return b
}

func TestSimpleDepthLimit(t *testing.T) {
	v, err := DecodeSimpleValue(nestedArrays(MaxValueDepth))
	if err != nil {
		t.Fatalf("%d levels: %v", MaxValueDepth, err)
	}
	enc, err := AppendSimple(nil, v)
	if err != nil || !bytes.Equal(enc, nestedArrays(MaxValueDepth)) {
		t.Fatalf("re-encoding %d levels: %v", MaxValueDepth, err)
	}
	if _, err := DecodeSimpleValue(nestedArrays(MaxValueDepth + 1)); !errors.Is(err, ErrBadValue) ||
		!strings.Contains(err.Error(), "deeper") {
		t.Fatalf("%d levels: %v, want a depth error", MaxValueDepth+1, err)
	}
	if _, err := AppendSimple(nil, Array([]Value{v})); err == nil {
		t.Fatal("encoding 101 levels succeeded")
	}
	// A Value that contains itself must fail, not overflow the stack.
	items := make([]Value, 1)
	items[0] = Array(items)
	if out, err := AppendSimple([]byte("x"), items[0]); err == nil || string(out) != "x" {
		t.Fatalf("cyclic value: %x, %v", out, err)
	}
}

// TestSimpleHugeSizes checks that declared sizes are validated before
// anything is allocated: the only allocation is the error itself.
func TestSimpleHugeSizes(t *testing.T) {
	for _, tag := range []byte{1, 2, 3, 4, 20, 21} {
		body := []byte{tag, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := DecodeSimple(body); err == nil {
				t.Fatalf("tag %d: accepted a 4 GiB size", tag)
			}
		})
		if allocs > 1 {
			t.Errorf("tag %d: %v allocations, want at most 1 (the error)", tag, allocs)
		}
		if n := allocatedBytes(func() { DecodeSimpleValue(body) }); n > 256 {
			t.Errorf("tag %d: %d bytes allocated per decode", tag, n)
		}
	}
	// A container whose size fits but whose elements don't must not be
	// sized from its size field either.
	body := append(hx("15 00000010"), make([]byte, 16)...)
	vs, err := DecodeSimple(body)
	if err != nil || len(vs) != 1 || vs[0].Len() != 16 {
		t.Fatalf("16 nulls: %v, %v", vs, err)
	}
}

func TestSimpleValuesAliasBody(t *testing.T) {
	body := hx("01 00000003 616263 03 00000002 0102")
	vs, err := DecodeSimple(body)
	if err != nil {
		t.Fatal(err)
	}
	within := func(p unsafe.Pointer) bool {
		start := uintptr(unsafe.Pointer(&body[0]))
		return uintptr(p) >= start && uintptr(p) < start+uintptr(len(body))
	}
	if !within(unsafe.Pointer(unsafe.StringData(vs[0].Str()))) || !within(unsafe.Pointer(&vs[1].Raw()[0])) {
		t.Fatal("decoded string/bytes do not alias the body")
	}
	// Appending to an aliased byte array must not write into the body.
	_ = append(vs[1].Raw(), 0xEE)
	if !bytes.Equal(body, hx("01 00000003 616263 03 00000002 0102")) {
		t.Fatal("append to a decoded byte array modified the body")
	}
}

func TestAppendSimpleErrors(t *testing.T) {
	for _, v := range []Value{
		Message("x.Y", []byte{1}),
		Array([]Value{Int32(1), Message("", nil)}),
		Map(String("k"), StringMap(nil), String("m"), Message("", nil)),
	} {
		out, err := AppendSimple([]byte("keep"), v)
		var ke *KindError
		if !errors.As(err, &ke) || ke.Kind != KindMessage || !errors.Is(err, ErrUnsupportedKind) {
			t.Errorf("%v: error %v, want a *KindError for pb_message", v, err)
		}
		if err != nil && !strings.Contains(err.Error(), "pb_message") {
			t.Errorf("error %q does not name the kind", err)
		}
		if string(out) != "keep" {
			t.Errorf("dst changed to %q on error", out)
		}
	}
}

func TestSimpleAllocations(t *testing.T) {
	_, data := loadVectors(t)
	body := func(name string) []byte {
		f, _, err := DecodeFrame(data[name], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return f.Body
	}
	tests := []struct {
		name   string
		body   []byte
		allocs float64
	}{
		{"one_string", body("req_one_string"), 1},
		{"ints", body("simple_int64_max_request_id"), 1},
		{"unicode_strings", body("simple_string_unicode"), 1},
		{"mixed_args_with_string_map", body("req_mixed_args"), 2}, // the slice and the map's pairs
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			got := testing.AllocsPerRun(100, func() {
				if _, err := DecodeSimple(c.body); err != nil {
					t.Fatal(err)
				}
			})
			if got != c.allocs {
				t.Errorf("DecodeSimple: %v allocations, want %v", got, c.allocs)
			}
			vs, _ := DecodeSimple(c.body)
			dst := make([]byte, 0, 1024)
			got = testing.AllocsPerRun(100, func() {
				if _, err := AppendValues(dst[:0], SerializationSimple, vs); err != nil {
					t.Fatal(err)
				}
			})
			if got != 0 {
				t.Errorf("AppendValues: %v allocations, want 0", got)
			}
		})
	}
}
