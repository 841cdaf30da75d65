package translate

import (
	"encoding/json"
	"testing"

	"github.com/meshgate/meshgate/motan2"
)

// body200 is a typical ~200-byte request body.
var body200 = []byte(`{"user_id":1234567890,"name":"Alice Smith","email":"alice@example.com",` +
	`"tags":["admin","ops"],"profile":{"age":31,"city":"Beijing","vip":true},"score":98.5,"note":"line\nbreak"}`)

func BenchmarkParseJSONBody(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body200)))
	for b.Loop() {
		if _, err := ParseJSONBody(body200); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJSONBodyWhole is the whole request path for a body bound
// as one map argument: parse and convert to Values.
func BenchmarkParseJSONBodyWhole(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body200)))
	for b.Loop() {
		body, err := ParseJSONBody(body200)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := body.Whole("req", ArgMap); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJSONBodyFields binds four fields to typed arguments.
func BenchmarkParseJSONBodyFields(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body200)))
	for b.Loop() {
		body, err := ParseJSONBody(body200)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range []struct {
			path string
			t    ArgType
		}{{"user_id", ArgInt64}, {"name", ArgString}, {"profile.city", ArgString}, {"tags", ArgStringArray}} {
			if _, ok, err := body.Field(f.path, f.path, f.t); !ok || err != nil {
				b.Fatal(f.path, err)
			}
		}
	}
}

// BenchmarkEncodingJSONMap is the reference: encoding/json into
// map[string]any (which loses key order) with UseNumber-free Unmarshal.
func BenchmarkEncodingJSONMap(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body200)))
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(body200, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromString(b *testing.B) {
	for _, c := range []struct {
		name, s string
		t       ArgType
	}{
		{"int64", "1234567890", ArgInt64},
		{"string", "alice", ArgString},
		{"bool", "true", ArgBool},
		{"float64", "98.5", ArgFloat64},
		{"string_map", `{"a":"b","c":"d"}`, ArgStringMap},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FromString("id", c.s, c.t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	v := replyValue()
	buf, _ := AppendJSON(nil, v, JSONOptions{})
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendJSON(buf[:0], v, JSONOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendJSONString200 renders a map decoded from body200, the
// common shape of a reply.
func BenchmarkAppendJSONBody200(b *testing.B) {
	body, _ := ParseJSONBody(body200)
	v, _ := body.Whole("r", ArgMap)
	buf, _ := AppendJSON(nil, v, JSONOptions{})
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendJSON(buf[:0], v, JSONOptions{})
	}
}

func BenchmarkAppendErrorJSON(b *testing.B) {
	e := FromMotan2Exception(motan2.ServiceNotFound("com.example.UserService"))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendErrorJSON(buf[:0], e, "7f3a9c")
	}
}

func BenchmarkFromMotan2Exception(b *testing.B) {
	ex := &motan2.Exception{ErrCode: 1001, ErrMsg: "No refers for request", ErrType: 1}
	b.ReportAllocs()
	for b.Loop() {
		_ = FromMotan2Exception(ex)
	}
}
