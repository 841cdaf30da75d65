package translate

import (
	"context"
	"flag"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
)

// update rewrites the golden files of testdata/protojson.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/protojson")

var (
	protoSchemaOnce sync.Once
	protoSchemaSnap *descriptors.Snapshot
	protoSchemaErr  error
)

// protoSchema compiles the test schemas once: convert/v1 (every field
// kind) and the shop/v1 service of the descriptors package.
func protoSchema(tb testing.TB) *descriptors.Snapshot {
	tb.Helper()
	protoSchemaOnce.Do(func() {
		protoSchemaSnap, protoSchemaErr = descriptors.CompileProtos(context.Background(),
			[]string{"testdata/protos", "../descriptors/testdata/protos"},
			[]string{"convert/v1/all.proto", "convert/v1/legacy.proto", "shop/v1/shop.proto"})
	})
	if protoSchemaErr != nil {
		tb.Fatalf("compiling the test schemas: %v", protoSchemaErr)
	}
	return protoSchemaSnap
}

// protoTypes is the resolver of the test schemas, for Any and extensions.
func protoTypes(tb testing.TB) TypeResolver { return protoSchema(tb).Types() }

// newProto returns an empty dynamic message of the named type.
func newProto(tb testing.TB, name string) *dynamicpb.Message {
	tb.Helper()
	md, ok := protoSchema(tb).Message(name)
	if !ok {
		tb.Fatalf("message %s not in the test schemas", name)
	}
	return dynamicpb.NewMessage(md)
}

// parseProto builds a message of the named type from protojson text
// (protojson itself, not the code under test, so fixtures do not depend
// on it).
func parseProto(tb testing.TB, name, text string) *dynamicpb.Message {
	tb.Helper()
	m := newProto(tb, name)
	if err := (protojson.UnmarshalOptions{Resolver: protoTypes(tb)}).Unmarshal([]byte(text), m); err != nil {
		tb.Fatalf("fixture %s: %v\n%s", name, err, text)
	}
	return m
}

// field returns the field called name of md, failing the test when there
// is none.
func field(tb testing.TB, md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	tb.Helper()
	fd := md.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		tb.Fatalf("%s has no field %s", md.FullName(), name)
	}
	return fd
}

// withNullValues returns a copy of m in which every unset singular
// google.protobuf.Value field outside a oneof holds the null value: what
// an EmitUnpopulated encoding (null) reads back as, in JSON and in Simple.
func withNullValues(m proto.Message) proto.Message {
	c := proto.Clone(m)
	setNullValues(c.ProtoReflect(), 0)
	return c
}

func setNullValues(m protoreflect.Message, depth int) {
	if depth > 50 {
		return
	}
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		md := fd.Message()
		if md == nil || fd.IsMap() && fd.MapValue().Message() == nil {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				setNullValues(l.Get(j).Message(), depth+1)
			}
		case fd.IsMap():
			m.Get(fd).Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
				setNullValues(v.Message(), depth+1)
				return true
			})
		case m.Has(fd):
			if wellKnown(md) == wktNone || wellKnown(md) == wktAny {
				setNullValues(m.Mutable(fd).Message(), depth+1)
			}
		case md.FullName() == "google.protobuf.Value" && fd.ContainingOneof() == nil:
			v := m.NewField(fd)
			v.Message().Set(md.Fields().ByName("null_value"), protoreflect.ValueOfEnum(0))
			m.Set(fd, v)
		}
	}
}

// allOptions returns every combination of the output options (the input
// option DiscardUnknown does not change output), with a name for each.
func allOptions(types TypeResolver) map[string]ProtoJSONOptions {
	out := map[string]ProtoJSONOptions{}
	for bits := 0; bits < 16; bits++ {
		o := ProtoJSONOptions{
			UseProtoNames:   bits&1 != 0,
			EmitUnpopulated: bits&2 != 0,
			EnumsAsNumbers:  bits&4 != 0,
			Int64AsNumbers:  bits&8 != 0,
			Types:           types,
		}
		out[optionsName(o)] = o
	}
	return out
}

func optionsName(o ProtoJSONOptions) string {
	name := ""
	for _, f := range []struct {
		on   bool
		name string
	}{{o.UseProtoNames, "names"}, {o.EmitUnpopulated, "emit"}, {o.EnumsAsNumbers, "enumnum"}, {o.Int64AsNumbers, "int64num"}, {o.DiscardUnknown, "discard"}} {
		if f.on {
			if name != "" {
				name += "+"
			}
			name += f.name
		}
	}
	if name == "" {
		return "default"
	}
	return name
}

// Fixtures, in protojson's syntax.
const (
	// allFixture sets every field of convert.v1.All with values Simple
	// can carry too (no uint64 above MaxInt64).
	allFixture = `{
  "scalars": {"fBool": true, "fInt32": -2147483648, "fSint32": 2147483647, "fSfixed32": -1,
    "fUint32": 4294967295, "fFixed32": 1, "fInt64": "-9223372036854775808", "fSint64": "9223372036854775807",
    "fSfixed64": "-1", "fUint64": "9223372036854775807", "fFixed64": "42", "fFloat": 0.1, "fDouble": 1e-7,
    "fString": "héllo \"q\"\n\t\\ ✓", "fBytes": "AAEC/w==", "fEnum": "BLUE"},
  "optInt32": 0, "optString": "", "optEnum": "COLOR_UNSPECIFIED",
  "choiceInner": {"name": "in", "count": "3", "tags": ["a", "b"]},
  "rInt32": [1, -2, 3], "rInt64": ["-9223372036854775808", "9223372036854775807", "0"],
  "rUint64": ["0", "9223372036854775807"], "rDouble": [1.5, -0, 1e21, 2.5e-7],
  "rFloat": [3.4028235e38, -1.5], "rString": ["", "x"], "rBytes": ["", "AQ=="],
  "rEnum": ["RED", 7, "BLUE"], "rInner": [{"name": "a"}, {}], "rBool": [true, false],
  "mString": {"z": "1", "a": "2"},
  "mInt32Inner": {"-5": {"name": "neg"}, "10": {"count": "1"}, "2": {}},
  "mInt64": {"-9223372036854775808": "min", "9223372036854775807": "max"},
  "mUint32": {"4294967295": 1, "0": -1}, "mUint64": {"9223372036854775807": true, "1": false},
  "mBool": {"true": "t", "false": "f"}, "mInner": {"k": {"tags": ["x"]}},
  "mEnum": {"-1": "GREEN", "3": 9},
  "mValue": {"n": null, "s": "str", "l": [1, "a", {"b": false}]},
  "ts": "1970-01-01T00:00:00.000000001Z", "dur": "-1.500s",
  "st": {"a": 1, "b": [true, null], "c": {"d": "e"}}, "val": {"k": [1, 2]},
  "list": [1, "two", null, {}],
  "any": {"@type": "type.googleapis.com/convert.v1.Inner", "name": "packed", "count": "5"},
  "mask": "scalars.fInt32,rInner", "empty": {},
  "rAny": [
    {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1s"},
    {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"a": 1}},
    {"@type": "type.googleapis.com/google.protobuf.Empty"},
    {"@type": "type.googleapis.com/google.protobuf.Any", "value": {"@type": "type.googleapis.com/convert.v1.Inner", "name": "deep"}},
    {}
  ],
  "wBool": false, "wInt32": 0, "wInt64": "-9223372036854775808", "wUint32": 4294967295,
  "wUint64": "9223372036854775807", "wFloat": "NaN", "wDouble": "-Infinity", "wString": "",
  "wBytes": "/w==",
  "rTs": ["2024-02-29T23:59:59.999Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"],
  "customName": "c"
}`

	// extremesFixture has the values only JSON can carry.
	extremesFixture = `{"fInt64": "-9223372036854775808", "fSint64": "-1", "fSfixed64": "9223372036854775807",
  "fUint64": "18446744073709551615", "fFixed64": "18446744073709551615",
  "fFloat": "-Infinity", "fDouble": "NaN", "fInt32": -1, "fUint32": 4294967295, "fEnum": 12345}`

	// stringsFixture needs escapes protojson spells differently.
	stringsFixture = `{"fString": "\b\f\u0001\u001f\u007f\u2028\u2029</script>&'\"\\/😀"}`

	bookFixture = `{"name": "shelves/1/books/2", "title": "Go", "format": "PAPERBACK",
  "authors": [{"displayName": "Ann", "contact": {"email": "ann@example.com"}}, {"displayName": "Bob"}],
  "published": "2024-05-06T07:08:09.123Z",
  "metadata": {"pages": 320, "tags": ["a", "b"], "extra": {"x": null, "y": true}},
  "labels": {"b": "2", "a": "1"}, "availability": "IN_STOCK"}`

	legacyFixture = `{"id": "L1", "count": 0, "note": "n", "values": ["1", "-2"], "item": {"label": "lbl"},
  "kind": "KIND_B", "[convert.v1.ext_number]": "9", "[convert.v1.ext_label]": "e"}`
)
