package motan2

import (
	"bufio"
	"bytes"
	"testing"
)

func vectorFrame(tb testing.TB, name string) ([]byte, *Frame) {
	tb.Helper()
	_, data := loadVectors(tb)
	raw, ok := data[name]
	if !ok {
		tb.Fatalf("no vector %s", name)
	}
	f, _, err := DecodeFrame(raw, Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return raw, f
}

// TestFrameAllocations pins the allocation budget of the frame codec:
// ReadFrame into a reused Frame allocates one buffer (meta and body
// together), DecodeFrame only the Frame, AppendFrame nothing.
func TestFrameAllocations(t *testing.T) {
	for _, name := range []string{"req_one_string", "req_mixed_args", "res_string", "req_full_meta", "heartbeat_request"} {
		t.Run(name, func(t *testing.T) {
			raw, f := vectorFrame(t, name)
			// Up to len(metaStore) meta pairs live inside the Frame; more need one slice.
			metaAllocs := 0.0
			if len(f.Meta) > len(f.metaStore) {
				metaAllocs = 1
			}
			if n := testing.AllocsPerRun(100, func() { DecodeFrame(raw, Limits{}) }); n != 1+metaAllocs {
				t.Errorf("DecodeFrame: %v allocations, want %v (the Frame)", n, 1+metaAllocs)
			}
			rd := bytes.NewReader(raw)
			br := bufio.NewReader(rd)
			var fr Frame
			n := testing.AllocsPerRun(100, func() {
				rd.Reset(raw)
				br.Reset(rd)
				if err := ReadFrame(br, &fr, Limits{}); err != nil {
					t.Fatal(err)
				}
			})
			// One buffer for meta and body together; a reused Frame keeps
			// its grown meta slice.
			want := 1.0
			if len(raw) == MinFrameSize {
				want = 0 // nothing to hold: make([]byte, 0) does not allocate
			}
			if n != want {
				t.Errorf("ReadFrame: %v allocations, want %v", n, want)
			}
			buf := make([]byte, 0, 4096)
			if n := testing.AllocsPerRun(100, func() { AppendFrame(buf[:0], f, 0) }); n != 0 {
				t.Errorf("AppendFrame: %v allocations, want 0", n)
			}
		})
	}
}

func BenchmarkDecodeFrameSmallRequest(b *testing.B) {
	for _, name := range []string{"req_one_string", "req_mixed_args"} {
		raw, _ := vectorFrame(b, name)
		b.Run("DecodeFrame/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, _, err := DecodeFrame(raw, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("ReadFrame/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			rd := bytes.NewReader(raw)
			br := bufio.NewReader(rd)
			var f Frame
			for b.Loop() {
				rd.Reset(raw)
				br.Reset(rd)
				if err := ReadFrame(br, &f, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("DecodeFrameAndArgs/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, _, err := DecodeFrame(raw, Limits{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := DecodeArgs(f.Serialization, f.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeFrameSmallRequest(b *testing.B) {
	for _, name := range []string{"req_one_string", "req_mixed_args"} {
		raw, f := vectorFrame(b, name)
		args, err := DecodeArgs(f.Serialization, f.Body)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 1024)
		body := make([]byte, 0, 1024)
		b.Run("AppendFrame/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := AppendFrame(buf[:0], f, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("AppendValuesAndFrame/"+name, func(b *testing.B) {
			b.ReportAllocs()
			out := *f
			for b.Loop() {
				out.Body, err = AppendValues(body[:0], SerializationSimple, args)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := AppendFrame(buf[:0], &out, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeSmallResponse(b *testing.B) {
	raw, _ := vectorFrame(b, "res_string")
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		f, _, err := DecodeFrame(raw, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeReply(f.Serialization, f.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSmallResponse(b *testing.B) {
	raw, f := vectorFrame(b, "res_string")
	v, err := DecodeReply(f.Serialization, f.Body)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	body := make([]byte, 0, 256)
	out := *f
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if out.Body, err = AppendSimple(body[:0], v); err != nil {
			b.Fatal(err)
		}
		if _, err := AppendFrame(buf[:0], &out, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSimpleArgs(b *testing.B) {
	for _, name := range []string{"req_one_string", "req_mixed_args", "simple_int64_max_request_id", "simple_nested"} {
		_, f := vectorFrame(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.Body)))
			for b.Loop() {
				if _, err := DecodeSimple(f.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendSimple(b *testing.B) {
	for _, name := range []string{"req_one_string", "req_mixed_args", "simple_nested"} {
		_, f := vectorFrame(b, name)
		args, err := DecodeSimple(f.Body)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 1024)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.Body)))
			for b.Loop() {
				if _, err := AppendValues(buf[:0], SerializationSimple, args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var breezeSmallArgs = []Value{String("breeze"), Int32(7), Int64(-1234567890123), Bool(true)}

func BenchmarkDecodeBreezeArgs(b *testing.B) {
	small, _ := AppendValues(nil, SerializationBreeze, breezeSmallArgs)
	_, f := vectorFrame(b, "req_breeze")
	for _, c := range []struct {
		name string
		body []byte
	}{{"small_4_scalars", small}, {"req_breeze", f.Body}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, err := DecodeBreeze(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendBreeze(b *testing.B) {
	_, f := vectorFrame(b, "req_breeze")
	full, err := DecodeBreeze(f.Body)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	for _, c := range []struct {
		name string
		args []Value
	}{{"small_4_scalars", breezeSmallArgs}, {"req_breeze", full}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := AppendValues(buf[:0], SerializationBreeze, c.args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
