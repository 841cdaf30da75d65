package motan2

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
)

// MaxValueDepth is the deepest container nesting the value decoders and
// encoders accept. It keeps hostile bodies (and cyclic Values built by
// callers) from exhausting the stack; real payloads nest a handful of
// levels at most.
const MaxValueDepth = 100

// MaxValueCount bounds the values (containers and their elements included)
// one body may decode to. A Value is 128 bytes and a Simple null one byte,
// so without it a 10 MiB body of nulls would cost over a gigabyte; with it
// a body costs at most about 128 MiB of Values, and real payloads stay far
// below.
const MaxValueCount = 1 << 20

// ErrBadValue is wrapped by every error a value decoder returns for a
// malformed body. The concrete error is a *ValueError.
var ErrBadValue = errors.New("motan2: malformed value")

// ErrUnsupportedSerialization is wrapped by the errors of AppendValues,
// DecodeArgs and DecodeReply for a serialization they cannot handle.
var ErrUnsupportedSerialization = errors.New("motan2: unsupported serialization")

// ErrUnsupportedKind is wrapped (through *KindError) by encoders given a
// value their serialization has no representation for.
var ErrUnsupportedKind = errors.New("motan2: value kind not supported by serialization")

// ValueError describes where a body stopped making sense. Offsets are what
// an operator needs to find the bad byte in a hex dump of the body.
type ValueError struct {
	Serialization Serialization
	Offset        int    // offset in the body of the value (or byte) at fault
	Tag           int    // tag / type byte of the value being decoded; -1 if none
	Reason        string // what is wrong
}

// Error returns the error as text.
func (e *ValueError) Error() string {
	if e.Tag < 0 {
		return fmt.Sprintf("motan2: malformed %s value at offset %d: %s", e.Serialization, e.Offset, e.Reason)
	}
	return fmt.Sprintf("motan2: malformed %s value at offset %d (type 0x%02x): %s", e.Serialization, e.Offset, e.Tag, e.Reason)
}

// Unwrap makes errors.Is(err, ErrBadValue) true.
func (e *ValueError) Unwrap() error { return ErrBadValue }

// KindError reports a value that a serialization cannot encode, such as a
// protobuf message in Simple or a map in pb.
type KindError struct {
	Serialization Serialization
	Kind          Kind
}

// Error returns the error as text.
func (e *KindError) Error() string {
	return fmt.Sprintf("motan2: %s serialization cannot encode a %s value", e.Serialization, e.Kind)
}

// Unwrap makes errors.Is(err, ErrUnsupportedKind) true.
func (e *KindError) Unwrap() error { return ErrUnsupportedKind }

func unsupportedSerialization(s Serialization) error {
	return fmt.Errorf("%w: %s (%d)", ErrUnsupportedSerialization, s, uint8(s))
}

var (
	errTooDeep     = fmt.Errorf("motan2: value nested deeper than %d levels", MaxValueDepth)
	errTooLarge    = errors.New("motan2: value larger than 4 GiB")
	errPBNeedTypes = fmt.Errorf("%w: pb (5) bodies do not say their types; decode them with DecodePB and the parameter kinds", ErrUnsupportedSerialization)
)

// AppendValues appends the body holding vs in serialization s to dst:
// values back to back for simple, breeze and pb, exactly one message (or
// byte array) for grpc-pb. On error dst is returned unchanged.
func AppendValues(dst []byte, s Serialization, vs []Value) ([]byte, error) {
	start := len(dst)
	var err error
	switch s {
	case SerializationSimple:
		for i := range vs {
			if dst, err = appendSimple(dst, &vs[i], 0); err != nil {
				return dst[:start], err
			}
		}
	case SerializationBreeze:
		for i := range vs {
			if dst, err = appendBreeze(dst, &vs[i], 0); err != nil {
				return dst[:start], err
			}
		}
	case SerializationPB:
		for i := range vs {
			if dst, err = AppendPB(dst, vs[i]); err != nil {
				return dst[:start], err
			}
		}
	case SerializationGrpcPB:
		if len(vs) != 1 {
			return dst, fmt.Errorf("motan2: grpc-pb carries exactly one value, got %d", len(vs))
		}
		return AppendGrpcPB(dst, vs[0])
	default:
		return dst, unsupportedSerialization(s)
	}
	return dst, nil
}

// DecodeArgs decodes the arguments of a request body in serialization s.
// The values may alias body (see DecodeSimple). pb bodies cannot be decoded
// without the parameter kinds: use DecodePB for them.
func DecodeArgs(s Serialization, body []byte) ([]Value, error) {
	switch s {
	case SerializationSimple:
		return DecodeSimple(body)
	case SerializationBreeze:
		return DecodeBreeze(body)
	case SerializationGrpcPB:
		// An empty body is a message whose fields all have default values,
		// still exactly one argument.
		v, err := DecodeGrpcPB(body)
		if err != nil {
			return nil, err
		}
		return []Value{v}, nil
	case SerializationPB:
		return nil, errPBNeedTypes
	}
	return nil, unsupportedSerialization(s)
}

// DecodeReply decodes the value of a normal response body in serialization
// s. An empty body is null whatever the serialization (motan-go writes no
// body for nil and void results). A pb body other than the null marker
// needs the result kind: use DecodePB for it.
func DecodeReply(s Serialization, body []byte) (Value, error) {
	if len(body) == 0 {
		return Null, nil
	}
	switch s {
	case SerializationSimple:
		return DecodeSimpleValue(body)
	case SerializationBreeze:
		return DecodeBreezeValue(body)
	case SerializationGrpcPB:
		return DecodeGrpcPB(body)
	case SerializationPB:
		if len(body) == 1 && body[0] == pbNullMarker {
			return Null, nil
		}
		return Null, errPBNeedTypes
	}
	return Null, unsupportedSerialization(s)
}

// ValueOf converts a Go value to a Value following motan-go's rules for
// Simple (spec 12, "Type selection rules on encode"): the kind comes from
// the Go static type, never from the content, so an empty map[string]string
// is still a string map and a Go int becomes an int64. Types motan-go cannot
// encode (int8, uint16, uint32, uint64, uint, structs, pointers, ...) are an
// error. Unlike motan-go, a nil inside a container becomes null (Java
// style) instead of an error. Maps are converted with sorted keys so that
// encoding is deterministic.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return Null, nil
	case Value:
		return x, nil
	case string:
		return String(x), nil
	case map[string]string:
		return StringMapOf(x), nil
	case []byte:
		return Bytes(x), nil
	case []string:
		return StringArray(x), nil
	case bool:
		return Bool(x), nil
	case uint8:
		return Byte(x), nil
	case int16:
		return Int16(x), nil
	case int32:
		return Int32(x), nil
	case int:
		return Int64(int64(x)), nil
	case int64:
		return Int64(x), nil
	case float32:
		return Float32(x), nil
	case float64:
		return Float64(x), nil
	}
	return valueOfReflect(reflect.ValueOf(x), 0)
}

var valueType = reflect.TypeFor[Value]()

// valueOfReflect handles named types and containers by reflect kind, as
// motan-go switches on reflect.Kind.
func valueOfReflect(rv reflect.Value, depth int) (Value, error) {
	if depth > MaxValueDepth {
		return Null, errTooDeep
	}
	if !rv.IsValid() {
		return Null, nil
	}
	if rv.Type() == valueType {
		return rv.Interface().(Value), nil
	}
	switch rv.Kind() {
	case reflect.Interface:
		if rv.IsNil() {
			return Null, nil
		}
		return valueOfReflect(rv.Elem(), depth)
	case reflect.String:
		return String(rv.String()), nil
	case reflect.Bool:
		return Bool(rv.Bool()), nil
	case reflect.Uint8:
		return Byte(uint8(rv.Uint())), nil
	case reflect.Int16:
		return Int16(int16(rv.Int())), nil
	case reflect.Int32:
		return Int32(int32(rv.Int())), nil
	case reflect.Int, reflect.Int64:
		return Int64(rv.Int()), nil
	case reflect.Float32:
		return Float32Bits(math.Float32bits(float32(rv.Float()))), nil
	case reflect.Float64:
		return Float64(rv.Float()), nil
	case reflect.Slice:
		et := rv.Type().Elem()
		switch et.Kind() {
		case reflect.Uint8:
			return Bytes(rv.Bytes()), nil
		case reflect.String:
			s := make([]string, rv.Len())
			for i := range s {
				s[i] = rv.Index(i).String()
			}
			return StringArray(s), nil
		}
		items := make([]Value, rv.Len())
		for i := range items {
			v, err := valueOfReflect(rv.Index(i), depth+1)
			if err != nil {
				return Null, fmt.Errorf("[%d]: %w", i, err)
			}
			items[i] = v
		}
		return Array(items), nil
	case reflect.Map:
		t := rv.Type()
		if t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String {
			pairs := make([]StringPair, 0, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				pairs = append(pairs, StringPair{it.Key().String(), it.Value().String()})
			}
			sort.Slice(pairs, func(i, j int) bool { return pairs[i].Key < pairs[j].Key })
			return StringMap(pairs), nil
		}
		type entry struct {
			k, v Value
			sk   string
		}
		entries := make([]entry, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k, err := valueOfReflect(it.Key(), depth+1)
			if err != nil {
				return Null, fmt.Errorf("map key: %w", err)
			}
			v, err := valueOfReflect(it.Value(), depth+1)
			if err != nil {
				return Null, fmt.Errorf("map value for %s: %w", k, err)
			}
			entries = append(entries, entry{k, v, k.String()})
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].sk < entries[j].sk })
		kv := make([]Value, 0, 2*len(entries))
		for _, e := range entries {
			kv = append(kv, e.k, e.v)
		}
		return Map(kv...), nil
	}
	return Null, fmt.Errorf("motan2: cannot convert Go type %s to a Motan2 value (motan-go does not support it either)", rv.Type())
}

// Interface returns v as a plain Go value: nil, string, map[string]string,
// []byte, []string, bool, uint8, int16, int32, int64, float32, float64,
// map[any]any for generic maps, []any for generic arrays, and the wire bytes
// of a message. Generic-map keys that Go cannot hash (byte arrays,
// containers, messages) are replaced by their String form, so the result
// never panics; duplicate keys keep the last entry, as on the wire.
func (v Value) Interface() any {
	switch v.kind {
	case KindNull:
		return nil
	case KindString:
		return v.str
	case KindStringMap:
		m := make(map[string]string, len(v.sm))
		for _, p := range v.sm {
			m[p.Key] = p.Value
		}
		return m
	case KindBytes, KindMessage:
		return v.raw
	case KindStringArray:
		return v.strs
	case KindBool:
		return v.num != 0
	case KindByte:
		return uint8(v.num)
	case KindInt16:
		return int16(v.num)
	case KindInt32:
		return int32(v.num)
	case KindInt64:
		return int64(v.num)
	case KindFloat32:
		return math.Float32frombits(uint32(v.num))
	case KindFloat64:
		return math.Float64frombits(v.num)
	case KindArray:
		out := make([]any, len(v.list))
		for i := range v.list {
			out[i] = v.list[i].Interface()
		}
		return out
	case KindMap:
		m := make(map[any]any, len(v.list)/2)
		for i := 0; i+1 < len(v.list); i += 2 {
			k := v.list[i]
			var key any
			switch k.kind {
			case KindBytes, KindMessage, KindStringMap, KindStringArray, KindMap, KindArray:
				key = k.String()
			default:
				key = k.Interface()
			}
			m[key] = v.list[i+1].Interface()
		}
		return m
	}
	return nil
}
