package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/motan2"
)

// TestMain runs the tests, or with MESHGATE_TEST_MAIN=1 the meshgate
// command itself (main), so that tests can start this binary as meshgate.
func TestMain(m *testing.M) {
	if os.Getenv("MESHGATE_TEST_MAIN") == "1" {
		main()
		return
	}
	leakcheck.Main(m)
}

const vectorDir = "../../motan2/testdata/vectors"

type indexVector struct {
	Name          string            `json:"name"`
	File          string            `json:"file"`
	Kind          string            `json:"kind"`
	RequestID     string            `json:"request_id"`
	Flags         map[string]bool   `json:"flags"`
	Meta          [][2]string       `json:"meta"`
	Serialization serializationJSON `json:"serialization"`
	Arguments     []json.RawMessage `json:"arguments"`
	Value         json.RawMessage   `json:"value"`
	Exception     *motan2.Exception `json:"exception"`
	BodySize      int               `json:"body_size"`
}

func loadIndex(t *testing.T) []indexVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorDir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Vectors []indexVector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Vectors) != 45 {
		t.Fatalf("index has %d vectors, want 45", len(idx.Vectors))
	}
	return idx.Vectors
}

// decodeOut is the decode output, read through the index's own field names
// (which the output shares) plus the fields only the output has.
type decodeOut struct {
	indexVector
	DecodeError string `json:"decode_error"`
}

// TestDecodeEveryVector runs `meshgate motan2 decode` on every golden
// frame and checks the output against the index, field by field; typed
// values are compared as values (map order does not matter).
func TestDecodeEveryVector(t *testing.T) {
	pbKinds := "pb_message,int32,string,bool,null,int64,float64,float32,byte,int16" // req_pb's signature
	for _, v := range loadIndex(t) {
		t.Run(v.Name, func(t *testing.T) {
			args := []string{"motan2", "decode", filepath.Join(vectorDir, v.File)}
			if v.Serialization.Name == "pb" {
				args = append(args, "--pb-types", pbKinds)
			}
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), args, nil, &stdout, &stderr); err != nil {
				t.Fatalf("decode: %v (%s)", err, stderr.String())
			}
			var got decodeOut
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("output is not one JSON object: %v\n%s", err, stdout.String())
			}
			if got.DecodeError != "" {
				t.Fatalf("decode error: %s", got.DecodeError)
			}
			if got.Kind != v.Kind || got.RequestID != v.RequestID || got.Serialization != v.Serialization || got.BodySize != v.BodySize {
				t.Fatalf("header: got %+v", got)
			}
			for k, want := range v.Flags {
				if got.Flags[k] != want {
					t.Errorf("flag %s = %v, want %v", k, got.Flags[k], want)
				}
			}
			if !equalPairs(got.Meta, v.Meta) {
				t.Errorf("meta %q, want %q", got.Meta, v.Meta)
			}
			if (got.Exception == nil) != (v.Exception == nil) || (v.Exception != nil && !reflect.DeepEqual(*got.Exception, *v.Exception)) {
				t.Errorf("exception %+v, want %+v", got.Exception, v.Exception)
			}
			if len(got.Arguments) != len(v.Arguments) {
				t.Fatalf("%d arguments, want %d", len(got.Arguments), len(v.Arguments))
			}
			for i := range v.Arguments {
				if v.Name == "req_large_200kb" {
					break // the index describes it by length and sha256 only; covered by the motan2 tests
				}
				compareTyped(t, got.Arguments[i], v.Arguments[i])
			}
			if len(v.Value) > 0 {
				compareTyped(t, got.Value, v.Value)
			} else if len(got.Value) > 0 {
				t.Errorf("value %s, want none", got.Value)
			}
		})
	}
}

func equalPairs(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func compareTyped(t *testing.T, got, want json.RawMessage) {
	t.Helper()
	g, err := motan2.ParseTypedJSON(got)
	if err != nil {
		t.Fatalf("output value %s: %v", got, err)
	}
	w, err := motan2.ParseTypedJSON(want)
	if err != nil {
		t.Fatalf("index value %s: %v", want, err)
	}
	// The index calls Breeze's packed string map/array "map"/"array";
	// meshgate decodes them as string_map/string_array.
	if !motan2.Equal(g, w) && !motan2.Equal(g, asStringCollections(w)) {
		t.Errorf("value %v, want %v", g, w)
	}
}

func asStringCollections(v motan2.Value) motan2.Value {
	switch v.Kind() {
	case motan2.KindMap:
		pairs := make([]motan2.StringPair, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			k, val := v.Entry(i)
			if k.Kind() != motan2.KindString || val.Kind() != motan2.KindString {
				return v
			}
			pairs = append(pairs, motan2.StringPair{Key: k.Str(), Value: val.Str()})
		}
		return motan2.StringMap(pairs)
	case motan2.KindArray:
		strs := make([]string, 0, v.Len())
		for _, it := range v.Items() {
			if it.Kind() != motan2.KindString {
				return v
			}
			strs = append(strs, it.Str())
		}
		return motan2.StringArray(strs)
	}
	return v
}

func TestDecodeErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args  []string
		stdin string
		want  string
	}{
		"motan v1":   {[]string{"motan2", "decode", "-"}, "\xf1\xf1\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10", "Motan v1"},
		"http":       {[]string{"motan2", "decode", "-"}, "GET / HTTP/1.1\r\n\r\n", "looks like HTTP"},
		"truncated":  {[]string{"motan2", "decode", "-"}, "\xf1\xf1\x00\x08\x30\x00", "truncated"},
		"empty":      {[]string{"motan2", "decode", "-"}, "", "empty input"},
		"bad hex":    {[]string{"motan2", "decode", "--hex", "-"}, "zz", "--hex"},
		"no file":    {[]string{"motan2", "decode", "/nonexistent/frame.bin"}, "", "no such file"},
		"two files":  {[]string{"motan2", "decode", "a", "b"}, "", "exactly one FILE"},
		"bad kind":   {[]string{"motan2", "decode", "--pb-types", "int99", "-"}, "", "unknown kind"},
		"call usage": {[]string{"motan2", "call", "127.0.0.1:1"}, "", "want ADDR SERVICE METHOD"},
		"call args":  {[]string{"motan2", "call", "127.0.0.1:1", "s", "m", "{"}, "", "JSON array"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeHexAndSeveralFrames(t *testing.T) {
	a, _ := os.ReadFile(filepath.Join(vectorDir, "req_one_string.bin"))
	b, _ := os.ReadFile(filepath.Join(vectorDir, "res_string.bin"))
	hexText := strings.ToUpper(bytesToSpacedHex(append(a, b...)))
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"motan2", "decode", "--hex", "--compact", "-"}, strings.NewReader(hexText), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"kind":"request"`) || !strings.Contains(lines[1], `"value":{"type":"string","value":"hello motan2"}`) {
		t.Fatalf("output:\n%s", stdout.String())
	}
}

func bytesToSpacedHex(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 16 {
		sb.WriteString(hex.EncodeToString(b[i:min(i+16, len(b))]))
		sb.WriteString(" \n ")
	}
	return sb.String()
}

// TestRunAndCall starts `meshgate run` on a free port and calls the demo
// service with `meshgate motan2 call`, as the README tells a newcomer to.
func TestRunAndCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--demo-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, nil, pw, io.Discard)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	curlLine, err := br.ReadString('\n') // try: curl http://ADDR/v1/hello/world
	if err != nil {
		t.Fatal(err)
	}
	line, err := br.ReadString('\n') // try: meshgate motan2 call ADDR SERVICE hello '["world"]'
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, br)
	fields := strings.Fields(line)
	if len(fields) < 6 || !strings.HasPrefix(curlLine, "try: curl http://") {
		t.Fatalf("unexpected banner %q %q", curlLine, line)
	}
	addr, service := fields[4], fields[5]

	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"hello", `["world"]`}, `"value": "hello, world"`, 0},
		{[]string{"echo", `[{"type":"int16","value":"7"}]`}, `"type": "int16"`, 0},
		{[]string{"echo", `[{"a":"b"}]`, "--plain"}, `"a": "b"`, 0},
		{[]string{"add", `[40, 2]`}, `"value": "42"`, 0},
		{[]string{"add", `[40, 2]`, "--serialization", "breeze"}, `"value": "42"`, 0},
		{[]string{"fail", `[409, "conflict"]`}, `"errcode": 409`, 3},
		{[]string{"nosuch"}, `"errcode": 404`, 3},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), append([]string{"motan2", "call", addr, service}, tc.args...), nil, &stdout, io.Discard)
			code := 0
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout.String(), tc.want) {
				t.Fatalf("exit %d (want %d), output:\n%s", code, tc.code, stdout.String())
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		err := run(context.Background(), []string{"motan2", "call", "--timeout", "200ms", "127.0.0.1:1", service, "hello"}, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "not sent") {
			t.Fatalf("call to a closed port: %v", err)
		}
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
