package motan2

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// sameValue is strict, ordered equality: decode → encode → decode must give
// back exactly the same values, entry order included. (Equal compares maps
// by key lookup, which cannot tell duplicate keys apart.)
func sameValue(a, b Value) bool {
	if a.kind != b.kind || a.num != b.num || a.str != b.str || string(a.raw) != string(b.raw) ||
		len(a.strs) != len(b.strs) || len(a.sm) != len(b.sm) || len(a.list) != len(b.list) {
		return false
	}
	for i := range a.strs {
		if a.strs[i] != b.strs[i] {
			return false
		}
	}
	for i := range a.sm {
		if a.sm[i] != b.sm[i] {
			return false
		}
	}
	for i := range a.list {
		if !sameValue(a.list[i], b.list[i]) {
			return false
		}
	}
	return true
}

func sameValues(a, b []Value) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d values vs %d", len(a), len(b))
	}
	for i := range a {
		if !sameValue(a[i], b[i]) {
			return fmt.Errorf("value %d: %v vs %v", i, a[i], b[i])
		}
	}
	return nil
}

// fuzzLimits keep gzip bombs from making the frame fuzzers slow.
var fuzzLimits = Limits{MaxMetaSize: 64 << 10, MaxBodySize: 1 << 20}

// addFrameSeeds adds every vector frame, plus all of them back to back.
func addFrameSeeds(f *testing.F) {
	idx, data := loadVectors(f)
	var all []byte
	for _, v := range idx.Vectors {
		if len(data[v.Name]) <= 4096 {
			f.Add(data[v.Name])
			all = append(all, data[v.Name]...)
		}
	}
	f.Add(all)
}

// vectorBodies returns every non-empty (uncompressed) vector body.
func vectorBodies(tb testing.TB) [][]byte {
	idx, data := loadVectors(tb)
	var out [][]byte
	for _, v := range idx.Vectors {
		fr, _, err := DecodeFrame(data[v.Name], Limits{})
		if err != nil {
			tb.Fatal(err)
		}
		if len(fr.Body) > 0 && len(fr.Body) <= 4096 {
			out = append(out, fr.Body)
		}
	}
	return out
}

func encodableMeta(m Meta) Meta {
	var out Meta
	for _, p := range m {
		if p.encodable() {
			out = append(out, p)
		}
	}
	return out
}

// checkFrameRoundTrip re-encodes a decoded frame and decodes it again. The
// encoder drops meta pairs that cannot travel (empty values), never
// compresses heartbeats or empty bodies, and passes exception bodies
// through as they were.
func checkFrameRoundTrip(t *testing.T, f *Frame) {
	enc, err := AppendFrame(nil, f, 0)
	if err != nil {
		t.Fatalf("AppendFrame: %v", err)
	}
	g, n, err := DecodeFrame(enc, fuzzLimits)
	if err != nil {
		t.Fatalf("decoding our own frame %x: %v", enc, err)
	}
	if n != len(enc) {
		t.Fatalf("our frame is %d bytes, decoder used %d", len(enc), n)
	}
	want := *f
	want.Meta = encodableMeta(f.Meta)
	if (len(f.Body) == 0 || f.IsHeartbeat()) && !f.IsException() {
		want.Flags &^= FlagGzip
	}
	if want.Flags&FlagGzip != 0 {
		want.WireBodySize = g.WireBodySize // compressed size is ours
	} else {
		want.WireBodySize = len(f.Body)
	}
	if err := sameFrame(g, &want); err != nil {
		t.Fatalf("frame changed through AppendFrame: %v", err)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	addFrameSeeds(f)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(rawFrame(FlagGzip, []byte("k\n\nk2\nv2\n"), appendGzip(nil, []byte("abc"))))
	gzipException := rawFrame(FlagGzip|FlagResponse, []byte("M_e\n{}"), []byte("opaque"))
	gzipException[3] = 0x09
	f.Add(gzipException)
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, n, err := DecodeFrame(data, fuzzLimits)
		if err != nil {
			return
		}
		if n < MinFrameSize || n > len(data) {
			t.Fatalf("used %d of %d bytes", n, len(data))
		}
		checkFrameRoundTrip(t, fr)
	})
}

func FuzzReadFrame(f *testing.F) {
	addFrameSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Both buffer sizes: below the header size (slow path) and roomy.
		for _, size := range []int{16, 4096} {
			br := bufio.NewReaderSize(bytes.NewReader(data), size)
			var fr Frame
			off := 0
			for {
				err := ReadFrame(br, &fr, fuzzLimits)
				want, n, derr := DecodeFrame(data[off:], fuzzLimits)
				if err != nil {
					if derr == nil {
						t.Fatalf("buffer %d, offset %d: ReadFrame failed (%v), DecodeFrame did not", size, off, err)
					}
					break
				}
				if derr != nil {
					t.Fatalf("buffer %d, offset %d: DecodeFrame failed (%v), ReadFrame did not", size, off, derr)
				}
				if err := sameFrame(&fr, want); err != nil {
					t.Fatalf("buffer %d, offset %d: %v", size, off, err)
				}
				checkFrameRoundTrip(t, &fr)
				off += n
			}
		}
	})
}

// checkValuesRoundTrip encodes decoded values and decodes them again; the
// second encoding must equal the first (our encoding is canonical).
func checkValuesRoundTrip(t *testing.T, s Serialization, vs []Value, decode func([]byte) ([]Value, error)) {
	enc, err := AppendValues(nil, s, vs)
	if err != nil {
		t.Fatalf("re-encoding %v: %v", vs, err)
	}
	vs2, err := decode(enc)
	if err != nil {
		t.Fatalf("decoding our own %x: %v", enc, err)
	}
	if err := sameValues(vs, vs2); err != nil {
		t.Fatalf("values changed through %x: %v", enc, err)
	}
	enc2, err := AppendValues(nil, s, vs2)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding is not stable: %x vs %x (%v)", enc, enc2, err)
	}
	for _, v := range vs {
		_ = v.Interface()
		_ = v.String()
		if _, err := json.Marshal(TypedJSON(v)); err != nil {
			t.Fatalf("TypedJSON(%v): %v", v, err)
		}
	}
}

func FuzzDecodeSimple(f *testing.F) {
	for _, b := range vectorBodies(f) {
		f.Add(b)
	}
	f.Add(nestedArrays(MaxValueDepth + 1))
	f.Fuzz(func(t *testing.T, body []byte) {
		if vs, err := DecodeSimple(body); err == nil {
			checkValuesRoundTrip(t, SerializationSimple, vs, DecodeSimple)
		}
		if v, err := DecodeSimpleValue(body); err == nil {
			enc, err := AppendSimple(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if v2, err := DecodeSimpleValue(enc); err != nil || !sameValue(v, v2) {
				t.Fatalf("reply %v became %v (%v)", v, v2, err)
			}
		}
	})
}

func FuzzDecodeBreeze(f *testing.F) {
	for _, b := range vectorBodies(f) {
		f.Add(b)
	}
	f.Add(hx("dc 02 98 02 04 db 01 7f3f 02 0161 dc 02 9a 9a 9b"))
	f.Fuzz(func(t *testing.T, body []byte) {
		if vs, err := DecodeBreeze(body); err == nil {
			checkValuesRoundTrip(t, SerializationBreeze, vs, DecodeBreeze)
		}
		if v, err := DecodeBreezeValue(body); err == nil {
			enc, err := AppendBreeze(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if v2, err := DecodeBreezeValue(enc); err != nil || !sameValue(v, v2) {
				t.Fatalf("reply %v became %v (%v)", v, v2, err)
			}
		}
	})
}

// pbKindLists are what the first byte of a FuzzDecodePB input selects.
var pbKindLists = [][]Kind{
	{KindMessage, KindInt32, KindString, KindBool, KindNull, KindInt64, KindFloat64, KindFloat32, KindByte, KindInt16}, // req_pb
	{KindMessage},
	{KindString},
	{KindBytes, KindBytes},
	{KindInt16, KindInt32, KindInt64},
	{KindFloat32, KindFloat64},
	{KindBool, KindByte},
	{KindNull},
	{},
	{KindMap}, // no pb form: must error, never panic
}

func FuzzDecodePB(f *testing.F) {
	for _, b := range vectorBodies(f) {
		for i := range pbKindLists {
			f.Add(append([]byte{byte(i)}, b...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		kinds := pbKindLists[int(data[0])%len(pbKindLists)]
		vs, err := DecodePB(data[1:], kinds)
		if err != nil {
			return
		}
		checkValuesRoundTrip(t, SerializationPB, vs, func(b []byte) ([]Value, error) { return DecodePB(b, kinds) })
	})
}

func FuzzTypedJSON(f *testing.F) {
	idx, _ := loadVectors(f)
	for _, v := range idx.Vectors {
		for _, x := range append(v.Arguments, v.Value) {
			if b, err := json.Marshal(x); err == nil && len(b) < 4096 {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{`{"type":"string","hex":"ff"}`, `{"a":[1,2.5,"x",null,{"type":"int16","value":3}]}`,
		`{"type":"float32","value":"1e-45"}`, `["a","b"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(v Value) {
			b, err := json.Marshal(TypedJSON(v))
			if err != nil {
				t.Fatalf("marshal %v: %v", v, err)
			}
			v2, err := ParseTypedJSON(b)
			if err != nil || !sameValue(v, v2) {
				t.Fatalf("%v became %v through %s (%v)", v, v2, b, err)
			}
			for _, s := range []Serialization{SerializationSimple, SerializationBreeze, SerializationPB} {
				AppendValues(nil, s, []Value{v}) // may fail (kinds), must not panic
			}
		}
		if v, err := ParseTypedJSON(data); err == nil {
			check(v)
		}
		if x, err := decodeJSON(data); err == nil {
			if v, err := FromPlainJSON(x); err == nil {
				check(v)
			}
		}
	})
}
