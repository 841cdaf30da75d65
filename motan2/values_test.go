package motan2

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestEntryPointsBySerialization(t *testing.T) {
	args := []Value{String("a"), Int32(1)}
	for _, s := range []Serialization{SerializationSimple, SerializationBreeze, SerializationPB} {
		t.Run(s.String(), func(t *testing.T) {
			body, err := AppendValues([]byte("pre"), s, args)
			if err != nil || !bytes.HasPrefix(body, []byte("pre")) {
				t.Fatalf("AppendValues = %q, %v", body, err)
			}
			body = body[3:]
			var got []Value
			if s == SerializationPB {
				got, err = DecodePB(body, []Kind{KindString, KindInt32})
			} else {
				got, err = DecodeArgs(s, body)
			}
			if err != nil || len(got) != 2 || !Equal(got[0], args[0]) || !Equal(got[1], args[1]) {
				t.Fatalf("decoded %v, %v", got, err)
			}
			one, err := AppendValues(nil, s, args[:1])
			if err != nil {
				t.Fatal(err)
			}
			if s == SerializationPB {
				// pb replies need the kind too, except for null.
				if _, err := DecodeReply(s, one); !errors.Is(err, ErrUnsupportedSerialization) {
					t.Fatalf("DecodeReply(pb) = %v, want ErrUnsupportedSerialization", err)
				}
				if v, err := DecodeReply(s, []byte{1}); err != nil || !v.IsNull() {
					t.Fatalf("DecodeReply(pb, 01) = %v, %v", v, err)
				}
				return
			}
			if v, err := DecodeReply(s, one); err != nil || !Equal(v, args[0]) {
				t.Fatalf("DecodeReply = %v, %v", v, err)
			}
			if _, err := DecodeReply(s, body); err == nil {
				t.Fatal("DecodeReply accepted two values")
			}
		})
	}
	t.Run("empty_reply_is_null_everywhere", func(t *testing.T) {
		for s := Serialization(0); s < 32; s++ {
			if v, err := DecodeReply(s, nil); err != nil || !v.IsNull() {
				t.Errorf("%s: %v, %v", s, v, err)
			}
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		for _, s := range []Serialization{SerializationHessian2, SerializationJSON, SerializationMsgpack,
			SerializationHprose, SerializationGrpcPBJSON, 9, 31} {
			out, err := AppendValues([]byte("k"), s, args)
			if !errors.Is(err, ErrUnsupportedSerialization) || !strings.Contains(err.Error(), s.String()) || string(out) != "k" {
				t.Errorf("AppendValues(%s) = %q, %v", s, out, err)
			}
			if _, err := DecodeArgs(s, []byte{0}); !errors.Is(err, ErrUnsupportedSerialization) {
				t.Errorf("DecodeArgs(%s): %v", s, err)
			}
			if _, err := DecodeReply(s, []byte{0}); !errors.Is(err, ErrUnsupportedSerialization) {
				t.Errorf("DecodeReply(%s): %v", s, err)
			}
		}
		if _, err := DecodeArgs(SerializationPB, []byte{1}); !errors.Is(err, ErrUnsupportedSerialization) ||
			!strings.Contains(err.Error(), "DecodePB") {
			t.Errorf("DecodeArgs(pb): %v, want a pointer to DecodePB", err)
		}
	})
	t.Run("encode_error_keeps_dst", func(t *testing.T) {
		for _, s := range []Serialization{SerializationSimple, SerializationBreeze, SerializationPB} {
			out, err := AppendValues([]byte("k"), s, []Value{String("ok"), Message("", nil), Map()})
			if err == nil || string(out) != "k" {
				t.Errorf("%s: %q, %v", s, out, err)
			}
		}
	})
}

// TestTruncatedVectorBodies cuts every vector body at every length: the
// decoders must never panic, and a cut that is not at a value boundary
// must be an error.
func TestTruncatedVectorBodies(t *testing.T) {
	idx, data := loadVectors(t)
	for _, v := range idx.Vectors {
		f, _, err := DecodeFrame(data[v.Name], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Body) == 0 || f.Serialization == SerializationGrpcPB || f.IsException() {
			continue // nothing to cut, or (grpc-pb) opaque bytes
		}
		t.Run(v.Name, func(t *testing.T) {
			body := f.Body
			if len(body) > 4096 {
				body = body[:4096] // the 200 KB payload: its head is what matters
			}
			var full []Value
			var kinds []Kind
			switch {
			case f.Serialization == SerializationPB:
				kinds = pbKinds(t, v.Arguments)
				full, err = DecodePB(f.Body, kinds)
			case f.IsRequest():
				full, err = DecodeArgs(f.Serialization, f.Body)
			default:
				var one Value
				one, err = DecodeReply(f.Serialization, f.Body)
				full = []Value{one}
			}
			if err != nil {
				t.Fatal(err)
			}
			// Value boundaries, from each value's encoding.
			bounds := map[int]int{0: 0}
			off := 0
			for i, val := range full {
				enc, err := AppendValues(nil, f.Serialization, []Value{val})
				if err != nil {
					t.Fatal(err)
				}
				off += len(enc)
				bounds[off] = i + 1
			}
			for n := 0; n < len(body); n++ {
				cut := body[:n]
				switch {
				case f.Serialization == SerializationPB:
					if _, err := DecodePB(cut, kinds); !errors.Is(err, ErrBadValue) {
						t.Fatalf("pb cut at %d: %v", n, err)
					}
				case f.IsRequest():
					vs, err := DecodeArgs(f.Serialization, cut)
					k, atBoundary := bounds[n]
					if !atBoundary {
						if !errors.Is(err, ErrBadValue) {
							t.Fatalf("cut at %d: %v, %v; want ErrBadValue", n, vs, err)
						}
						continue
					}
					if err != nil || len(vs) != k {
						t.Fatalf("cut at boundary %d: %d values, %v", n, len(vs), err)
					}
					for i := range vs {
						if !Equal(vs[i], full[i]) {
							t.Fatalf("cut at %d: value %d = %v, want %v", n, i, vs[i], full[i])
						}
					}
				default:
					val, err := DecodeReply(f.Serialization, cut)
					if n == 0 {
						if err != nil || !val.IsNull() {
							t.Fatalf("empty reply: %v, %v", val, err)
						}
					} else if !errors.Is(err, ErrBadValue) {
						t.Fatalf("reply cut at %d: %v, %v", n, val, err)
					}
				}
			}
		})
	}
}

type myString string
type myInt int32

func TestValueOf(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want Value
	}{
		{"nil", nil, Null},
		{"value", Int16(3), Int16(3)},
		{"string", "s", String("s")},
		{"string_map", map[string]string{"b": "2", "a": "1"}, StringMap([]StringPair{{"a", "1"}, {"b", "2"}})},
		{"empty_string_map", map[string]string{}, StringMap(nil)},
		{"bytes", []byte{1}, Bytes([]byte{1})},
		{"strings", []string{"x"}, StringArray([]string{"x"})},
		{"empty_strings", []string{}, StringArray(nil)},
		{"bool", true, Bool(true)},
		{"uint8", uint8(200), Byte(200)},
		{"int16", int16(-2), Int16(-2)},
		{"int32", int32(-3), Int32(-3)},
		{"int_is_int64", 7, Int64(7)},
		{"int64", int64(-8), Int64(-8)},
		{"float32", float32(1.5), Float32(1.5)},
		{"float64", 2.5, Float64(2.5)},
		{"named_string", myString("n"), String("n")},
		{"named_int32", myInt(4), Int32(4)},
		{"any_slice_with_nil", []any{1, "a", nil}, Array([]Value{Int64(1), String("a"), Null})},
		{"int64_slice", []int64{1, 2}, Array([]Value{Int64(1), Int64(2)})},
		{"value_slice", []Value{Bool(true)}, Array([]Value{Bool(true)})},
		{"named_strings", []myString{"q"}, StringArray([]string{"q"})},
		{"any_map", map[string]any{"b": 1, "a": []string{"x"}},
			Map(String("a"), StringArray([]string{"x"}), String("b"), Int64(1))},
		{"int32_key_map", map[int32]string{2: "b", 1: "a"}, Map(Int32(1), String("a"), Int32(2), String("b"))},
		{"named_string_map", map[myString]myString{"k": "v"}, StringMap([]StringPair{{"k", "v"}})},
		{"nested", map[string]any{"m": map[string]string{}}, Map(String("m"), StringMap(nil))},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			got, err := ValueOf(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			// Sorted keys make encoding deterministic.
			if got.Kind() == KindMap || got.Kind() == KindStringMap {
				for i := 0; i < 5; i++ {
					again, _ := ValueOf(c.in)
					a, _ := AppendSimple(nil, got)
					b, _ := AppendSimple(nil, again)
					if !bytes.Equal(a, b) {
						t.Fatal("encoding is not deterministic")
					}
				}
			}
		})
	}
	x := 1
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for _, bad := range []any{int8(1), uint16(1), uint32(1), uint64(1), uint(1), struct{}{}, &x, []*int{&x},
		map[string]any{"k": uint(1)}, cyclic, func() {}, make(chan int)} {
		if v, err := ValueOf(bad); err == nil {
			t.Errorf("ValueOf(%T) = %v, want an error", bad, v)
		}
	}
}

func TestInterface(t *testing.T) {
	tests := []struct {
		v    Value
		want any
	}{
		{Null, nil},
		{String("s"), "s"},
		{StringMap([]StringPair{{"k", "v"}}), map[string]string{"k": "v"}},
		{Bytes([]byte{1}), []byte{1}},
		{StringArray([]string{"a"}), []string{"a"}},
		{Bool(true), true},
		{Byte(255), uint8(255)},
		{Int16(-1), int16(-1)},
		{Int32(-2), int32(-2)},
		{Int64(-3), int64(-3)},
		{Float32(1.5), float32(1.5)},
		{Float64(2.5), 2.5},
		{Array([]Value{Int32(1), Null}), []any{int32(1), nil}},
		{Message("x", []byte{9}), []byte{9}},
		{Map(String("a"), Int32(1), Int64(2), Null, Null, Bool(true)), map[any]any{"a": int32(1), int64(2): nil, nil: true}},
		{Map(Bytes([]byte{1}), Int32(1), Array([]Value{Int32(1)}), Int32(2), Map(), Int32(3), StringArray(nil), Int32(4)),
			map[any]any{"bytes(01)": int32(1), "array[int32(1)]": int32(2), "map{}": int32(3), "string_array([])": int32(4)}},
	}
	for _, c := range tests {
		t.Run(c.v.String(), func(t *testing.T) {
			got := c.v.Interface()
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
			// Interface and ValueOf are inverses for everything but
			// messages (which become bytes) and generic maps.
			if k := c.v.Kind(); k != KindMessage && k != KindMap {
				back, err := ValueOf(got)
				if err != nil || !Equal(back, c.v) {
					t.Fatalf("ValueOf(Interface()) = %v, %v", back, err)
				}
			}
		})
	}
}

func marshalTyped(t *testing.T, v Value) string {
	t.Helper()
	b, err := json.Marshal(TypedJSON(v))
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return string(b)
}

func TestTypedJSONFormat(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Null, `{"type":"null"}`},
		{String("<a&b>"), `{"type":"string","value":"\u003ca\u0026b\u003e"}`},
		{String("\xff"), `{"type":"string","value":"\ufffd","hex":"ff"}`},
		{Bytes([]byte{0xde, 0xad}), `{"type":"bytes","hex":"dead"}`},
		{Bool(false), `{"type":"bool","value":false}`},
		{Byte(255), `{"type":"byte","value":"255"}`},
		{Int64(math.MinInt64), `{"type":"int64","value":"-9223372036854775808"}`},
		{Float32(3.25), `{"type":"float32","value":"3.25","bits":"0x40500000"}`},
		{Float32Bits(1), `{"type":"float32","value":"1e-45","bits":"0x00000001"}`},
		{Float32(math.MaxFloat32), `{"type":"float32","value":"3.4028235e+38","bits":"0x7f7fffff"}`},
		{Float32Bits(0x7fc00000), `{"type":"float32","value":"NaN","bits":"0x7fc00000"}`},
		{Float64(math.Inf(1)), `{"type":"float64","value":"+Inf","bits":"0x7ff0000000000000"}`},
		{Float64(math.Inf(-1)), `{"type":"float64","value":"-Inf","bits":"0xfff0000000000000"}`},
		{Float64(math.Copysign(0, -1)), `{"type":"float64","value":"-0","bits":"0x8000000000000000"}`},
		{Float64(3), `{"type":"float64","value":"3","bits":"0x4008000000000000"}`},
		{StringMap(nil), `{"type":"string_map","entries":[]}`},
		{StringMap([]StringPair{{"k", "v"}}), `{"type":"string_map","entries":[["k","v"]]}`},
		{StringArray(nil), `{"type":"string_array","value":[]}`},
		{Map(String("k"), Int32(1)), `{"type":"map","entries":[{"key":{"type":"string","value":"k"},"value":{"type":"int32","value":"1"}}]}`},
		{Map(), `{"type":"map","entries":[]}`},
		{Array([]Value{Null}), `{"type":"array","items":[{"type":"null"}]}`},
		{Message("", []byte{1}), `{"type":"pb_message","message_hex":"01"}`},
		{Message("a.B", nil), `{"type":"pb_message","message_hex":"","message_type":"a.B"}`},
	}
	for _, c := range tests {
		t.Run(c.v.String(), func(t *testing.T) {
			if got := marshalTyped(t, c.v); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			back, err := ParseTypedJSON([]byte(c.want))
			if err != nil || !Equal(back, c.v) {
				t.Fatalf("ParseTypedJSON = %v, %v", back, err)
			}
		})
	}
	// Without HTML escaping (as a CLI would print it) the text stays readable.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(TypedJSON(Map(String("<"), String("&")))); err != nil ||
		!strings.Contains(buf.String(), `"value":"<"`) || !strings.Contains(buf.String(), `"value":"&"`) {
		t.Fatalf("unescaped output %s, %v", buf.String(), err)
	}
}

// typedKeys are the keys TypedJSON writes; the index adds others
// (wire_hex, breeze_type_byte, fields, ...).
var typedKeys = map[string]bool{"type": true, "value": true, "bits": true, "hex": true, "entries": true,
	"items": true, "key": true, "message_hex": true, "message_type": true}

func stripIndexKeys(x any) any {
	switch o := x.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range o {
			if typedKeys[k] {
				out[k] = stripIndexKeys(v)
			}
		}
		return out
	case []any:
		out := make([]any, len(o))
		for i, v := range o {
			out[i] = stripIndexKeys(v)
		}
		return out
	}
	return x
}

// TestTypedJSONMatchesIndex renders every typed value of the index with
// TypedJSON and compares it with the index's own rendering: float values
// ("1e-45", "3.4028235e+38", "-0", "NaN"...), bits, hex, entry shapes.
func TestTypedJSONMatchesIndex(t *testing.T) {
	idx, _ := loadVectors(t)
	n := 0
	for _, v := range idx.Vectors {
		values := v.Arguments
		if v.Value != nil {
			values = append(values, v.Value)
		}
		for _, x := range values {
			if _, large := x.(map[string]any)["sha256"]; large {
				continue
			}
			val, err := FromTypedJSON(x)
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			got, err := json.Marshal(TypedJSON(val))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(stripIndexKeys(x))
			var g, w any
			json.Unmarshal(got, &g)
			json.Unmarshal(want, &w)
			dropMissingBits(g, w) // req_pb's floats carry only "value"
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s:\n got %s\nwant %s", v.Name, got, want)
			}
			n++
		}
	}
	if n < 100 {
		t.Fatalf("compared only %d values", n)
	}
}

func dropMissingBits(got, want any) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return
		}
		if _, has := w["bits"]; !has {
			delete(g, "bits")
		}
		for k := range w {
			dropMissingBits(g[k], w[k])
		}
	case []any:
		g, ok := got.([]any)
		for i := 0; ok && i < len(w) && i < len(g); i++ {
			dropMissingBits(g[i], w[i])
		}
	}
}

func TestTypedJSONRoundTrip(t *testing.T) {
	var all []Value
	for _, c := range simpleCases {
		all = append(all, c.v)
	}
	for _, c := range breezeCases {
		all = append(all, c.v)
	}
	for _, c := range pbCases {
		all = append(all, c.v)
	}
	all = append(all, String("bad utf8 \xc3"), Message("pkg.M", []byte{1, 2}))
	for _, v := range all {
		if back, err := ParseTypedJSON([]byte(marshalTyped(t, v))); err != nil || !Equal(back, v) {
			t.Errorf("%v: through JSON text: %v, %v", v, back, err)
		}
		if back, err := FromTypedJSON(TypedJSON(v)); err != nil || !Equal(back, v) {
			t.Errorf("%v: directly: %v, %v", v, back, err)
		}
	}
}

func TestParseTypedJSON(t *testing.T) {
	good := []struct {
		in   string
		want Value
	}{
		{`{"type":"int32","value":-7}`, Int32(-7)},
		{`{"type":"int64","value":"9223372036854775807"}`, Int64(math.MaxInt64)},
		{`{"type":"byte","value":"0"}`, Byte(0)},
		{`{"type":"int16","value":-32768}`, Int16(math.MinInt16)},
		{`{"type":"float32","value":"NaN"}`, Float32Bits(0x7fc00000)},
		{`{"type":"float64","value":"NaN"}`, Float64Bits(0x7ff8000000000001)},
		{`{"type":"float32","value":"-0"}`, Float32Bits(0x80000000)},
		{`{"type":"float64","value":"+Inf"}`, Float64(math.Inf(1))},
		{`{"type":"float64","value":2.5}`, Float64(2.5)},
		{`{"type":"float32","value":"0.1"}`, Float32(0.1)},
		{`{"type":"float64","value":"1","bits":"0x4008000000000000"}`, Float64(3)}, // bits win
		{`{"type":"string","value":"x","wire_hex":"00"}`, String("x")},
		{`{"type":"string","hex":"ff00"}`, String("\xff\x00")},
		{`{"type":"pb_message","message_hex":"0a00","message_type":"T"}`, Message("T", []byte{10, 0})},
		{` {"type":"null"} `, Null},
	}
	for _, c := range good {
		v, err := ParseTypedJSON([]byte(c.in))
		if err != nil || !Equal(v, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.in, v, err, c.want)
		}
	}
	bad := []struct{ in, reason string }{
		{`{"type":"int16","value":"40000"}`, "[-32768, 32767]"},
		{`{"type":"byte","value":"-1"}`, "[0, 255]"},
		{`{"type":"byte","value":256}`, "[0, 255]"},
		{`{"type":"int32","value":"2147483648"}`, "not an integer"},
		{`{"type":"int64","value":"9223372036854775808"}`, "not an integer"},
		{`{"type":"int64","value":"1.5"}`, "not an integer"},
		{`{"type":"int64","value":true}`, "decimal string or a number"},
		{`{"type":"float32","value":"1e39"}`, "not a float32"},
		{`{"type":"float32","bits":"0x100000000"}`, "bad \"bits\""},
		{`{"type":"float64"}`, "needs"},
		{`{"type":"bytes","hex":"zz"}`, "invalid byte"},
		{`{"type":"bytes","length":5,"sha256":"00"}`, "not inline"},
		{`{"type":"uint8","value":"1"}`, "unknown type"},
		{`{"value":"1"}`, "missing"},
		{`"just a string"`, "want an object"},
		{`{"type":"string_map","entries":[["k"]]}`, "entries[0]"},
		{`{"type":"map","entries":[{"key":{"type":"null"},"value":{"type":"int8"}}]}`, "$.entries[0].value"},
		{`{"type":"array","items":[1]}`, "$.items[0]"},
		{`{"type":"string_array","value":["a",1]}`, "value[1]"},
		{`{"type":"null"} {}`, "data after"},
		{`{"type":`, "typed JSON"},
	}
	for _, c := range bad {
		if v, err := ParseTypedJSON([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: %v, %v; want an error about %q", c.in, v, err, c.reason)
		}
	}
	deep := strings.Repeat(`{"type":"array","items":[`, MaxValueDepth+2) + strings.Repeat("]}", MaxValueDepth+2)
	if _, err := ParseTypedJSON([]byte(deep)); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("deep typed JSON: %v", err)
	}
}

func TestFromPlainJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Value
	}{
		{`"s"`, String("s")},
		{`true`, Bool(true)},
		{`null`, Null},
		{`42`, Int64(42)},
		{`-9223372036854775808`, Int64(math.MinInt64)},
		{`1.5`, Float64(1.5)},
		{`1e3`, Float64(1000)},
		{`["a","b"]`, StringArray([]string{"a", "b"})},
		{`[]`, StringArray(nil)},
		{`[1,"a",null]`, Array([]Value{Int64(1), String("a"), Null})},
		{`{"b":"2","a":"1"}`, StringMap([]StringPair{{"a", "1"}, {"b", "2"}})},
		{`{"n":1,"s":"x"}`, Map(String("n"), Int64(1), String("s"), String("x"))},
		{`{"type":"int16","value":"7"}`, Int16(7)},
		{`{"type":"car","wheels":"4"}`, StringMap([]StringPair{{"type", "car"}, {"wheels", "4"}})},
		{`[{"type":"byte","value":"1"},{"k":true}]`, Array([]Value{Byte(1), Map(String("k"), Bool(true))})},
	}
	for _, c := range tests {
		x, err := decodeJSON([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		v, err := FromPlainJSON(x)
		if err != nil || !Equal(v, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.in, v, err, c.want)
		}
	}
	// Without UseNumber, numbers arrive as float64.
	var x any
	json.Unmarshal([]byte(`[3, 2.5]`), &x)
	if v, err := FromPlainJSON(x); err != nil || !Equal(v, Array([]Value{Int64(3), Float64(2.5)})) {
		t.Errorf("float64 input: %v, %v", v, err)
	}
	if _, err := FromPlainJSON(map[string]any{"type": "int32", "value": "x"}); err == nil {
		t.Error("a bad typed object inside plain JSON was accepted")
	}
}

func TestValueCountIsBounded(t *testing.T) {
	nulls := make([]byte, MaxValueCount+1) // Simple null is one zero byte
	if _, err := DecodeSimple(nulls); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "MaxValueCount") {
		t.Fatalf("simple: %v", err)
	}
	if vs, err := DecodeSimple(nulls[:MaxValueCount]); err != nil || len(vs) != MaxValueCount {
		t.Fatalf("simple at the limit: %d values, %v", len(vs), err)
	}
	breezeNulls := bytes.Repeat([]byte{0x99}, MaxValueCount+1)
	if _, err := DecodeBreeze(breezeNulls); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "MaxValueCount") {
		t.Fatalf("breeze: %v", err)
	}
}

func TestEqualMapsWithDuplicateKeys(t *testing.T) {
	a := Map(String("k"), Int32(1), String("k"), Int32(2))
	b := Map(String("k"), Int32(2), String("k"), Int32(1))
	c := Map(String("k"), Int32(1), String("k"), Int32(1))
	if !Equal(a, a) || !Equal(a, b) {
		t.Fatal("maps with the same duplicate-key entries differ")
	}
	if Equal(a, c) || Equal(c, a) {
		t.Fatal("maps with different entries are equal")
	}
}

func TestEqualStringMapsWithDuplicateKeys(t *testing.T) {
	a := StringMap([]StringPair{{"k", "1"}, {"k", "2"}})
	b := StringMap([]StringPair{{"k", "2"}, {"k", "1"}})
	c := StringMap([]StringPair{{"k", "2"}, {"k", "2"}})
	if !Equal(a, a) || !Equal(a, b) || Equal(a, c) {
		t.Fatal("string map equality with duplicate keys is wrong")
	}
}
