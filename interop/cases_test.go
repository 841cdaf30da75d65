package interop

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/meshgate/meshgate/motan2"
	"github.com/weibocom/motan-go/serialize"
)

// simpleCase is one Simple-serialization value, seen from both sides.
type simpleCase struct {
	name string
	// goArg is the value as a motan-go program passes it.
	goArg interface{}
	// goWant is what motan-go decodes the wire form of goArg to (with no
	// target type); nil means "same as goArg".
	goWant interface{}
	// ourArg is the same value as a motan2.Value: what our side must decode
	// motan-go's encoding of goArg to, and what our side sends.
	ourArg motan2.Value
	// unordered: the value holds a map with several entries, whose wire
	// order is random in motan-go, so encodings can't be compared bytewise.
	unordered bool
}

func (c simpleCase) want() interface{} {
	if c.goWant != nil {
		return c.goWant
	}
	return c.goArg
}

// simpleCases covers every Simple type (spec section 12) with ordinary and
// edge values, the Go types motan-go maps onto them, and empty containers.
func simpleCases() []simpleCase {
	S, I64 := motan2.String, motan2.Int64
	return []simpleCase{
		{name: "string", goArg: "hello motan2", ourArg: S("hello motan2")},
		{name: "string_empty", goArg: "", ourArg: S("")},
		{name: "string_utf8_nul_lf", goArg: "ü ß 中文\x00\n", ourArg: S("ü ß 中文\x00\n")},
		{name: "string_map",
			goArg:  map[string]string{"a": "1", "b": "", "ü": "ß", "key with\nnewline": "v"},
			ourArg: motan2.StringMapOf(map[string]string{"a": "1", "b": "", "ü": "ß", "key with\nnewline": "v"}), unordered: true},
		{name: "string_map_one", goArg: map[string]string{"k": "v"}, ourArg: motan2.StringMap([]motan2.StringPair{{Key: "k", Value: "v"}})},
		{name: "string_map_empty", goArg: map[string]string{}, goWant: map[string]string(nil), ourArg: motan2.StringMap(nil)},
		{name: "bytes", goArg: []byte{0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x0A}, ourArg: motan2.Bytes([]byte{0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x0A})},
		{name: "bytes_empty", goArg: []byte{}, ourArg: motan2.Bytes([]byte{})},
		{name: "string_array", goArg: []string{"a", "", "ü"}, ourArg: motan2.StringArray([]string{"a", "", "ü"})},
		{name: "string_array_empty", goArg: []string{}, goWant: []string(nil), ourArg: motan2.StringArray(nil)},
		{name: "bool_true", goArg: true, ourArg: motan2.Bool(true)},
		{name: "bool_false", goArg: false, ourArg: motan2.Bool(false)},
		{name: "byte", goArg: uint8(255), ourArg: motan2.Byte(255)},
		{name: "byte_zero", goArg: uint8(0), ourArg: motan2.Byte(0)},
		{name: "int16", goArg: int16(-2), ourArg: motan2.Int16(-2)},
		{name: "int16_extremes_max", goArg: int16(math.MaxInt16), ourArg: motan2.Int16(math.MaxInt16)},
		{name: "int16_extremes_min", goArg: int16(math.MinInt16), ourArg: motan2.Int16(math.MinInt16)},
		{name: "int32", goArg: int32(300), ourArg: motan2.Int32(300)},
		{name: "int32_min", goArg: int32(math.MinInt32), ourArg: motan2.Int32(math.MinInt32)},
		{name: "int32_max", goArg: int32(math.MaxInt32), ourArg: motan2.Int32(math.MaxInt32)},
		{name: "int64", goArg: int64(-300), ourArg: I64(-300)},
		{name: "int64_max", goArg: int64(math.MaxInt64), ourArg: I64(math.MaxInt64)},
		{name: "int64_min", goArg: int64(math.MinInt64), ourArg: I64(math.MinInt64)},
		{name: "go_int_is_int64", goArg: int(42), goWant: int64(42), ourArg: I64(42)},
		{name: "float32", goArg: float32(-1.25), ourArg: motan2.Float32(-1.25)},
		{name: "float32_max", goArg: float32(math.MaxFloat32), ourArg: motan2.Float32(math.MaxFloat32)},
		{name: "float64", goArg: math.Pi, ourArg: motan2.Float64(math.Pi)},
		{name: "float64_inf", goArg: math.Inf(-1), ourArg: motan2.Float64(math.Inf(-1))},
		{name: "generic_map_string_keys",
			goArg: map[string]interface{}{
				"s": "x", "i": int64(1), "f": 2.5, "b": true,
				"arr": []interface{}{int32(1), "two"}, "sm": map[string]string{"k": "v"},
			},
			goWant: map[interface{}]interface{}{
				"s": "x", "i": int64(1), "f": 2.5, "b": true,
				"arr": []interface{}{int32(1), "two"}, "sm": map[string]string{"k": "v"},
			},
			ourArg: motan2.Map(
				S("s"), S("x"), S("i"), I64(1), S("f"), motan2.Float64(2.5), S("b"), motan2.Bool(true),
				S("arr"), motan2.Array([]motan2.Value{motan2.Int32(1), S("two")}),
				S("sm"), motan2.StringMapOf(map[string]string{"k": "v"}),
			),
			unordered: true},
		{name: "generic_map_mixed_keys",
			goArg:     map[interface{}]interface{}{int32(1): "one", true: int16(2), "k": []byte{1}, int64(-5): 1.5},
			ourArg:    motan2.Map(motan2.Int32(1), S("one"), motan2.Bool(true), motan2.Int16(2), S("k"), motan2.Bytes([]byte{1}), I64(-5), motan2.Float64(1.5)),
			unordered: true},
		{name: "generic_map_typed_int32_keys",
			goArg: map[int32]string{7: "seven"}, goWant: map[interface{}]interface{}{int32(7): "seven"},
			ourArg: motan2.Map(motan2.Int32(7), S("seven"))},
		{name: "generic_map_empty", goArg: map[string]interface{}{}, goWant: map[interface{}]interface{}(nil), ourArg: motan2.Map()},
		{name: "generic_array",
			goArg: []interface{}{int64(1), "two", 3.0, true, []byte{1, 2}, int16(-1), uint8(9), float32(0.5),
				map[string]string{"a": "b"}, []string{"x"}, []interface{}{int32(3)}},
			ourArg: motan2.Array([]motan2.Value{I64(1), S("two"), motan2.Float64(3), motan2.Bool(true),
				motan2.Bytes([]byte{1, 2}), motan2.Int16(-1), motan2.Byte(9), motan2.Float32(0.5),
				motan2.StringMapOf(map[string]string{"a": "b"}), motan2.StringArray([]string{"x"}),
				motan2.Array([]motan2.Value{motan2.Int32(3)})})},
		{name: "generic_array_typed_int64", goArg: []int64{1, -2}, goWant: []interface{}{int64(1), int64(-2)},
			ourArg: motan2.Array([]motan2.Value{I64(1), I64(-2)})},
		{name: "generic_array_empty", goArg: []interface{}{}, goWant: []interface{}(nil), ourArg: motan2.Array(nil)},
		{name: "nil", goArg: nil, ourArg: motan2.Null},
	}
}

// sameGo compares Go values as reflect.DeepEqual does, except that a nil
// and an empty slice or map of the same type are equal: motan-go decodes
// empty containers to nil (spec 12, quirk 3), which is not a difference
// anyone can act on.
func sameGo(a, b interface{}) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(x interface{}) interface{} {
	switch v := x.(type) {
	case []interface{}:
		if len(v) == 0 {
			return []interface{}(nil)
		}
		out := make([]interface{}, len(v))
		for i := range v {
			out[i] = normalize(v[i])
		}
		return out
	case map[interface{}]interface{}:
		if len(v) == 0 {
			return map[interface{}]interface{}(nil)
		}
		out := make(map[interface{}]interface{}, len(v))
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []byte:
		if len(v) == 0 {
			return []byte(nil)
		}
	case []string:
		if len(v) == 0 {
			return []string(nil)
		}
	case map[string]string:
		if len(v) == 0 {
			return map[string]string(nil)
		}
	}
	return x
}

func goString(x interface{}) string { return fmt.Sprintf("%#v", x) }

// TestSimpleCodecMatchesMotanGo checks the Simple codecs of both sides
// against each other without a network: motan-go's encoding of every case
// decodes to the expected Value on our side, our encoding decodes to the
// expected Go value in motan-go, both encodings are byte-identical where
// map order does not interfere, and ValueOf/Interface follow motan-go's
// type rules.
func TestSimpleCodecMatchesMotanGo(t *testing.T) {
	ser := &serialize.SimpleSerialization{}
	for _, c := range simpleCases() {
		t.Run(c.name, func(t *testing.T) {
			theirs, err := ser.SerializeMulti([]interface{}{c.goArg})
			if err != nil {
				t.Fatalf("motan-go cannot encode %s: %v", goString(c.goArg), err)
			}
			got, err := motan2.DecodeSimple(theirs)
			if err != nil {
				t.Fatalf("DecodeSimple(% x): %v", theirs, err)
			}
			if len(got) != 1 || !motan2.Equal(got[0], c.ourArg) {
				t.Errorf("DecodeSimple(motan-go's % x) = %v, want [%v]", theirs, got, c.ourArg)
			}

			ours, err := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{c.ourArg})
			if err != nil {
				t.Fatalf("AppendValues(%v): %v", c.ourArg, err)
			}
			back, err := ser.DeSerializeMulti(ours, nil)
			if err != nil {
				t.Fatalf("motan-go cannot decode our % x: %v", ours, err)
			}
			if !sameGo(back, []interface{}{c.want()}) {
				t.Errorf("motan-go decodes our % x to %s, want [%s]", ours, goString(back), goString(c.want()))
			}
			if !c.unordered && !bytes.Equal(ours, theirs) {
				t.Errorf("encodings differ\n ours % x\ntheirs % x", ours, theirs)
			}

			v, err := motan2.ValueOf(c.goArg)
			if err != nil {
				t.Errorf("ValueOf(%s): %v", goString(c.goArg), err)
			} else if !motan2.Equal(v, c.ourArg) {
				t.Errorf("ValueOf(%s) = %v, want %v", goString(c.goArg), v, c.ourArg)
			}
			if x := c.ourArg.Interface(); !sameGo(x, c.want()) {
				t.Errorf("%v.Interface() = %s, want %s", c.ourArg, goString(x), goString(c.want()))
			}
		})
	}
}
