// Package grpcraw is the gRPC codec meshgate's gRPC ingress and upstreams
// use to move messages as bytes: a *[]byte is sent and received as it is
// (never decoded), anything else goes to the standard proto codec, so the
// services grpc-go serves itself (server reflection) keep working.
package grpcraw

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	// Registers the "proto" codec fallback uses.
	_ "google.golang.org/grpc/encoding/proto"
)

// Codec is a gRPC encoding.CodecV2 named "proto" (it puts the same bytes
// on the wire as the proto codec does, so peers see ordinary
// application/grpc+proto traffic).
type Codec struct{}

// Name returns "proto".
func (Codec) Name() string { return "proto" }

func fallback() encoding.CodecV2 { return encoding.GetCodecV2("proto") }

// Marshal returns *v unchanged for a *[]byte; other values are marshalled
// by the proto codec.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(*[]byte); ok {
		if b == nil {
			return nil, fmt.Errorf("grpcraw: nil *[]byte")
		}
		return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
	}
	return fallback().Marshal(v)
}

// Unmarshal copies the message bytes into *v for a *[]byte (grpc-go reuses
// data's buffers after Unmarshal returns); other values go to the proto
// codec.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if b, ok := v.(*[]byte); ok {
		*b = data.Materialize()
		return nil
	}
	return fallback().Unmarshal(data, v)
}
