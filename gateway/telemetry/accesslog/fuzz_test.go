package accesslog

import (
	"github.com/meshgate/meshgate/translate"

	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

var fuzzSeeds = []string{"", "plain", `q"uote`, `back\slash`, "new\nline", "tab\t", "\x00\x1f", "caf\xc3\xa9",
	"bad\xff\xfeutf8", "\u2028\u2029", "a=b", "sp ace", "\xed\xa0\x80", "emoji \U0001F600"}

// translate.AppendJSONEscaped writes what encoding/json reads back as encoding/json
// itself would encode it (invalid UTF-8 included).
func FuzzJSONEscape(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := append([]byte{'"'}, translate.AppendJSONEscaped(nil, s)...)
		out = append(out, '"')
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q encodes as invalid JSON %s: %v", s, out, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("%q reads back as %q, want %q", s, got, want)
		}
		if strings.ContainsAny(string(out), "\n\r") {
			t.Fatalf("%q encodes with a line break: %s", s, out)
		}
	})
}

// A logfmt value is a single token that reads back exactly.
func FuzzLogfmtValue(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := string(appendLogfmtValue(nil, s))
		if strings.ContainsAny(out, "\n\r") {
			t.Fatalf("%q encodes with a line break: %s", s, out)
		}
		if strings.HasPrefix(out, `"`) {
			got, err := strconv.Unquote(out)
			if err != nil || got != s {
				t.Fatalf("%q encodes as %s, reads back %q (%v)", s, out, got, err)
			}
			return
		}
		if out != s || strings.ContainsAny(out, " =\"") || out == "" {
			t.Fatalf("%q written plain as %q", s, out)
		}
	})
}
