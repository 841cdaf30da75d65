package translate

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/motan2"
)

// Short constructors for expected Simple values.
var (
	sStr = motan2.String
	sI32 = motan2.Int32
	sI64 = motan2.Int64
)

// sMap builds a generic map from alternating string keys and values.
func sMap(kv ...any) motan2.Value {
	out := make([]motan2.Value, len(kv))
	for i, x := range kv {
		switch x := x.(type) {
		case string:
			out[i] = motan2.String(x)
		case motan2.Value:
			out[i] = x
		default:
			panic("sMap: want string or motan2.Value")
		}
	}
	return motan2.Map(out...)
}

func sArr(items ...motan2.Value) motan2.Value { return motan2.Array(items) }

// mapKeys returns the keys of a generic map in order.
func mapKeys(v motan2.Value) []string {
	var keys []string
	for i := 0; i < v.Len(); i++ {
		k, _ := v.Entry(i)
		keys = append(keys, k.Str())
	}
	return keys
}

func TestProtoToSimple(t *testing.T) {
	cases := []struct {
		name, message, fixture string
		emit                   bool
		want                   motan2.Value
	}{
		{"scalars", "convert.v1.Scalars", `{"fBool": true, "fInt32": -2147483648, "fSint32": 2147483647, "fSfixed32": -1,
			"fUint32": 4294967295, "fFixed32": 1, "fInt64": "-9223372036854775808", "fSint64": "9223372036854775807",
			"fSfixed64": "-1", "fUint64": "9223372036854775807", "fFixed64": "42", "fFloat": 0.1, "fDouble": 1e-7,
			"fString": "s", "fBytes": "AAE=", "fEnum": "BLUE"}`, false, sMap(
			"f_bool", motan2.Bool(true), "f_int32", sI32(math.MinInt32), "f_sint32", sI32(math.MaxInt32), "f_sfixed32", sI32(-1),
			"f_uint32", sI64(math.MaxUint32), "f_fixed32", sI64(1), "f_int64", sI64(math.MinInt64), "f_sint64", sI64(math.MaxInt64),
			"f_sfixed64", sI64(-1), "f_uint64", sI64(math.MaxInt64), "f_fixed64", sI64(42), "f_float", motan2.Float32(0.1),
			"f_double", motan2.Float64(1e-7), "f_string", sStr("s"), "f_bytes", motan2.Bytes([]byte{0, 1}), "f_enum", sStr("BLUE"))},
		{"zero scalars omitted", "convert.v1.Scalars", `{"fInt32": 0, "fString": ""}`, false, sMap()},
		{"zero scalars emitted", "convert.v1.Scalars", `{}`, true, sMap(
			"f_bool", motan2.Bool(false), "f_int32", sI32(0), "f_sint32", sI32(0), "f_sfixed32", sI32(0),
			"f_uint32", sI64(0), "f_fixed32", sI64(0), "f_int64", sI64(0), "f_sint64", sI64(0),
			"f_sfixed64", sI64(0), "f_uint64", sI64(0), "f_fixed64", sI64(0), "f_float", motan2.Float32(0),
			"f_double", motan2.Float64(0), "f_string", sStr(""), "f_bytes", motan2.Bytes(nil), "f_enum", sStr("COLOR_UNSPECIFIED"))},
		{"enum without a name", "convert.v1.Scalars", `{"fEnum": 42}`, false, sMap("f_enum", sI32(42))},
		{"presence and oneofs", "convert.v1.All", `{"optInt32": 0, "optString": "", "choiceString": "", "scalars": {}}`, false,
			sMap("scalars", sMap(), "opt_int32", sI32(0), "opt_string", sStr(""), "choice_string", sStr(""))},
		{"lists", "convert.v1.All", `{"rInt32": [1, -1], "rUint64": ["7"], "rFloat": [1.5], "rBytes": ["AQ=="], "rEnum": ["RED", 7], "rInner": [{"name": "a"}, {}], "rBool": [false]}`, false,
			sMap("r_int32", sArr(sI32(1), sI32(-1)), "r_uint64", sArr(sI64(7)), "r_float", sArr(motan2.Float32(1.5)),
				"r_bytes", sArr(motan2.Bytes([]byte{1})), "r_enum", sArr(sStr("RED"), sI32(7)),
				"r_inner", sArr(sMap("name", sStr("a")), sMap()), "r_bool", sArr(motan2.Bool(false)))},
		{"maps", "convert.v1.All", `{"mString": {"b": "2", "a": "1"}, "mInt32Inner": {"10": {"count": "1"}, "-5": {}},
			"mInt64": {"-1": "x"}, "mUint32": {"4294967295": 1}, "mUint64": {"3": true}, "mBool": {"true": "t", "false": "f"}, "mEnum": {"-2": "GREEN"}}`, false,
			sMap("m_string", sMap("a", sStr("1"), "b", sStr("2")),
				"m_int32_inner", motan2.Map(sI32(-5), sMap(), sI32(10), sMap("count", sI64(1))),
				"m_int64", motan2.Map(sI64(-1), sStr("x")),
				"m_uint32", motan2.Map(sI64(math.MaxUint32), sI32(1)),
				"m_uint64", motan2.Map(sI64(3), motan2.Bool(true)),
				"m_bool", motan2.Map(motan2.Bool(false), sStr("f"), motan2.Bool(true), sStr("t")),
				"m_enum", motan2.Map(sI64(-2), sStr("GREEN")))},
		{"well-known types", "convert.v1.All", `{"ts": "2024-01-02T03:04:05.5Z", "dur": "-0.000000001s",
			"st": {"n": null, "b": true, "x": 1.5, "l": ["s", {}]}, "val": "v", "list": [null, 2],
			"any": {"@type": "type.googleapis.com/convert.v1.Inner", "name": "n"}, "mask": "a.bC", "empty": {},
			"wBool": false, "wInt32": -1, "wInt64": "-2", "wUint32": 3, "wUint64": "4", "wFloat": 1.5, "wDouble": 2.5, "wString": "s", "wBytes": "AQ==",
			"mValue": {"k": {"a": [true]}}}`, false,
			sMap("m_value", sMap("k", sMap("a", sArr(motan2.Bool(true)))),
				"ts", sStr("2024-01-02T03:04:05.500Z"), "dur", sStr("-0.000000001s"),
				"st", sMap("b", motan2.Bool(true), "l", sArr(sStr("s"), sMap()), "n", motan2.Null, "x", motan2.Float64(1.5)),
				"val", sStr("v"), "list", sArr(motan2.Null, motan2.Float64(2)),
				"any", sMap("type_url", sStr("type.googleapis.com/convert.v1.Inner"), "value", motan2.Bytes([]byte{10, 1, 'n'})),
				"mask", sMap("paths", sArr(sStr("a.b_c"))), "empty", sMap(),
				"w_bool", motan2.Bool(false), "w_int32", sI32(-1), "w_int64", sI64(-2), "w_uint32", sI64(3), "w_uint64", sI64(4),
				"w_float", motan2.Float32(1.5), "w_double", motan2.Float64(2.5), "w_string", sStr("s"), "w_bytes", motan2.Bytes([]byte{1}))},
		{"unpopulated emitted", "convert.v1.Inner", `{}`, true, sMap("name", sStr(""), "count", sI64(0), "tags", sArr())},
		{"unpopulated messages are null", "shop.v1.Book", `{}`, true, sMap("name", sStr(""), "title", sStr(""), "format", sStr("FORMAT_UNSPECIFIED"),
			"authors", sArr(), "published", motan2.Null, "metadata", motan2.Null, "labels", sMap(), "availability", sStr("AVAILABILITY_UNSPECIFIED"))},
		{"proto2 unpopulated are null", "convert.v1.Legacy", `{"id": "x"}`, true, sMap("id", sStr("x"), "count", motan2.Null, "note", motan2.Null,
			"values", sArr(), "item", motan2.Null, "kind", motan2.Null)},
		{"proto2 group, extensions skipped", "convert.v1.Legacy", `{"id": "x", "item": {"label": "l"}, "[convert.v1.ext_label]": "e"}`, false,
			sMap("id", sStr("x"), "item", sMap("label", sStr("l")))},
		{"whole timestamp", "google.protobuf.Timestamp", `"1970-01-01T00:00:00Z"`, false, sStr("1970-01-01T00:00:00Z")},
		{"whole struct", "google.protobuf.Struct", `{"a": 1}`, false, sMap("a", motan2.Float64(1))},
		{"whole wrapper", "google.protobuf.StringValue", `"x"`, false, sStr("x")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := parseProto(t, tc.message, tc.fixture)
			got, err := ProtoToSimple(m, tc.emit)
			if err != nil {
				t.Fatal(err)
			}
			if !motan2.Equal(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
			if tc.want.Kind() == motan2.KindMap && strings.Join(mapKeys(got), ",") != strings.Join(mapKeys(tc.want), ",") {
				t.Errorf("keys in order %v, want %v", mapKeys(got), mapKeys(tc.want))
			}
		})
	}
	if v, err := ProtoToSimple(nil, false); err != nil || !v.IsNull() {
		t.Errorf("nil message: %v, %v", v, err)
	}
}

func TestProtoToSimpleErrors(t *testing.T) {
	cases := []struct {
		name, message, fixture string
		want                   string
	}{
		{"uint64 too large", "convert.v1.Scalars", `{"fUint64": "9223372036854775808"}`,
			`argument "f_uint64": 9223372036854775808 is out of range for int64, Simple's largest integer`},
		{"fixed64 too large in a list", "convert.v1.All", `{"rUint64": ["1", "18446744073709551615"]}`,
			`argument "r_uint64[1]": 18446744073709551615 is out of range for int64, Simple's largest integer`},
		{"map key too large", "convert.v1.All", `{"mUint64": {"18446744073709551615": true}}`,
			`argument "m_uint64[18446744073709551615]": 18446744073709551615 is out of range for int64, Simple's largest integer`},
		{"wrapper too large", "convert.v1.All", `{"wUint64": "18446744073709551615"}`,
			`argument "w_uint64": 18446744073709551615 is out of range for int64, Simple's largest integer`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ProtoToSimple(parseProto(t, tc.message, tc.fixture), false)
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *ArgError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}

	// A timestamp out of range (built in code) is an error naming it.
	m := newProto(t, "convert.v1.All")
	ts := m.Mutable(field(t, m.Descriptor(), "r_ts")).List()
	bad := ts.NewElement()
	bad.Message().Set(field(t, bad.Message().Descriptor(), "seconds"), protoreflect.ValueOfInt64(math.MaxInt64))
	ts.Append(bad)
	if _, err := ProtoToSimple(m, false); err == nil || err.Error() != `argument "r_ts[0]": google.protobuf.Timestamp seconds out of range: 9223372036854775807` {
		t.Errorf("timestamp out of range: %v", err)
	}

	// Messages nested deeper than Simple can carry are refused.
	node := func(levels int) protoreflect.Message {
		n := newProto(t, "convert.v1.Node")
		body := strings.Repeat(`{"child":`, levels-1) + `{}` + strings.Repeat("}", levels-1)
		if err := UnmarshalProtoJSON([]byte(body), n, ProtoJSONOptions{}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	v, err := ProtoToSimple(node(motan2.MaxValueDepth), false)
	if err != nil {
		t.Fatalf("%d levels: %v", motan2.MaxValueDepth, err)
	}
	if _, err := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{v}); err != nil {
		t.Errorf("%d levels do not encode: %v", motan2.MaxValueDepth, err)
	}
	_, err = ProtoToSimple(node(motan2.MaxValueDepth+1), false)
	if err == nil || !strings.Contains(err.Error(), "is nested deeper than 100 levels") {
		t.Errorf("%d levels: %v", motan2.MaxValueDepth+1, err)
	}
}

// simpleCases are the messages of the Simple round trips.
var simpleCases = []struct{ name, message, fixture string }{
	{"all", "convert.v1.All", allFixture},
	{"all_empty", "convert.v1.All", `{}`},
	{"book", "shop.v1.Book", bookFixture},
	{"legacy", "convert.v1.Legacy", `{"id": "L1", "count": 0, "note": "n", "values": ["1", "-2"], "item": {"label": "lbl"}, "kind": "KIND_B"}`},
	{"legacy_minimal", "convert.v1.Legacy", `{"id": ""}`},
	{"node", "convert.v1.Node", `{"level": 1, "child": {"level": 2, "child": {"value": [1, null, {"a": "b"}]}}}`},
	{"scalars", "convert.v1.Scalars", `{"fFloat": "NaN", "fDouble": "-Infinity", "fEnum": 99, "fBytes": "", "fString": "\u0000\u00ff"}`},
	{"struct", "google.protobuf.Struct", `{"z": {"y": [1, {"x": null}]}, "a": "b"}`},
	{"value", "google.protobuf.Value", `[1, "a", null]`},
	{"duration", "google.protobuf.Duration", `"-315576000000.999999999s"`},
	{"wrapper", "google.protobuf.UInt64Value", `"9223372036854775807"`},
}

// TestSimpleRoundTrip: SimpleToProto(ProtoToSimple(m)) == m, directly and
// through the Simple wire format.
func TestSimpleRoundTrip(t *testing.T) {
	for _, sc := range simpleCases {
		for _, emit := range []bool{false, true} {
			name := sc.name
			if emit {
				name += ".emit"
			}
			t.Run(name, func(t *testing.T) {
				m := parseProto(t, sc.message, sc.fixture)
				want := proto.Message(m)
				if emit {
					want = withNullValues(m)
				}
				v, err := ProtoToSimple(m, emit)
				if err != nil {
					t.Fatal(err)
				}
				back := m.New()
				if err := SimpleToProto(back, v); err != nil {
					t.Fatalf("%v\nfrom %v", err, v)
				}
				if !proto.Equal(back.Interface(), want) {
					t.Errorf("round trip changed the message:\nsimple %v\ngot  %v\nwant %v", v, back, want)
				}

				wire, err := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{v})
				if err != nil {
					t.Fatalf("Simple encoding: %v", err)
				}
				decoded, err := motan2.DecodeSimpleValue(wire)
				if err != nil {
					t.Fatalf("Simple decoding: %v", err)
				}
				back = m.New()
				if err := SimpleToProto(back, decoded); err != nil {
					t.Fatalf("%v\nfrom %v", err, decoded)
				}
				if !proto.Equal(back.Interface(), want) {
					t.Errorf("wire round trip changed the message:\ngot  %v\nwant %v", back, want)
				}
			})
		}
	}
}

func TestSimpleToProto(t *testing.T) {
	strs := func(s ...string) motan2.Value { return motan2.StringArray(s) }
	cases := []struct {
		name, message string
		v             motan2.Value
		want          string // protojson fixture
	}{
		{"json names", "convert.v1.All", sMap("optInt32", sI32(1), "customName", sStr("c"), "scalars", sMap("fBool", motan2.Bool(true))),
			`{"optInt32": 1, "custom": "c", "scalars": {"fBool": true}}`},
		{"group by text name", "convert.v1.Legacy", sMap("id", sStr("x"), "Item", sMap("label", sStr("l"))), `{"id": "x", "item": {"label": "l"}}`},
		{"string map", "convert.v1.Inner", motan2.StringMap([]motan2.StringPair{{Key: "name", Value: "n"}}), `{"name": "n"}`},
		{"any integer kind", "convert.v1.Scalars", sMap("f_int32", motan2.Byte(200), "f_sint32", motan2.Int16(-3), "f_uint32", sI64(math.MaxUint32),
			"f_int64", sI32(-4), "f_uint64", motan2.Int16(5), "f_fixed32", sI32(6), "f_sfixed64", motan2.Byte(7)),
			`{"fInt32": 200, "fSint32": -3, "fUint32": 4294967295, "fInt64": "-4", "fUint64": "5", "fFixed32": 6, "fSfixed64": "7"}`},
		{"64-bit integers as strings", "convert.v1.Scalars", sMap("f_int64", sStr("-9223372036854775808"), "f_uint64", sStr("18446744073709551615"), "f_fixed64", sStr("0")),
			`{"fInt64": "-9223372036854775808", "fUint64": "18446744073709551615"}`},
		{"floats from floats and integers", "convert.v1.Scalars", sMap("f_float", motan2.Float64(0.5), "f_double", motan2.Float32(0.25)),
			`{"fFloat": 0.5, "fDouble": 0.25}`},
		{"floats from integers", "convert.v1.Scalars", sMap("f_float", sI64(3), "f_double", sI32(-4)), `{"fFloat": 3, "fDouble": -4}`},
		{"non-finite floats", "convert.v1.Scalars", sMap("f_float", motan2.Float64(math.Inf(1)), "f_double", motan2.Float64(math.NaN())),
			`{"fFloat": "Infinity", "fDouble": "NaN"}`},
		{"bytes from base64", "convert.v1.All", sMap("r_bytes", sArr(sStr("+/8="), sStr("-_8"), motan2.Bytes([]byte{1}))), `{"rBytes": ["+/8=", "+/8=", "AQ=="]}`},
		{"enums by name and number", "convert.v1.All", sMap("r_enum", sArr(sStr("RED"), sI32(2), motan2.Byte(9)), "opt_enum", sI64(3)),
			`{"rEnum": ["RED", "GREEN", 9], "optEnum": "BLUE"}`},
		{"string arrays", "convert.v1.All", sMap("r_string", strs("a", ""), "r_int64", strs("1", "-1"), "r_enum", strs("BLUE"), "r_bytes", strs("AQ==")),
			`{"rString": ["a", ""], "rInt64": ["1", "-1"], "rEnum": ["BLUE"], "rBytes": ["AQ=="]}`},
		{"map keys from strings", "convert.v1.All", sMap("m_int32_inner", sMap("-5", sMap()), "m_uint32", sMap("7", sI32(1)), "m_bool", sMap("true", sStr("t")),
			"m_int64", sMap("-9223372036854775808", sStr("min")), "m_uint64", sMap("18446744073709551615", motan2.Bool(true))),
			`{"mInt32Inner": {"-5": {}}, "mUint32": {"7": 1}, "mBool": {"true": "t"}, "mInt64": {"-9223372036854775808": "min"}, "mUint64": {"18446744073709551615": true}}`},
		{"string map for a map field", "convert.v1.All", sMap("m_string", motan2.StringMap([]motan2.StringPair{{Key: "k", Value: "v"}}), "m_enum", motan2.StringMap([]motan2.StringPair{{Key: "1", Value: "RED"}})),
			`{"mString": {"k": "v"}, "mEnum": {"1": "RED"}}`},
		{"timestamp and duration strings", "convert.v1.All", sMap("ts", sStr("2024-01-02T04:04:05.5+01:00"), "dur", sStr("1.5s"), "r_ts", strs("1970-01-01T00:00:00Z")),
			`{"ts": "2024-01-02T03:04:05.5Z", "dur": "1.5s", "rTs": ["1970-01-01T00:00:00Z"]}`},
		{"well-known types as messages", "convert.v1.All", sMap("ts", sMap("seconds", sI64(1)), "w_int32", sMap("value", sI32(2)), "dur", sMap("nanos", sI32(3))),
			`{"ts": "1970-01-01T00:00:01Z", "wInt32": 2, "dur": "0.000000003s"}`},
		{"wrappers", "convert.v1.All", sMap("w_uint64", sStr("18446744073709551615"), "w_float", sI32(1), "w_bytes", sStr("AQ=="), "w_bool", motan2.Bool(false)),
			`{"wUint64": "18446744073709551615", "wFloat": 1, "wBytes": "AQ==", "wBool": false}`},
		{"struct from any map", "convert.v1.All", sMap("st", motan2.StringMap([]motan2.StringPair{{Key: "a", Value: "b"}}),
			"val", sMap("i", motan2.Int16(3), "f", motan2.Float32(0.5), "l", strs("x"), "m", motan2.StringMap(nil), "n", motan2.Null),
			"list", motan2.StringArray([]string{"y"})),
			`{"st": {"a": "b"}, "val": {"i": 3, "f": 0.5, "l": ["x"], "m": {}, "n": null}, "list": ["y"]}`},
		{"null leaves fields unset", "convert.v1.All", sMap("scalars", motan2.Null, "opt_int32", motan2.Null, "r_int32", motan2.Null, "m_string", motan2.Null, "ts", motan2.Null),
			`{}`},
		{"null in a value field is the null value", "convert.v1.All", sMap("val", motan2.Null, "m_value", sMap("n", motan2.Null), "list", sArr(motan2.Null)),
			`{"val": null, "mValue": {"n": null}, "list": [null]}`},
		{"oneof: last wins", "convert.v1.All", sMap("choice_string", sStr("s"), "choice_int64", sI64(1)), `{"choiceInt64": "1"}`},
		{"null message", "convert.v1.All", motan2.Null, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newProto(t, tc.message)
			if err := SimpleToProto(m, tc.v); err != nil {
				t.Fatal(err)
			}
			want := parseProto(t, tc.message, tc.want)
			if !proto.Equal(m, want) {
				t.Errorf("got  %v\nwant %v", m, want)
			}
		})
	}
}

// TestSimpleToProtoReplacesAndMerges: scalars overwrite, lists and maps
// are replaced, messages merged.
func TestSimpleToProtoReplacesAndMerges(t *testing.T) {
	m := parseProto(t, "convert.v1.All", `{"rInt32": [1, 2], "mString": {"a": "1"}, "scalars": {"fInt32": 1, "fBool": true}, "customName": "old", "st": {"x": 1}}`)
	err := SimpleToProto(m, sMap("r_int32", sArr(sI32(3)), "m_string", sMap("b", sStr("2")), "scalars", sMap("f_int32", sI32(2)),
		"custom", sStr("new"), "st", sMap("y", motan2.Bool(true))))
	if err != nil {
		t.Fatal(err)
	}
	want := parseProto(t, "convert.v1.All", `{"rInt32": [3], "mString": {"b": "2"}, "scalars": {"fInt32": 2, "fBool": true}, "customName": "new", "st": {"y": true}}`)
	if !proto.Equal(m, want) {
		t.Errorf("got  %v\nwant %v", m, want)
	}
}

func TestSimpleToProtoErrors(t *testing.T) {
	cases := []struct {
		name, message string
		v             motan2.Value
		want          string
	}{
		{"not a map", "shop.v1.Book", sI32(1), `argument "shop.v1.Book": 1 is not a map (for message shop.v1.Book)`},
		{"array for a message", "shop.v1.Book", sArr(), `argument "shop.v1.Book": is an array, not a map (for message shop.v1.Book)`},
		{"unknown key", "shop.v1.CreateBookRequest", sMap("book", sMap("authors", sArr(sMap(), sMap("nickname", sStr("x"))))),
			`argument "book.authors[1].nickname": is not a field of shop.v1.Book.Author`},
		{"non-string key", "shop.v1.Book", motan2.Map(sI32(1), sStr("x")),
			`argument "shop.v1.Book": 1 is not a string: the keys of a map for message shop.v1.Book are field names`},
		{"wrong kind", "shop.v1.CreateBookRequest", sMap("book", sMap("authors", sArr(sMap(), sMap("display_name", sI32(5))))),
			`argument "book.authors[1].display_name": 5 is not a string`},
		{"bool", "convert.v1.Scalars", sMap("f_bool", sStr("true")), `argument "f_bool": "true" is not a bool`},
		{"int32 from a string", "convert.v1.Scalars", sMap("f_int32", sStr("1")), `argument "f_int32": "1" is not an integer`},
		{"int32 from a float", "convert.v1.Scalars", sMap("f_int32", motan2.Float64(1)), `argument "f_int32": 1 is not an integer`},
		{"int32 range", "convert.v1.Scalars", sMap("f_int32", sI64(math.MaxInt32+1)), `argument "f_int32": 2147483648 is out of range for int32 [-2147483648, 2147483647]`},
		{"uint32 range", "convert.v1.Scalars", sMap("f_fixed32", sI32(-1)), `argument "f_fixed32": -1 is out of range for fixed32 [0, 4294967295]`},
		{"uint64 negative", "convert.v1.Scalars", sMap("f_uint64", sI64(-1)), `argument "f_uint64": -1 is out of range for uint64 [0, 18446744073709551615]`},
		{"uint64 string range", "convert.v1.Scalars", sMap("f_uint64", sStr("18446744073709551616")), `argument "f_uint64": "18446744073709551616" is out of range for uint64 [0, 18446744073709551615]`},
		{"int64 string range", "convert.v1.Scalars", sMap("f_sint64", sStr("-9223372036854775809")), `argument "f_sint64": "-9223372036854775809" is out of range for sint64 [-9223372036854775808, 9223372036854775807]`},
		{"int64 bad string", "convert.v1.Scalars", sMap("f_int64", sStr("1e3")), `argument "f_int64": "1e3" is not a decimal integer`},
		{"int64 from a bool", "convert.v1.Scalars", sMap("f_int64", motan2.Bool(true)), `argument "f_int64": true is not an integer or a decimal string`},
		{"float range", "convert.v1.Scalars", sMap("f_float", motan2.Float64(1e39)), `argument "f_float": 1e+39 is out of range for float`},
		{"float from a string", "convert.v1.Scalars", sMap("f_double", sStr("1.5")), `argument "f_double": "1.5" is not a number`},
		{"bytes", "convert.v1.Scalars", sMap("f_bytes", sStr("!!")), `argument "f_bytes": "!!" is not valid base64`},
		{"bytes from an int", "convert.v1.Scalars", sMap("f_bytes", sI32(1)), `argument "f_bytes": 1 is not bytes or a base64 string`},
		{"enum name", "convert.v1.Scalars", sMap("f_enum", sStr("PURPLE")), `argument "f_enum": "PURPLE" is not a value of enum convert.v1.Color`},
		{"enum range", "convert.v1.Scalars", sMap("f_enum", sI64(1<<40)), `argument "f_enum": 1099511627776 is out of range for enum [-2147483648, 2147483647]`},
		{"enum from a map", "convert.v1.Scalars", sMap("f_enum", sMap()), `argument "f_enum": is a map, not an enum name or number`},
		{"list from a scalar", "convert.v1.All", sMap("r_int32", sI32(1)), `argument "r_int32": 1 is not an array`},
		{"list element", "convert.v1.All", sMap("r_inner", sArr(sMap(), sMap("count", sStr("x")))), `argument "r_inner[1].count": "x" is not a decimal integer`},
		{"null list element", "convert.v1.All", sMap("r_inner", sArr(motan2.Null)), `argument "r_inner[0]": null is not allowed in a list or as a map value`},
		{"null scalar element", "convert.v1.All", sMap("r_int32", sArr(motan2.Null)), `argument "r_int32[0]": null is not an integer`},
		{"map from an array", "convert.v1.All", sMap("m_string", sArr()), `argument "m_string": is an array, not a map`},
		{"map key", "convert.v1.All", sMap("m_int32_inner", sMap("x", sMap())), `argument "m_int32_inner": "x" is not an integer map key`},
		{"map key range", "convert.v1.All", sMap("m_uint32", motan2.Map(sI64(-1), sI32(1))), `argument "m_uint32": -1 is out of range for uint32 [0, 4294967295] (map key)`},
		{"bool map key", "convert.v1.All", sMap("m_bool", sMap("yes", sStr(""))), `argument "m_bool": "yes" is not a bool map key`},
		{"map value", "convert.v1.All", sMap("m_inner", sMap("k", sMap("tags", sArr(sI32(1))))), `argument "m_inner[k].tags[0]": 1 is not a string`},
		{"int map value", "convert.v1.All", sMap("m_enum", motan2.Map(sI64(4), sStr("NOPE"))), `argument "m_enum[4]": "NOPE" is not a value of enum convert.v1.Color`},
		{"timestamp", "convert.v1.All", sMap("ts", sStr("2024-13-01T00:00:00Z")), `argument "ts": "2024-13-01T00:00:00Z" is not an RFC 3339 timestamp in range`},
		{"timestamp range", "convert.v1.All", sMap("r_ts", motan2.StringArray([]string{"10000-01-01T00:00:00Z"})), `argument "r_ts[0]": "10000-01-01T00:00:00Z" is not an RFC 3339 timestamp in range`},
		{"duration", "convert.v1.All", sMap("dur", sStr("1h")), `argument "dur": "1h" is not a duration such as "1.5s" in range`},
		{"timestamp from an int", "convert.v1.All", sMap("ts", sI64(1)), `argument "ts": 1 is not a map (for message google.protobuf.Timestamp)`},
		{"wrapper", "convert.v1.All", sMap("w_int32", sStr("1")), `argument "w_int32": "1" is not an integer`},
		{"struct from an array", "convert.v1.All", sMap("st", sArr()), `argument "st": is an array, not a map (for google.protobuf.Struct)`},
		{"struct key", "convert.v1.All", sMap("st", motan2.Map(sI32(1), sI32(1))), `argument "st": 1 is not a string: the keys of a google.protobuf.Struct are strings`},
		{"value from bytes", "convert.v1.All", sMap("st", sMap("a", sArr(motan2.Bytes(nil)))),
			`argument "st.a[0]": "" is not a JSON-like value (null, bool, number, string, map or array) for google.protobuf.Value`},
		{"list value from a map", "convert.v1.All", sMap("list", sMap()), `argument "list": is a map, not an array (for google.protobuf.ListValue)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := SimpleToProto(newProto(t, tc.message), tc.v)
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *ArgError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			if fe := FromError(err); fe.Code != InvalidArgument {
				t.Errorf("code %v, want InvalidArgument", fe.Code)
			}
		})
	}
}

// TestSimpleToProtoDepth: values nested too deep, cyclic ones included,
// are refused instead of overflowing the stack.
func TestSimpleToProtoDepth(t *testing.T) {
	// A map that contains itself.
	kv := make([]motan2.Value, 2)
	kv[0] = sStr("child")
	kv[1] = motan2.Map(kv...)
	err := SimpleToProto(newProto(t, "convert.v1.Node"), kv[1])
	if err == nil || !strings.Contains(err.Error(), "is nested deeper than 100 levels") {
		t.Errorf("cyclic map: %v", err)
	}
	// An array that contains itself, as a google.protobuf.Value.
	items := make([]motan2.Value, 1)
	items[0] = motan2.Array(items)
	err = SimpleToProto(newProto(t, "convert.v1.Node"), sMap("value", items[0]))
	if err == nil || !strings.Contains(err.Error(), "is nested deeper than 100 levels") {
		t.Errorf("cyclic array: %v", err)
	}
	// The deepest value Simple decoders produce is accepted.
	v := sMap()
	for i := 1; i < motan2.MaxValueDepth; i++ {
		v = sMap("child", v)
	}
	if err := SimpleToProto(newProto(t, "convert.v1.Node"), v); err != nil {
		t.Errorf("%d levels: %v", motan2.MaxValueDepth, err)
	}
	if err := SimpleToProto(newProto(t, "convert.v1.Node"), sMap("child", v)); err == nil {
		t.Errorf("%d levels accepted", motan2.MaxValueDepth+1)
	}
}

func TestArgsToProto(t *testing.T) {
	cases := []struct {
		name, message string
		args          []motan2.Value
		fields        []string
		want          string
	}{
		{"no args", "shop.v1.GetBookRequest", nil, nil, `{}`},
		{"one map", "shop.v1.CreateBookRequest", []motan2.Value{sMap("parent", sStr("shelves/1"), "book", sMap("title", sStr("t")))}, nil,
			`{"parent": "shelves/1", "book": {"title": "t"}}`},
		{"one string map", "shop.v1.GetBookRequest", []motan2.Value{motan2.StringMap([]motan2.StringPair{{Key: "name", Value: "n"}})}, nil, `{"name": "n"}`},
		{"one null", "shop.v1.GetBookRequest", []motan2.Value{motan2.Null}, nil, `{}`},
		{"mapped", "shop.v1.ListBooksRequest", []motan2.Value{sStr("shelves/1"), sI32(10), sStr("tok")}, []string{"parent", "page_size", "pageToken"},
			`{"parent": "shelves/1", "pageSize": 10, "pageToken": "tok"}`},
		{"fewer args than fields", "shop.v1.ListBooksRequest", []motan2.Value{sStr("p")}, []string{"parent", "page_size"}, `{"parent": "p"}`},
		{"dotted paths merge", "shop.v1.UpdateBookRequest", []motan2.Value{sStr("n"), sStr("t"), sArr(sMap("display_name", sStr("a"))), motan2.StringArray([]string{"title"})},
			[]string{"book.name", "book.title", "book.authors", "update_mask.paths"},
			`{"book": {"name": "n", "title": "t", "authors": [{"displayName": "a"}]}, "updateMask": "title"}`},
		{"message argument", "shop.v1.CreateBookRequest", []motan2.Value{sStr("p"), sMap("title", sStr("t"))}, []string{"parent", "book"},
			`{"parent": "p", "book": {"title": "t"}}`},
		{"null argument leaves the field unset", "shop.v1.UpdateBookRequest", []motan2.Value{motan2.Null, sStr("t")}, []string{"book.name", "book.title"},
			`{"book": {"title": "t"}}`},
		{"null argument creates nothing", "shop.v1.UpdateBookRequest", []motan2.Value{motan2.Null}, []string{"book.name"}, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newProto(t, tc.message)
			if err := ArgsToProto(m, tc.args, tc.fields); err != nil {
				t.Fatal(err)
			}
			want := parseProto(t, tc.message, tc.want)
			if !proto.Equal(m, want) {
				t.Errorf("got  %v\nwant %v", m, want)
			}
		})
	}
}

func TestArgsToProtoErrors(t *testing.T) {
	cases := []struct {
		name, message string
		args          []motan2.Value
		fields        []string
		want          string
		internal      bool // a route configuration error
	}{
		{"scalar without mapping", "shop.v1.GetBookRequest", []motan2.Value{sStr("n")}, nil,
			`argument "args[0]": "n" is not a map: the route has no args mapping, so the call must pass the whole shop.v1.GetBookRequest as one map argument`, false},
		{"two args without mapping", "shop.v1.GetBookRequest", []motan2.Value{sMap(), sMap()}, nil,
			`argument "args": are 2 values: the route has no args mapping, so the call must pass the whole shop.v1.GetBookRequest as one map argument`, false},
		{"too many args", "shop.v1.GetBookRequest", []motan2.Value{sStr("a"), sStr("b")}, []string{"name"},
			`argument "args[1]": is one argument too many: the call passes 2 arguments, the route maps 1 (name)`, false},
		{"bad value", "shop.v1.ListBooksRequest", []motan2.Value{sStr("p"), sStr("ten")}, []string{"parent", "page_size"},
			`argument "page_size": "ten" is not an integer`, false},
		{"bad value inside", "shop.v1.UpdateBookRequest", []motan2.Value{sArr(sMap("contact", sMap("email", sI32(1))))}, []string{"book.authors"},
			`argument "book.authors[0].contact.email": 1 is not a string`, false},
		{"bad whole message", "shop.v1.GetBookRequest", []motan2.Value{sMap("nam", sStr("x"))}, nil,
			`argument "nam": is not a field of shop.v1.GetBookRequest`, false},
		{"unknown mapped field", "shop.v1.GetBookRequest", []motan2.Value{sStr("a")}, []string{"title"},
			`INTERNAL: route args mapping "title" for shop.v1.GetBookRequest: shop.v1.GetBookRequest has no field "title"`, true},
		{"path through a list", "shop.v1.UpdateBookRequest", []motan2.Value{sStr("a")}, []string{"book.authors.display_name"},
			`INTERNAL: route args mapping "book.authors.display_name" for shop.v1.UpdateBookRequest: field shop.v1.Book.authors is not a singular message, so the path cannot go through it`, true},
		{"path through a scalar", "shop.v1.UpdateBookRequest", []motan2.Value{sStr("a")}, []string{"book.name.x"},
			`INTERNAL: route args mapping "book.name.x" for shop.v1.UpdateBookRequest: field shop.v1.Book.name is not a singular message, so the path cannot go through it`, true},
		{"empty segment", "shop.v1.UpdateBookRequest", []motan2.Value{sStr("a")}, []string{"book..name"},
			`INTERNAL: route args mapping "book..name" for shop.v1.UpdateBookRequest: empty field name in "book..name"`, true},
		{"trailing dot", "shop.v1.UpdateBookRequest", []motan2.Value{sStr("a")}, []string{"book."},
			`INTERNAL: route args mapping "book." for shop.v1.UpdateBookRequest: empty field name in "book."`, true},
		{"bad mapping even for a null arg", "shop.v1.GetBookRequest", []motan2.Value{motan2.Null}, []string{"nope"},
			`INTERNAL: route args mapping "nope" for shop.v1.GetBookRequest: shop.v1.GetBookRequest has no field "nope"`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ArgsToProto(newProto(t, tc.message), tc.args, tc.fields)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			var ae *ArgError
			var e *Error
			if tc.internal {
				if !errors.As(err, &e) || e.Code != Internal {
					t.Errorf("err %T, want an Internal *Error", err)
				}
			} else if !errors.As(err, &ae) {
				t.Errorf("err %T, want an *ArgError", err)
			}
		})
	}
}
