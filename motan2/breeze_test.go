package motan2

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

var longString = strings.Repeat("long-string-", 6) // 72 bytes, as in req_breeze

// breezeCases are values with the exact bytes breeze-go writes for them.
var breezeCases = []wireCase{
	{"null", Null, "99"},
	{"true", Bool(true), "9a"},
	{"false", Bool(false), "9b"},
	{"string_empty", String(""), "00"},
	{"string_direct", String("breeze"), "06 627265657a65"},
	{"string_62", String(strings.Repeat("x", 62)), "3e" + strings.Repeat("78", 62)},
	{"string_63", String(strings.Repeat("x", 63)), "3f 3f" + strings.Repeat("78", 63)},
	{"string_72", String(longString), "3f 48" + hexOf(longString)},
	{"int32_7", Int32(7), "57"},
	{"int32_-16", Int32(-16), "40"},
	{"int32_46", Int32(46), "7e"},
	{"int32_47", Int32(47), "7f 5e"},
	{"int32_-17", Int32(-17), "7f 21"},
	{"int32_99", Int32(99), "7f c601"},
	{"int32_min", Int32(math.MinInt32), "7f ffffffff0f"},
	{"int64_-8", Int64(-8), "80"},
	{"int64_0", Int64(0), "88"},
	{"int64_15", Int64(15), "97"},
	{"int64_16", Int64(16), "98 20"},
	{"int64_-9", Int64(-9), "98 11"},
	{"int64_big", Int64(-1234567890123), "98 9593d89fee47"},
	{"int64_max", Int64(math.MaxInt64), "98 feffffffffffffffff01"},
	{"byte", Byte(0xff), "9c ff"},
	{"bytes", Bytes([]byte{1, 2, 3}), "9d 00000003 010203"},
	{"bytes_empty", Bytes(nil), "9d 00000000"},
	{"int16", Int16(-2), "9e fffe"},
	{"float32", Float32(1.5), "9f 3fc00000"},
	{"float32_nan", Float32Bits(0x7fc00001), "9f 7fc00001"},
	{"float64", Float64(1.5), "a0 3ff8000000000000"},
	{"string_map", StringMap([]StringPair{{"a", "b"}, {"c", "d"}}), "db 02 3f3f 0161 0162 0163 0164"},
	{"string_map_empty", StringMap(nil), "db 00"},
	{"string_array", StringArray([]string{"x", "y"}), "dc 02 3f 0178 0179"},
	{"string_array_empty", StringArray(nil), "dc 00"},
	{"map", Map(String("k"), Int32(1), Int64(2), Null), "d9 02 016b 51 8a 99"},
	{"map_empty", Map(), "d9 00"},
	{"array", Array([]Value{Bool(false), String("s"), Array(nil)}), "da 03 9b 0173 da00"},
	{"array_empty", Array(nil), "da 00"},
	{"nested", Array([]Value{StringMap([]StringPair{{"k", "v"}}), Map(Int32(1), StringArray([]string{""}))}),
		"da 02 db01 3f3f 016b 0176 d901 51 dc01 3f 00"},
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(out)
}

func TestBreezeRoundTrip(t *testing.T) {
	for _, c := range breezeCases {
		t.Run(c.name, func(t *testing.T) {
			wire := hx(c.wire)
			got, err := AppendBreeze([]byte{0xAA}, c.v)
			if err != nil {
				t.Fatalf("AppendBreeze: %v", err)
			}
			if !bytes.Equal(got[1:], wire) {
				t.Fatalf("AppendBreeze = %x, want %x", got[1:], wire)
			}
			v, err := DecodeBreezeValue(wire)
			if err != nil {
				t.Fatalf("DecodeBreezeValue: %v", err)
			}
			if !Equal(v, c.v) {
				t.Fatalf("DecodeBreezeValue = %v, want %v", v, c.v)
			}
		})
	}
}

// TestBreezeDecodeOnlyForms covers forms other encoders may write and that
// AppendBreeze never produces.
func TestBreezeDecodeOnlyForms(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want Value
	}{
		{"string_3f_short", "3f 03 616263", String("abc")},
		{"int32_7f_small", "7f 02", Int32(1)},
		{"int64_98_small", "98 02", Int64(1)},
		{"packed_map_direct_string_types", "db 01 0105 0161 0162", StringMap([]StringPair{{"a", "b"}})},
		{"packed_map_int32_keys", "db 02 7f3f 02 0161 04 0162", Map(Int32(1), String("a"), Int32(2), String("b"))},
		{"packed_map_string_to_int64", "db 01 3f98 016b 04", Map(String("k"), Int64(2))},
		{"packed_map_bool_values", "db 01 3f9a 016b 9b", Map(String("k"), Bool(false))},
		{"packed_array_int64", "dc 02 98 02 04", Array([]Value{Int64(1), Int64(2)})},
		{"packed_array_direct_int32_type", "dc 01 50 c601", Array([]Value{Int32(99)})},
		{"packed_array_bool", "dc 02 9a 9a 9b", Array([]Value{Bool(true), Bool(false)})},
		{"packed_array_bytes", "dc 01 9d 00000001 ff", Array([]Value{Bytes([]byte{0xff})})},
		{"packed_array_of_packed_arrays", "dc 02 dc 01 3f 0178 00", Array([]Value{StringArray([]string{"x"}), StringArray(nil)})},
		{"packed_array_of_maps", "dc 01 d9 01 51 52", Array([]Value{Map(Int32(1), Int32(2))})},
		{"packed_array_float64", "dc 01 a0 3ff8000000000000", Array([]Value{Float64(1.5)})},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			v, err := DecodeBreezeValue(hx(c.wire))
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(v, c.want) {
				t.Fatalf("got %v, want %v", v, c.want)
			}
			// Re-encoding gives our canonical form, which decodes the same.
			enc, err := AppendBreeze(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if v2, err := DecodeBreezeValue(enc); err != nil || !Equal(v2, v) {
				t.Fatalf("canonical %x decodes to %v, %v", enc, v2, err)
			}
		})
	}
}

func TestBreezeDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		wire   string
		reason string
	}{
		{"message", "de 01 61 00000000", "unsupported breeze type"},
		{"message_ref", "df 01", "unsupported breeze type"},
		{"message_ref_direct", "e0", "unsupported breeze type"},
		{"schema", "dd", "unsupported breeze type"},
		{"unassigned_a1", "a1", "unsupported breeze type"},
		{"unassigned_d8", "d8", "unsupported breeze type"},
		{"truncated_direct_string", "05 6162", "exceeds the remaining body"},
		{"truncated_string_len", "3f", "truncated varint"},
		{"string_len_beyond_body", "3f ffffffff0f 61", "exceeds the remaining body"},
		{"truncated_int16", "9e 01", "truncated"},
		{"truncated_float64", "a0 00", "truncated"},
		{"bytes_len_beyond_body", "9d ffffffff", "exceeds the remaining body"},
		{"varint_overflow", "98 ffffffffffffffffffff01", "overflows"},
		{"count_over_limit", "da a18d06", "exceeds the limit"},
		{"count_beyond_body", "da 05 99", "exceeds the remaining body"},
		{"map_count_beyond_body", "d9 02 9999 99", "exceeds the remaining body"},
		{"packed_null", "dc 02 99 0000", "null is not a valid packed element type"},
		{"packed_bool_bad_byte", "dc 01 9a 01", "neither"},
		{"packed_missing_type", "dc 01", "exceeds the remaining body"},
		{"packed_map_missing_value_type", "db 01 3f", "exceeds the remaining body"},
		{"packed_message", "dc 01 de 00", "unsupported breeze type"},
		{"map_missing_value", "d9 01 d900", "unexpected end of body"},
		{"trailing_bytes", "51 51", "trailing bytes"},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			v, err := DecodeBreezeValue(hx(c.wire))
			if err == nil {
				t.Fatalf("decoded %v, want an error", v)
			}
			var ve *ValueError
			if !errors.Is(err, ErrBadValue) || !errors.As(err, &ve) || ve.Serialization != SerializationBreeze {
				t.Fatalf("error %T %v is not a Breeze *ValueError", err, err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %q, want %q", err, c.reason)
			}
		})
	}
}

func TestBreezeLimits(t *testing.T) {
	t.Run("huge_counts_allocate_nothing", func(t *testing.T) {
		for _, body := range [][]byte{
			hx("da ffffffff0f"), hx("d9 a08d06 99"), hx("dc a08d06 3f 00"), hx("db a08d06 3f3f 0000"),
			hx("dc 9f8d06 3f") /* 99,999 elements claimed, 0 present */, hx("9d ffffffff"), hx("3f ffffffff0f"),
		} {
			n := allocatedBytes(func() {
				if _, err := DecodeBreezeValue(body); err == nil {
					t.Fatalf("%x accepted", body)
				}
			})
			if n > 512 { // the error and its message, nothing sized from the input
				t.Errorf("%x: %d bytes allocated per decode", body, n)
			}
		}
	})
	t.Run("100000_elements_ok", func(t *testing.T) {
		body := append(hx("dc a08d06 9a"), bytes.Repeat([]byte{0x9a}, BreezeMaxElements)...)
		v, err := DecodeBreezeValue(body)
		if err != nil || v.Len() != BreezeMaxElements {
			t.Fatalf("got %d elements, %v", v.Len(), err)
		}
		body = append(hx("dc a18d06 9a"), bytes.Repeat([]byte{0x9a}, BreezeMaxElements+1)...)
		if _, err := DecodeBreezeValue(body); err == nil {
			t.Fatal("100,001 elements accepted")
		}
	})
	t.Run("depth", func(t *testing.T) {
		nest := func(n int) []byte { return append(bytes.Repeat([]byte{0xda, 0x01}, n-1), 0xda, 0x00) }
		if _, err := DecodeBreezeValue(nest(MaxValueDepth)); err != nil {
			t.Fatalf("%d levels: %v", MaxValueDepth, err)
		}
		if _, err := DecodeBreezeValue(nest(MaxValueDepth + 1)); err == nil || !strings.Contains(err.Error(), "deeper") {
			t.Fatalf("%d levels: %v, want a depth error", MaxValueDepth+1, err)
		}
		items := make([]Value, 1)
		items[0] = Array(items)
		if _, err := AppendBreeze(nil, items[0]); err == nil {
			t.Fatal("cyclic value encoded")
		}
	})
}

func TestAppendBreezeErrors(t *testing.T) {
	out, err := AppendBreeze([]byte("keep"), Map(String("m"), Message("", []byte{1})))
	var ke *KindError
	if !errors.As(err, &ke) || ke.Kind != KindMessage || ke.Serialization != SerializationBreeze {
		t.Fatalf("error %v, want a *KindError", err)
	}
	if string(out) != "keep" {
		t.Fatalf("dst changed to %q", out)
	}
}

func TestBreezeAllocations(t *testing.T) {
	small := hx("06 627265657a65 57 98 9593d89fee47 9a")
	got := testing.AllocsPerRun(100, func() {
		if vs, err := DecodeBreeze(small); err != nil || len(vs) != 4 {
			t.Fatal(vs, err)
		}
	})
	if got != 1 {
		t.Errorf("DecodeBreeze of 4 scalars: %v allocations, want 1", got)
	}
	vs, _ := DecodeBreeze(small)
	dst := make([]byte, 0, 64)
	got = testing.AllocsPerRun(100, func() {
		if _, err := AppendValues(dst[:0], SerializationBreeze, vs); err != nil {
			t.Fatal(err)
		}
	})
	if got != 0 {
		t.Errorf("AppendValues(breeze): %v allocations, want 0", got)
	}
}
