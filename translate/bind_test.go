package translate

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/motan2"
)

func TestArgTypeNames(t *testing.T) {
	names := []string{"string", "bool", "int32", "int64", "float64", "bytes", "string_map", "map", "array", "int16", "byte", "float32", "string_array"}
	kinds := []motan2.Kind{motan2.KindString, motan2.KindBool, motan2.KindInt32, motan2.KindInt64, motan2.KindFloat64, motan2.KindBytes,
		motan2.KindStringMap, motan2.KindMap, motan2.KindArray, motan2.KindInt16, motan2.KindByte, motan2.KindFloat32, motan2.KindStringArray}
	if len(names) != int(numArgTypes) {
		t.Fatalf("%d names for %d types", len(names), numArgTypes)
	}
	for i, n := range names {
		t.Run(n, func(t *testing.T) {
			at, err := ParseArgType(n)
			if err != nil || at != ArgType(i) || at.String() != n || at.Kind() != kinds[i] {
				t.Fatalf("ParseArgType(%q) = %v (%v), %v", n, at, at.Kind(), err)
			}
			if at.Kind().String() != n {
				t.Fatalf("kind name %q differs from type name %q", at.Kind(), n)
			}
		})
	}
	_, err := ParseArgType("integer")
	if err == nil || !strings.Contains(err.Error(), `"integer"`) || !strings.Contains(err.Error(), "string_map, map, array") {
		t.Fatalf("error does not list the valid names: %v", err)
	}
	if ArgType(200).String() != "ArgType(200)" || ArgType(200).Kind() != motan2.KindNull {
		t.Fatal("out-of-range ArgType")
	}
}

// smap returns a string map of alternating keys and values, in order.
func smap(kv ...string) motan2.Value {
	pairs := make([]motan2.StringPair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, motan2.StringPair{Key: kv[i], Value: kv[i+1]})
	}
	return motan2.StringMap(pairs)
}

type convCase struct {
	name string
	in   string
	t    ArgType
	want motan2.Value
	err  string // substring of the error text, which must also name the argument
}

func checkConv(t *testing.T, tc convCase, got motan2.Value, err error) {
	t.Helper()
	if tc.err != "" {
		var ae *ArgError
		if !errors.As(err, &ae) {
			t.Fatalf("got %v, %v; want an *ArgError containing %q", got, err, tc.err)
		}
		if !strings.HasPrefix(err.Error(), `argument "a1": `) || !strings.Contains(err.Error(), tc.err) {
			t.Fatalf("error %q does not name the argument or lacks %q", err, tc.err)
		}
		if ae.Arg != "a1" || ae.Type != tc.t {
			t.Fatalf("ArgError fields: %+v", ae)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error %v", err)
	}
	if !orderedEqual(got, tc.want) {
		t.Fatalf("got %v, want %v", got, tc.want)
	}
}

func TestFromString(t *testing.T) {
	s := motan2.String
	cases := []convCase{
		{"string", "héllo wörld", ArgString, s("héllo wörld"), ""},
		{"string empty", "", ArgString, s(""), ""},
		{"string invalid utf8 kept", "\xff", ArgString, s("\xff"), ""},
		{"bool true", "true", ArgBool, motan2.Bool(true), ""},
		{"bool TRUE", "TRUE", ArgBool, motan2.Bool(true), ""},
		{"bool False", "False", ArgBool, motan2.Bool(false), ""},
		{"bool 1", "1", ArgBool, motan2.Bool(true), ""},
		{"bool 0", "0", ArgBool, motan2.Bool(false), ""},
		{"bool yes", "yes", ArgBool, motan2.Null, `"yes" is not a valid bool`},
		{"bool empty", "", ArgBool, motan2.Null, `"" is not a valid bool`},
		{"int32", "-2147483648", ArgInt32, motan2.Int32(math.MinInt32), ""},
		{"int32 plus", "+7", ArgInt32, motan2.Int32(7), ""},
		{"int32 overflow", "2147483648", ArgInt32, motan2.Null, `"2147483648" is out of range for int32 [-2147483648, 2147483647]`},
		{"int32 abc", "abc", ArgInt32, motan2.Null, `"abc" is not a valid int32`},
		{"int64", "9223372036854775807", ArgInt64, motan2.Int64(math.MaxInt64), ""},
		{"int64 overflow", "9223372036854775808", ArgInt64, motan2.Null, "is out of range for int64"},
		{"int64 abc", "abc", ArgInt64, motan2.Null, `"abc" is not a valid int64`},
		{"int64 space", " 1", ArgInt64, motan2.Null, "is not a valid int64"},
		{"int64 float", "1.0", ArgInt64, motan2.Null, "is not a valid int64"},
		{"int64 hex", "0x10", ArgInt64, motan2.Null, "is not a valid int64"},
		{"int64 underscore", "1_000", ArgInt64, motan2.Null, "is not a valid int64"},
		{"int64 empty", "", ArgInt64, motan2.Null, `"" is not a valid int64`},
		{"int16", "-32768", ArgInt16, motan2.Int16(math.MinInt16), ""},
		{"int16 overflow", "32768", ArgInt16, motan2.Null, "out of range for int16"},
		{"byte", "255", ArgByte, motan2.Byte(255), ""},
		{"byte negative", "-1", ArgByte, motan2.Null, "out of range for byte [0, 255]"},
		{"byte 256", "256", ArgByte, motan2.Null, "out of range for byte"},
		{"float64", "1.5e3", ArgFloat64, motan2.Float64(1500), ""},
		{"float64 NaN", "NaN", ArgFloat64, motan2.Float64(math.NaN()), ""},
		{"float64 Infinity", "-Infinity", ArgFloat64, motan2.Float64(math.Inf(-1)), ""},
		{"float64 overflow", "1e400", ArgFloat64, motan2.Null, `"1e400" is out of range for float64`},
		{"float64 junk", "1.5x", ArgFloat64, motan2.Null, `"1.5x" is not a valid float64`},
		{"float32", "0.1", ArgFloat32, motan2.Float32(0.1), ""},
		{"float32 overflow", "1e39", ArgFloat32, motan2.Null, "out of range for float32"},
		{"bytes std padded", "+/8B", ArgBytes, motan2.Bytes([]byte{0xfb, 0xff, 0x01}), ""},
		{"bytes std raw", "aGk", ArgBytes, motan2.Bytes([]byte("hi")), ""},
		{"bytes std padded 2", "aGk=", ArgBytes, motan2.Bytes([]byte("hi")), ""},
		{"bytes url raw", "-_8B", ArgBytes, motan2.Bytes([]byte{0xfb, 0xff, 0x01}), ""},
		{"bytes url padded", "-_8=", ArgBytes, motan2.Bytes([]byte{0xfb, 0xff}), ""},
		{"bytes empty", "", ArgBytes, motan2.Bytes([]byte{}), ""},
		{"bytes bad", "a*b", ArgBytes, motan2.Null, `"a*b" is not valid base64`},
		{"bytes mixed alphabets", "+-ab", ArgBytes, motan2.Null, "is not valid base64"},
		{"string_map", `{"b":"1","a":2,"c":true}`, ArgStringMap, smap("b", "1", "a", "2", "c", "true"), ""},
		{"string_map nested", `{"a":{"b":1}}`, ArgStringMap, motan2.Null, `{"b":1} at key "a" is not a string`},
		{"string_map null value", `{"a":null}`, ArgStringMap, motan2.Null, `null at key "a" is not a string`},
		{"string_map not object", `["a"]`, ArgStringMap, motan2.Null, `["a"] is not an object`},
		{"string_map not JSON", `a=b`, ArgStringMap, motan2.Null, `"a=b" is not valid JSON (invalid character 'a' looking for beginning of value at offset 0)`},
		{"string_map null", `null`, ArgStringMap, motan2.Null, ""},
		{"map", `{"z":1,"a":[1.5,"x",null,true],"m":{}}`, ArgMap, motan2.Map(
			s("z"), motan2.Int64(1),
			s("a"), motan2.Array([]motan2.Value{motan2.Float64(1.5), s("x"), motan2.Null, motan2.Bool(true)}),
			s("m"), motan2.Map()), ""},
		{"map empty input", ``, ArgMap, motan2.Null, `"" is not valid JSON (unexpected end of JSON input at offset 0)`},
		{"map trailing", `{} x`, ArgMap, motan2.Null, "after top-level value at offset 3"},
		{"array", `[1,"2"]`, ArgArray, motan2.Array([]motan2.Value{motan2.Int64(1), s("2")}), ""},
		{"array not array", `{"a":1}`, ArgArray, motan2.Null, `{"a":1} is not an array`},
		{"string_array", `["a",1,false]`, ArgStringArray, motan2.StringArray([]string{"a", "1", "false"}), ""},
		{"string_array nested", `["a",[1]]`, ArgStringArray, motan2.Null, "[1] at index 1 is not a string"},
		{"too deep", strings.Repeat("[", 101) + strings.Repeat("]", 101), ArgArray, motan2.Null, "nested deeper than 100 levels"},
		{"long value truncated", strings.Repeat("x", 100), ArgInt64, motan2.Null, `"` + strings.Repeat("x", 64) + `"... is not a valid int64`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromString("a1", tc.in, tc.t)
			checkConv(t, tc, got, err)
		})
	}
	if _, err := FromString("a1", "x", ArgType(99)); err == nil || !strings.Contains(err.Error(), `argument "a1"`) {
		t.Fatalf("unknown type: %v", err)
	}
}

// TestConversionMatrix converts every kind of JSON value to every type,
// through a body, FromString and FromJSON: no panics, and errors name the
// argument.
func TestConversionMatrix(t *testing.T) {
	inputs := []string{`null`, `true`, `false`, `0`, `-1.5e3`, `"s"`, `"\u00e9"`, `"42"`, `""`, `[]`, `[1,"a",null]`, `{}`, `{"k":"v","n":1}`, `{"a":{"b":[]}}`}
	for _, in := range inputs {
		body, err := ParseJSONBody([]byte(`{"f":` + in + `}`))
		if err != nil {
			t.Fatal(err)
		}
		var x any
		dec := json.NewDecoder(strings.NewReader(in))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			t.Fatal(err)
		}
		for at := range numArgTypes {
			v1, _, err1 := body.Field("a1", "f", at)
			v2, err2 := FromJSON("a1", x, at)
			if (err1 == nil) != (err2 == nil) || err1 == nil && !motan2.Equal(v1, v2) {
				t.Errorf("%s as %s: body %v %v, FromJSON %v %v", in, at, v1, err1, v2, err2)
			}
			for _, err := range []error{err1, err2} {
				if err != nil && !strings.HasPrefix(err.Error(), `argument "a1": `) {
					t.Errorf("%s as %s: %v", in, at, err)
				}
			}
			if v, err := FromString("a1", in, at); err != nil && !strings.HasPrefix(err.Error(), `argument "a1": `) {
				t.Errorf("FromString(%s) as %s: %v %v", in, at, v, err)
			}
			if _, _, err := body.Field("a1", "f.g", at); err != nil && !strings.HasPrefix(err.Error(), `argument "a1": `) {
				t.Errorf("%s.g as %s: %v", in, at, err)
			}
		}
	}
}

func TestFromJSON(t *testing.T) {
	s := motan2.String
	type jcase struct {
		convCase
		v any
	}
	c := func(name string, v any, t ArgType, want motan2.Value, err string) jcase {
		return jcase{convCase{name: name, t: t, want: want, err: err}, v}
	}
	n := func(s string) json.Number { return json.Number(s) }
	cases := []jcase{
		c("null string", nil, ArgString, motan2.Null, ""),
		c("null int64", nil, ArgInt64, motan2.Null, ""),
		c("null map", nil, ArgMap, motan2.Null, ""),
		c("string", "x", ArgString, s("x"), ""),
		c("string from number keeps text", n("1.50"), ArgString, s("1.50"), ""),
		c("string from float64", 2.5, ArgString, s("2.5"), ""),
		c("string from bool", true, ArgString, s("true"), ""),
		c("string from object", map[string]any{"a": "b"}, ArgString, motan2.Null, `{"a":"b"} is not a string`),
		c("string from array", []any{}, ArgString, motan2.Null, `[] is not a string`),
		c("bool", false, ArgBool, motan2.Bool(false), ""),
		c("bool from string", "true", ArgBool, motan2.Null, `"true" is not a bool`),
		c("bool from number", n("1"), ArgBool, motan2.Null, `1 is not a bool`),
		c("int64", n("-9223372036854775808"), ArgInt64, motan2.Int64(math.MinInt64), ""),
		c("int64 from string", "9223372036854775807", ArgInt64, motan2.Int64(math.MaxInt64), ""),
		c("int64 1.0", n("1.0"), ArgInt64, motan2.Int64(1), ""),
		c("int64 1e3", n("1e3"), ArgInt64, motan2.Int64(1000), ""),
		c("int64 exact with exponent", n("9.223372036854775807e18"), ArgInt64, motan2.Int64(math.MaxInt64), ""),
		c("int64 2^53+1 exact", n("9007199254740993"), ArgInt64, motan2.Int64(9007199254740993), ""),
		c("int64 1000e-3", n("1000e-3"), ArgInt64, motan2.Int64(1), ""),
		c("int64 -0.0e5", n("-0.0e5"), ArgInt64, motan2.Int64(0), ""),
		c("int64 0e99999999999999999999", n("0e99999999999999999999"), ArgInt64, motan2.Int64(0), ""),
		c("int64 1.5", n("1.5"), ArgInt64, motan2.Null, `1.5 is not an integer`),
		c("int64 1e-99999999999999999999", n("1e-99999999999999999999"), ArgInt64, motan2.Null, `is not an integer`),
		c("int64 1e99999999999999999999", n("1e99999999999999999999"), ArgInt64, motan2.Null, `is out of range for int64`),
		c("int64 1e9999999", n("1e9999999"), ArgInt64, motan2.Null, `is out of range for int64`),
		c("int64 overflow", n("9223372036854775808"), ArgInt64, motan2.Null, `9223372036854775808 is out of range for int64`),
		c("int64 overflow exponent", n("1e19"), ArgInt64, motan2.Null, `is out of range for int64`),
		c("int64 from float64", float64(42), ArgInt64, motan2.Int64(42), ""),
		c("int64 from Go int", -7, ArgInt64, motan2.Int64(-7), ""),
		c("int64 from uint64", uint64(math.MaxUint64), ArgInt64, motan2.Null, `18446744073709551615 is out of range`),
		c("int64 from bad string", "12a", ArgInt64, motan2.Null, `"12a" is not a valid int64`),
		c("int64 from string with space", " 12", ArgInt64, motan2.Null, `" 12" is not a valid int64`),
		c("int64 from bool", true, ArgInt64, motan2.Null, `true is not a valid int64`),
		c("int64 bad json.Number", n("0x10"), ArgInt64, motan2.Null, `"0x10" is not a valid JSON number`),
		c("int32", n("2147483647"), ArgInt32, motan2.Int32(math.MaxInt32), ""),
		c("int32 overflow", n("2147483648"), ArgInt32, motan2.Null, `2147483648 is out of range for int32`),
		c("int16 from string", "-32768", ArgInt16, motan2.Int16(math.MinInt16), ""),
		c("byte", n("255"), ArgByte, motan2.Byte(255), ""),
		c("byte -1", n("-1"), ArgByte, motan2.Null, `-1 is out of range for byte`),
		c("float64", n("1.5"), ArgFloat64, motan2.Float64(1.5), ""),
		c("float64 integer", n("3"), ArgFloat64, motan2.Float64(3), ""),
		c("float64 from string", "2.5e-3", ArgFloat64, motan2.Float64(0.0025), ""),
		c("float64 NaN", "NaN", ArgFloat64, motan2.Float64(math.NaN()), ""),
		c("float64 Infinity", "Infinity", ArgFloat64, motan2.Float64(math.Inf(1)), ""),
		c("float64 -Infinity", "-Infinity", ArgFloat64, motan2.Float64(math.Inf(-1)), ""),
		c("float64 nan lower", "nan", ArgFloat64, motan2.Null, `"nan" is not a valid float64`),
		c("float64 overflow", n("1e309"), ArgFloat64, motan2.Null, `1e309 is out of range for float64`),
		c("float64 from bool", false, ArgFloat64, motan2.Null, `false is not a valid float64`),
		c("float64 Go NaN", math.NaN(), ArgFloat64, motan2.Null, `NaN is not a JSON number`),
		c("float32", n("0.1"), ArgFloat32, motan2.Float32(0.1), ""),
		c("float32 overflow", n("3.5e38"), ArgFloat32, motan2.Null, `3.5e38 is out of range for float32`),
		c("float32 from Go float32", float32(0.1), ArgFloat32, motan2.Float32(0.1), ""),
		c("bytes", "aGk=", ArgBytes, motan2.Bytes([]byte("hi")), ""),
		c("bytes url", "-_8", ArgBytes, motan2.Bytes([]byte{0xfb, 0xff}), ""),
		c("bytes bad", "!!", ArgBytes, motan2.Null, `"!!" is not valid base64`),
		c("bytes number", n("12"), ArgBytes, motan2.Null, `12 is not a base64 string`),
		c("string_map", map[string]any{"b": "2", "a": n("1"), "c": false}, ArgStringMap,
			smap("a", "1", "b", "2", "c", "false"), ""),
		c("string_map Go map", map[string]string{"k": "v"}, ArgStringMap, smap("k", "v"), ""),
		c("string_map array value", map[string]any{"a": []any{}}, ArgStringMap, motan2.Null, `[] at key "a" is not a string`),
		c("string_map string", "x", ArgStringMap, motan2.Null, `"x" is not an object`),
		c("map", map[string]any{"b": n("1"), "a": []any{n("1.5"), n("1e2"), n("-0"), n("18446744073709551616")}, "c": map[string]any{}}, ArgMap,
			motan2.Map(
				s("a"), motan2.Array([]motan2.Value{motan2.Float64(1.5), motan2.Float64(100), motan2.Int64(0), motan2.Float64(18446744073709551616)}),
				s("b"), motan2.Int64(1),
				s("c"), motan2.Map()), ""),
		c("map float64 numbers", map[string]any{"a": float64(3), "b": 0.5}, ArgMap, motan2.Map(s("a"), motan2.Int64(3), s("b"), motan2.Float64(0.5)), ""),
		c("map number overflow", map[string]any{"a": n("1e999")}, ArgMap, motan2.Null, `1e999 is out of range for float64`),
		c("map from array", []any{}, ArgMap, motan2.Null, `[] is not an object`),
		c("array", []any{"x", nil, true, []string{"y"}}, ArgArray,
			motan2.Array([]motan2.Value{s("x"), motan2.Null, motan2.Bool(true), motan2.Array([]motan2.Value{s("y")})}), ""),
		c("array from object", map[string]any{}, ArgArray, motan2.Null, `{} is not an array`),
		c("string_array", []any{"a", n("2"), true}, ArgStringArray, motan2.StringArray([]string{"a", "2", "true"}), ""),
		c("string_array Go", []string{"a"}, ArgStringArray, motan2.StringArray([]string{"a"}), ""),
		c("string_array null element", []any{"a", nil}, ArgStringArray, motan2.Null, `null at index 1 is not a string`),
		c("unsupported Go type", struct{}{}, ArgMap, motan2.Null, `has Go type struct {}, which is not a decoded JSON value`),
		c("unsupported nested", []any{complex(1, 2)}, ArgArray, motan2.Null, `has Go type complex128`),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromJSON("a1", tc.v, tc.t)
			checkConv(t, tc.convCase, got, err)
		})
	}
	deep := any(nil)
	for i := 0; i < motan2.MaxValueDepth+2; i++ {
		deep = []any{deep}
	}
	if _, err := FromJSON("a1", deep, ArgArray); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("deep: %v", err)
	}
}

const sampleBody = `{
  "user": {"name": "alice", "id": "42", "tags": ["a", "b"]},
  "z": 1, "a": 2.5, "m": {"k2": "v2", "k1": "v1"},
  "n": null,
  "s": "text",
  "dup": 1, "dup": 2
}`

func TestBodyField(t *testing.T) {
	body, err := ParseJSONBody([]byte(sampleBody))
	if err != nil {
		t.Fatal(err)
	}
	s := motan2.String
	cases := []struct {
		path string
		t    ArgType
		want motan2.Value
		ok   bool
		err  string
	}{
		{"user.name", ArgString, s("alice"), true, ""},
		{"user.id", ArgInt64, motan2.Int64(42), true, ""},
		{"user.tags", ArgStringArray, motan2.StringArray([]string{"a", "b"}), true, ""},
		{"z", ArgInt32, motan2.Int32(1), true, ""},
		{"a", ArgFloat64, motan2.Float64(2.5), true, ""},
		{"a", ArgInt64, motan2.Null, false, "2.5 is not an integer"},
		{"m", ArgStringMap, smap("k2", "v2", "k1", "v1"), true, ""},
		{"m", ArgMap, motan2.Map(s("k2"), s("v2"), s("k1"), s("v1")), true, ""},
		{"n", ArgInt64, motan2.Null, true, ""},
		{"n.x", ArgInt64, motan2.Null, false, ""},
		{"missing", ArgString, motan2.Null, false, ""},
		{"user.missing", ArgString, motan2.Null, false, ""},
		{"user.name.first", ArgString, motan2.Null, false, `"alice" at body field "user.name" is not an object, so body path "user.name.first" cannot be followed`},
		{"s.x", ArgString, motan2.Null, false, `"text" at body field "s" is not an object`},
		{"dup", ArgInt64, motan2.Int64(2), true, ""},
		{"", ArgMap, motan2.Map(
			s("user"), motan2.Map(s("name"), s("alice"), s("id"), s("42"), s("tags"), motan2.Array([]motan2.Value{s("a"), s("b")})),
			s("z"), motan2.Int64(1), s("a"), motan2.Float64(2.5),
			s("m"), motan2.Map(s("k2"), s("v2"), s("k1"), s("v1")),
			s("n"), motan2.Null, s("s"), s("text"), s("dup"), motan2.Int64(2)), true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.path+"/"+tc.t.String(), func(t *testing.T) {
			got, ok, err := body.Field("a1", tc.path, tc.t)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), `argument "a1": `) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming the argument containing %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || !orderedEqual(got, tc.want) {
				t.Fatalf("got %v, %v, %v; want %v, %v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
	// The root that is not an object.
	arr, _ := ParseJSONBody([]byte(`[1]`))
	if _, _, err := arr.Field("a1", "x", ArgInt64); err == nil || !strings.Contains(err.Error(), "[1] at the body is not an object") {
		t.Fatalf("array root: %v", err)
	}
	if v, err := arr.Whole("a1", ArgArray); err != nil || !motan2.Equal(v, motan2.Array([]motan2.Value{motan2.Int64(1)})) {
		t.Fatalf("Whole: %v %v", v, err)
	}
	if _, err := arr.Whole("a1", ArgMap); err == nil || !strings.Contains(err.Error(), `argument "a1": [1] is not an object`) {
		t.Fatalf("Whole as map: %v", err)
	}
}

func TestBodyEmpty(t *testing.T) {
	for _, in := range []string{"", " ", "\r\n\t "} {
		body, err := ParseJSONBody([]byte(in))
		if err != nil || !body.Empty() {
			t.Fatalf("%q: %v", in, err)
		}
		if v, ok, err := body.Field("a1", "x", ArgString); ok || err != nil || !v.IsNull() {
			t.Fatalf("%q: Field = %v %v %v", in, v, ok, err)
		}
		if _, ok, err := body.Field("a1", "", ArgString); ok || err != nil {
			t.Fatalf("%q: Field(\"\") = %v %v", in, ok, err)
		}
		if _, err := body.Whole("a1", ArgMap); err == nil || err.Error() != `argument "a1": is missing: the request body is empty` {
			t.Fatalf("%q: Whole: %v", in, err)
		}
	}
	body, _ := ParseJSONBody([]byte(" {} "))
	if body.Empty() {
		t.Fatal("{} reported empty")
	}
}

func TestBodyOrderAndDuplicates(t *testing.T) {
	// Keys in text order at every level, duplicates merged at the first
	// position with the last value, also past the small-object path.
	var sb strings.Builder
	sb.WriteString(`{"z":{"y":1,"x":2,"y":3},`)
	var want []motan2.Value
	want = append(want, motan2.String("z"), motan2.Map(motan2.String("y"), motan2.Int64(3), motan2.String("x"), motan2.Int64(2)))
	keys := []string{"q", "b", "p", "c", "o", "d", "n", "e", "m", "f", "l", "g", "k", "h", "j", "i", "r", "s", "t", "u"}
	for i, k := range keys {
		sb.WriteString(`"` + k + `":` + string(rune('0'+i%10)) + `,`)
		want = append(want, motan2.String(k), motan2.Int64(int64(i%10)))
	}
	sb.WriteString(`"b":"last","z":null}`)
	want[5] = motan2.String("last") // b
	want[1] = motan2.Null           // z
	body, err := ParseJSONBody([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := body.Whole("a1", ArgMap)
	if err != nil || !orderedEqual(got, motan2.Map(want...)) {
		t.Fatalf("got  %v\nwant %v (%v)", got, motan2.Map(want...), err)
	}
	// encoding/json agrees on the values.
	var x any
	dec := json.NewDecoder(strings.NewReader(sb.String()))
	dec.UseNumber()
	_ = dec.Decode(&x)
	ref, _ := FromJSON("a1", x, ArgMap)
	if !motan2.Equal(got, ref) {
		t.Fatalf("differs from encoding/json: %v vs %v", got, ref)
	}
	small, _ := ParseJSONBody([]byte(`{"a":1,"b":2,"a":3,"a":4,"c":5,"b":6}`))
	got, _ = small.Whole("a1", ArgMap)
	s, i := motan2.String, motan2.Int64
	if !orderedEqual(got, motan2.Map(s("a"), i(4), s("b"), i(6), s("c"), i(5))) {
		t.Fatalf("small duplicates: %v", got)
	}
}

func TestBodyStrings(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{`"plain"`, "plain"},
		{`"esc \" \\ \/ \b \f \n \r \t"`, "esc \" \\ / \b \f \n \r \t"},
		{`"\u00e9\u4e2d\uD83D\uDE00"`, "é中😀"},
		{`"lone \ud800 x"`, "lone \uFFFD x"},
		{`"lone low \udc00"`, "lone low \uFFFD"},
		{`"high then escape \ud800\n"`, "high then escape \uFFFD\n"},
		{`"two highs \ud800\ud800"`, "two highs \uFFFD\uFFFD"},
		{"\"raw \xff bytes \xe2\x82\"", "raw \uFFFD bytes \uFFFD\uFFFD"},
		{"\"raw utf8 é中😀\"", "raw utf8 é中😀"},
		{"\"esc then bad \\n\xff\"", "esc then bad \n\uFFFD"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			body, err := ParseJSONBody([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := body.Whole("a1", ArgString)
			if err != nil || got.Str() != tc.want {
				t.Fatalf("got %q, %v; want %q", got.Str(), err, tc.want)
			}
			var ref string
			if err := json.Unmarshal([]byte(tc.in), &ref); err != nil || ref != tc.want {
				t.Fatalf("encoding/json disagrees: %q %v", ref, err)
			}
		})
	}
}

func TestParseJSONBodySyntaxErrors(t *testing.T) {
	cases := []struct {
		name       string
		in         string
		line, col  int
		offset     int
		reasonPart string
	}{
		{"garbage", `x`, 1, 1, 0, "invalid character 'x' looking for beginning of value"},
		{"truncated object", `{"a":1`, 1, 7, 6, "unexpected end of JSON input"},
		{"truncated string", `"abc`, 1, 5, 4, "unexpected end of JSON input"},
		{"missing colon", `{"a" 1}`, 1, 6, 5, "invalid character '1' after object key"},
		{"trailing comma object", "{\n  \"a\": 1,\n}", 3, 1, 12, "invalid character '}' looking for beginning of object key string"},
		{"trailing comma array", "[1,\n 2,\n ]", 3, 2, 9, "invalid character ']' looking for beginning of value"},
		{"bad literal", "{\"a\":\n  tru }", 2, 6, 11, "invalid character ' ' in literal true (expecting 'e')"},
		{"multi-byte column", "{\"é中😀\": x}", 1, 9, 14, "invalid character 'x' looking for beginning of value"},
		{"after value", "{}\n\n  {}", 3, 3, 6, "after top-level value"},
		{"leading zero", `[01]`, 1, 3, 2, "invalid character '1' after array element"},
		{"bad number", `[-]`, 1, 3, 2, "invalid character ']' in numeric literal"},
		{"bad fraction", `1.e5`, 1, 3, 2, "in numeric literal"},
		{"bad exponent", `1e+`, 1, 4, 3, "unexpected end of JSON input"},
		{"control char", "\"a\tb\"", 1, 3, 2, `invalid character '\x09' in string literal`},
		{"bad escape", `"\x"`, 1, 3, 2, `invalid character 'x' in string escape code`},
		{"bad unicode escape", `"\u12g4"`, 1, 6, 5, `invalid character 'g' in \u hexadecimal character escape`},
		{"bad pair escape", `"\ud800\u12g4"`, 1, 12, 11, `in \u hexadecimal`},
		{"invalid utf8 outside string", "[\xff]", 1, 2, 1, "byte 0xff (invalid UTF-8)"},
		{"non-ascii char", "[é]", 1, 2, 1, "invalid character U+00E9 looking for beginning of value"},
		{"quote char", `['a']`, 1, 2, 1, `invalid character '\'' looking for beginning of value`},
		{"crlf lines", "{\r\n\"a\":\r\n?}", 3, 1, 9, "invalid character '?'"},
		{"bom", "\uFEFF{}", 1, 1, 0, "invalid character U+FEFF looking for beginning of value"},
		{"eof after escape", `"\`, 1, 3, 2, "unexpected end of JSON input"},
		{"eof in unicode escape", `"\u12`, 1, 6, 5, "unexpected end of JSON input"},
		{"eof after key", `{"a"`, 1, 5, 4, "unexpected end of JSON input"},
		{"eof after colon", `{"a":`, 1, 6, 5, "unexpected end of JSON input"},
		{"eof after open", `[`, 1, 2, 1, "unexpected end of JSON input"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJSONBody([]byte(tc.in))
			var e *Error
			var se *SyntaxError
			if !errors.As(err, &e) || !errors.As(err, &se) {
				t.Fatalf("got %v, want *Error with a *SyntaxError cause", err)
			}
			if e.Code != InvalidArgument || e.Status() != 400 {
				t.Fatalf("code %v status %d", e.Code, e.Status())
			}
			if se.Line != tc.line || se.Column != tc.col || se.Offset != tc.offset || !strings.Contains(se.Reason, tc.reasonPart) {
				t.Fatalf("got line %d col %d offset %d %q; want %d %d %d %q", se.Line, se.Column, se.Offset, se.Reason, tc.line, tc.col, tc.offset, tc.reasonPart)
			}
			wantMsg := "malformed JSON body at line "
			if !strings.HasPrefix(e.Message, wantMsg) || e.Message != se.Error() || !strings.Contains(e.Error(), e.Message) {
				t.Fatalf("message %q", e.Message)
			}
			if json.Valid([]byte(tc.in)) {
				t.Fatal("encoding/json thinks it is valid")
			}
			// The validator used past the limits agrees.
			if off, reason, found := firstSyntaxError(tc.in); !found || off != se.Offset || reason != se.Reason {
				t.Fatalf("firstSyntaxError = %d %q %v", off, reason, found)
			}
			// encoding/json reports "after reading Offset bytes"; ours is
			// the offending byte itself.
			var x any
			var jse *json.SyntaxError
			if err := json.Unmarshal([]byte(tc.in), &x); errors.As(err, &jse) && !strings.Contains(se.Reason, "end of JSON") && jse.Offset != int64(se.Offset)+1 {
				t.Fatalf("encoding/json offset %d, ours %d", jse.Offset, se.Offset)
			}
		})
	}
}

func TestParseJSONBodyLimits(t *testing.T) {
	ok := strings.Repeat(`{"a":[`, 50) + strings.Repeat(`]}`, 50) // 100 levels
	if _, err := ParseJSONBody([]byte(ok)); err != nil {
		t.Fatalf("100 levels: %v", err)
	}
	deep := strings.Repeat(`[`, 101) + strings.Repeat(`]`, 101)
	_, err := ParseJSONBody([]byte(deep))
	var e *Error
	var se *SyntaxError
	if !errors.As(err, &e) || e.Code != InvalidArgument || errors.As(err, &se) || !strings.Contains(e.Message, "nested deeper than 100") {
		t.Fatalf("101 levels: %v", err)
	}
	// Past a limit, a syntax error further on still wins.
	for _, in := range []string{deep[:len(deep)-1], deep + "x", strings.Repeat(`{"a":`, 101) + "1" + strings.Repeat("}", 100) + ",}"} {
		_, err = ParseJSONBody([]byte(in))
		if !errors.As(err, &se) {
			t.Fatalf("deep and malformed: %v, want a syntax error", err)
		}
	}
	many := "[" + strings.Repeat("0,", motan2.MaxValueCount) + "0]"
	if _, err := ParseJSONBody([]byte(many)); !errors.As(err, &e) || !strings.Contains(e.Message, "more than") {
		t.Fatalf("too many values: %v", err)
	}
	if _, err := ParseJSONBody([]byte(many[:len(many)-1])); !errors.As(err, &se) || se.Reason != "unexpected end of JSON input" {
		t.Fatalf("too many values, truncated: %v", err)
	}
}

func TestBodyCopiesInput(t *testing.T) {
	in := []byte(`{"name":"alice"}`)
	body, err := ParseJSONBody(in)
	if err != nil {
		t.Fatal(err)
	}
	copy(in, `{"name":"XXXXX"}`)
	v, _, _ := body.Field("a1", "name", ArgString)
	if v.Str() != "alice" {
		t.Fatalf("body aliases the caller's buffer: %q", v.Str())
	}
}

func TestIntFromJSONNumber(t *testing.T) {
	// Cross-check the exact decimal path against big-enough float math on
	// values where float64 is exact.
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"0.000", 0, true}, {"12.340e2", 1234, true}, {"1234e-2", 0, false},
		{"123400e-2", 1234, true}, {"-5E+1", -50, true}, {"0.5e1", 5, true}, {"0.05e1", 0, false},
		{"9223372036854775807", math.MaxInt64, true}, {"922337203685477580.7e1", math.MaxInt64, true},
		{"-922337203685477580.8e1", math.MinInt64, true}, {"922337203685477580.8e1", 0, false},
		{"1" + strings.Repeat("0", 30) + "e-30", 1, true}, {"10e-1000", 0, false},
	} {
		got, reason := intFromJSONNumber(c.in, ArgInt64)
		if (reason == "") != c.ok || got != c.want {
			t.Errorf("%s: %d %q, want %d ok=%v", c.in, got, reason, c.want, c.ok)
		}
	}
}
