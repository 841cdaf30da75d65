package translate

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/motan2"
)

func TestAppendJSON(t *testing.T) {
	s, i64 := motan2.String, motan2.Int64
	cases := []struct {
		name string
		v    motan2.Value
		o    JSONOptions
		want string
	}{
		{"null", motan2.Null, JSONOptions{}, `null`},
		{"string", s("héllo"), JSONOptions{}, `"héllo"`},
		{"string escapes", s("a\"b\\c\n\r\t\x00\x1f\x7f<&>\u2028\u2029/"), JSONOptions{}, `"a\"b\\c\n\r\t\u0000\u001f` + "\x7f" + `<&>\u2028\u2029/"`},
		{"invalid utf8", s("a\xffb\xe2\x82"), JSONOptions{}, `"a\ufffdb\ufffd\ufffd"`},
		{"true", motan2.Bool(true), JSONOptions{}, `true`},
		{"false", motan2.Bool(false), JSONOptions{}, `false`},
		{"byte", motan2.Byte(255), JSONOptions{}, `255`},
		{"int16", motan2.Int16(-32768), JSONOptions{}, `-32768`},
		{"int32", motan2.Int32(2147483647), JSONOptions{}, `2147483647`},
		{"int64 max", i64(math.MaxInt64), JSONOptions{}, `9223372036854775807`},
		{"int64 min", i64(math.MinInt64), JSONOptions{}, `-9223372036854775808`},
		{"int64 as string", i64(-42), JSONOptions{Int64AsString: true}, `"-42"`},
		{"int32 stays a number", motan2.Int32(-42), JSONOptions{Int64AsString: true}, `-42`},
		{"float32 0.1", motan2.Float32(0.1), JSONOptions{}, `0.1`},
		{"float32 max", motan2.Float32(math.MaxFloat32), JSONOptions{}, `3.4028235e+38`},
		{"float32 tiny", motan2.Float32(math.SmallestNonzeroFloat32), JSONOptions{}, `1e-45`},
		{"float64 0.1", motan2.Float64(0.1), JSONOptions{}, `0.1`},
		{"float64 int", motan2.Float64(123456789), JSONOptions{}, `123456789`},
		{"float64 1e21", motan2.Float64(1e21), JSONOptions{}, `1e+21`},
		{"float64 1e20", motan2.Float64(1e20), JSONOptions{}, `100000000000000000000`},
		{"float64 1e-7", motan2.Float64(1e-7), JSONOptions{}, `1e-7`},
		{"float64 -0", motan2.Float64(math.Copysign(0, -1)), JSONOptions{}, `-0`},
		{"NaN", motan2.Float64(math.NaN()), JSONOptions{}, `"NaN"`},
		{"float32 NaN", motan2.Float32Bits(0x7fc00001), JSONOptions{}, `"NaN"`},
		{"+Inf", motan2.Float64(math.Inf(1)), JSONOptions{}, `"Infinity"`},
		{"-Inf", motan2.Float32(float32(math.Inf(-1))), JSONOptions{}, `"-Infinity"`},
		{"bytes", motan2.Bytes([]byte{0xfb, 0xff, 0x01}), JSONOptions{}, `"+/8B"`},
		{"nil bytes", motan2.Bytes(nil), JSONOptions{}, `""`},
		{"message", motan2.Message("a.B", []byte{8, 1}), JSONOptions{}, `"CAE="`},
		{"string array", motan2.StringArray([]string{"a", "", "\""}), JSONOptions{}, `["a","","\""]`},
		{"nil string array", motan2.StringArray(nil), JSONOptions{}, `[]`},
		{"string map in wire order", smap("z", "1", "a", "2", "m", "\n"), JSONOptions{}, `{"z":"1","a":"2","m":"\n"}`},
		{"empty string map", motan2.StringMap(nil), JSONOptions{}, `{}`},
		{"map in wire order", motan2.Map(s("z"), i64(1), s("a"), motan2.Null, s("b"), motan2.Array([]motan2.Value{motan2.Bool(true), s("x")})), JSONOptions{}, `{"z":1,"a":null,"b":[true,"x"]}`},
		{"empty map", motan2.Map(), JSONOptions{}, `{}`},
		{"empty array", motan2.Array(nil), JSONOptions{}, `[]`},
		{"map scalar keys", motan2.Map(
			i64(1), s("int64"),
			motan2.Int16(-2), s("int16"),
			motan2.Byte(3), s("byte"),
			motan2.Bool(true), s("bool"),
			motan2.Null, s("null"),
			motan2.Float64(1.5), s("float"),
			motan2.Float32(float32(math.Inf(1))), s("inf"),
			motan2.Float64(1e300), s("big"),
			motan2.Bytes([]byte("hi")), s("bytes"),
			motan2.Message("", []byte{1}), s("msg"),
		), JSONOptions{Int64AsString: true}, `{"1":"int64","-2":"int16","3":"byte","true":"bool","null":"null","1.5":"float","Infinity":"inf","1e+300":"big","aGk=":"bytes","AQ==":"msg"}`},
		{"map container keys", motan2.Map(
			motan2.Array([]motan2.Value{s("a\"b"), i64(1)}), s("array"),
			smap("k", "v"), s("string map"),
			motan2.StringArray([]string{"x"}), s("string array"),
			motan2.Map(motan2.Array(nil), motan2.Null), s("map with array key"),
		), JSONOptions{}, `{"[\"a\\\"b\",1]":"array","{\"k\":\"v\"}":"string map","[\"x\"]":"string array","{\"[]\":null}":"map with array key"}`},
		{"int64 in container as string", motan2.Array([]motan2.Value{i64(1), motan2.Map(s("n"), i64(2))}), JSONOptions{Int64AsString: true}, `["1",{"n":"2"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendJSON([]byte("x"), tc.v, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[1:]) != tc.want {
				t.Fatalf("got  %s\nwant %s", got[1:], tc.want)
			}
			if !json.Valid(got[1:]) {
				t.Fatalf("not valid JSON: %s", got[1:])
			}
		})
	}
}

// TestAppendJSONFloatsMatchEncodingJSON checks float formatting against
// encoding/json, which writes the shortest round-tripping form.
func TestAppendJSONFloatsMatchEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := []float64{0, 1, -1, 0.1, 1e-6, 9.999999e-7, 1e21, 9.99999999999999e20, 5e-324, math.MaxFloat64, 123.456, -1e-300}
	for i := 0; i < 20000; i++ {
		var f64 float64
		if i < len(special) {
			f64 = special[i]
		} else {
			f64 = math.Float64frombits(r.Uint64())
		}
		f32 := math.Float32frombits(r.Uint32())
		if i < len(special) {
			f32 = float32(special[i])
		}
		for _, c := range []struct {
			v   motan2.Value
			goV any
			ok  bool
		}{
			{motan2.Float64(f64), f64, !math.IsNaN(f64) && !math.IsInf(f64, 0)},
			{motan2.Float32(f32), f32, !math.IsNaN(float64(f32)) && !math.IsInf(float64(f32), 0)},
		} {
			if !c.ok {
				continue
			}
			want, _ := json.Marshal(c.goV)
			got, err := AppendJSON(nil, c.v, JSONOptions{})
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%v: got %s, want %s (%v)", c.v, got, want, err)
			}
		}
	}
}

func TestAppendJSONDepth(t *testing.T) {
	nest := func(levels int) motan2.Value {
		v := motan2.Null
		for i := 0; i < levels; i++ {
			if i%2 == 0 {
				v = motan2.Array([]motan2.Value{v})
			} else {
				v = motan2.Map(motan2.String("k"), v)
			}
		}
		return v
	}
	if _, err := AppendJSON(nil, nest(motan2.MaxValueDepth), JSONOptions{}); err != nil {
		t.Fatalf("%d levels: %v", motan2.MaxValueDepth, err)
	}
	dst := []byte("keep")
	out, err := AppendJSON(dst, nest(motan2.MaxValueDepth+1), JSONOptions{})
	if err == nil || string(out) != "keep" {
		t.Fatalf("%d levels: %q, %v; want an error and dst unchanged", motan2.MaxValueDepth+1, out, err)
	}
	// A too-deep container used as a map key fails the same way.
	if _, err := AppendJSON(nil, motan2.Map(nest(motan2.MaxValueDepth), motan2.Null), JSONOptions{}); err == nil {
		t.Fatal("deep map key accepted")
	}
}

// replyValue is a typical Motan2 reply: a map of mixed values.
func replyValue() motan2.Value {
	s := motan2.String
	return motan2.Map(
		s("id"), motan2.Int64(1234567890123),
		s("name"), s("Alice \"Al\" Smith"),
		s("score"), motan2.Float64(98.25),
		s("active"), motan2.Bool(true),
		s("tags"), motan2.StringArray([]string{"admin", "ops", "on-call"}),
		s("attrs"), smap("team", "infra", "region", "cn-north"),
		s("avatar"), motan2.Bytes([]byte("\x89PNG\r\n\x1a\n")),
		s("history"), motan2.Array([]motan2.Value{
			motan2.Map(s("at"), motan2.Int64(1700000000), s("event"), s("login")),
			motan2.Map(s("at"), motan2.Int64(1700000100), s("event"), s("logout")),
		}),
		motan2.Int32(7), s("int key"),
		motan2.Array([]motan2.Value{s("k")}), s("container key"),
		s("nothing"), motan2.Null,
	)
}

func TestAppendJSONAllocs(t *testing.T) {
	v := replyValue()
	buf := make([]byte, 0, 4096)
	for _, o := range []JSONOptions{{}, {Int64AsString: true}} {
		if n := testing.AllocsPerRun(200, func() {
			var err error
			if buf, err = AppendJSON(buf[:0], v, o); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%+v: %v allocations per call, want 0", o, n)
		}
	}
	if !json.Valid(buf) {
		t.Fatalf("not valid: %s", buf)
	}
}

// TestRoundTrip: for JSON-representable values, converting AppendJSON's
// output back with the value's own type gives an equal value, both from
// encoding/json's any (FromJSON) and through ParseJSONBody, which also
// keeps the order.
func TestRoundTrip(t *testing.T) {
	s := motan2.String
	cases := []struct {
		name string
		v    motan2.Value
		t    ArgType
	}{
		{"string", s("héllo \"w\"\n\u2028"), ArgString},
		{"empty string", s(""), ArgString},
		{"bool", motan2.Bool(true), ArgBool},
		{"byte", motan2.Byte(255), ArgByte},
		{"int16", motan2.Int16(math.MinInt16), ArgInt16},
		{"int32", motan2.Int32(math.MaxInt32), ArgInt32},
		{"int64 max", motan2.Int64(math.MaxInt64), ArgInt64},
		{"int64 min", motan2.Int64(math.MinInt64), ArgInt64},
		{"float32", motan2.Float32(0.1), ArgFloat32},
		{"float32 max", motan2.Float32(math.MaxFloat32), ArgFloat32},
		{"float32 subnormal", motan2.Float32(math.SmallestNonzeroFloat32), ArgFloat32},
		{"float32 NaN", motan2.Float32(float32(math.NaN())), ArgFloat32},
		{"float32 -Inf", motan2.Float32(float32(math.Inf(-1))), ArgFloat32},
		{"float64", motan2.Float64(1.0 / 3), ArgFloat64},
		{"float64 integral", motan2.Float64(1e21), ArgFloat64},
		{"float64 max", motan2.Float64(math.MaxFloat64), ArgFloat64},
		{"float64 NaN", motan2.Float64(math.NaN()), ArgFloat64},
		{"float64 Inf", motan2.Float64(math.Inf(1)), ArgFloat64},
		{"bytes", motan2.Bytes([]byte{0, 0xff, 0xfe, 'a'}), ArgBytes},
		{"empty bytes", motan2.Bytes([]byte{}), ArgBytes},
		{"string array", motan2.StringArray([]string{"b", "a", ""}), ArgStringArray},
		{"string map", smap("z", "1", "a", "2", "", "é"), ArgStringMap},
		{"map", motan2.Map(
			s("z"), motan2.Int64(-1),
			s("a"), motan2.Float64(2.5),
			s("n"), motan2.Null,
			s("b"), motan2.Bool(false),
			s("s"), s("x"),
			s("m"), motan2.Map(s("y"), motan2.Array([]motan2.Value{motan2.Int64(1), s("2")})),
			s("big"), motan2.Float64(1e300),
		), ArgMap},
		{"array", motan2.Array([]motan2.Value{motan2.Null, motan2.Int64(math.MinInt64), motan2.Map(), motan2.Array(nil)}), ArgArray},
		{"null as map", motan2.Null, ArgMap},
	}
	for _, tc := range cases {
		for _, o := range []JSONOptions{{}, {Int64AsString: true}} {
			if o.Int64AsString && (tc.t == ArgMap || tc.t == ArgArray) {
				continue // inferred int64 comes back from a string as a string
			}
			t.Run(tc.name, func(t *testing.T) {
				out, err := AppendJSON(nil, tc.v, o)
				if err != nil {
					t.Fatal(err)
				}
				dec := json.NewDecoder(bytes.NewReader(out))
				dec.UseNumber()
				var x any
				if err := dec.Decode(&x); err != nil {
					t.Fatalf("%s: %v", out, err)
				}
				got, err := FromJSON("v", x, tc.t)
				if err != nil || !motan2.Equal(got, tc.v) {
					t.Fatalf("FromJSON(%s) = %v, %v; want %v", out, got, err, tc.v)
				}
				body, err := ParseJSONBody(out)
				if err != nil {
					t.Fatal(err)
				}
				got, err = body.Whole("v", tc.t)
				if err != nil || !orderedEqual(got, tc.v) {
					t.Fatalf("Whole(%s) = %v, %v; want %v in order", out, got, err, tc.v)
				}
			})
		}
	}
}

// orderedEqual is motan2.Equal that also requires map entries in the same
// order.
func orderedEqual(a, b motan2.Value) bool {
	if !motan2.Equal(a, b) {
		return false
	}
	switch a.Kind() {
	case motan2.KindStringMap:
		for i, p := range a.Pairs() {
			if b.Pairs()[i] != p {
				return false
			}
		}
	case motan2.KindMap:
		for i := 0; i < a.Len(); i++ {
			ak, av := a.Entry(i)
			bk, bv := b.Entry(i)
			if !orderedEqual(ak, bk) || !orderedEqual(av, bv) {
				return false
			}
		}
	case motan2.KindArray:
		for i, it := range a.Items() {
			if !orderedEqual(it, b.Items()[i]) {
				return false
			}
		}
	}
	return true
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	// Same bytes as encoding/json without HTML escaping, for all short
	// strings over an alphabet that exercises every escaping rule.
	alphabet := []string{"a", "\"", "\\", "\n", "\x01", "\x7f", "é", "\u2028", "\xff", "\xe2\x82", "<", "\U0001F600"}
	var rec func(prefix string, depth int)
	rec = func(prefix string, depth int) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(prefix)
		got := appendJSONString(nil, prefix)
		if string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("%q: got %s, want %s", prefix, got, want.String())
		}
		if gotB := appendJSONString(nil, []byte(prefix)); !bytes.Equal(gotB, got) {
			t.Fatalf("%q: []byte form differs: %s", prefix, gotB)
		}
		if depth == 0 {
			return
		}
		for _, a := range alphabet {
			rec(prefix+a, depth-1)
		}
	}
	rec("", 3)
}
