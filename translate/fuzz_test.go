package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/motan2"
)

// FuzzParseJSONBody checks the JSON reader against encoding/json: it never
// panics, reports a syntax error exactly when json.Valid says the body is
// not JSON (bodies of only white space aside, which are empty), at the
// offset encoding/json reports, and converts valid bodies to the same
// values as FromJSON of encoding/json's decoding.
func FuzzParseJSONBody(f *testing.F) {
	for _, s := range []string{
		sampleBody, `{}`, `[]`, `""`, `0`, `-0.5e-3`, `null`, `true`, ` `, ``,
		`{"a":"\ud800\udc00\ud800x\u0000"}`, "\"\xff\"", `[1,2,{"a":[]}]`, `{"a":1,"a":2}`,
		`{"a" 1}`, `[01]`, `1.e5`, "\"\t\"", `"\x"`, "\uFEFF{}", `{"a":1,}`,
		strings.Repeat("[", 101) + strings.Repeat("]", 101),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := ParseJSONBody(data)
		valid := json.Valid(data)
		off, reason, found := firstSyntaxError(string(data))
		if len(bytes.Trim(data, " \t\r\n")) == 0 {
			if err != nil || !body.Empty() {
				t.Fatalf("blank body: %v", err)
			}
			return
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != InvalidArgument {
				t.Fatalf("error is not an InvalidArgument *Error: %v", err)
			}
			var se *SyntaxError
			if errors.As(err, &se) {
				if valid {
					t.Fatalf("syntax error %v on valid JSON", err)
				}
				if !found || off != se.Offset || reason != se.Reason {
					t.Fatalf("firstSyntaxError = %d %q %v, parser %v", off, reason, found, se)
				}
				var x any
				var jse *json.SyntaxError
				if uerr := json.Unmarshal(data, &x); errors.As(uerr, &jse) && se.Offset < len(data) && jse.Offset != int64(se.Offset)+1 {
					t.Fatalf("offset %d, encoding/json %d (%v / %v)", se.Offset, jse.Offset, err, uerr)
				}
				if !json.Valid(AppendErrorJSON(nil, e, "")) {
					t.Fatal("error body is not JSON")
				}
			} else if !valid {
				t.Fatalf("limit error %v on invalid JSON", err)
			}
			return
		}
		if !valid || found {
			t.Fatalf("accepted invalid JSON %q (validator: %v)", data, found)
		}
		if body.Empty() {
			t.Fatal("non-blank body reported empty")
		}
		at := ArgString
		switch body.d.root.kind {
		case jObject:
			at = ArgMap
		case jArray:
			at = ArgArray
		}
		v, err := body.Whole("a", at)
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var x any
		if derr := dec.Decode(&x); derr != nil {
			t.Fatalf("encoding/json cannot decode what json.Valid accepts: %v", derr)
		}
		ref, rerr := FromJSON("a", x, at)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Whole: %v, FromJSON: %v", err, rerr)
		}
		if err != nil {
			return // a number out of float64 range, both ways
		}
		if !motan2.Equal(v, ref) {
			t.Fatalf("Whole = %v\nFromJSON(encoding/json) = %v", v, ref)
		}
		out, err := AppendJSON(nil, v, JSONOptions{})
		if err != nil || !json.Valid(out) {
			t.Fatalf("AppendJSON: %s, %v", out, err)
		}
		// Every type, for the body and for its first fields: no panic,
		// errors name the argument.
		paths := []string{""}
		if v.Kind() == motan2.KindMap {
			for i := 0; i < v.Len() && i < 3; i++ {
				k, _ := v.Entry(i)
				paths = append(paths, k.Str(), k.Str()+".x")
			}
		}
		for at := range numArgTypes {
			for _, p := range paths {
				if _, _, err := body.Field("a", p, at); err != nil && !strings.HasPrefix(err.Error(), `argument "a": `) {
					t.Fatalf("Field(%q, %s): %v", p, at, err)
				}
			}
		}
	})
}

// FuzzAppendJSON renders every value Simple can decode: the output is
// always valid JSON, and rendering into a buffer that already has content
// only appends.
func FuzzAppendJSON(f *testing.F) {
	seed := []motan2.Value{
		replyValue(), motan2.Null, motan2.String("\xff\u2028"), motan2.Float32Bits(0x7f800001),
		motan2.Map(motan2.Map(motan2.Float64(1), motan2.Bytes([]byte{1})), motan2.StringArray([]string{"\x00"})),
	}
	for _, v := range seed {
		b, err := motan2.AppendSimple(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, int64AsString bool) {
		vs, err := motan2.DecodeSimple(data)
		if err != nil {
			return
		}
		o := JSONOptions{Int64AsString: int64AsString}
		for _, v := range vs {
			out, err := AppendJSON(nil, v, o)
			if err != nil {
				t.Fatalf("AppendJSON(%v): %v", v, err)
			}
			if !json.Valid(out) {
				t.Fatalf("not valid JSON: %s", out)
			}
			again, err := AppendJSON([]byte("prefix"), v, o)
			if err != nil || string(again[6:]) != string(out) || string(again[:6]) != "prefix" {
				t.Fatalf("append to a non-empty buffer: %s", again)
			}
			if _, err := ParseJSONBody(out); err != nil {
				t.Fatalf("own output does not parse: %v\n%s", err, out)
			}
		}
	})
}

// FuzzFromString checks that FromString never panics, fails only with an
// *ArgError naming the argument, produces values of the type's kind (or
// null from JSON "null"), and that scalar results print back to an input
// that converts to the same value.
func FuzzFromString(f *testing.F) {
	for _, s := range []string{"", "0", "-1", "255", "32768", "2147483648", "9223372036854775808", "1.5", "NaN", "-Infinity",
		"1e39", "true", "FALSE", "aGk=", "-_8", `{"a":"b"}`, `[1,"x",null]`, `null`, "\xff", "0x10"} {
		for t := range numArgTypes {
			f.Add(s, uint8(t))
		}
	}
	f.Fuzz(func(t *testing.T, s string, typ uint8) {
		at := ArgType(typ % uint8(numArgTypes))
		v, err := FromString("arg", s, at)
		if err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) || !strings.HasPrefix(err.Error(), `argument "arg": `) || ae.Type != at {
				t.Fatalf("bad error %v", err)
			}
			if len(ae.Value) > maxShown*7+5 {
				t.Fatalf("Value not truncated: %d bytes", len(ae.Value))
			}
			return
		}
		if v.Kind() != at.Kind() && !v.IsNull() {
			t.Fatalf("%s gave a %s", at, v.Kind())
		}
		out, err := AppendJSON(nil, v, JSONOptions{})
		if err != nil || !json.Valid(out) {
			t.Fatalf("AppendJSON: %s %v", out, err)
		}
		var text string
		switch at {
		case ArgByte, ArgInt16, ArgInt32, ArgInt64:
			text = strconv.FormatInt(v.Int(), 10)
		case ArgFloat32:
			text = strconv.FormatFloat(v.Float(), 'g', -1, 32)
		case ArgFloat64:
			text = strconv.FormatFloat(v.Float(), 'g', -1, 64)
		case ArgBool:
			text = strconv.FormatBool(v.BoolValue())
		default:
			return
		}
		back, err := FromString("arg", text, at)
		if err != nil || !motan2.Equal(back, v) {
			t.Fatalf("%q → %v → %q → %v, %v", s, v, text, back, err)
		}
	})
}
