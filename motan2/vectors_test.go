package motan2

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

const vectorDir = "testdata/vectors"

type vecIndex struct {
	Conventions   map[string]string `json:"conventions"`
	LargePayloads []struct {
		Generator string `json:"generator"`
		Length    int    `json:"length"`
		SHA256    string `json:"sha256"`
	} `json:"large_payloads"`
	VectorCount int        `json:"vector_count"`
	Vectors     []vecEntry `json:"vectors"`
}

type vecEntry struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Kind  string `json:"kind"`
	Flags struct {
		Exception bool `json:"exception"`
		Gzip      bool `json:"gzip"`
		Heartbeat bool `json:"heartbeat"`
		Oneway    bool `json:"oneway"`
		Proxy     bool `json:"proxy"`
		Request   bool `json:"request"`
	} `json:"flags"`
	Header struct {
		Magic             string `json:"magic"`
		MsgTypeByte       string `json:"msg_type_byte"`
		Serialization     int    `json:"serialization"`
		SerializationByte string `json:"serialization_byte"`
		Status            int    `json:"status"`
		Version           int    `json:"version"`
		VersionStatusByte string `json:"version_status_byte"`
	} `json:"header"`
	Serialization struct {
		Name   string `json:"name"`
		Number int    `json:"number"`
	} `json:"serialization"`
	RequestID     string     `json:"request_id"`
	RequestIDHex  string     `json:"request_id_hex"`
	Meta          [][]string `json:"meta"`
	MetaSize      int        `json:"meta_size"`
	BodySize      int        `json:"body_size"`
	FrameSize     int        `json:"frame_size"`
	FrameHex      string     `json:"frame_hex"`
	FrameSHA256   string     `json:"frame_sha256"`
	ExceptionJSON string     `json:"exception_json"`
	Exception     *struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		ErrType int    `json:"errtype"`
	} `json:"exception"`
	Arguments []any `json:"arguments"`
	Value     any   `json:"value"`
	Body      *struct {
		Compression        string `json:"compression"`
		CompressedSize     int    `json:"compressed_size"`
		UncompressedHex    string `json:"uncompressed_hex"`
		UncompressedSHA256 string `json:"uncompressed_sha256"`
		UncompressedSize   int    `json:"uncompressed_size"`
	} `json:"body"`
}

var (
	vectorsOnce  sync.Once
	vectorsIndex *vecIndex
	vectorsData  map[string][]byte
	vectorsErr   error
)

// loadVectors reads index.json and every .bin file once per test binary.
func loadVectors(tb testing.TB) (*vecIndex, map[string][]byte) {
	tb.Helper()
	vectorsOnce.Do(func() {
		raw, err := os.ReadFile(filepath.Join(vectorDir, "index.json"))
		if err != nil {
			vectorsErr = err
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var idx vecIndex
		if err := dec.Decode(&idx); err != nil {
			vectorsErr = err
			return
		}
		data := make(map[string][]byte, len(idx.Vectors))
		for _, v := range idx.Vectors {
			b, err := os.ReadFile(filepath.Join(vectorDir, v.File))
			if err != nil {
				vectorsErr = err
				return
			}
			data[v.Name] = b
		}
		vectorsIndex, vectorsData = &idx, data
	})
	if vectorsErr != nil {
		tb.Fatalf("loading vectors: %v", vectorsErr)
	}
	return vectorsIndex, vectorsData
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func parseHexByte(tb testing.TB, s string) uint64 {
	tb.Helper()
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		tb.Fatalf("bad hex number %q: %v", s, err)
	}
	return n
}

// largePayload regenerates the index's large payload: byte[i] = (i*31 + 7) mod 251.
func largePayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*31 + 7) % 251)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// normalizeBreeze rewrites the index's description of a Breeze packed
// string container ("map"/"array" plus breeze_container) into the string
// map / string array our decoder returns for it, recursively.
func normalizeBreeze(x any) any {
	switch o := x.(type) {
	case map[string]any:
		isStr := func(key string) bool {
			s, ok := o[key].(string)
			if !ok {
				return false
			}
			n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 8)
			return err == nil && n <= 0x3f
		}
		switch o["breeze_container"] {
		case "packed_map":
			if isStr("packed_key_type_byte") && isStr("packed_value_type_byte") {
				var entries []any
				for _, e := range o["entries"].([]any) {
					e := e.(map[string]any)
					entries = append(entries, []any{
						e["key"].(map[string]any)["value"], e["value"].(map[string]any)["value"]})
				}
				return map[string]any{"type": "string_map", "entries": entries}
			}
		case "packed_array":
			if isStr("packed_elem_type_byte") {
				var strs []any
				for _, it := range o["items"].([]any) {
					strs = append(strs, it.(map[string]any)["value"])
				}
				return map[string]any{"type": "string_array", "value": strs}
			}
		}
		out := make(map[string]any, len(o))
		for k, v := range o {
			out[k] = normalizeBreeze(v)
		}
		return out
	case []any:
		out := make([]any, len(o))
		for i, v := range o {
			out[i] = normalizeBreeze(v)
		}
		return out
	}
	return x
}

// expectedValue converts one typed value of the index to a Value. Message
// type names are dropped: they are informational and pb/grpc-pb bodies do
// not carry them.
func expectedValue(t *testing.T, s Serialization, x any) Value {
	t.Helper()
	if s == SerializationBreeze {
		x = normalizeBreeze(x)
	}
	v, err := FromTypedJSON(x)
	if err != nil {
		t.Fatalf("FromTypedJSON(%v): %v", x, err)
	}
	if v.Kind() == KindMessage {
		v = Message("", v.Raw())
	}
	return v
}

// appendOne encodes one top-level value in serialization s, the form whose
// bytes the index gives as wire_hex.
func appendOne(t *testing.T, s Serialization, v Value) []byte {
	t.Helper()
	var b []byte
	var err error
	switch s {
	case SerializationSimple:
		b, err = AppendSimple(nil, v)
	case SerializationBreeze:
		b, err = AppendBreeze(nil, v)
	case SerializationPB:
		b, err = AppendPB(nil, v)
	case SerializationGrpcPB:
		b, err = AppendGrpcPB(nil, v)
	default:
		t.Fatalf("no encoder for %s", s)
	}
	if err != nil {
		t.Fatalf("encoding %v in %s: %v", v, s, err)
	}
	return b
}

func pbKinds(t *testing.T, args []any) []Kind {
	t.Helper()
	kinds := make([]Kind, len(args))
	for i, a := range args {
		name := a.(map[string]any)["type"].(string)
		k, ok := ParseKind(name)
		if !ok {
			t.Fatalf("unknown kind %q in index", name)
		}
		kinds[i] = k
	}
	return kinds
}

func TestVectorIndex(t *testing.T) {
	idx, _ := loadVectors(t)
	if len(idx.Vectors) != 45 || idx.VectorCount != 45 {
		t.Fatalf("index has %d vectors (vector_count %d), want 45", len(idx.Vectors), idx.VectorCount)
	}
	for _, key := range []string{"typed_values", "meta", "request_id", "gzip", "arguments"} {
		if idx.Conventions[key] == "" {
			t.Errorf("conventions.%s missing", key)
		}
	}
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.bin"))
	if err != nil || len(files) != 45 {
		t.Fatalf("found %d .bin files (%v), want 45", len(files), err)
	}
}

func TestVectors(t *testing.T) {
	idx, data := loadVectors(t)
	for _, v := range idx.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			checkVector(t, idx, v, data[v.Name])
		})
	}
}

func checkVector(t *testing.T, idx *vecIndex, v vecEntry, raw []byte) {
	if len(raw) != v.FrameSize || sha256Hex(raw) != v.FrameSHA256 {
		t.Fatalf("file: %d bytes sha256 %s, index says %d bytes sha256 %s", len(raw), sha256Hex(raw), v.FrameSize, v.FrameSHA256)
	}
	if v.FrameHex != "" && !bytes.Equal(raw, mustHex(t, v.FrameHex)) {
		t.Fatal("file differs from frame_hex")
	}

	f, n, err := DecodeFrame(raw, Limits{})
	if err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	if n != len(raw) {
		t.Fatalf("DecodeFrame used %d of %d bytes", n, len(raw))
	}

	// Kind and flags, bit by bit.
	switch v.Kind {
	case "request":
		if !f.IsRequest() || f.IsHeartbeat() {
			t.Errorf("kind request: IsRequest=%v IsHeartbeat=%v", f.IsRequest(), f.IsHeartbeat())
		}
	case "response":
		if f.IsRequest() || f.IsHeartbeat() {
			t.Errorf("kind response: IsRequest=%v IsHeartbeat=%v", f.IsRequest(), f.IsHeartbeat())
		}
	case "heartbeat_request":
		if !f.IsRequest() || !f.IsHeartbeat() {
			t.Errorf("kind heartbeat_request: IsRequest=%v IsHeartbeat=%v", f.IsRequest(), f.IsHeartbeat())
		}
	case "heartbeat_response":
		if f.IsRequest() || !f.IsHeartbeat() {
			t.Errorf("kind heartbeat_response: IsRequest=%v IsHeartbeat=%v", f.IsRequest(), f.IsHeartbeat())
		}
	default:
		t.Fatalf("unknown kind %q in index", v.Kind)
	}
	for _, c := range []struct {
		name string
		want bool
		got  bool
	}{
		{"request", v.Flags.Request, !f.Flags.Has(FlagResponse)},
		{"proxy", v.Flags.Proxy, f.Flags.Has(FlagProxy)},
		{"oneway", v.Flags.Oneway, f.Flags.Has(FlagOneway)},
		{"gzip", v.Flags.Gzip, f.Flags.Has(FlagGzip)},
		{"heartbeat", v.Flags.Heartbeat, f.Flags.Has(FlagHeartbeat)},
		{"exception", v.Flags.Exception, f.IsException()},
	} {
		if c.got != c.want {
			t.Errorf("flag %s = %v, index says %v", c.name, c.got, c.want)
		}
	}
	if got, want := uint64(f.Flags), parseHexByte(t, v.Header.MsgTypeByte); got != want {
		t.Errorf("flags byte 0x%02x, want 0x%02x", got, want)
	}
	if got, want := uint64(f.Version)<<3|uint64(f.Status), parseHexByte(t, v.Header.VersionStatusByte); got != want {
		t.Errorf("version/status byte 0x%02x, want 0x%02x", got, want)
	}
	if int(f.Version) != v.Header.Version || int(f.Status) != v.Header.Status {
		t.Errorf("version %d status %d, want %d %d", f.Version, f.Status, v.Header.Version, v.Header.Status)
	}
	if int(f.Serialization) != v.Serialization.Number || int(f.Serialization) != v.Header.Serialization ||
		f.Serialization.String() != v.Serialization.Name {
		t.Errorf("serialization %d (%s), want %d (%s)", f.Serialization, f.Serialization, v.Serialization.Number, v.Serialization.Name)
	}
	if got := strconv.FormatUint(f.RequestID, 10); got != v.RequestID {
		t.Errorf("request id %s, want %s", got, v.RequestID)
	}
	if got := fmt.Sprintf("0x%016x", f.RequestID); got != v.RequestIDHex {
		t.Errorf("request id %s, want %s", got, v.RequestIDHex)
	}

	// Meta in wire order.
	if len(f.Meta) != len(v.Meta) {
		t.Errorf("meta has %d pairs, want %d: %q", len(f.Meta), len(v.Meta), f.Meta)
	} else {
		for i, p := range v.Meta {
			if f.Meta[i].Key != p[0] || f.Meta[i].Value != p[1] {
				t.Errorf("meta[%d] = %q=%q, want %q=%q", i, f.Meta[i].Key, f.Meta[i].Value, p[0], p[1])
			}
		}
	}
	if got := f.Meta.encodedSize(); got != v.MetaSize {
		t.Errorf("meta size %d, want %d", got, v.MetaSize)
	}
	if f.WireBodySize != v.BodySize {
		t.Errorf("wire body size %d, want %d", f.WireBodySize, v.BodySize)
	}

	// Exception.
	if v.Exception != nil {
		if got := f.Meta.Get(MetaException); got != v.ExceptionJSON {
			t.Errorf("M_e %q, want %q", got, v.ExceptionJSON)
		}
		e := f.Exception()
		if e.ErrCode != v.Exception.ErrCode || e.ErrMsg != v.Exception.ErrMsg || e.ErrType != v.Exception.ErrType {
			t.Errorf("exception %+v, want %+v", *e, *v.Exception)
		}
		// All exception vectors come from motan-go, whose JSON we reproduce.
		if got := e.JSON(); got != v.ExceptionJSON {
			t.Errorf("Exception.JSON() = %s, want %s", got, v.ExceptionJSON)
		}
	} else if f.IsException() {
		t.Error("exception frame without exception in the index")
	}

	// Gzip: the index gives the uncompressed body.
	if v.Body != nil {
		if v.Body.Compression != "gzip" || !v.Flags.Gzip {
			t.Fatalf("body description for a non-gzip frame: %+v", v.Body)
		}
		if len(f.Body) != v.Body.UncompressedSize || sha256Hex(f.Body) != v.Body.UncompressedSHA256 ||
			!bytes.Equal(f.Body, mustHex(t, v.Body.UncompressedHex)) {
			t.Errorf("gunzipped body (%d bytes) differs from the index", len(f.Body))
		}
		if v.Body.CompressedSize != f.WireBodySize {
			t.Errorf("compressed size %d, want %d", f.WireBodySize, v.Body.CompressedSize)
		}
	}

	// Values.
	s := f.Serialization
	var values []Value
	hasBody := false
	switch {
	case f.IsHeartbeat():
		if len(f.Body) != 0 || len(v.Arguments) != 0 || v.Value != nil {
			t.Errorf("heartbeat with a body or values")
		}
	case f.IsRequest():
		hasBody = true
		if s == SerializationPB {
			values, err = DecodePB(f.Body, pbKinds(t, v.Arguments))
			if _, err2 := DecodeArgs(s, f.Body); !errors.Is(err2, ErrUnsupportedSerialization) {
				t.Errorf("DecodeArgs(pb) = %v, want ErrUnsupportedSerialization", err2)
			}
		} else {
			values, err = DecodeArgs(s, f.Body)
		}
		if err != nil {
			t.Fatalf("decoding arguments: %v", err)
		}
		checkValues(t, idx, s, values, v.Arguments, f.Body)
	case f.IsException():
		// Exception bodies are ignored (spec 8); all vectors have none.
		if len(f.Body) != 0 {
			t.Errorf("exception frame with a %d-byte body", len(f.Body))
		}
	default:
		got, err := DecodeReply(s, f.Body)
		if err != nil {
			t.Fatalf("DecodeReply: %v", err)
		}
		if v.Value == nil {
			if len(f.Body) != 0 || !got.IsNull() {
				t.Errorf("no value in the index but body %x decodes to %v", f.Body, got)
			}
		} else {
			hasBody = true
			values = []Value{got}
			checkValues(t, idx, s, values, []any{v.Value}, f.Body)
		}
	}

	// Re-encode: header fields from the frame, meta in the index's order and
	// a body built by our value encoders from the decoded values.
	out := &Frame{
		Flags:         f.Flags,
		Version:       Version2,
		Status:        f.Status,
		Serialization: f.Serialization,
		RequestID:     f.RequestID,
	}
	for _, p := range v.Meta {
		out.Meta = append(out.Meta, MetaPair{p[0], p[1]})
	}
	if hasBody {
		if out.Body, err = AppendValues(nil, s, values); err != nil {
			t.Fatalf("AppendValues: %v", err)
		}
	}
	enc, err := AppendFrame(nil, out, 0)
	if err != nil {
		t.Fatalf("AppendFrame: %v", err)
	}
	if !v.Flags.Gzip {
		if !bytes.Equal(enc, raw) {
			t.Fatalf("re-encoded frame differs:\n got %x\nwant %x", enc, raw)
		}
		return
	}
	// Gzip streams are implementation specific (spec 9): compare what they
	// decompress to.
	g, _, err := DecodeFrame(enc, Limits{})
	if err != nil {
		t.Fatalf("decoding our gzip frame: %v", err)
	}
	if !g.Flags.Has(FlagGzip) || !bytes.Equal(g.Body, f.Body) || !bytes.Equal(out.Body, f.Body) {
		t.Errorf("our gzip frame decompresses to %d bytes, want the %d-byte body", len(g.Body), len(f.Body))
	}
	if !bytes.Equal(enc[:HeaderSize+4+v.MetaSize], raw[:HeaderSize+4+v.MetaSize]) {
		t.Errorf("gzip frame header/meta differ")
	}
	if bytes.Equal(enc, raw) {
		t.Logf("our gzip output is byte-identical to motan-go's")
	}
}

// checkValues compares decoded values with the index's typed values and
// each value's encoding with its wire_hex.
func checkValues(t *testing.T, idx *vecIndex, s Serialization, got []Value, want []any, body []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("decoded %d values, index has %d: %v", len(got), len(want), got)
	}
	var concat []byte
	allWire := true
	for i, w := range want {
		wo := w.(map[string]any)
		if _, large := wo["sha256"]; large {
			checkLarge(t, idx, got[i], wo)
		} else if exp := expectedValue(t, s, w); !Equal(got[i], exp) {
			t.Errorf("value %d = %v, want %v", i, got[i], exp)
		}
		enc := appendOne(t, s, got[i])
		if wh, ok := wo["wire_hex"].(string); ok {
			if !bytes.Equal(enc, mustHex(t, wh)) {
				t.Errorf("value %d encodes to %x, wire_hex %s", i, enc, wh)
			}
		} else {
			allWire = false
		}
		concat = append(concat, enc...)
	}
	if allWire && !bytes.Equal(concat, body) {
		t.Errorf("values encode to %x, body is %x", concat, body)
	}
}

func checkLarge(t *testing.T, idx *vecIndex, got Value, want map[string]any) {
	t.Helper()
	n, err := strconv.Atoi(fmt.Sprint(want["length"]))
	if err != nil {
		t.Fatalf("bad length %v", want["length"])
	}
	if got.Kind() != KindBytes || got.Len() != n || sha256Hex(got.Raw()) != want["sha256"] {
		t.Fatalf("large value: %s of %d bytes sha256 %s, want bytes of %d sha256 %s",
			got.Kind(), got.Len(), sha256Hex(got.Raw()), n, want["sha256"])
	}
	if len(idx.LargePayloads) != 1 || idx.LargePayloads[0].Generator != want["generator"] {
		t.Fatalf("large payload generator %v not described in the index", want["generator"])
	}
	if !bytes.Equal(got.Raw(), largePayload(n)) {
		t.Fatal("large payload differs from the generator formula")
	}
}

// vectorStream is every vector file back to back, in index order.
func vectorStream(t *testing.T) ([]byte, []vecEntry) {
	idx, data := loadVectors(t)
	var all []byte
	for _, v := range idx.Vectors {
		all = append(all, data[v.Name]...)
	}
	return all, idx.Vectors
}

func sameFrame(a, b *Frame) error {
	if a.Flags != b.Flags || a.Version != b.Version || a.Status != b.Status ||
		a.Serialization != b.Serialization || a.RequestID != b.RequestID || a.WireBodySize != b.WireBodySize {
		return fmt.Errorf("headers differ: %+v vs %+v", *a, *b)
	}
	if len(a.Meta) != len(b.Meta) {
		return fmt.Errorf("meta differs: %q vs %q", a.Meta, b.Meta)
	}
	for i := range a.Meta {
		if a.Meta[i] != b.Meta[i] {
			return fmt.Errorf("meta[%d] differs: %q vs %q", i, a.Meta[i], b.Meta[i])
		}
	}
	if !bytes.Equal(a.Body, b.Body) {
		return fmt.Errorf("bodies differ (%d vs %d bytes)", len(a.Body), len(b.Body))
	}
	return nil
}

func TestReadFrameVectorStream(t *testing.T) {
	all, vecs := vectorStream(t)
	_, data := loadVectors(t)
	readers := []struct {
		name string
		r    func() io.Reader
		size int
	}{
		{"buf16", func() io.Reader { return bytes.NewReader(all) }, 16},
		{"buf4096", func() io.Reader { return bytes.NewReader(all) }, 4096},
		{"buf64k", func() io.Reader { return bytes.NewReader(all) }, 64 << 10},
		{"buf4096_onebyte", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(all)) }, 4096},
		{"buf16_halfreader", func() io.Reader { return iotest.HalfReader(bytes.NewReader(all)) }, 16},
	}
	for _, rc := range readers {
		t.Run(rc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(rc.r(), rc.size)
			var f Frame // reused across frames, as a connection reader would
			for _, v := range vecs {
				if err := ReadFrame(br, &f, Limits{}); err != nil {
					t.Fatalf("%s: ReadFrame: %v", v.Name, err)
				}
				want, _, err := DecodeFrame(data[v.Name], Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if err := sameFrame(&f, want); err != nil {
					t.Fatalf("%s: %v", v.Name, err)
				}
			}
			if err := ReadFrame(br, &f, Limits{}); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
}

// TestDecodeFrameVectorStream decodes the concatenation with DecodeFrame,
// which must report each frame's length exactly.
func TestDecodeFrameVectorStream(t *testing.T) {
	all, vecs := vectorStream(t)
	for _, v := range vecs {
		f, n, err := DecodeFrame(all, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if n != v.FrameSize {
			t.Fatalf("%s: used %d bytes, frame is %d", v.Name, n, v.FrameSize)
		}
		if strconv.FormatUint(f.RequestID, 10) != v.RequestID {
			t.Fatalf("%s: request id %d", v.Name, f.RequestID)
		}
		all = all[n:]
	}
	if len(all) != 0 {
		t.Fatalf("%d bytes left", len(all))
	}
}
