package translate

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
)

func BenchmarkAppendProtoJSONBook(b *testing.B) {
	m := parseProto(b, "shop.v1.Book", bookFixture)
	o := ProtoJSONOptions{Types: protoTypes(b)}
	buf, err := AppendProtoJSON(nil, m, o)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = AppendProtoJSON(buf[:0], m, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtojsonMarshalBook is the reference: protojson on the same
// message.
func BenchmarkProtojsonMarshalBook(b *testing.B) {
	m := parseProto(b, "shop.v1.Book", bookFixture)
	mo := protojson.MarshalOptions{Resolver: protoTypes(b)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mo.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalProtoJSONBook(b *testing.B) {
	m := parseProto(b, "shop.v1.Book", bookFixture)
	o := ProtoJSONOptions{Types: protoTypes(b)}
	body, err := AppendProtoJSON(nil, m, o)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := UnmarshalProtoJSON(body, m.New().Interface(), o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProtoToSimpleBook(b *testing.B) {
	m := parseProto(b, "shop.v1.Book", bookFixture)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProtoToSimple(m, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSimpleToProtoBook(b *testing.B) {
	m := parseProto(b, "shop.v1.Book", bookFixture)
	v, err := ProtoToSimple(m, false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := SimpleToProto(m.New(), v); err != nil {
			b.Fatal(err)
		}
	}
}
