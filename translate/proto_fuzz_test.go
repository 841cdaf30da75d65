package translate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/motan2"
)

// fuzzTypes are the messages the fuzz targets decode into, chosen by the
// low three bits of the selector.
var fuzzTypes = [8]string{
	"convert.v1.All", "convert.v1.Scalars", "shop.v1.Book", "convert.v1.Legacy",
	"google.protobuf.Struct", "google.protobuf.Timestamp", "google.protobuf.Any", "convert.v1.Node",
}

// fuzzTypeOf returns the selector of a golden file's message type.
func fuzzTypeOf(goldenName string) (uint8, bool) {
	stem, _, _ := strings.Cut(goldenName, ".")
	for _, pc := range protoCases {
		if pc.name == stem {
			for i, typ := range fuzzTypes {
				if typ == pc.message {
					return uint8(i), true
				}
			}
		}
	}
	return 0, false
}

// fuzzOptions returns the options selected by the high five bits.
func fuzzOptions(sel uint8, types TypeResolver) ProtoJSONOptions {
	return ProtoJSONOptions{
		UseProtoNames:   sel&8 != 0,
		EmitUnpopulated: sel&16 != 0,
		EnumsAsNumbers:  sel&32 != 0,
		Int64AsNumbers:  sel&64 != 0,
		DiscardUnknown:  sel&128 != 0,
		Types:           types,
	}
}

// FuzzUnmarshalProtoJSON: UnmarshalProtoJSON never panics, fails only
// with InvalidArgument, and what it decodes is written back by
// AppendProtoJSON as valid JSON that decodes to an equal message. What
// converts to Simple converts back to an equal message too.
func FuzzUnmarshalProtoJSON(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "protojson", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files to seed from (%v)", err)
	}
	for i, file := range files {
		typ, ok := fuzzTypeOf(filepath.Base(file))
		if !ok {
			f.Fatalf("no fuzz type for %s", file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(typ|uint8(i%32)<<3, data)
	}
	for _, s := range []string{``, `{`, `{"rInt32": [1,}`, `{"nope": 1}`, `{"val": null}`, `[]`, `"2020-01-01T00:00:00Z"`} {
		f.Add(uint8(0), []byte(s))
	}
	types := protoTypes(f)
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		typ := fuzzTypes[sel&7]
		o := fuzzOptions(sel, types)
		m := newProto(t, typ)
		if err := UnmarshalProtoJSON(data, m, o); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != InvalidArgument || e.Message == "" {
				t.Fatalf("error %v (%T), want an InvalidArgument *Error", err, err)
			}
			return
		}
		b, err := AppendProtoJSON(nil, m, o)
		if err != nil {
			t.Fatalf("decoded but cannot write back: %v\nbody %q", err, data)
		}
		if !json.Valid(b) {
			t.Fatalf("invalid JSON written: %s", b)
		}
		back := newProto(t, typ)
		if err := UnmarshalProtoJSON(b, back, o); err != nil {
			t.Fatalf("written JSON does not decode: %v\n%s", err, b)
		}
		want := proto.Message(m)
		if o.EmitUnpopulated {
			want = withNullValues(m)
		}
		if !proto.Equal(back, want) {
			t.Fatalf("JSON round trip changed the message:\njson %s\ngot  %v\nwant %v", b, back, want)
		}

		v, err := ProtoToSimple(m, false)
		if err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("ProtoToSimple error %v (%T), want an *ArgError", err, err)
			}
			return
		}
		sm := newProto(t, typ)
		if err := SimpleToProto(sm, v); err != nil {
			t.Fatalf("SimpleToProto of ProtoToSimple's value: %v\n%v", err, v)
		}
		// Extensions are not converted to Simple.
		noExt := proto.Clone(m).ProtoReflect()
		noExt.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if fd.IsExtension() {
				noExt.Clear(fd)
			}
			return true
		})
		if !proto.Equal(sm, noExt.Interface()) {
			t.Fatalf("Simple round trip changed the message:\nsimple %v\ngot  %v\nwant %v", v, sm, noExt)
		}
	})
}

// FuzzSimpleToProto: SimpleToProto never panics on any decodable Simple
// value, fails only with *ArgError, and what it fills converts back and
// forth unchanged.
func FuzzSimpleToProto(f *testing.F) {
	for _, sc := range simpleCases {
		for i, typ := range fuzzTypes {
			if typ != sc.message {
				continue
			}
			v, err := ProtoToSimple(parseProto(f, sc.message, sc.fixture), false)
			if err != nil {
				f.Fatal(err)
			}
			wire, err := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{v})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), wire)
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		v, err := motan2.DecodeSimpleValue(data)
		if err != nil {
			return
		}
		typ := fuzzTypes[sel&7]
		m := newProto(t, typ)
		if err := SimpleToProto(m, v); err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want an *ArgError", err, err)
			}
			return
		}
		v2, err := ProtoToSimple(m, false)
		if err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("ProtoToSimple error %v (%T), want an *ArgError", err, err)
			}
			return
		}
		back := newProto(t, typ)
		if err := SimpleToProto(back, v2); err != nil {
			t.Fatalf("SimpleToProto of ProtoToSimple's value: %v\n%v", err, v2)
		}
		if !proto.Equal(back, m) {
			t.Fatalf("Simple round trip changed the message:\ngot  %v\nwant %v", back, m)
		}
	})
}
