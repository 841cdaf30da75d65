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

// ---- Frame-level edge cases (frame.go, codec.go, errors.go) ----

// rawFrame assembles a frame from raw meta and body bytes, bypassing the
// encoder so that malformed meta can be written.
func rawFrame(flags Flags, meta, body []byte) []byte {
	b := []byte{0xF1, 0xF1, byte(flags), 0x08, 0x30, 0, 0, 0, 0, 0, 0, 0, 9}
	b = append(b, byte(len(meta)>>24), byte(len(meta)>>16), byte(len(meta)>>8), byte(len(meta)))
	b = append(b, meta...)
	b = append(b, byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body)))
	return append(b, body...)
}

// decodeBoth decodes b with DecodeFrame and with ReadFrame and checks that
// they agree.
func decodeBoth(t *testing.T, b []byte, lim Limits) (*Frame, error) {
	t.Helper()
	f, _, err := DecodeFrame(b, lim)
	var rf Frame
	rerr := ReadFrame(bufio.NewReader(bytes.NewReader(b)), &rf, lim)
	if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
		t.Fatalf("DecodeFrame: %v, ReadFrame: %v", err, rerr)
	}
	if err == nil {
		if e := sameFrame(f, &rf); e != nil {
			t.Fatalf("DecodeFrame and ReadFrame differ: %v", e)
		}
	}
	return f, err
}

func TestFrameMetaParsing(t *testing.T) {
	tests := []struct {
		name string
		meta string
		want Meta
		err  error
	}{
		{"empty", "", nil, nil},
		{"one_pair", "k\nv", Meta{{"k", "v"}}, nil},
		{"trailing_lf", "k\nv\n", Meta{{"k", "v"}}, nil},
		{"empty_value", "k\n\nk2\nv2", Meta{{"k", ""}, {"k2", "v2"}}, nil},
		{"only_lf", "\n", nil, nil},
		{"duplicate_keys_kept_in_order", "k\n1\nk\n2", Meta{{"k", "1"}, {"k", "2"}}, nil},
		{"utf8_and_spaces", "custom key\nvalue: ü", Meta{{"custom key", "value: ü"}}, nil},
		{"odd_pieces", "k\nv\nk2", nil, ErrMalformedMeta},
		{"key_only", "k", nil, ErrMalformedMeta},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			f, err := decodeBoth(t, rawFrame(0, []byte(c.meta), nil), Limits{})
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("error %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Meta) != len(c.want) {
				t.Fatalf("meta %q, want %q", f.Meta, c.want)
			}
			for i := range c.want {
				if f.Meta[i] != c.want[i] {
					t.Fatalf("meta %q, want %q", f.Meta, c.want)
				}
			}
		})
	}
	if got := (Meta{{"k", "1"}, {"k", "2"}}).Get("k"); got != "2" {
		t.Errorf("duplicate key: Get = %q, want the last value", got)
	}
	t.Run("encoder_drops_untransportable_pairs", func(t *testing.T) {
		f := &Frame{Meta: Meta{{"a", ""}, {"", "b"}, {"c\n", "d"}, {"e", "f\ng"}, {"h", "i"}}}
		b, err := AppendFrame(nil, f, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := rawFrame(0, []byte("h\ni"), nil); !bytes.Equal(b[13:], want[13:]) {
			t.Fatalf("got %q", b[13:])
		}
	})
}

func TestFrameForeignProtocols(t *testing.T) {
	v1 := []byte{0xF1, 0xF1, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 16, 0xF0, 0xF0, 1, 0}
	tests := []struct {
		name string
		in   []byte
		err  error
		text string
	}{
		{"motan_v1", v1, ErrMotanV1, "v1"},
		{"motan_v1_first_five_bytes_only", v1[:5], ErrMotanV1, "v1"},
		{"http", []byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), ErrBadMagic, "HTTP/1.x"},
		{"http2_preface", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ErrBadMagic, "HTTP/2"},
		{"tls", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, ErrBadMagic, "TLS"},
		{"version_2", []byte{0xF1, 0xF1, 0, 0x10, 0x30, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, ErrUnsupportedVersion, "2"},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeFrame(c.in, Limits{})
			var f Frame
			rerr := ReadFrame(bufio.NewReader(bytes.NewReader(c.in)), &f, Limits{})
			for _, e := range []error{err, rerr} {
				if !errors.Is(e, c.err) || !strings.Contains(e.Error(), c.text) {
					t.Errorf("error %v, want %v mentioning %q", e, c.err, c.text)
				}
			}
		})
	}
}

func TestFrameSizeLimits(t *testing.T) {
	huge := []byte{0xF1, 0xF1, 0, 0x08, 0x30, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}
	t.Run("meta_size_rejected_before_allocation", func(t *testing.T) {
		br := bufio.NewReader(nil)
		rd := bytes.NewReader(nil)
		var f Frame
		var se *SizeError
		rd.Reset(huge)
		br.Reset(rd)
		if err := ReadFrame(br, &f, Limits{}); !errors.As(err, &se) || se.Section != "meta" || !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("ReadFrame: %v", err)
		}
		if _, _, err := DecodeFrame(huge, Limits{}); !errors.As(err, &se) || se.Size != 0xffffffff {
			t.Fatalf("DecodeFrame: %v", err)
		}
		if n := testing.AllocsPerRun(50, func() { rd.Reset(huge); br.Reset(rd); ReadFrame(br, &f, Limits{}) }); n > 1 {
			t.Errorf("ReadFrame: %v allocations, want only the error", n)
		}
		if n := testing.AllocsPerRun(50, func() { DecodeFrame(huge, Limits{}) }); n > 2 {
			t.Errorf("DecodeFrame: %v allocations, want only the Frame and the error", n)
		}
	})
	t.Run("body_size_rejected_before_allocation", func(t *testing.T) {
		b := rawFrame(0, []byte("k\nv"), nil)
		b[len(b)-4], b[len(b)-3] = 0x7f, 0xff // body size 2 GiB, no body bytes
		var se *SizeError
		_, err := decodeBoth(t, b, Limits{})
		if !errors.As(err, &se) || se.Section != "body" || se.Limit != DefaultMaxSize {
			t.Fatalf("error %v, want a body *SizeError", err)
		}
		if n := allocatedBytes(func() { ReadFrame(bufio.NewReader(bytes.NewReader(b)), &Frame{}, Limits{}) }); n > 16<<10 {
			t.Errorf("%d bytes allocated", n)
		}
	})
	t.Run("exact_limits_allowed", func(t *testing.T) {
		b := rawFrame(0, []byte("k\nv"), []byte("body"))
		if _, err := decodeBoth(t, b, Limits{MaxMetaSize: 3, MaxBodySize: 4}); err != nil {
			t.Fatal(err)
		}
		var se *SizeError
		if _, err := decodeBoth(t, b, Limits{MaxMetaSize: 2}); !errors.As(err, &se) || se.Section != "meta" {
			t.Fatalf("meta one byte over: %v", err)
		}
		if _, err := decodeBoth(t, b, Limits{MaxBodySize: 3}); !errors.As(err, &se) || se.Section != "body" {
			t.Fatalf("body one byte over: %v", err)
		}
	})
	t.Run("gzip_bomb", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			size  int
			limit Limits
		}{
			{"default_limit", DefaultMaxSize + 1, Limits{}},
			{"small_limit", 1 << 20, Limits{MaxBodySize: 64 << 10}},
		} {
			t.Run(c.name, func(t *testing.T) {
				bomb := appendGzip(nil, make([]byte, c.size))
				b := rawFrame(FlagGzip, nil, bomb)
				var se *SizeError
				if _, err := decodeBoth(t, b, c.limit); !errors.As(err, &se) || se.Section != "gzip body" {
					t.Fatalf("%d-byte gzip body of %d bytes: %v, want a gzip body *SizeError", c.size, len(bomb), err)
				}
			})
		}
		// Exactly at the limit is fine.
		b := rawFrame(FlagGzip, nil, appendGzip(nil, make([]byte, 1000)))
		if f, err := decodeBoth(t, b, Limits{MaxBodySize: 1000}); err != nil || len(f.Body) != 1000 {
			t.Fatalf("1000 bytes at limit 1000: %v", err)
		}
	})
	t.Run("bad_gzip", func(t *testing.T) {
		for _, body := range [][]byte{[]byte("not gzip"), appendGzip(nil, []byte("abc"))[:12]} {
			if _, err := decodeBoth(t, rawFrame(FlagGzip, nil, body), Limits{}); !errors.Is(err, ErrBadGzip) {
				t.Errorf("%x: %v, want ErrBadGzip", body, err)
			}
		}
	})
}

// TestTruncatedFrames cuts every vector frame at every length.
func TestTruncatedFrames(t *testing.T) {
	idx, data := loadVectors(t)
	for _, v := range idx.Vectors {
		raw := data[v.Name]
		if len(raw) > 4096 {
			raw = raw[:4096]
		}
		for n := 0; n < len(raw); n++ {
			if _, _, err := DecodeFrame(raw[:n], Limits{}); !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s cut at %d: DecodeFrame: %v", v.Name, n, err)
			}
			var f Frame
			err := ReadFrame(bufio.NewReaderSize(bytes.NewReader(raw[:n]), 16), &f, Limits{})
			if n == 0 && err != io.EOF || n > 0 && !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s cut at %d: ReadFrame: %v", v.Name, n, err)
			}
		}
	}
}

func TestExceptionJSONMatchesVector(t *testing.T) {
	_, data := loadVectors(t)
	want := data["res_exception_biz"]
	e := &Exception{ErrCode: 503, ErrMsg: "order 42 not found", ErrType: ErrTypeBiz}
	if got := e.JSON(); got != `{"errcode":503,"errmsg":"order 42 not found","errtype":2}` {
		t.Fatalf("JSON() = %s", got)
	}
	f := NewExceptionResponse(&Frame{RequestID: 27, Serialization: SerializationSimple}, e)
	f.Meta = append(Meta{{MetaProcessTime, "3"}}, f.Meta...) // the vector's order
	b, err := AppendFrame(nil, f, 0)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("exception frame:\n got %x\nwant %x (%v)", b, want, err)
	}
	// Go's HTML escaping, as motan-go writes it.
	if got := (&Exception{ErrCode: 1, ErrMsg: "a<b>&\n"}).JSON(); got != `{"errcode":1,"errmsg":"a\u003cb\u003e\u0026\n","errtype":0}` {
		t.Fatalf("escaping: %s", got)
	}
}

// TestExceptionBodyPassesThrough: exception bodies are not gunzipped on
// decode (spec 8: receivers ignore them), so re-encoding must not gzip them
// a second time; a proxy forwards them as they came.
func TestExceptionBodyPassesThrough(t *testing.T) {
	in := rawFrame(FlagGzip|FlagResponse, []byte("M_e\n{}"), []byte("opaque"))
	in[3] = 0x09 // version 1, status exception
	f, err := decodeBoth(t, in, Limits{})
	if err != nil || !f.IsException() || string(f.Body) != "opaque" {
		t.Fatalf("decoded %+v, %v", f, err)
	}
	out, err := AppendFrame(nil, f, 1)
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("re-encoded:\n got %x\nwant %x (%v)", out, in, err)
	}
}
