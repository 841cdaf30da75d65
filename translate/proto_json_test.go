package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// protoCase is one message of the JSON tests.
type protoCase struct {
	name    string // golden file stem
	message string // full name
	fixture string // protojson text
	// sameAsProtojson: protojson writes exactly these bytes once its
	// random spaces are removed (false when a string has characters the
	// two writers escape differently).
	sameAsProtojson bool
}

var protoCases = []protoCase{
	{"all", "convert.v1.All", allFixture, true},
	{"all_empty", "convert.v1.All", `{}`, true},
	{"scalars_extremes", "convert.v1.Scalars", extremesFixture, true},
	{"scalars_empty", "convert.v1.Scalars", `{}`, true},
	{"scalars_strings", "convert.v1.Scalars", stringsFixture, false},
	{"book", "shop.v1.Book", bookFixture, true},
	{"legacy", "convert.v1.Legacy", legacyFixture, true},
	{"legacy_minimal", "convert.v1.Legacy", `{"id": ""}`, true},
	{"struct", "google.protobuf.Struct", `{"z": {"y": [1, {"x": null}]}, "a": "b"}`, true},
	{"timestamp", "google.protobuf.Timestamp", `"2001-02-03T04:05:06.000007Z"`, true},
	{"any_inner", "google.protobuf.Any", `{"@type": "type.googleapis.com/convert.v1.Inner", "count": "-1"}`, true},
	{"node", "convert.v1.Node", `{"level": 1, "child": {"level": 2, "child": {"value": [1]}}}`, true},
}

// goldenOptions are the option sets with a golden file per case.
var goldenOptions = []ProtoJSONOptions{
	{},
	{UseProtoNames: true},
	{EmitUnpopulated: true},
	{EnumsAsNumbers: true},
	{Int64AsNumbers: true},
	{UseProtoNames: true, EmitUnpopulated: true, EnumsAsNumbers: true, Int64AsNumbers: true},
}

func TestAppendProtoJSONGolden(t *testing.T) {
	types := protoTypes(t)
	seen := map[string]bool{}
	for _, pc := range protoCases {
		m := parseProto(t, pc.message, pc.fixture)
		for _, o := range goldenOptions {
			o.Types = types
			name := pc.name + "." + optionsName(o)
			seen[name+".json"] = true
			t.Run(name, func(t *testing.T) {
				got, err := AppendProtoJSON([]byte("prefix:"), m, o)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := bytes.CutPrefix(got, []byte("prefix:"))
				if !ok {
					t.Fatalf("dst prefix lost: %s", got)
				}
				if !json.Valid(got) {
					t.Fatalf("not valid JSON: %s", got)
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, got); err != nil || !bytes.Equal(compact.Bytes(), got) {
					t.Fatalf("not compact: %s", got)
				}
				path := filepath.Join("testdata", "protojson", name+".json")
				if *update {
					if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if string(got) != strings.TrimSuffix(string(want), "\n") {
					t.Errorf("differs from %s:\ngot  %s\nwant %s", path, got, want)
				}
			})
		}
	}
	if *update {
		return
	}
	// Every golden file belongs to a case.
	files, _ := filepath.Glob(filepath.Join("testdata", "protojson", "*.json"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("stale golden file %s", f)
		}
	}
}

// TestAppendProtoJSONMatchesProtojson checks the encoder against protojson
// for the options both have: same bytes, once protojson's deliberately
// random spaces are removed.
func TestAppendProtoJSONMatchesProtojson(t *testing.T) {
	types := protoTypes(t)
	for _, pc := range protoCases {
		if !pc.sameAsProtojson {
			continue
		}
		m := parseProto(t, pc.message, pc.fixture)
		for name, o := range allOptions(types) {
			if o.Int64AsNumbers {
				continue
			}
			t.Run(pc.name+"."+name, func(t *testing.T) {
				got, err := AppendProtoJSON(nil, m, o)
				if err != nil {
					t.Fatal(err)
				}
				pj, err := protojson.MarshalOptions{
					UseProtoNames: o.UseProtoNames, EmitUnpopulated: o.EmitUnpopulated,
					UseEnumNumbers: o.EnumsAsNumbers, Resolver: types, AllowPartial: true,
				}.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				var want bytes.Buffer
				if err := json.Compact(&want, pj); err != nil {
					t.Fatal(err)
				}
				if string(got) != want.String() {
					t.Errorf("differs from protojson:\ngot  %s\nwant %s", got, want.String())
				}
			})
		}
	}
}

// TestProtoJSONRoundTrip: for every case and every option combination,
// UnmarshalProtoJSON(AppendProtoJSON(m)) == m.
func TestProtoJSONRoundTrip(t *testing.T) {
	types := protoTypes(t)
	for _, pc := range protoCases {
		m := parseProto(t, pc.message, pc.fixture)
		for name, o := range allOptions(types) {
			t.Run(pc.name+"."+name, func(t *testing.T) {
				b, err := AppendProtoJSON(nil, m, o)
				if err != nil {
					t.Fatal(err)
				}
				back := m.New().Interface()
				if err := UnmarshalProtoJSON(b, back, o); err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				want := proto.Message(m)
				if o.EmitUnpopulated {
					want = withNullValues(m)
				}
				if !proto.Equal(back, want) {
					t.Errorf("round trip changed the message:\njson %s\ngot  %v\nwant %v", b, back, want)
				}
			})
		}
	}
}

func TestAppendProtoJSONOptions(t *testing.T) {
	types := protoTypes(t)
	cases := []struct {
		name, message, fixture string
		o                      ProtoJSONOptions
		want                   string
	}{
		{"int64 as string", "convert.v1.Scalars", `{"fInt64": "5", "fUint64": "6", "fSint64": "-7", "fFixed64": "8", "fSfixed64": "-9"}`,
			ProtoJSONOptions{}, `{"fInt64":"5","fSint64":"-7","fSfixed64":"-9","fUint64":"6","fFixed64":"8"}`},
		{"int64 as numbers", "convert.v1.Scalars", `{"fInt64": "5", "fUint64": "18446744073709551615", "fSint64": "-7", "fFixed64": "8", "fSfixed64": "-9"}`,
			ProtoJSONOptions{Int64AsNumbers: true}, `{"fInt64":5,"fSint64":-7,"fSfixed64":-9,"fUint64":18446744073709551615,"fFixed64":8}`},
		{"int64 numbers in lists, maps and wrappers", "convert.v1.All", `{"rInt64": ["1", "-2"], "mInt64": {"3": "x"}, "wInt64": "4", "wUint64": "5"}`,
			ProtoJSONOptions{Int64AsNumbers: true}, `{"rInt64":[1,-2],"mInt64":{"3":"x"},"wInt64":4,"wUint64":5}`},
		{"32-bit integers are numbers", "convert.v1.Scalars", `{"fInt32": -1, "fUint32": 4294967295, "fSint32": 2, "fFixed32": 3, "fSfixed32": -4}`,
			ProtoJSONOptions{}, `{"fInt32":-1,"fSint32":2,"fSfixed32":-4,"fUint32":4294967295,"fFixed32":3}`},
		{"proto names", "convert.v1.All", `{"optInt32": 1, "customName": "c", "scalars": {"fBool": true}}`,
			ProtoJSONOptions{UseProtoNames: true}, `{"scalars":{"f_bool":true},"opt_int32":1,"custom":"c"}`},
		{"json names", "convert.v1.All", `{"opt_int32": 1, "custom": "c"}`,
			ProtoJSONOptions{}, `{"optInt32":1,"customName":"c"}`},
		{"enum names", "convert.v1.All", `{"rEnum": ["RED", 0, 42], "optEnum": "BLUE"}`,
			ProtoJSONOptions{}, `{"optEnum":"BLUE","rEnum":["RED","COLOR_UNSPECIFIED",42]}`},
		{"enum numbers", "convert.v1.All", `{"rEnum": ["RED", 0, 42], "optEnum": "BLUE"}`,
			ProtoJSONOptions{EnumsAsNumbers: true}, `{"optEnum":3,"rEnum":[1,0,42]}`},
		{"unpopulated omitted", "convert.v1.Scalars", `{"fInt32": 0, "fString": ""}`, ProtoJSONOptions{}, `{}`},
		{"unpopulated emitted", "convert.v1.Scalars", `{}`, ProtoJSONOptions{EmitUnpopulated: true},
			`{"fBool":false,"fInt32":0,"fSint32":0,"fSfixed32":0,"fUint32":0,"fFixed32":0,"fInt64":"0","fSint64":"0","fSfixed64":"0","fUint64":"0","fFixed64":"0","fFloat":0,"fDouble":0,"fString":"","fBytes":"","fEnum":"COLOR_UNSPECIFIED"}`},
		{"unpopulated emitted, int64 numbers", "convert.v1.Inner", `{}`, ProtoJSONOptions{EmitUnpopulated: true, Int64AsNumbers: true},
			`{"name":"","count":0,"tags":[]}`},
		{"proto3 optional set to zero is written", "convert.v1.All", `{"optInt32": 0, "optString": "", "optEnum": 0}`,
			ProtoJSONOptions{}, `{"optInt32":0,"optString":"","optEnum":"COLOR_UNSPECIFIED"}`},
		{"oneof member set to zero is written", "convert.v1.All", `{"choiceInt64": "0"}`,
			ProtoJSONOptions{}, `{"choiceInt64":"0"}`},
		{"proto2 presence", "convert.v1.Legacy", `{"id": "", "count": 7}`,
			ProtoJSONOptions{}, `{"id":"","count":7}`},
		{"proto2 unpopulated is null", "convert.v1.Legacy", `{"id": "x"}`,
			ProtoJSONOptions{EmitUnpopulated: true}, `{"id":"x","count":null,"note":null,"values":[],"item":null,"kind":null}`},
		{"proto2 group and extensions", "convert.v1.Legacy", `{"id": "x", "Item": {"label": "l"}, "[convert.v1.ext_number]": "1", "[convert.v1.ext_label]": "e"}`,
			ProtoJSONOptions{UseProtoNames: true}, `{"id":"x","Item":{"label":"l"},"[convert.v1.ext_label]":"e","[convert.v1.ext_number]":"1"}`},
		{"floats", "convert.v1.All", `{"rFloat": [0.1, 3.4028235e38, 1e-45, "NaN", "Infinity", "-Infinity", -0], "rDouble": [0.1, 1e21, 1e20, 1e-7, 5e-324]}`,
			ProtoJSONOptions{}, `{"rDouble":[0.1,1e+21,100000000000000000000,1e-7,5e-324],"rFloat":[0.1,3.4028235e+38,1e-45,"NaN","Infinity","-Infinity",-0]}`},
		{"bytes are standard base64", "convert.v1.All", `{"rBytes": ["+/8B", "-_8B", ""]}`,
			ProtoJSONOptions{}, `{"rBytes":["+/8B","+/8B",""]}`},
		{"map keys sorted numerically", "convert.v1.All", `{"mInt32Inner": {"10": {}, "-5": {}, "2": {}}, "mBool": {"true": "t", "false": "f"}, "mUint32": {"10": 1, "9": 2}}`,
			ProtoJSONOptions{}, `{"mInt32Inner":{"-5":{},"2":{},"10":{}},"mUint32":{"9":2,"10":1},"mBool":{"false":"f","true":"t"}}`},
		{"map keys sorted bytewise", "convert.v1.All", `{"mString": {"b": "", "a": "", "B": "", "é": ""}}`,
			ProtoJSONOptions{}, `{"mString":{"B":"","a":"","b":"","é":""}}`},
		{"well-known types", "convert.v1.All", `{"ts": "2024-01-02T03:04:05.100Z", "dur": "0.000001s", "mask": "a.bC,d", "empty": {}, "wString": "w", "nullValue": null, "val": null}`,
			ProtoJSONOptions{}, `{"ts":"2024-01-02T03:04:05.100Z","dur":"0.000001s","val":null,"mask":"a.bC,d","empty":{},"wString":"w"}`},
		{"durations", "convert.v1.All", `{"dur": "-0.5s"}`, ProtoJSONOptions{}, `{"dur":"-0.500s"}`},
		{"null value enum is null", "convert.v1.All", `{}`, ProtoJSONOptions{EmitUnpopulated: true, UseProtoNames: true}, ""},
		{"any with a message", "convert.v1.All", `{"any": {"@type": "type.googleapis.com/convert.v1.Inner", "count": "1", "name": "n"}}`,
			ProtoJSONOptions{Int64AsNumbers: true}, `{"any":{"@type":"type.googleapis.com/convert.v1.Inner","name":"n","count":1}}`},
		{"any with a well-known type", "convert.v1.All", `{"any": {"@type": "type.googleapis.com/google.protobuf.Int64Value", "value": "1"}}`,
			ProtoJSONOptions{}, `{"any":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"1"}}`},
		{"empty any", "convert.v1.All", `{"any": {}}`, ProtoJSONOptions{}, `{"any":{}}`},
		{"custom json name escaped", "convert.v1.All", `{"custom": "x"}`, ProtoJSONOptions{}, `{"customName":"x"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := parseProto(t, tc.message, tc.fixture)
			tc.o.Types = types
			got, err := AppendProtoJSON(nil, m, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				// null_value (a NullValue enum) is always null.
				if !strings.Contains(string(got), `"null_value":null`) {
					t.Errorf("got %s, want null_value null", got)
				}
				return
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestAppendProtoJSONNilMessage(t *testing.T) {
	got, err := AppendProtoJSON([]byte("x"), nil, ProtoJSONOptions{})
	if err != nil || string(got) != "x{}" {
		t.Errorf("nil message: %q, %v", got, err)
	}
	var typedNil *anypb.Any
	got, err = AppendProtoJSON(nil, typedNil.ProtoReflect(), ProtoJSONOptions{})
	if err != nil || string(got) != "{}" {
		t.Errorf("typed nil message: %q, %v", got, err)
	}
}

// TestAppendProtoJSONErrors: values the JSON mapping cannot express fail
// with Internal, name the field and leave dst as it was.
func TestAppendProtoJSONErrors(t *testing.T) {
	types := protoTypes(t)
	all := func() protoreflect.Message { return newProto(t, "convert.v1.All") }
	md := all().Descriptor()
	set := func(m protoreflect.Message, name string, f func(sub protoreflect.Message)) protoreflect.Message {
		f(m.Mutable(field(t, md, name)).Message())
		return m
	}
	setInt := func(sub protoreflect.Message, name string, v int64) {
		fd := field(t, sub.Descriptor(), name)
		if fd.Kind() == protoreflect.Int32Kind {
			sub.Set(fd, protoreflect.ValueOfInt32(int32(v)))
		} else {
			sub.Set(fd, protoreflect.ValueOfInt64(v))
		}
	}
	cases := []struct {
		name string
		m    protoreflect.Message
		o    ProtoJSONOptions
		want string
	}{
		{"timestamp too early", set(all(), "ts", func(s protoreflect.Message) { setInt(s, "seconds", -62135596801) }), ProtoJSONOptions{},
			"cannot write convert.v1.All as JSON: field ts: google.protobuf.Timestamp seconds out of range: -62135596801"},
		{"timestamp too late", set(all(), "ts", func(s protoreflect.Message) { setInt(s, "seconds", 253402300800) }), ProtoJSONOptions{},
			"field ts: google.protobuf.Timestamp seconds out of range"},
		{"timestamp negative nanos", set(all(), "ts", func(s protoreflect.Message) { setInt(s, "nanos", -1) }), ProtoJSONOptions{},
			"field ts: google.protobuf.Timestamp nanos out of range: -1"},
		{"duration too long", set(all(), "dur", func(s protoreflect.Message) { setInt(s, "seconds", 315576000001) }), ProtoJSONOptions{},
			"field dur: google.protobuf.Duration seconds out of range"},
		{"duration signs", set(all(), "dur", func(s protoreflect.Message) { setInt(s, "seconds", 1); setInt(s, "nanos", -1) }), ProtoJSONOptions{},
			"field dur: google.protobuf.Duration seconds and nanos have different signs"},
		{"duration nanos", set(all(), "dur", func(s protoreflect.Message) { setInt(s, "nanos", 1e9) }), ProtoJSONOptions{},
			"field dur: google.protobuf.Duration nanos out of range"},
		{"value without kind", set(all(), "val", func(protoreflect.Message) {}), ProtoJSONOptions{},
			"field val: google.protobuf.Value has none of its kinds set"},
		{"NaN value in a struct", set(all(), "st", func(s protoreflect.Message) {
			mp := s.Mutable(field(t, s.Descriptor(), "fields")).Map()
			v := mp.NewValue()
			v.Message().Set(field(t, v.Message().Descriptor(), "number_value"), protoreflect.ValueOfFloat64(math.NaN()))
			mp.Set(protoreflect.ValueOfString("k").MapKey(), v)
		}), ProtoJSONOptions{}, "field st[k]: google.protobuf.Value cannot hold NaN in JSON"},
		{"unresolvable any", set(all(), "any", func(s protoreflect.Message) {
			s.Set(field(t, s.Descriptor(), "type_url"), protoreflect.ValueOfString("type.googleapis.com/no.such.Type"))
		}), ProtoJSONOptions{}, `field any: google.protobuf.Any: cannot resolve type "type.googleapis.com/no.such.Type"`},
		{"any value without type", set(all(), "any", func(s protoreflect.Message) {
			s.Set(field(t, s.Descriptor(), "value"), protoreflect.ValueOfBytes([]byte{1}))
		}), ProtoJSONOptions{}, "field any: google.protobuf.Any has a value but no type_url"},
		{"any with bad bytes", set(all(), "any", func(s protoreflect.Message) {
			s.Set(field(t, s.Descriptor(), "type_url"), protoreflect.ValueOfString("type.googleapis.com/convert.v1.Inner"))
			s.Set(field(t, s.Descriptor(), "value"), protoreflect.ValueOfBytes([]byte{0xff}))
		}), ProtoJSONOptions{}, `field any: google.protobuf.Any: cannot decode its "type.googleapis.com/convert.v1.Inner" value`},
		{"bad path in field mask", set(all(), "mask", func(s protoreflect.Message) {
			s.Mutable(field(t, s.Descriptor(), "paths")).List().Append(protoreflect.ValueOfString("a__b"))
		}), ProtoJSONOptions{}, `field mask: google.protobuf.FieldMask.paths contains irreversible value "a__b"`},
		{"error in a list", func() protoreflect.Message {
			m := all()
			l := m.Mutable(field(t, md, "r_ts")).List()
			l.Append(l.NewElement())
			bad := l.NewElement()
			bad.Message().Set(field(t, bad.Message().Descriptor(), "nanos"), protoreflect.ValueOfInt32(-5))
			l.Append(bad)
			return m
		}(), ProtoJSONOptions{}, "field r_ts[1]: google.protobuf.Timestamp nanos out of range: -5"},
		{"error in a map", func() protoreflect.Message {
			m := all()
			mp := m.Mutable(field(t, md, "m_value")).Map()
			mp.Set(protoreflect.ValueOfString("bad").MapKey(), mp.NewValue())
			return m
		}(), ProtoJSONOptions{}, "field m_value[bad]: google.protobuf.Value has none of its kinds set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Types = types
			got, err := AppendProtoJSON([]byte("keep"), tc.m, tc.o)
			if string(got) != "keep" {
				t.Errorf("dst = %q, want it unchanged", got)
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != Internal {
				t.Fatalf("err = %v, want an Internal *Error", err)
			}
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q does not contain %q", e.Message, tc.want)
			}
		})
	}
}

// TestAppendProtoJSONAnyResolver: without Types, only linked-in types
// resolve.
func TestAppendProtoJSONAnyResolver(t *testing.T) {
	a, err := anypb.New(durationpb.New(1500 * 1e6))
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppendProtoJSON(nil, a.ProtoReflect(), ProtoJSONOptions{})
	if err != nil || string(got) != `{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.500s"}` {
		t.Errorf("linked-in Any: %s, %v", got, err)
	}
	m := parseProto(t, "convert.v1.All", `{"any": {"@type": "type.googleapis.com/convert.v1.Inner"}}`)
	if _, err := AppendProtoJSON(nil, m, ProtoJSONOptions{}); err == nil {
		t.Error("an Any of a schema type resolved without the schema's Types")
	}
	if got, err := AppendProtoJSON(nil, m, ProtoJSONOptions{Types: protoTypes(t)}); err != nil || string(got) != `{"any":{"@type":"type.googleapis.com/convert.v1.Inner"}}` {
		t.Errorf("with Types: %s, %v", got, err)
	}
}

// TestAppendProtoJSONDepth: the nesting UnmarshalProtoJSON accepts can be
// written back; one more level cannot be read.
func TestAppendProtoJSONDepth(t *testing.T) {
	nested := func(levels int) []byte {
		return []byte(strings.Repeat(`{"child":`, levels-1) + `{"level":1}` + strings.Repeat("}", levels-1))
	}
	m := newProto(t, "convert.v1.Node")
	if err := UnmarshalProtoJSON(nested(maxProtoDepth), m, ProtoJSONOptions{}); err != nil {
		t.Fatalf("%d levels: %v", maxProtoDepth, err)
	}
	b, err := AppendProtoJSON(nil, m, ProtoJSONOptions{})
	if err != nil {
		t.Fatalf("writing %d levels: %v", maxProtoDepth, err)
	}
	if !bytes.Equal(b, nested(maxProtoDepth)) {
		t.Error("deep message written differently")
	}
	if err := UnmarshalProtoJSON(nested(maxProtoDepth+1), newProto(t, "convert.v1.Node"), ProtoJSONOptions{}); err == nil {
		t.Errorf("%d levels accepted", maxProtoDepth+1)
	}
	// One level deeper built in code is refused by the writer.
	deeper := newProto(t, "convert.v1.Node")
	deeper.Set(field(t, deeper.Descriptor(), "child"), protoreflect.ValueOfMessage(m))
	if _, err := AppendProtoJSON(nil, deeper, ProtoJSONOptions{}); err == nil || !strings.Contains(err.Error(), "nested deeper than") {
		t.Errorf("%d levels written: %v", maxProtoDepth+1, err)
	}
	// Struct nesting counts one level per Value, as protojson's reader does.
	deepStruct := strings.Repeat(`{"value":{"a":`, 1) + strings.Repeat(`{"a":`, maxProtoDepth-3) + `1` + strings.Repeat("}", maxProtoDepth-3) + "}}"
	sm := newProto(t, "convert.v1.Node")
	if err := UnmarshalProtoJSON([]byte(deepStruct), sm, ProtoJSONOptions{}); err != nil {
		t.Fatalf("deep struct: %v", err)
	}
	if b, err := AppendProtoJSON(nil, sm, ProtoJSONOptions{}); err != nil || string(b) != deepStruct {
		t.Errorf("deep struct written as %.40s..., %v", b, err)
	}
}

func TestAppendProtoFieldJSON(t *testing.T) {
	types := protoTypes(t)
	book := parseProto(t, "shop.v1.Book", bookFixture)
	list := parseProto(t, "shop.v1.ListBooksResponse", `{"books": [{"name": "a", "format": "EBOOK"}, {}], "nextPageToken": "t"}`)
	all := parseProto(t, "convert.v1.All", `{"rInt64": ["1"], "mString": {"b": "2", "a": "1"}, "ts": "1970-01-01T00:00:01Z"}`)
	empty := newProto(t, "convert.v1.All")
	bmd, lmd, amd := book.Descriptor(), list.Descriptor(), all.Descriptor()
	cases := []struct {
		name string
		m    protoreflect.Message
		fd   protoreflect.FieldDescriptor
		o    ProtoJSONOptions
		want string
	}{
		{"repeated messages", list, field(t, lmd, "books"), ProtoJSONOptions{}, `[{"name":"a","format":"EBOOK"},{}]`},
		{"repeated messages, options", list, field(t, lmd, "books"), ProtoJSONOptions{EnumsAsNumbers: true, UseProtoNames: true}, `[{"name":"a","format":3},{}]`},
		{"scalar", list, field(t, lmd, "next_page_token"), ProtoJSONOptions{}, `"t"`},
		{"unset scalar is its default", empty, field(t, amd, "custom"), ProtoJSONOptions{}, `""`},
		{"message", book, field(t, bmd, "authors"), ProtoJSONOptions{}, `[{"displayName":"Ann","contact":{"email":"ann@example.com"}},{"displayName":"Bob"}]`},
		{"well-known type", book, field(t, bmd, "published"), ProtoJSONOptions{}, `"2024-05-06T07:08:09.123Z"`},
		{"struct", book, field(t, bmd, "metadata"), ProtoJSONOptions{}, `{"extra":{"x":null,"y":true},"pages":320,"tags":["a","b"]}`},
		{"map", all, field(t, amd, "m_string"), ProtoJSONOptions{}, `{"a":"1","b":"2"}`},
		{"int64 list", all, field(t, amd, "r_int64"), ProtoJSONOptions{Int64AsNumbers: true}, `[1]`},
		{"enum", book, field(t, bmd, "availability"), ProtoJSONOptions{}, `"IN_STOCK"`},
		{"unset message is null", empty, field(t, amd, "scalars"), ProtoJSONOptions{}, `null`},
		{"unset message with emit is {}", empty, field(t, amd, "scalars"), ProtoJSONOptions{EmitUnpopulated: true}, `{}`},
		{"unset well-known type is null", empty, field(t, amd, "ts"), ProtoJSONOptions{}, `null`},
		{"empty list", empty, field(t, amd, "r_inner"), ProtoJSONOptions{}, `[]`},
		{"empty map", empty, field(t, amd, "m_inner"), ProtoJSONOptions{}, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Types = types
			got, err := AppendProtoFieldJSON([]byte("x"), tc.m, tc.fd, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "x"+tc.want {
				t.Errorf("got %s, want x%s", got, tc.want)
			}
		})
	}

	// A field of another message is a programming error, reported.
	if _, err := AppendProtoFieldJSON(nil, book, field(t, lmd, "books"), ProtoJSONOptions{}); err == nil {
		t.Error("field of another message accepted")
	}
	// Errors name the field and keep dst.
	bad := newProto(t, "convert.v1.All")
	bad.Mutable(field(t, amd, "val"))
	got, err := AppendProtoFieldJSON([]byte("x"), bad, field(t, amd, "val"), ProtoJSONOptions{})
	var e *Error
	if string(got) != "x" || !errors.As(err, &e) || e.Code != Internal || !strings.Contains(e.Message, "field val:") {
		t.Errorf("bad field: %q, %v", got, err)
	}
}

func TestUnmarshalProtoJSON(t *testing.T) {
	types := protoTypes(t)
	cases := []struct {
		name, message string
		before        string // protojson fixture the message holds first ("" for none)
		body          string
		o             ProtoJSONOptions
		want          string // protojson fixture of the expected result
	}{
		{"json names", "convert.v1.All", "", `{"optInt32": 5, "customName": "c"}`, ProtoJSONOptions{}, `{"optInt32": 5, "custom": "c"}`},
		{"proto names", "convert.v1.All", "", `{"opt_int32": 5, "custom": "c", "r_inner": [{"name": "x"}]}`, ProtoJSONOptions{}, `{"optInt32": 5, "custom": "c", "rInner": [{"name": "x"}]}`},
		{"proto names accepted whatever the options", "convert.v1.All", "", `{"opt_int32": 5}`, ProtoJSONOptions{UseProtoNames: false}, `{"optInt32": 5}`},
		{"int64 as numbers and strings", "convert.v1.Scalars", "", `{"fInt64": -9223372036854775808, "fUint64": "18446744073709551615", "fFixed64": 1e3}`, ProtoJSONOptions{},
			`{"fInt64": "-9223372036854775808", "fUint64": "18446744073709551615", "fFixed64": "1000"}`},
		{"enum numbers and names", "convert.v1.All", "", `{"rEnum": [1, "GREEN", 99]}`, ProtoJSONOptions{}, `{"rEnum": ["RED", "GREEN", 99]}`},
		{"merge keeps fields the body does not set", "shop.v1.Book", `{"name": "shelves/1/books/2", "title": "old"}`, `{"title": "new", "format": "EBOOK"}`, ProtoJSONOptions{},
			`{"name": "shelves/1/books/2", "title": "new", "format": "EBOOK"}`},
		{"merge appends to lists and merges messages", "convert.v1.All", `{"rInt32": [1], "scalars": {"fInt32": 1}, "mString": {"a": "1"}}`,
			`{"rInt32": [2], "scalars": {"fBool": true}, "mString": {"b": "2"}}`, ProtoJSONOptions{},
			`{"rInt32": [1, 2], "scalars": {"fInt32": 1, "fBool": true}, "mString": {"a": "1", "b": "2"}}`},
		{"body zero value does not clear", "convert.v1.Scalars", `{"fInt32": 5}`, `{"fInt32": 0}`, ProtoJSONOptions{}, `{"fInt32": 5}`},
		{"discard unknown", "convert.v1.Inner", "", `{"name": "n", "nope": {"a": [1]}, "count": "2"}`, ProtoJSONOptions{DiscardUnknown: true}, `{"name": "n", "count": "2"}`},
		{"discard unknown enum names", "convert.v1.All", "", `{"optEnum": "PURPLE", "rEnum": ["RED", "PURPLE"]}`, ProtoJSONOptions{DiscardUnknown: true}, `{"rEnum": ["RED"]}`},
		{"null leaves a field unset", "convert.v1.All", "", `{"scalars": null, "optInt32": null, "rInt32": null}`, ProtoJSONOptions{}, `{}`},
		{"null value field", "convert.v1.All", "", `{"val": null}`, ProtoJSONOptions{}, `{"val": null}`},
		{"required supplied before the body", "convert.v1.Legacy", `{"id": "from-path"}`, `{"note": "n"}`, ProtoJSONOptions{}, `{"id": "from-path", "note": "n"}`},
		{"any with types", "convert.v1.All", "", `{"any": {"@type": "type.googleapis.com/convert.v1.Inner", "name": "x"}}`, ProtoJSONOptions{}, `{"any": {"@type": "type.googleapis.com/convert.v1.Inner", "name": "x"}}`},
		{"extension", "convert.v1.Legacy", "", `{"id": "x", "[convert.v1.ext_label]": "e"}`, ProtoJSONOptions{}, `{"id": "x", "[convert.v1.ext_label]": "e"}`},
		{"whole well-known type", "google.protobuf.Duration", "", `"3s"`, ProtoJSONOptions{}, `"3s"`},
		{"surrounding white space", "convert.v1.Inner", "", " \n{\"name\":\"n\"}\r\n\t", ProtoJSONOptions{}, `{"name": "n"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newProto(t, tc.message)
			if tc.before != "" {
				m = parseProto(t, tc.message, tc.before)
			}
			tc.o.Types = types
			if err := UnmarshalProtoJSON([]byte(tc.body), m, tc.o); err != nil {
				t.Fatal(err)
			}
			want := parseProto(t, tc.message, tc.want)
			if !proto.Equal(m, want) {
				t.Errorf("got %v\nwant %v", m, want)
			}
		})
	}
}

func TestUnmarshalProtoJSONErrors(t *testing.T) {
	types := protoTypes(t)
	cases := []struct {
		name, message, body string
		o                   ProtoJSONOptions
		want                string // the exact message
		syntax              bool   // the cause is a *SyntaxError
	}{
		{"empty", "convert.v1.All", ``, ProtoJSONOptions{}, `empty body: a JSON object is required`, false},
		{"blank", "convert.v1.All", " \r\n\t", ProtoJSONOptions{}, `empty body: a JSON object is required`, false},
		{"syntax", "convert.v1.All", "{\n  \"optInt32\": 1,\n  \"customName\" \"x\"\n}", ProtoJSONOptions{},
			`malformed JSON body at line 3, column 16 (offset 34): invalid character '"' after object key`, true},
		{"truncated", "convert.v1.All", `{"rInt32": [1, 2`, ProtoJSONOptions{},
			`malformed JSON body at line 1, column 17 (offset 16): unexpected end of JSON input`, true},
		{"trailing data", "convert.v1.All", `{} {}`, ProtoJSONOptions{},
			`malformed JSON body at line 1, column 4 (offset 3): invalid character '{' after top-level value`, true},
		{"unknown field", "shop.v1.CreateBookRequest", "{\"book\": {\"authors\": [{}, {\"displayName\": \"x\", \"nickname\": \"y\"}]}}", ProtoJSONOptions{},
			`invalid JSON body at line 1, column 48, field "book.authors[1].nickname": unknown field "nickname"`, false},
		{"wrong type", "shop.v1.CreateBookRequest", "{\"book\": {\n \"authors\": [{}, {\"displayName\": 5}]}}", ProtoJSONOptions{},
			`invalid JSON body at line 2, column 34, field "book.authors[1].displayName": invalid value for string field displayName: 5`, false},
		{"bad enum name", "shop.v1.Book", `{"format": "VINYL"}`, ProtoJSONOptions{},
			`invalid JSON body at line 1, column 12, field "format": invalid value for enum field format: "VINYL"`, false},
		{"int32 out of range", "convert.v1.Scalars", `{"fInt32": 2147483648}`, ProtoJSONOptions{},
			`invalid JSON body at line 1, column 12, field "fInt32": invalid value for int32 field fInt32: 2147483648`, false},
		{"bad timestamp", "shop.v1.Book", `{"published": "yesterday"}`, ProtoJSONOptions{},
			`invalid JSON body at line 1, column 15, field "published": invalid google.protobuf.Timestamp value "yesterday"`, false},
		{"not an object", "convert.v1.All", `[1]`, ProtoJSONOptions{},
			`invalid JSON body at line 1, column 1: unexpected token [`, false},
		{"unknown field in a map value", "convert.v1.All", `{"mInner": {"k é": {"x": 1}}}`, ProtoJSONOptions{},
			`invalid JSON body at line 1, column 21, field "mInner.k é.x": unknown field "x"`, false},
		{"duplicate field", "convert.v1.Inner", `{"name": "a", "name": "b"}`, ProtoJSONOptions{},
			`invalid JSON body at line 1, column 15, field "name": duplicate field "name"`, false},
		{"unresolvable any", "convert.v1.All", `{"any": {"@type": "type.googleapis.com/no.Such"}}`, ProtoJSONOptions{},
			`invalid JSON body at line 1, column 19, field "any.@type": unable to resolve "type.googleapis.com/no.Such": "not found"`, false},
		{"missing required field", "convert.v1.Legacy", `{"note": "n"}`, ProtoJSONOptions{},
			`invalid JSON body: required field convert.v1.Legacy.id not set`, false},
		{"missing required field in a proto3 message", "convert.v1.HasLegacy", `{"nodes": [{}], "legacy": {"k": {}}}`, ProtoJSONOptions{},
			`invalid JSON body: required field convert.v1.Legacy.id not set`, false},
		{"invalid UTF-8", "convert.v1.Inner", "{\"name\": \"\xff\"}", ProtoJSONOptions{},
			`invalid JSON body at line 1, column 10, field "name": invalid UTF-8 in string`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Types = types
			err := UnmarshalProtoJSON([]byte(tc.body), newProto(t, tc.message), tc.o)
			var e *Error
			if !errors.As(err, &e) || e.Code != InvalidArgument {
				t.Fatalf("err = %v, want an InvalidArgument *Error", err)
			}
			if e.Message != tc.want {
				t.Errorf("message\n got %s\nwant %s", e.Message, tc.want)
			}
			var se *SyntaxError
			if errors.As(err, &se) != tc.syntax {
				t.Errorf("SyntaxError cause: %v, want %v", !tc.syntax, tc.syntax)
			}
		})
	}
}

func TestMayHaveRequired(t *testing.T) {
	for name, want := range map[string]bool{
		"convert.v1.Legacy": true, "convert.v1.HasLegacy": true,
		"convert.v1.All": false, "convert.v1.Node": false, "shop.v1.Book": false, "shop.v1.UpdateBookRequest": false,
	} {
		md, ok := protoSchema(t).Message(name)
		if !ok {
			t.Fatalf("no message %s", name)
		}
		if got := mayHaveRequired(md); got != want {
			t.Errorf("mayHaveRequired(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestJSONPathAt(t *testing.T) {
	doc := `{"a": [1, {"b\"c": [true, null]}], "d": {"e": "x,y]"}, "f": 2}`
	cases := []struct {
		at   string // the text at the offset (first occurrence)
		want string
	}{
		{`{"a"`, ""},
		{`"a"`, "a"},
		{`1,`, "a[0]"},
		{`{"b`, "a[1]"},
		{`"b\"c"`, `a[1].b"c`},
		{`null`, `a[1].b"c[1]`},
		{`"e"`, "d.e"},
		{`"x,y]"`, "d.e"},
		{`"f"`, "f"},
		{`2}`, "f"},
	}
	for _, tc := range cases {
		off := strings.Index(doc, tc.at)
		if got := jsonPathAt([]byte(doc), off); got != tc.want {
			t.Errorf("at %q (offset %d): %q, want %q", tc.at, off, got, tc.want)
		}
	}
}

func TestOffsetOf(t *testing.T) {
	data := []byte("ab\nçd\n\nx")
	for _, tc := range []struct{ line, col, want int }{
		{1, 1, 0}, {1, 3, 2}, {2, 1, 3}, {2, 2, 5}, {2, 3, 6}, {3, 1, 7}, {4, 1, 8}, {9, 9, 9},
	} {
		if got := offsetOf(data, tc.line, tc.col); got != tc.want {
			t.Errorf("offsetOf(%d:%d) = %d, want %d", tc.line, tc.col, got, tc.want)
		}
	}
}

// TestGoldenFilesSorted keeps the golden directory tidy: every file is
// one compact JSON document.
func TestGoldenFilesAreJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "protojson", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) || bytes.Count(b, []byte("\n")) != 1 {
			t.Errorf("%s is not one line of JSON", f)
		}
	}
}
