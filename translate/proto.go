package translate

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

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
	// lists and maps) instead of omitting them, as protojson's
	// EmitUnpopulated does: unset message fields and unset fields with
	// explicit presence (proto2) are written as null, and unset members of
	// a oneof (proto3 optional fields included) are still omitted.
	EmitUnpopulated bool
	// EnumsAsNumbers writes enum values as numbers instead of names.
	// Input accepts both.
	EnumsAsNumbers bool
	// Int64AsNumbers writes 64-bit integers (int64, uint64, sint64,
	// fixed64, sfixed64, and the Int64Value and UInt64Value wrappers) as
	// JSON numbers instead of the strings proto3 JSON prescribes. Input
	// accepts both.
	Int64AsNumbers bool
	// DiscardUnknown drops unknown fields (and unknown enum names) in
	// input instead of rejecting the request with InvalidArgument.
	DiscardUnknown bool
	// Types resolves the message types of google.protobuf.Any fields and
	// extensions (nil: the types linked into meshgate only).
	Types TypeResolver
}

// maxProtoDepth bounds the message nesting AppendProtoJSON writes; it is
// the limit protojson's decoder applies by default, so that whatever
// UnmarshalProtoJSON reads can be written back.
const maxProtoDepth = protowire.DefaultRecursionLimit

// AppendProtoJSON appends m as JSON to dst, following the proto3 JSON
// mapping (well-known types in their special forms) with o's choices.
// The output is compact (no spaces) and its field order is the
// declaration order (extensions last, by full name), and map entries are
// sorted by key (numerically for integer keys), so it is stable for golden
// files. Strings holding invalid UTF-8 are written with U+FFFD in place of
// the bad bytes. A nil or invalid message is written as {}.
//
// It fails, with an *Error coded Internal naming the field path, for
// values the JSON mapping cannot express: a google.protobuf.Value with no
// kind or a non-finite number, a Timestamp or Duration out of range, an
// Any whose type o.Types cannot resolve, a FieldMask path with no
// lowerCamelCase form, or nesting deeper than 10000 messages. On error dst
// is returned with its original length.
func AppendProtoJSON(dst []byte, m protoreflect.Message, o ProtoJSONOptions) ([]byte, error) {
	if m == nil || !m.IsValid() {
		return append(dst, "{}"...), nil
	}
	start := len(dst)
	e := newProtoEncoder(&o)
	dst, err := e.message(dst, m, 1)
	if err != nil {
		return dst[:start], err.jsonError(m.Descriptor())
	}
	return dst, nil
}

// AppendProtoFieldJSON appends the JSON of one field of m (an HttpRule's
// response_body): a message field as AppendProtoJSON writes it, a
// repeated or map field as a JSON array or object (empty or not), a
// scalar as its JSON value (its default when unset). An unset message
// field is written as null, unless EmitUnpopulated, when it is {}. fd
// must be a field of m's message type; errors are those of
// AppendProtoJSON.
func AppendProtoFieldJSON(dst []byte, m protoreflect.Message, fd protoreflect.FieldDescriptor, o ProtoJSONOptions) ([]byte, error) {
	if fd == nil || m == nil || fd.ContainingMessage().FullName() != m.Descriptor().FullName() {
		name := "<nil>"
		if fd != nil {
			name = string(fd.FullName())
		}
		msg := "<nil>"
		if m != nil {
			msg = string(m.Descriptor().FullName())
		}
		return dst, Errorf(Internal, "response field %s is not a field of %s", name, msg)
	}
	start := len(dst)
	e := newProtoEncoder(&o)
	var err *convError
	switch {
	case fd.IsList() || fd.IsMap():
		dst, err = e.value(dst, m.Get(fd), fd, 1)
	case fd.Message() != nil && !m.Has(fd):
		if o.EmitUnpopulated {
			dst = append(dst, "{}"...)
		} else {
			dst = append(dst, "null"...)
		}
	default:
		dst, err = e.singular(dst, m.Get(fd), fd, 1)
	}
	if err != nil {
		return dst[:start], err.at(fd.TextName()).jsonError(m.Descriptor())
	}
	return dst, nil
}

// UnmarshalProtoJSON merges the JSON object in data into m (fields
// already set, e.g. from path variables, are overwritten only by fields
// the body sets; with proto.Merge's rules, so a repeated field the body
// sets is appended to and a message field merged). Both field names (the
// proto name and the JSON name), enum names and numbers, and 64-bit
// integers as strings or numbers are accepted whatever o says; unknown
// fields are an error unless o.DiscardUnknown. An empty body (no bytes,
// or only white space) is an error too: the caller decides whether a body
// is required before calling.
//
// Failures are *Error values coded InvalidArgument whose message says
// what is wrong and where: a body that is not JSON gets ParseJSONBody's
// message ("malformed JSON body at line L, column C (offset O): reason",
// with a *SyntaxError cause), and JSON that does not fit the message
// names the field path and the line and column ("invalid JSON body at
// line 1, column 30, field "book.authors[1].displayName": ..."). A
// missing proto2 required field is reported after the merge, so a field
// set before the call may supply it. On error m may be partly filled.
func UnmarshalProtoJSON(data []byte, m proto.Message, o ProtoJSONOptions) error {
	if len(bytes.Trim(data, " \t\r\n")) == 0 {
		return &Error{Code: InvalidArgument, Message: "empty body: a JSON object is required"}
	}
	uo := protojson.UnmarshalOptions{AllowPartial: true, DiscardUnknown: o.DiscardUnknown}
	if o.Types != nil {
		uo.Resolver = o.Types
	}
	rm := m.ProtoReflect()
	target := m
	if !isEmptyMessage(rm) {
		// protojson resets the message it decodes into: decode into a new
		// one and merge it.
		target = rm.New().Interface()
	}
	if err := uo.Unmarshal(data, target); err != nil {
		return protoJSONError(data, err)
	}
	if target != m {
		proto.Merge(m, target)
	}
	if !mayHaveRequired(rm.Descriptor()) {
		return nil
	}
	if err := proto.CheckInitialized(m); err != nil {
		return &Error{Code: InvalidArgument, Message: "invalid JSON body: " + trimProtoPrefix(err.Error()), Cause: err}
	}
	return nil
}

// isEmptyMessage reports whether m holds nothing at all.
func isEmptyMessage(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return false
	}
	md := m.Descriptor()
	fds := md.Fields()
	for i, n := 0, fds.Len(); i < n; i++ {
		if m.Has(fds.Get(i)) {
			return false
		}
	}
	if md.ExtensionRanges().Len() == 0 {
		return true
	}
	empty := true
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		empty = false
		return false
	})
	return empty
}

// mayHaveRequired reports whether a message of type root can hold a
// required field (proto2, or an edition's LEGACY_REQUIRED), so that
// proto.CheckInitialized, which allocates on every message of a dynamic
// tree, runs only when it can fail. It looks at up to 64 message types
// and answers true beyond.
func mayHaveRequired(root protoreflect.MessageDescriptor) bool {
	var buf [64]protoreflect.MessageDescriptor
	queue := append(buf[:0], root)
	for i := 0; i < len(queue); i++ {
		md := queue[i]
		if md.RequiredNumbers().Len() > 0 {
			return true
		}
		fds := md.Fields()
	fields:
		for j, n := 0, fds.Len(); j < n; j++ {
			sub := fds.Get(j).Message()
			if sub == nil || sub.FullName().Parent() == "google.protobuf" {
				continue // the well-known types have no required fields
			}
			for _, seen := range queue {
				if seen == sub {
					continue fields
				}
			}
			if len(queue) == cap(buf) {
				return true
			}
			queue = append(queue, sub)
		}
	}
	return false
}

// ProtoToSimple converts m into the Simple value a Motan2 service receives
// or returns in its place: a string-keyed map with one entry per populated
// field under its proto name, in declaration order (zero-valued proto3
// scalars omitted unless emitUnpopulated, which also writes empty lists
// and maps, and null for unset message fields and unset proto2 fields; as
// in JSON, unset oneof members are always omitted). Field values map as:
// bool → bool; int32, sint32, sfixed32 → int32; uint32, fixed32 → int64;
// int64, sint64, sfixed64 → int64; uint64, fixed64 → int64 (values above
// MaxInt64 are an error); float → float32; double → float64; string →
// string; bytes → bytes (sharing m's memory); enum → its name as a string
// (its number, an int32, when it has no name); message → map
// (recursively; well-known wrappers become their scalar, Timestamp and
// Duration their JSON string form, Struct/Value/ListValue their natural
// map/array/scalar, the other well-known types such as Any, FieldMask and
// Empty are ordinary messages); repeated → array; map<K,V> → map with
// keys converted as above, sorted. Extensions and unknown fields are not
// converted. A message that is itself a well-known type converts as its
// fields would (a Timestamp to a string); a nil or invalid m gives null.
//
// Errors are *ArgError values naming the field path; a message nested
// deeper than motan2.MaxValueDepth containers is one too.
func ProtoToSimple(m protoreflect.Message, emitUnpopulated bool) (motan2.Value, error) {
	if m == nil || !m.IsValid() {
		return motan2.Null, nil
	}
	c := toSimple{emit: emitUnpopulated}
	v, err := c.message(m, 0)
	if err != nil {
		return motan2.Null, err.argError(string(m.Descriptor().FullName()), "")
	}
	return v, nil
}

// SimpleToProto fills m from v, the inverse of ProtoToSimple, and accepts
// more than it produces: a map (generic or string map) keyed by proto
// names or JSON names; any Simple integer kind for any integer or enum
// field, in range; a string for an enum (name), for 64-bit integers
// (decimal, so uint64 values above MaxInt64 can be passed), for bytes
// (base64, standard or URL alphabet) and for Timestamp/Duration (their
// JSON form); a float kind or an integer for float fields; a string
// array for a repeated field; integer or decimal string keys for integer
// map keys; the map of a message's fields for wrappers, Timestamp and
// Duration; and null for "leave unset" (except in a
// google.protobuf.Value, where it is the null value). Scalars overwrite,
// lists and maps replace what m held, and message fields are merged into.
//
// Unknown keys, values of the wrong kind, out-of-range numbers, unknown
// enum names and nulls in lists or map values are *ArgError values naming
// the field path (the message's full name for v itself); on error m may
// be partly filled. A null v leaves m as it is.
func SimpleToProto(m protoreflect.Message, v motan2.Value) error {
	if err := simpleToMessage(m, v, 0); err != nil {
		return err.argError(string(m.Descriptor().FullName()), "")
	}
	return nil
}

// ArgsToProto fills m from a Motan2 call's positional arguments. With
// fields (the route's mapping) args[i] becomes field fields[i] (a field
// name or dotted path through singular message fields, with proto or JSON
// names; more args than fields is an error, fewer leaves the rest unset,
// and a null argument leaves its field unset), converted as SimpleToProto
// converts a field. Without fields, a single map argument is the whole
// message (SimpleToProto); no argument, or a single null, leaves m empty;
// anything else is an *ArgError saying the route needs an args mapping.
//
// Argument errors are *ArgError values naming the field path. A mapping
// that does not fit m's message type (an unknown field, a path through a
// repeated field) is a route configuration error: an *Error coded
// Internal.
func ArgsToProto(m protoreflect.Message, args []motan2.Value, fields []string) error {
	md := m.Descriptor()
	if len(fields) == 0 {
		switch {
		case len(args) == 0:
			return nil
		case len(args) == 1:
			if k := args[0].Kind(); k == motan2.KindMap || k == motan2.KindStringMap || k == motan2.KindNull {
				return SimpleToProto(m, args[0])
			}
			ce := describedKind(args[0], "a map")
			return &ArgError{Arg: "args[0]", Type: ArgMap, Value: ce.value,
				Reason: ce.reason + ": the route has no args mapping, so the call must pass the whole " + string(md.FullName()) + " as one map argument"}
		}
		return &ArgError{Arg: "args", Type: ArgMap,
			Reason: fmt.Sprintf("are %d values: the route has no args mapping, so the call must pass the whole %s as one map argument", len(args), md.FullName())}
	}
	if len(args) > len(fields) {
		return &ArgError{Arg: "args[" + strconv.Itoa(len(fields)) + "]", Type: ArgMap,
			Reason: fmt.Sprintf("is one argument too many: the call passes %d arguments, the route maps %d (%s)", len(args), len(fields), strings.Join(fields, ", "))}
	}
	for i := range args {
		path, err := fieldPath(md, fields[i])
		if err != nil {
			return Errorf(Internal, "route args mapping %q for %s: %s", fields[i], md.FullName(), err)
		}
		if args[i].IsNull() {
			continue
		}
		target := m
		for _, fd := range path[:len(path)-1] {
			target = target.Mutable(fd).Message()
		}
		if err := simpleToField(target, path[len(path)-1], args[i], 0); err != nil {
			return err.argError(fields[i], fields[i])
		}
	}
	return nil
}

// fieldPath resolves a dotted path of field names (proto or JSON names)
// in md: every field but the last must be a singular message.
func fieldPath(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	var out []protoreflect.FieldDescriptor
	for rest := path; ; {
		seg, more, _ := strings.Cut(rest, ".")
		if seg == "" {
			return nil, fmt.Errorf("empty field name in %q", path)
		}
		fd := lookupField(md, seg)
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", md.FullName(), seg)
		}
		out = append(out, fd)
		if more == "" && !strings.HasSuffix(rest, ".") {
			return out, nil
		}
		if fd.IsList() || fd.IsMap() || fd.Message() == nil {
			return nil, fmt.Errorf("field %s is not a singular message, so the path cannot go through it", fd.FullName())
		}
		md, rest = fd.Message(), more
	}
}

// lookupField finds a field by proto name, JSON name or (for groups) text
// name.
func lookupField(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fds := md.Fields()
	if fd := fds.ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	if fd := fds.ByJSONName(name); fd != nil {
		return fd
	}
	return fds.ByTextName(name)
}

// convError is a conversion failure on its way up the recursion: the
// path is collected as the stack unwinds, so success costs nothing.
type convError struct {
	segs   []string // path segments, innermost first: "name", "[3]", "[key]"
	typ    ArgType
	value  string // the offending value as JSON, when there is one
	reason string
}

func (e *convError) at(seg string) *convError {
	e.segs = append(e.segs, seg)
	return e
}

func (e *convError) atIndex(i int) *convError { return e.at("[" + strconv.Itoa(i) + "]") }

// path returns prefix followed by the segments, outermost first:
// "book.authors[1].display_name".
func (e *convError) path(prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		if b.Len() > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// argError returns e as an *ArgError whose Arg is the path under prefix,
// or whole when the path is empty.
func (e *convError) argError(whole, prefix string) *ArgError {
	arg := e.path(prefix)
	if arg == "" {
		arg = whole
	}
	return &ArgError{Arg: arg, Type: e.typ, Value: e.value, Reason: e.reason}
}

// jsonError returns e as the Internal *Error of AppendProtoJSON.
func (e *convError) jsonError(md protoreflect.MessageDescriptor) *Error {
	msg := "cannot write " + string(md.FullName()) + " as JSON: "
	if p := e.path(""); p != "" {
		msg += "field " + p + ": "
	}
	return &Error{Code: Internal, Message: msg + e.reason}
}

// Well-known types with a special form in JSON or Simple.
type wkt uint8

const (
	wktNone wkt = iota
	wktAny
	wktTimestamp
	wktDuration
	wktWrapper
	wktStruct
	wktListValue
	wktValue
	wktFieldMask
)

func wellKnown(md protoreflect.MessageDescriptor) wkt {
	name := md.FullName()
	if name.Parent() != "google.protobuf" {
		return wktNone
	}
	switch name.Name() {
	case "Any":
		return wktAny
	case "Timestamp":
		return wktTimestamp
	case "Duration":
		return wktDuration
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return wktWrapper
	case "Struct":
		return wktStruct
	case "ListValue":
		return wktListValue
	case "Value":
		return wktValue
	case "FieldMask":
		return wktFieldMask
	}
	return wktNone
}

const nullValueEnum = "google.protobuf.NullValue"

// protoEncoder writes messages as JSON.
type protoEncoder struct {
	o     ProtoJSONOptions
	types TypeResolver
}

func newProtoEncoder(o *ProtoJSONOptions) protoEncoder {
	e := protoEncoder{o: *o, types: o.Types}
	if e.types == nil {
		e.types = protoregistry.GlobalTypes
	}
	return e
}

// message appends m, the depth-th message from the top.
func (e *protoEncoder) message(dst []byte, m protoreflect.Message, depth int) ([]byte, *convError) {
	if depth > maxProtoDepth {
		return dst, &convError{reason: "nested deeper than " + strconv.Itoa(maxProtoDepth) + " messages"}
	}
	md := m.Descriptor()
	switch wellKnown(md) {
	case wktAny:
		return e.anyJSON(dst, m, depth)
	case wktTimestamp:
		return appendTimestamp(dst, m, true)
	case wktDuration:
		return appendDuration(dst, m, true)
	case wktWrapper:
		fd := md.Fields().ByNumber(1)
		return e.singular(dst, m.Get(fd), fd, depth)
	case wktStruct:
		fd := md.Fields().ByNumber(1)
		return e.mapJSON(dst, m.Get(fd).Map(), fd, depth)
	case wktListValue:
		fd := md.Fields().ByNumber(1)
		return e.value(dst, m.Get(fd), fd, depth)
	case wktValue:
		return e.knownValue(dst, m, depth)
	case wktFieldMask:
		b, err := protojson.MarshalOptions{AllowPartial: true}.MarshalAppend(dst, m.Interface())
		if err != nil {
			return dst, &convError{reason: trimProtoPrefix(err.Error())}
		}
		return b, nil
	}
	return e.fields(dst, m, "", depth)
}

// fields appends m as a JSON object of its fields, with "@type" first
// when typeURL is set (a message inside an Any).
func (e *protoEncoder) fields(dst []byte, m protoreflect.Message, typeURL string, depth int) ([]byte, *convError) {
	dst = append(dst, '{')
	n := 0
	if typeURL != "" {
		dst = append(dst, `"@type":`...)
		dst = appendJSONString(dst, typeURL)
		n++
	}
	md := m.Descriptor()
	fds := md.Fields()
	for i, nf := 0, fds.Len(); i < nf; i++ {
		fd := fds.Get(i)
		has := m.Has(fd)
		if !has && (!e.o.EmitUnpopulated || fd.ContainingOneof() != nil) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = e.name(dst, fd)
		if !has && fd.HasPresence() {
			dst = append(dst, "null"...)
			continue
		}
		var err *convError
		if dst, err = e.value(dst, m.Get(fd), fd, depth); err != nil {
			return dst, err.at(fd.TextName())
		}
	}
	if md.ExtensionRanges().Len() > 0 {
		var exts []protoreflect.FieldDescriptor
		m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if fd.IsExtension() {
				exts = append(exts, fd)
			}
			return true
		})
		slices.SortFunc(exts, func(a, b protoreflect.FieldDescriptor) int {
			return strings.Compare(string(a.FullName()), string(b.FullName()))
		})
		for _, fd := range exts {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = e.name(dst, fd)
			var err *convError
			if dst, err = e.value(dst, m.Get(fd), fd, depth); err != nil {
				return dst, err.at(fd.TextName())
			}
		}
	}
	return append(dst, '}'), nil
}

func (e *protoEncoder) name(dst []byte, fd protoreflect.FieldDescriptor) []byte {
	if e.o.UseProtoNames {
		dst = appendJSONString(dst, fd.TextName())
	} else {
		dst = appendJSONString(dst, fd.JSONName())
	}
	return append(dst, ':')
}

// value appends the value of field fd: a list, a map or a singular value.
func (e *protoEncoder) value(dst []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) ([]byte, *convError) {
	switch {
	case fd.IsList():
		l := v.List()
		dst = append(dst, '[')
		for i, n := 0, l.Len(); i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err *convError
			if dst, err = e.singular(dst, l.Get(i), fd, depth); err != nil {
				return dst, err.atIndex(i)
			}
		}
		return append(dst, ']'), nil
	case fd.IsMap():
		return e.mapJSON(dst, v.Map(), fd, depth)
	}
	return e.singular(dst, v, fd, depth)
}

func (e *protoEncoder) mapJSON(dst []byte, mp protoreflect.Map, fd protoreflect.FieldDescriptor, depth int) ([]byte, *convError) {
	if mp.Len() == 0 {
		return append(dst, "{}"...), nil
	}
	sm := sortMap(mp, fd.MapKey().Kind())
	defer sm.release()
	vd := fd.MapValue()
	dst = append(dst, '{')
	for i, ent := range sm.entries {
		k := ent.k
		if i > 0 {
			dst = append(dst, ',')
		}
		if kk := fd.MapKey().Kind(); kk == protoreflect.StringKind {
			dst = appendJSONString(dst, k.String())
		} else {
			// An integer or bool key: its text needs no escaping.
			dst = append(dst, '"')
			dst = appendMapKeyText(dst, k, kk)
			dst = append(dst, '"')
		}
		dst = append(dst, ':')
		var err *convError
		if dst, err = e.singular(dst, ent.v, vd, depth); err != nil {
			return dst, err.at("[" + mapKeyString(k, fd.MapKey().Kind()) + "]")
		}
	}
	return append(dst, '}'), nil
}

// appendMapKeyText appends a map key: a JSON string for string keys, the
// bare text of others.
func appendMapKeyText(dst []byte, k protoreflect.MapKey, kind protoreflect.Kind) []byte {
	switch kind {
	case protoreflect.StringKind:
		return appendJSONString(dst, k.String())
	case protoreflect.BoolKind:
		return strconv.AppendBool(dst, k.Bool())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(dst, k.Uint(), 10)
	}
	return strconv.AppendInt(dst, k.Int(), 10)
}

func mapKeyString(k protoreflect.MapKey, kind protoreflect.Kind) string {
	if kind == protoreflect.StringKind {
		return k.String()
	}
	return string(appendMapKeyText(nil, k, kind))
}

// mapEntry is one entry of a protobuf map, taken during Range so that
// no Get (which boxes the key in dynamic messages) is needed.
type mapEntry struct {
	k protoreflect.MapKey
	v protoreflect.Value
}

// sortedMap holds the entries of a map in key order. They are pooled
// with their Range callback, so sorting a map allocates nothing once the
// pool is warm.
type sortedMap struct {
	entries []mapEntry
	add     func(protoreflect.MapKey, protoreflect.Value) bool
}

var sortedMapPool = sync.Pool{New: func() any {
	s := new(sortedMap)
	s.add = func(k protoreflect.MapKey, v protoreflect.Value) bool {
		s.entries = append(s.entries, mapEntry{k, v})
		return true
	}
	return s
}}

// sortMap returns the entries of mp in order: false before true,
// integers numerically, strings bytewise. Release it after use.
func sortMap(mp protoreflect.Map, kind protoreflect.Kind) *sortedMap {
	s := sortedMapPool.Get().(*sortedMap)
	mp.Range(s.add)
	switch kind {
	case protoreflect.StringKind:
		slices.SortFunc(s.entries, func(a, b mapEntry) int { return strings.Compare(a.k.String(), b.k.String()) })
	case protoreflect.BoolKind:
		slices.SortFunc(s.entries, func(a, b mapEntry) int {
			x, y := a.k.Bool(), b.k.Bool()
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		})
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		slices.SortFunc(s.entries, func(a, b mapEntry) int { return cmp.Compare(a.k.Uint(), b.k.Uint()) })
	default:
		slices.SortFunc(s.entries, func(a, b mapEntry) int { return cmp.Compare(a.k.Int(), b.k.Int()) })
	}
	return s
}

// release returns s to the pool, dropping its references.
func (s *sortedMap) release() {
	clear(s.entries)
	s.entries = s.entries[:0]
	if cap(s.entries) <= 1024 {
		sortedMapPool.Put(s)
	}
}

// singular appends one value of field fd (an element, for lists and
// maps' values).
func (e *protoEncoder) singular(dst []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) ([]byte, *convError) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(dst, v.Bool()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(dst, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if e.o.Int64AsNumbers {
			return strconv.AppendInt(dst, v.Int(), 10), nil
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, v.Int(), 10)
		return append(dst, '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if e.o.Int64AsNumbers {
			return strconv.AppendUint(dst, v.Uint(), 10), nil
		}
		dst = append(dst, '"')
		dst = strconv.AppendUint(dst, v.Uint(), 10)
		return append(dst, '"'), nil
	case protoreflect.FloatKind:
		return appendFloatJSON(dst, v.Float(), 32, false), nil
	case protoreflect.DoubleKind:
		return appendFloatJSON(dst, v.Float(), 64, false), nil
	case protoreflect.StringKind:
		return appendJSONString(dst, v.String()), nil
	case protoreflect.BytesKind:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes())
		return append(dst, '"'), nil
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == nullValueEnum {
			return append(dst, "null"...), nil
		}
		if !e.o.EnumsAsNumbers {
			if ev := ed.Values().ByNumber(v.Enum()); ev != nil {
				return appendJSONString(dst, string(ev.Name())), nil
			}
		}
		return strconv.AppendInt(dst, int64(v.Enum()), 10), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return e.message(dst, v.Message(), depth+1)
	}
	return dst, &convError{reason: "has an unknown kind " + fd.Kind().String()}
}

// knownValue appends a google.protobuf.Value. Its struct and list are
// written inline: protojson's decoder counts only the Value against its
// recursion limit.
func (e *protoEncoder) knownValue(dst []byte, m protoreflect.Message, depth int) ([]byte, *convError) {
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		return dst, &convError{reason: "google.protobuf.Value has none of its kinds set"}
	}
	v := m.Get(fd)
	switch fd.Name() {
	case "null_value":
		return append(dst, "null"...), nil
	case "number_value":
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, &convError{reason: "google.protobuf.Value cannot hold " + strconv.FormatFloat(f, 'g', -1, 64) + " in JSON"}
		}
		return appendFloatJSON(dst, f, 64, false), nil
	case "string_value":
		return appendJSONString(dst, v.String()), nil
	case "bool_value":
		return strconv.AppendBool(dst, v.Bool()), nil
	case "struct_value":
		sm := v.Message()
		sfd := sm.Descriptor().Fields().ByNumber(1)
		return e.mapJSON(dst, sm.Get(sfd).Map(), sfd, depth)
	case "list_value":
		lm := v.Message()
		lfd := lm.Descriptor().Fields().ByNumber(1)
		return e.value(dst, lm.Get(lfd), lfd, depth)
	}
	return dst, &convError{reason: "google.protobuf.Value has an unknown kind " + string(fd.Name())}
}

// anyJSON appends a google.protobuf.Any as protojson does: the embedded
// message's fields with "@type" first, or {"@type":...,"value":...} for
// an embedded well-known type with a special form.
func (e *protoEncoder) anyJSON(dst []byte, m protoreflect.Message, depth int) ([]byte, *convError) {
	fds := m.Descriptor().Fields()
	fdType, fdValue := fds.ByNumber(1), fds.ByNumber(2)
	if !m.Has(fdType) {
		if !m.Has(fdValue) {
			return append(dst, "{}"...), nil
		}
		return dst, &convError{reason: "google.protobuf.Any has a value but no type_url"}
	}
	url := m.Get(fdType).String()
	mt, err := e.types.FindMessageByURL(url)
	if err != nil {
		return dst, &convError{reason: fmt.Sprintf("google.protobuf.Any: cannot resolve type %q: %v", url, err)}
	}
	em := mt.New()
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: e.types}).Unmarshal(m.Get(fdValue).Bytes(), em.Interface()); err != nil {
		return dst, &convError{reason: fmt.Sprintf("google.protobuf.Any: cannot decode its %q value: %s", url, trimProtoPrefix(err.Error()))}
	}
	if depth+1 > maxProtoDepth {
		return dst, &convError{reason: "nested deeper than " + strconv.Itoa(maxProtoDepth) + " messages"}
	}
	if wellKnown(em.Descriptor()) != wktNone {
		dst = append(dst, `{"@type":`...)
		dst = appendJSONString(dst, url)
		dst = append(dst, `,"value":`...)
		var cerr *convError
		if dst, cerr = e.message(dst, em, depth+1); cerr != nil {
			return dst, cerr.at("value")
		}
		return append(dst, '}'), nil
	}
	return e.fields(dst, em, url, depth+1)
}

// Timestamp and Duration limits of the proto3 JSON mapping.
const (
	minTimestampSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestampSeconds = 253402300799 // 9999-12-31T23:59:59Z
	maxDurationSeconds  = 315576000000
	maxNanos            = 999999999
)

// appendTimestamp appends a Timestamp in RFC 3339 form, UTC, with 0, 3, 6
// or 9 fractional digits, as protojson writes it (quoted in JSON).
func appendTimestamp(dst []byte, m protoreflect.Message, quoted bool) ([]byte, *convError) {
	fds := m.Descriptor().Fields()
	secs, nanos := m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return dst, &convError{reason: "google.protobuf.Timestamp seconds out of range: " + strconv.FormatInt(secs, 10)}
	}
	if nanos < 0 || nanos > maxNanos {
		return dst, &convError{reason: "google.protobuf.Timestamp nanos out of range: " + strconv.FormatInt(nanos, 10)}
	}
	if quoted {
		dst = append(dst, '"')
	}
	dst = time.Unix(secs, 0).UTC().AppendFormat(dst, "2006-01-02T15:04:05")
	dst = appendNanos(dst, nanos)
	dst = append(dst, 'Z')
	if quoted {
		dst = append(dst, '"')
	}
	return dst, nil
}

// appendDuration appends a Duration as seconds with 0, 3, 6 or 9
// fractional digits and an "s", as protojson writes it.
func appendDuration(dst []byte, m protoreflect.Message, quoted bool) ([]byte, *convError) {
	fds := m.Descriptor().Fields()
	secs, nanos := m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
	if secs < -maxDurationSeconds || secs > maxDurationSeconds {
		return dst, &convError{reason: "google.protobuf.Duration seconds out of range: " + strconv.FormatInt(secs, 10)}
	}
	if nanos < -maxNanos || nanos > maxNanos {
		return dst, &convError{reason: "google.protobuf.Duration nanos out of range: " + strconv.FormatInt(nanos, 10)}
	}
	if secs > 0 && nanos < 0 || secs < 0 && nanos > 0 {
		return dst, &convError{reason: "google.protobuf.Duration seconds and nanos have different signs"}
	}
	if quoted {
		dst = append(dst, '"')
	}
	if secs < 0 || nanos < 0 {
		dst = append(dst, '-')
		secs, nanos = -secs, -nanos
	}
	dst = strconv.AppendInt(dst, secs, 10)
	dst = appendNanos(dst, nanos)
	dst = append(dst, 's')
	if quoted {
		dst = append(dst, '"')
	}
	return dst, nil
}

// appendNanos appends ".nnn", ".nnnnnn" or ".nnnnnnnnn", or nothing for 0.
func appendNanos(dst []byte, nanos int64) []byte {
	if nanos == 0 {
		return dst
	}
	var buf [10]byte
	buf[0] = '.'
	for i, n := 9, nanos; i >= 1; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	end := 10
	for end > 4 && string(buf[end-3:end]) == "000" {
		end -= 3
	}
	return append(dst, buf[:end]...)
}

// protoJSONError turns a protojson decoding error into the
// InvalidArgument *Error of UnmarshalProtoJSON.
func protoJSONError(data []byte, err error) *Error {
	s := string(data)
	if off, reason, found := firstSyntaxError(s); found {
		se := newSyntaxError(s, off, reason)
		return &Error{Code: InvalidArgument, Message: se.Error(), Cause: se}
	}
	reason := trimProtoPrefix(err.Error())
	reason = strings.TrimPrefix(reason, "syntax error ")
	msg := "invalid JSON body"
	if line, col, rest, ok := cutPosition(reason); ok {
		reason = rest
		msg += " at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
		if path := jsonPathAt(data, offsetOf(data, line, col)); path != "" {
			msg += ", field " + strconv.Quote(path)
		}
	}
	return &Error{Code: InvalidArgument, Message: msg + ": " + reason, Cause: err}
}

// trimProtoPrefix drops the "proto: " the protobuf runtime puts before its
// error messages (with a regular or a non-breaking space).
func trimProtoPrefix(s string) string {
	if rest, ok := strings.CutPrefix(s, "proto:"); ok {
		return strings.TrimLeft(rest, " \u00a0")
	}
	return s
}

// cutPosition parses the "(line L:C): " protojson puts before the reason.
func cutPosition(s string) (line, col int, rest string, ok bool) {
	pos, rest, found := strings.Cut(s, "): ")
	if !found {
		return 0, 0, s, false
	}
	pos, found = strings.CutPrefix(pos, "(line ")
	if !found {
		return 0, 0, s, false
	}
	l, c, found := strings.Cut(pos, ":")
	if !found {
		return 0, 0, s, false
	}
	line, err1 := strconv.Atoi(l)
	col, err2 := strconv.Atoi(c)
	if err1 != nil || err2 != nil {
		return 0, 0, s, false
	}
	return line, col, rest, true
}

// offsetOf returns the byte offset of the 1-based line and column (in
// code points) in data.
func offsetOf(data []byte, line, col int) int {
	i := 0
	for l := 1; l < line && i < len(data); i++ {
		if data[i] == '\n' {
			l++
		}
	}
	for c := 1; c < col && i < len(data); c++ {
		_, size := utf8.DecodeRune(data[i:])
		i += size
	}
	return i
}

// jsonPathAt returns the path of the value (or object key) at offset in
// the valid JSON text data, as "a.b[2].c".
func jsonPathAt(data []byte, offset int) string {
	type frame struct {
		object  bool
		wantKey bool
		key     string
		index   int
	}
	var stack []frame
	i := 0
	for i < len(data) {
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
			i++
		}
		if i >= len(data) {
			break
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if i >= offset {
			if data[i] == '"' && top != nil && top.object && top.wantKey {
				top.key, _ = scanJSONKey(data, i)
				top.wantKey = false
			}
			break
		}
		switch c := data[i]; c {
		case '{', '[':
			stack = append(stack, frame{object: c == '{', wantKey: c == '{'})
			i++
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		case ',':
			if top != nil {
				if top.object {
					top.wantKey, top.key = true, ""
				} else {
					top.index++
				}
			}
			i++
		case ':':
			i++
		case '"':
			key, end := scanJSONKey(data, i)
			if top != nil && top.object && top.wantKey {
				top.key, top.wantKey = key, false
			}
			i = end
		default:
			for i < len(data) && !strings.ContainsRune(" \t\r\n,:[]{}\"", rune(data[i])) {
				i++
			}
		}
	}
	var b strings.Builder
	for _, f := range stack {
		if f.object {
			if f.wantKey {
				break
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	return b.String()
}

// scanJSONKey reads the JSON string at data[i] and returns its text and
// the offset after it.
func scanJSONKey(data []byte, i int) (string, int) {
	j := i + 1
	escaped := false
	for j < len(data) && data[j] != '"' {
		if data[j] == '\\' {
			escaped = true
			j++
		}
		j++
	}
	end := min(j+1, len(data))
	if !escaped {
		return string(data[i+1 : min(j, len(data))]), end
	}
	var s string
	if json.Unmarshal(data[i:end], &s) != nil {
		return string(data[i+1 : min(j, len(data))]), end
	}
	return s, end
}

// toSimple converts messages to Simple values.
type toSimple struct{ emit bool }

var tooDeepReason = "is nested deeper than " + strconv.Itoa(motan2.MaxValueDepth) + " levels"

// message converts m, a value at the given container depth.
func (c *toSimple) message(m protoreflect.Message, depth int) (motan2.Value, *convError) {
	md := m.Descriptor()
	switch wellKnown(md) {
	case wktWrapper:
		fd := md.Fields().ByNumber(1)
		return c.singular(m.Get(fd), fd, depth)
	case wktTimestamp:
		b, err := appendTimestamp(nil, m, false)
		if err != nil {
			err.typ = ArgString
			return motan2.Null, err
		}
		return motan2.String(string(b)), nil
	case wktDuration:
		b, err := appendDuration(nil, m, false)
		if err != nil {
			err.typ = ArgString
			return motan2.Null, err
		}
		return motan2.String(string(b)), nil
	case wktStruct:
		return c.structValue(m, depth)
	case wktListValue:
		return c.listValue(m, depth)
	case wktValue:
		return c.knownValue(m, depth)
	}
	if depth >= motan2.MaxValueDepth {
		return motan2.Null, &convError{typ: ArgMap, reason: tooDeepReason}
	}
	fds := md.Fields()
	n := fds.Len()
	if !c.emit {
		n = 0
		m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if !fd.IsExtension() {
				n++
			}
			return true
		})
	}
	kv := make([]motan2.Value, 0, 2*n)
	for i, nf := 0, fds.Len(); i < nf; i++ {
		fd := fds.Get(i)
		has := m.Has(fd)
		if !has && (!c.emit || fd.ContainingOneof() != nil) {
			continue
		}
		key := motan2.String(string(fd.Name()))
		if !has && fd.HasPresence() {
			kv = append(kv, key, motan2.Null)
			continue
		}
		v, err := c.value(m.Get(fd), fd, depth+1)
		if err != nil {
			return motan2.Null, err.at(string(fd.Name()))
		}
		kv = append(kv, key, v)
	}
	return motan2.Map(kv...), nil
}

func (c *toSimple) value(v protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) (motan2.Value, *convError) {
	switch {
	case fd.IsList():
		if depth >= motan2.MaxValueDepth {
			return motan2.Null, &convError{typ: ArgArray, reason: tooDeepReason}
		}
		l := v.List()
		items := make([]motan2.Value, l.Len())
		for i := range items {
			item, err := c.singular(l.Get(i), fd, depth+1)
			if err != nil {
				return motan2.Null, err.atIndex(i)
			}
			items[i] = item
		}
		return motan2.Array(items), nil
	case fd.IsMap():
		return c.mapValue(v.Map(), fd, depth)
	}
	return c.singular(v, fd, depth)
}

func (c *toSimple) mapValue(mp protoreflect.Map, fd protoreflect.FieldDescriptor, depth int) (motan2.Value, *convError) {
	if depth >= motan2.MaxValueDepth {
		return motan2.Null, &convError{typ: ArgMap, reason: tooDeepReason}
	}
	kd, vd := fd.MapKey(), fd.MapValue()
	sm := sortMap(mp, kd.Kind())
	defer sm.release()
	kv := make([]motan2.Value, 0, 2*len(sm.entries))
	for _, ent := range sm.entries {
		k := ent.k
		key, err := c.singular(k.Value(), kd, depth+1)
		if err == nil {
			var v motan2.Value
			if v, err = c.singular(ent.v, vd, depth+1); err == nil {
				kv = append(kv, key, v)
				continue
			}
		}
		return motan2.Null, err.at("[" + mapKeyString(k, kd.Kind()) + "]")
	}
	return motan2.Map(kv...), nil
}

func (c *toSimple) singular(v protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) (motan2.Value, *convError) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return motan2.Bool(v.Bool()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return motan2.Int32(int32(v.Int())), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return motan2.Int64(int64(v.Uint())), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return motan2.Int64(v.Int()), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		u := v.Uint()
		if u > math.MaxInt64 {
			return motan2.Null, &convError{typ: ArgInt64, value: strconv.FormatUint(u, 10),
				reason: "is out of range for int64, Simple's largest integer"}
		}
		return motan2.Int64(int64(u)), nil
	case protoreflect.FloatKind:
		return motan2.Float32(float32(v.Float())), nil
	case protoreflect.DoubleKind:
		return motan2.Float64(v.Float()), nil
	case protoreflect.StringKind:
		return motan2.String(v.String()), nil
	case protoreflect.BytesKind:
		return motan2.Bytes(v.Bytes()), nil
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == nullValueEnum {
			return motan2.Null, nil
		}
		if ev := ed.Values().ByNumber(v.Enum()); ev != nil {
			return motan2.String(string(ev.Name())), nil
		}
		return motan2.Int32(int32(v.Enum())), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return c.message(v.Message(), depth)
	}
	return motan2.Null, &convError{reason: "has an unknown kind " + fd.Kind().String()}
}

// structValue converts a google.protobuf.Struct to a map.
func (c *toSimple) structValue(m protoreflect.Message, depth int) (motan2.Value, *convError) {
	fd := m.Descriptor().Fields().ByNumber(1)
	return c.mapValue(m.Get(fd).Map(), fd, depth)
}

// listValue converts a google.protobuf.ListValue to an array.
func (c *toSimple) listValue(m protoreflect.Message, depth int) (motan2.Value, *convError) {
	fd := m.Descriptor().Fields().ByNumber(1)
	return c.value(m.Get(fd), fd, depth)
}

// knownValue converts a google.protobuf.Value to its natural value (null
// when no kind is set).
func (c *toSimple) knownValue(m protoreflect.Message, depth int) (motan2.Value, *convError) {
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		return motan2.Null, nil
	}
	v := m.Get(fd)
	switch fd.Name() {
	case "number_value":
		return motan2.Float64(v.Float()), nil
	case "string_value":
		return motan2.String(v.String()), nil
	case "bool_value":
		return motan2.Bool(v.Bool()), nil
	case "struct_value":
		return c.structValue(v.Message(), depth)
	case "list_value":
		return c.listValue(v.Message(), depth)
	}
	return motan2.Null, nil
}

func isContainer(k motan2.Kind) bool {
	switch k {
	case motan2.KindMap, motan2.KindArray, motan2.KindStringMap, motan2.KindStringArray:
		return true
	}
	return false
}

// shownValue returns v as JSON for ArgError.Value ("" for containers,
// whose kind the reason names instead).
func shownValue(v motan2.Value) string {
	if isContainer(v.Kind()) {
		return ""
	}
	if v.Kind() == motan2.KindString {
		return shownString(v.Str())
	}
	b, err := AppendJSON(nil, v, JSONOptions{})
	if err != nil {
		return v.Kind().String()
	}
	if len(b) > maxShown {
		return string(b[:maxShown]) + "..."
	}
	return string(b)
}

// describedKind returns the error for v where want ("a bool") was
// expected: the value and "is not a bool", or for a container "is a map,
// not a bool".
func describedKind(v motan2.Value, want string) *convError {
	if isContainer(v.Kind()) || v.Kind() == motan2.KindMessage {
		k := v.Kind().String()
		article := "a "
		if strings.IndexByte("aeiou", k[0]) >= 0 {
			article = "an "
		}
		return &convError{reason: "is " + article + k + ", not " + want}
	}
	return &convError{value: shownValue(v), reason: "is not " + want}
}

func badKind(v motan2.Value, want string, t ArgType) *convError {
	e := describedKind(v, want)
	e.typ = t
	return e
}

func tooDeepArg(t ArgType) *convError { return &convError{typ: t, reason: tooDeepReason} }

// simpleToMessage fills m from v, a value at the given container depth.
func simpleToMessage(m protoreflect.Message, v motan2.Value, depth int) *convError {
	if v.IsNull() {
		return nil
	}
	md := m.Descriptor()
	isMap := v.Kind() == motan2.KindMap || v.Kind() == motan2.KindStringMap
	switch w := wellKnown(md); w {
	case wktWrapper:
		if !isMap {
			fd := md.Fields().ByNumber(1)
			pv, err := simpleToScalar(fd, v)
			if err != nil {
				return err
			}
			m.Set(fd, pv)
			return nil
		}
	case wktTimestamp, wktDuration:
		if v.Kind() == motan2.KindString {
			return parseTimeValue(m, v.Str())
		}
	case wktStruct:
		if depth >= motan2.MaxValueDepth {
			return tooDeepArg(ArgMap)
		}
		fd := md.Fields().ByNumber(1)
		mp := m.NewField(fd)
		if err := simpleToStruct(mp.Map(), v, depth); err != nil {
			return err
		}
		m.Set(fd, mp)
		return nil
	case wktListValue:
		if depth >= motan2.MaxValueDepth {
			return tooDeepArg(ArgArray)
		}
		fd := md.Fields().ByNumber(1)
		l := m.NewField(fd)
		if err := simpleToValueList(l.List(), v, depth); err != nil {
			return err
		}
		m.Set(fd, l)
		return nil
	case wktValue:
		return simpleToKnownValue(m, v, depth)
	}
	if !isMap {
		return badKind(v, "a map (for message "+string(md.FullName())+")", ArgMap)
	}
	if depth >= motan2.MaxValueDepth {
		return tooDeepArg(ArgMap)
	}
	set := func(key string, val motan2.Value) *convError {
		fd := lookupField(md, key)
		if fd == nil {
			return (&convError{typ: ArgMap, reason: "is not a field of " + string(md.FullName())}).at(key)
		}
		if err := simpleToField(m, fd, val, depth+1); err != nil {
			return err.at(key)
		}
		return nil
	}
	if v.Kind() == motan2.KindStringMap {
		for _, p := range v.Pairs() {
			if err := set(p.Key, motan2.String(p.Value)); err != nil {
				return err
			}
		}
		return nil
	}
	for i, n := 0, v.Len(); i < n; i++ {
		k, val := v.Entry(i)
		if k.Kind() != motan2.KindString {
			e := badKind(k, "a string", ArgMap)
			e.reason += ": the keys of a map for message " + string(md.FullName()) + " are field names"
			return e
		}
		if err := set(k.Str(), val); err != nil {
			return err
		}
	}
	return nil
}

// parseTimeValue sets a Timestamp or Duration from its JSON string form.
func parseTimeValue(m protoreflect.Message, s string) *convError {
	err := protojson.Unmarshal(appendJSONString(nil, s), m.Interface())
	if err != nil {
		what := "an RFC 3339 timestamp"
		if wellKnown(m.Descriptor()) == wktDuration {
			what = "a duration such as \"1.5s\""
		}
		return &convError{typ: ArgString, value: shownString(s), reason: "is not " + what + " in range"}
	}
	return nil
}

// simpleToField sets field fd of m from v, a value at the given container
// depth.
func simpleToField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v motan2.Value, depth int) *convError {
	if v.IsNull() {
		if !fd.IsList() && !fd.IsMap() && fd.Message() != nil && wellKnown(fd.Message()) == wktValue {
			nv := m.NewField(fd)
			if err := simpleToKnownValue(nv.Message(), v, depth); err != nil {
				return err
			}
			m.Set(fd, nv)
		}
		return nil
	}
	switch {
	case fd.IsMap():
		if v.Kind() != motan2.KindMap && v.Kind() != motan2.KindStringMap {
			return badKind(v, "a map", ArgMap)
		}
		if depth >= motan2.MaxValueDepth {
			return tooDeepArg(ArgMap)
		}
		mv := m.NewField(fd)
		mp := mv.Map()
		put := func(k, val motan2.Value) *convError {
			key, err := simpleToMapKey(fd.MapKey(), k)
			if err != nil {
				return err
			}
			pv, err := simpleToElement(fd.MapValue(), val, depth+1, mp.NewValue)
			if err != nil {
				return err.at("[" + mapKeyString(key, fd.MapKey().Kind()) + "]")
			}
			mp.Set(key, pv)
			return nil
		}
		if v.Kind() == motan2.KindStringMap {
			for _, p := range v.Pairs() {
				if err := put(motan2.String(p.Key), motan2.String(p.Value)); err != nil {
					return err
				}
			}
		} else {
			for i, n := 0, v.Len(); i < n; i++ {
				if err := put(v.Entry(i)); err != nil {
					return err
				}
			}
		}
		m.Set(fd, mv)
		return nil
	case fd.IsList():
		lv := m.NewField(fd)
		if err := simpleToList(lv.List(), fd, v, depth); err != nil {
			return err
		}
		m.Set(fd, lv)
		return nil
	case fd.Message() != nil:
		return simpleToMessage(m.Mutable(fd).Message(), v, depth)
	}
	pv, err := simpleToScalar(fd, v)
	if err != nil {
		return err
	}
	m.Set(fd, pv)
	return nil
}

// simpleToList appends the elements of the array v to l, the list of fd.
func simpleToList(l protoreflect.List, fd protoreflect.FieldDescriptor, v motan2.Value, depth int) *convError {
	switch v.Kind() {
	case motan2.KindStringArray:
		for i, s := range v.Strings() {
			pv, err := simpleToElement(fd, motan2.String(s), depth+1, l.NewElement)
			if err != nil {
				return err.atIndex(i)
			}
			l.Append(pv)
		}
		return nil
	case motan2.KindArray:
		if depth >= motan2.MaxValueDepth {
			return tooDeepArg(ArgArray)
		}
		for i, item := range v.Items() {
			pv, err := simpleToElement(fd, item, depth+1, l.NewElement)
			if err != nil {
				return err.atIndex(i)
			}
			l.Append(pv)
		}
		return nil
	}
	return badKind(v, "an array", ArgArray)
}

// simpleToElement converts v to a list element or map value of type fd;
// newMessage makes the message for message elements.
func simpleToElement(fd protoreflect.FieldDescriptor, v motan2.Value, depth int, newMessage func() protoreflect.Value) (protoreflect.Value, *convError) {
	if fd.Message() != nil {
		if v.IsNull() && wellKnown(fd.Message()) != wktValue {
			return protoreflect.Value{}, &convError{typ: ArgMap, value: "null", reason: "is not allowed in a list or as a map value"}
		}
		pv := newMessage()
		if v.IsNull() {
			return pv, simpleToKnownValue(pv.Message(), v, depth)
		}
		return pv, simpleToMessage(pv.Message(), v, depth)
	}
	return simpleToScalar(fd, v)
}

// simpleInt returns the integer of an integer-kinded value.
func simpleInt(v motan2.Value) (int64, bool) {
	switch v.Kind() {
	case motan2.KindByte, motan2.KindInt16, motan2.KindInt32, motan2.KindInt64:
		return v.Int(), true
	}
	return 0, false
}

func argTypeOf(fd protoreflect.FieldDescriptor) ArgType {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return ArgBool
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return ArgInt32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return ArgInt64
	case protoreflect.FloatKind:
		return ArgFloat32
	case protoreflect.DoubleKind:
		return ArgFloat64
	case protoreflect.BytesKind:
		return ArgBytes
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return ArgMap
	}
	return ArgString
}

// simpleToScalar converts v to the value of the scalar or enum field fd.
func simpleToScalar(fd protoreflect.FieldDescriptor, v motan2.Value) (protoreflect.Value, *convError) {
	t := argTypeOf(fd)
	kind := fd.Kind()
	rangeErr := func(lo, hi string) (protoreflect.Value, *convError) {
		return protoreflect.Value{}, &convError{typ: t, value: shownValue(v), reason: "is out of range for " + kind.String() + " [" + lo + ", " + hi + "]"}
	}
	switch kind {
	case protoreflect.BoolKind:
		if v.Kind() == motan2.KindBool {
			return protoreflect.ValueOfBool(v.BoolValue()), nil
		}
		return protoreflect.Value{}, badKind(v, "a bool", t)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, ok := simpleInt(v)
		if !ok {
			return protoreflect.Value{}, badKind(v, "an integer", t)
		}
		if i < math.MinInt32 || i > math.MaxInt32 {
			return rangeErr("-2147483648", "2147483647")
		}
		return protoreflect.ValueOfInt32(int32(i)), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		i, ok := simpleInt(v)
		if !ok {
			return protoreflect.Value{}, badKind(v, "an integer", t)
		}
		if i < 0 || i > math.MaxUint32 {
			return rangeErr("0", "4294967295")
		}
		return protoreflect.ValueOfUint32(uint32(i)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if i, ok := simpleInt(v); ok {
			return protoreflect.ValueOfInt64(i), nil
		}
		if v.Kind() == motan2.KindString {
			i, err := strconv.ParseInt(v.Str(), 10, 64)
			if err == nil {
				return protoreflect.ValueOfInt64(i), nil
			}
			if isDecimal(v.Str()) {
				return rangeErr("-9223372036854775808", "9223372036854775807")
			}
			return protoreflect.Value{}, &convError{typ: t, value: shownValue(v), reason: "is not a decimal integer"}
		}
		return protoreflect.Value{}, badKind(v, "an integer or a decimal string", t)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if i, ok := simpleInt(v); ok {
			if i < 0 {
				return rangeErr("0", "18446744073709551615")
			}
			return protoreflect.ValueOfUint64(uint64(i)), nil
		}
		if v.Kind() == motan2.KindString {
			u, err := strconv.ParseUint(v.Str(), 10, 64)
			if err == nil {
				return protoreflect.ValueOfUint64(u), nil
			}
			if isDecimal(v.Str()) {
				return rangeErr("0", "18446744073709551615")
			}
			return protoreflect.Value{}, &convError{typ: t, value: shownValue(v), reason: "is not a decimal integer"}
		}
		return protoreflect.Value{}, badKind(v, "an integer or a decimal string", t)
	case protoreflect.FloatKind:
		switch v.Kind() {
		case motan2.KindFloat32:
			return protoreflect.ValueOfFloat32(math.Float32frombits(uint32(v.Bits()))), nil
		case motan2.KindFloat64:
			f := v.Float()
			if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
				return protoreflect.Value{}, &convError{typ: t, value: shownValue(v), reason: "is out of range for float"}
			}
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		if i, ok := simpleInt(v); ok {
			return protoreflect.ValueOfFloat32(float32(i)), nil
		}
		return protoreflect.Value{}, badKind(v, "a number", t)
	case protoreflect.DoubleKind:
		switch v.Kind() {
		case motan2.KindFloat32, motan2.KindFloat64:
			return protoreflect.ValueOfFloat64(v.Float()), nil
		}
		if i, ok := simpleInt(v); ok {
			return protoreflect.ValueOfFloat64(float64(i)), nil
		}
		return protoreflect.Value{}, badKind(v, "a number", t)
	case protoreflect.StringKind:
		if v.Kind() == motan2.KindString {
			return protoreflect.ValueOfString(v.Str()), nil
		}
		return protoreflect.Value{}, badKind(v, "a string", t)
	case protoreflect.BytesKind:
		switch v.Kind() {
		case motan2.KindBytes:
			return protoreflect.ValueOfBytes(v.Raw()), nil
		case motan2.KindString:
			b, ok := decodeBase64(v.Str())
			if !ok {
				return protoreflect.Value{}, &convError{typ: t, value: shownValue(v), reason: "is not valid base64"}
			}
			return protoreflect.ValueOfBytes(b), nil
		}
		return protoreflect.Value{}, badKind(v, "bytes or a base64 string", t)
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if i, ok := simpleInt(v); ok {
			if i < math.MinInt32 || i > math.MaxInt32 {
				return rangeErr("-2147483648", "2147483647")
			}
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(i)), nil
		}
		if v.Kind() == motan2.KindString {
			if ev := ed.Values().ByName(protoreflect.Name(v.Str())); ev != nil {
				return protoreflect.ValueOfEnum(ev.Number()), nil
			}
			return protoreflect.Value{}, &convError{typ: t, value: shownValue(v), reason: "is not a value of enum " + string(ed.FullName())}
		}
		return protoreflect.Value{}, badKind(v, "an enum name or number", t)
	}
	return protoreflect.Value{}, &convError{typ: t, reason: "has an unknown kind " + kind.String()}
}

// isDecimal reports whether s is an optionally signed run of digits.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// simpleToMapKey converts a Simple map key to a key of kind kd: the
// Simple kind of the key type, or a string holding its text.
func simpleToMapKey(kd protoreflect.FieldDescriptor, k motan2.Value) (protoreflect.MapKey, *convError) {
	if k.Kind() == motan2.KindString {
		switch kd.Kind() {
		case protoreflect.StringKind:
			return protoreflect.ValueOfString(k.Str()).MapKey(), nil
		case protoreflect.BoolKind:
			switch k.Str() {
			case "true":
				return protoreflect.ValueOfBool(true).MapKey(), nil
			case "false":
				return protoreflect.ValueOfBool(false).MapKey(), nil
			}
			return protoreflect.MapKey{}, &convError{typ: ArgBool, value: shownValue(k), reason: "is not a bool map key"}
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
			protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			// Strings are accepted for these already.
		default:
			i, err := strconv.ParseInt(k.Str(), 10, 64)
			if err != nil {
				return protoreflect.MapKey{}, &convError{typ: argTypeOf(kd), value: shownValue(k), reason: "is not an integer map key"}
			}
			k = motan2.Int64(i)
		}
	}
	pv, err := simpleToScalar(kd, k)
	if err != nil {
		err.reason += " (map key)"
		return protoreflect.MapKey{}, err
	}
	return pv.MapKey(), nil
}

// simpleToKnownValue sets a google.protobuf.Value from a natural value.
func simpleToKnownValue(m protoreflect.Message, v motan2.Value, depth int) *convError {
	fds := m.Descriptor().Fields()
	switch v.Kind() {
	case motan2.KindNull:
		m.Set(fds.ByName("null_value"), protoreflect.ValueOfEnum(0))
	case motan2.KindBool:
		m.Set(fds.ByName("bool_value"), protoreflect.ValueOfBool(v.BoolValue()))
	case motan2.KindByte, motan2.KindInt16, motan2.KindInt32, motan2.KindInt64:
		m.Set(fds.ByName("number_value"), protoreflect.ValueOfFloat64(float64(v.Int())))
	case motan2.KindFloat32, motan2.KindFloat64:
		m.Set(fds.ByName("number_value"), protoreflect.ValueOfFloat64(v.Float()))
	case motan2.KindString:
		m.Set(fds.ByName("string_value"), protoreflect.ValueOfString(v.Str()))
	case motan2.KindMap, motan2.KindStringMap:
		if depth >= motan2.MaxValueDepth {
			return tooDeepArg(ArgMap)
		}
		fd := fds.ByName("struct_value")
		sv := m.NewField(fd)
		sfd := sv.Message().Descriptor().Fields().ByNumber(1)
		mp := sv.Message().Mutable(sfd).Map()
		if err := simpleToStruct(mp, v, depth); err != nil {
			return err
		}
		m.Set(fd, sv)
	case motan2.KindArray, motan2.KindStringArray:
		if depth >= motan2.MaxValueDepth {
			return tooDeepArg(ArgArray)
		}
		fd := fds.ByName("list_value")
		lv := m.NewField(fd)
		lfd := lv.Message().Descriptor().Fields().ByNumber(1)
		if err := simpleToValueList(lv.Message().Mutable(lfd).List(), v, depth); err != nil {
			return err
		}
		m.Set(fd, lv)
	default:
		return badKind(v, "a JSON-like value (null, bool, number, string, map or array) for google.protobuf.Value", ArgMap)
	}
	return nil
}

// simpleToStruct fills the fields map of a google.protobuf.Struct from
// the map v.
func simpleToStruct(mp protoreflect.Map, v motan2.Value, depth int) *convError {
	put := func(k string, val motan2.Value) *convError {
		pv := mp.NewValue()
		if err := simpleToKnownValue(pv.Message(), val, depth+1); err != nil {
			return err.at(k)
		}
		mp.Set(protoreflect.ValueOfString(k).MapKey(), pv)
		return nil
	}
	switch v.Kind() {
	case motan2.KindStringMap:
		for _, p := range v.Pairs() {
			if err := put(p.Key, motan2.String(p.Value)); err != nil {
				return err
			}
		}
		return nil
	case motan2.KindMap:
		for i, n := 0, v.Len(); i < n; i++ {
			k, val := v.Entry(i)
			if k.Kind() != motan2.KindString {
				e := badKind(k, "a string", ArgMap)
				e.reason += ": the keys of a google.protobuf.Struct are strings"
				return e
			}
			if err := put(k.Str(), val); err != nil {
				return err
			}
		}
		return nil
	}
	return badKind(v, "a map (for google.protobuf.Struct)", ArgMap)
}

// simpleToValueList fills the values of a google.protobuf.ListValue from
// the array v.
func simpleToValueList(l protoreflect.List, v motan2.Value, depth int) *convError {
	add := func(i int, item motan2.Value) *convError {
		pv := l.NewElement()
		if err := simpleToKnownValue(pv.Message(), item, depth+1); err != nil {
			return err.atIndex(i)
		}
		l.Append(pv)
		return nil
	}
	switch v.Kind() {
	case motan2.KindStringArray:
		for i, s := range v.Strings() {
			if err := add(i, motan2.String(s)); err != nil {
				return err
			}
		}
		return nil
	case motan2.KindArray:
		for i, item := range v.Items() {
			if err := add(i, item); err != nil {
				return err
			}
		}
		return nil
	}
	return badKind(v, "an array (for google.protobuf.ListValue)", ArgArray)
}
