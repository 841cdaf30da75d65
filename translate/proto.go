package translate

import (
	"errors"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshgate/meshgate/motan2"
)

// ProtoJSONOptions are the per-route JSON options of transcoded routes
// (HTTP/JSON in front of methods described by a protobuf schema).
type ProtoJSONOptions struct {
	// UseProtoNames writes field names as declared in the .proto
	// ("user_id") instead of their lowerCamelCase JSON names ("userId").
	// Input accepts both whatever this says.
	UseProtoNames bool
	// EmitUnpopulated writes fields that hold their zero value (and empty
	// lists and maps) instead of omitting them.
	EmitUnpopulated bool
	// EnumsAsNumbers writes enum values as numbers instead of names.
	// Input accepts both.
	EnumsAsNumbers bool
	// Int64AsNumbers writes 64-bit integers (int64, uint64, sint64,
	// fixed64, sfixed64) as JSON numbers instead of the strings proto3 JSON
	// prescribes. Input accepts both.
	Int64AsNumbers bool
	// DiscardUnknown drops unknown fields in input instead of rejecting
	// the request with InvalidArgument.
	DiscardUnknown bool
	// Types resolves the message types of google.protobuf.Any fields
	// (nil: the types linked into meshgate only).
	Types TypeResolver
}

var errNotYet = errors.New("translate: not implemented yet")

// AppendProtoJSON appends m as JSON to dst, following the proto3 JSON
// mapping (well-known types in their special forms) with o's choices.
// The output is compact (no spaces) and its field order is the
// declaration order, so it is stable for golden files.
func AppendProtoJSON(dst []byte, m protoreflect.Message, o ProtoJSONOptions) ([]byte, error) {
	return dst, errNotYet
}

// AppendProtoFieldJSON appends the JSON of one field of m (an HttpRule's
// response_body): a message field as AppendProtoJSON writes it, a
// repeated or map field as a JSON array or object, a scalar as its JSON
// value. An unset message field is written as null, unless
// EmitUnpopulated, when it is {}.
func AppendProtoFieldJSON(dst []byte, m protoreflect.Message, fd protoreflect.FieldDescriptor, o ProtoJSONOptions) ([]byte, error) {
	return dst, errNotYet
}

// UnmarshalProtoJSON merges the JSON object in data into m (fields
// already set, e.g. from path variables, are overwritten only by fields
// the body sets). Failures are *Error values coded InvalidArgument whose
// message says what is wrong and where (the field path, and the line and
// column for syntax errors).
func UnmarshalProtoJSON(data []byte, m proto.Message, o ProtoJSONOptions) error {
	return errNotYet
}

// ProtoToSimple converts m into the Simple value a Motan2 service receives
// or returns in its place: a string-keyed map with one entry per populated
// field under its proto name (zero-valued proto3 scalars omitted unless
// emitUnpopulated). Field values map as: bool → bool; int32, sint32,
// sfixed32 → int32; uint32, fixed32 → int64; int64, sint64, sfixed64 →
// int64; uint64, fixed64 → int64 (values above MaxInt64 are an error);
// float → float32; double → float64; string → string; bytes → bytes;
// enum → its name as a string (its number when it has no name); message
// → map (recursively; well-known wrappers become their scalar, Timestamp
// and Duration their JSON string form, Struct/Value/ListValue their
// natural map/array/scalar); repeated → array; map<K,V> → map with keys
// converted as above.
func ProtoToSimple(m protoreflect.Message, emitUnpopulated bool) (motan2.Value, error) {
	return motan2.Value{}, errNotYet
}

// SimpleToProto fills m from v, the inverse of ProtoToSimple, and accepts
// more than it produces: a map keyed by proto names or JSON names; any
// Simple integer kind for any integer or enum field, in range; a string
// for an enum (name), for 64-bit integers (decimal), for bytes (base64)
// and for Timestamp/Duration; a float kind or an integer for float
// fields; null for "leave unset". Unknown keys, values of the wrong kind
// and out-of-range numbers are *ArgError values naming the field path.
func SimpleToProto(m protoreflect.Message, v motan2.Value) error {
	return errNotYet
}

// ArgsToProto fills m from a Motan2 call's positional arguments. With
// fields (the route's mapping) args[i] becomes field fields[i] (a field
// name or dotted path; more args than fields is an error, fewer leaves the
// rest unset). Without fields, a single map argument is the whole message
// (SimpleToProto); no argument leaves m empty; anything else is an
// *ArgError saying the route needs an args mapping.
func ArgsToProto(m protoreflect.Message, args []motan2.Value, fields []string) error {
	return errNotYet
}
