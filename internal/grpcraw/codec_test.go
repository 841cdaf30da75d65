package grpcraw

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestBytesPassUntouched(t *testing.T) {
	in := []byte{0xff, 0x00, 0x12, 0x34} // not a valid message: never parsed
	out, err := Codec{}.Marshal(&in)
	if err != nil || !bytes.Equal(out.Materialize(), in) {
		t.Fatalf("Marshal = %x, %v", out.Materialize(), err)
	}
	var got []byte
	data := mem.BufferSlice{mem.SliceBuffer(in[:2]), mem.SliceBuffer(in[2:])}
	if err := (Codec{}).Unmarshal(data, &got); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("Unmarshal = %x, %v", got, err)
	}
	in[0] = 0 // the result is a copy: grpc-go reuses its buffers
	if got[0] != 0xff {
		t.Fatal("Unmarshal aliases the receive buffer")
	}
	if _, err := (Codec{}).Marshal((*[]byte)(nil)); err == nil {
		t.Fatal("nil *[]byte accepted")
	}
}

func TestMessagesUseProto(t *testing.T) {
	msg := wrapperspb.String("hello")
	out, err := Codec{}.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(msg)
	if !bytes.Equal(out.Materialize(), want) {
		t.Fatalf("Marshal = %x, want %x", out.Materialize(), want)
	}
	var back wrapperspb.StringValue
	if err := (Codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(want)}, &back); err != nil || back.Value != "hello" {
		t.Fatalf("Unmarshal = %v, %v", &back, err)
	}
	if (Codec{}).Name() != "proto" {
		t.Fatal("the codec must present itself as proto")
	}
}
