package motan2

import (
	"fmt"
	"math"
	"sort"
)

// Kind is the wire type of a Value. The set is the union of the Simple
// serialization types (section 12 of the spec) and the protobuf message
// carried by the pb and grpc-pb serializations. Keeping the exact kind of
// every value is what lets an echo through meshgate return an int16 as an
// int16 and a string map as a string map.
type Kind uint8

// Value kinds. The numeric values are meshgate's own; the Simple tag of a
// kind is given by its SimpleTag method.
const (
	KindNull        Kind = iota // no value (Simple tag 0, Breeze 0x99, pb null marker)
	KindString                  // UTF-8 text (not validated)
	KindStringMap               // map<string,string>, entries in wire order
	KindBytes                   // byte array
	KindStringArray             // []string
	KindBool                    // boolean
	KindByte                    // one byte, 0..255 (Java reads it as signed)
	KindInt16                   // 16-bit signed integer
	KindInt32                   // 32-bit signed integer
	KindInt64                   // 64-bit signed integer
	KindFloat32                 // IEEE-754 single, bits kept exactly
	KindFloat64                 // IEEE-754 double, bits kept exactly
	KindMap                     // generic map: any kind as key and value, entries in wire order
	KindArray                   // generic array of values of any kind
	KindMessage                 // a protobuf message in wire format (pb, grpc-pb only)
	kindCount
)

var kindNames = [kindCount]string{
	KindNull:        "null",
	KindString:      "string",
	KindStringMap:   "string_map",
	KindBytes:       "bytes",
	KindStringArray: "string_array",
	KindBool:        "bool",
	KindByte:        "byte",
	KindInt16:       "int16",
	KindInt32:       "int32",
	KindInt64:       "int64",
	KindFloat32:     "float32",
	KindFloat64:     "float64",
	KindMap:         "map",
	KindArray:       "array",
	KindMessage:     "pb_message",
}

// String returns the kind's name as used by the golden-vector index
// ("int16", "string_map", ...).
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind returns the kind named name (the names String returns).
func ParseKind(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return Kind(k), true
		}
	}
	return 0, false
}

// StringPair is one entry of a string map.
type StringPair struct {
	Key, Value string
}

// Value is one typed value of a Motan2 body. The zero Value is null.
//
// Values are immutable by convention: constructors copy nothing, so a Value
// built from a slice (Bytes, StringArray, Array, ...) shares it with the
// caller, and a Value decoded from a body may share memory with that body.
// Decoders in this package never modify a body after decoding it.
type Value struct {
	kind Kind
	num  uint64       // bool (0/1), byte, int16/32/64 (two's complement), float bits
	str  string       // string; message type name for KindMessage
	raw  []byte       // bytes; message wire bytes
	strs []string     // string array
	sm   []StringPair // string map
	list []Value      // array items; map entries as key, value, key, value...
}

// Null is the null value.
var Null = Value{}

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, str: s} }

// Bytes returns a byte-array value sharing b.
func Bytes(b []byte) Value { return Value{kind: KindBytes, raw: b} }

// Bool returns a bool value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.num = 1
	}
	return v
}

// Byte returns a byte value.
func Byte(b uint8) Value { return Value{kind: KindByte, num: uint64(b)} }

// Int16 returns an int16 value.
func Int16(i int16) Value { return Value{kind: KindInt16, num: uint64(int64(i))} }

// Int32 returns an int32 value.
func Int32(i int32) Value { return Value{kind: KindInt32, num: uint64(int64(i))} }

// Int64 returns an int64 value.
func Int64(i int64) Value { return Value{kind: KindInt64, num: uint64(i)} }

// Float32 returns a float32 value.
func Float32(f float32) Value { return Value{kind: KindFloat32, num: uint64(math.Float32bits(f))} }

// Float64 returns a float64 value.
func Float64(f float64) Value { return Value{kind: KindFloat64, num: math.Float64bits(f)} }

// Float32Bits returns a float32 value with exactly the given IEEE-754 bits
// (NaN payloads included).
func Float32Bits(bits uint32) Value { return Value{kind: KindFloat32, num: uint64(bits)} }

// Float64Bits returns a float64 value with exactly the given IEEE-754 bits.
func Float64Bits(bits uint64) Value { return Value{kind: KindFloat64, num: bits} }

// StringArray returns a string-array value sharing s.
func StringArray(s []string) Value { return Value{kind: KindStringArray, strs: s} }

// StringMap returns a string-map value whose entries keep the given order.
func StringMap(pairs []StringPair) Value { return Value{kind: KindStringMap, sm: pairs} }

// StringMapOf returns a string-map value from a Go map, with keys sorted so
// that encoding is deterministic.
func StringMapOf(m map[string]string) Value {
	pairs := make([]StringPair, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, StringPair{k, v})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].Key < pairs[j].Key })
	return StringMap(pairs)
}

// Array returns a generic-array value sharing items.
func Array(items []Value) Value { return Value{kind: KindArray, list: items} }

// Map returns a generic-map value from alternating keys and values
// (k0, v0, k1, v1, ...), kept in that order. It panics if kv has an odd
// length, which is a programming error.
func Map(kv ...Value) Value {
	if len(kv)%2 != 0 {
		panic("motan2.Map: odd number of arguments")
	}
	return Value{kind: KindMap, list: kv}
}

// Message returns a protobuf-message value: wire is the message in protobuf
// wire format, typeName its full name when known (informational).
func Message(typeName string, wire []byte) Value {
	return Value{kind: KindMessage, str: typeName, raw: wire}
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Str returns the string of a string value, the type name of a message, and
// "" otherwise.
func (v Value) Str() string { return v.str }

// Raw returns the bytes of a byte-array or message value, nil otherwise.
func (v Value) Raw() []byte { return v.raw }

// BoolValue returns the bool of a bool value.
func (v Value) BoolValue() bool { return v.num != 0 }

// Int returns the integer of a byte, int16, int32 or int64 value.
func (v Value) Int() int64 {
	if v.kind == KindByte {
		return int64(uint8(v.num))
	}
	return int64(v.num)
}

// Float returns the number of a float32 or float64 value as a float64.
func (v Value) Float() float64 {
	if v.kind == KindFloat32 {
		return float64(math.Float32frombits(uint32(v.num)))
	}
	return math.Float64frombits(v.num)
}

// Bits returns the IEEE-754 bits of a float value (32 or 64 bits).
func (v Value) Bits() uint64 { return v.num }

// Strings returns the elements of a string array.
func (v Value) Strings() []string { return v.strs }

// Pairs returns the entries of a string map in wire order.
func (v Value) Pairs() []StringPair { return v.sm }

// Items returns the elements of a generic array.
func (v Value) Items() []Value {
	if v.kind == KindArray {
		return v.list
	}
	return nil
}

// Len returns the number of elements (arrays), entries (maps) or bytes
// (strings, byte arrays, messages).
func (v Value) Len() int {
	switch v.kind {
	case KindString:
		return len(v.str)
	case KindBytes, KindMessage:
		return len(v.raw)
	case KindStringArray:
		return len(v.strs)
	case KindStringMap:
		return len(v.sm)
	case KindArray:
		return len(v.list)
	case KindMap:
		return len(v.list) / 2
	}
	return 0
}

// Entry returns the i-th key and value of a generic map.
func (v Value) Entry(i int) (key, val Value) { return v.list[2*i], v.list[2*i+1] }

// Lookup returns the value stored under the string key k in a string map or
// generic map (the last entry wins, as on the wire).
func (v Value) Lookup(k string) (Value, bool) {
	switch v.kind {
	case KindStringMap:
		for i := len(v.sm) - 1; i >= 0; i-- {
			if v.sm[i].Key == k {
				return String(v.sm[i].Value), true
			}
		}
	case KindMap:
		for i := len(v.list) - 2; i >= 0; i -= 2 {
			if key := v.list[i]; key.kind == KindString && key.str == k {
				return v.list[i+1], true
			}
		}
	}
	return Null, false
}

// Equal reports whether a and b have the same kind and content. Floats
// compare by bits (so NaN equals the same NaN); map entries compare in
// order-insensitive fashion, as wire order carries no meaning; message type
// names are compared only when both are known.
func Equal(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindNull:
		return true
	case KindString:
		return a.str == b.str
	case KindBytes:
		return string(a.raw) == string(b.raw)
	case KindMessage:
		// The type name is informational: it only has to agree when both
		// sides know it.
		return (a.str == b.str || a.str == "" || b.str == "") && string(a.raw) == string(b.raw)
	case KindStringArray:
		if len(a.strs) != len(b.strs) {
			return false
		}
		for i := range a.strs {
			if a.strs[i] != b.strs[i] {
				return false
			}
		}
		return true
	case KindStringMap:
		if len(a.sm) != len(b.sm) {
			return false
		}
		used := make([]bool, len(b.sm))
	pairs:
		for _, p := range a.sm {
			for j, q := range b.sm {
				if !used[j] && p == q {
					used[j] = true
					continue pairs
				}
			}
			return false
		}
		return true
	case KindArray:
		if len(a.list) != len(b.list) {
			return false
		}
		for i := range a.list {
			if !Equal(a.list[i], b.list[i]) {
				return false
			}
		}
		return true
	case KindMap:
		if len(a.list) != len(b.list) {
			return false
		}
		// Entries match as a multiset, so duplicate keys (legal on the
		// wire) compare correctly too.
		used := make([]bool, len(b.list)/2)
	outer:
		for i := 0; i < len(a.list); i += 2 {
			for j := 0; j < len(b.list); j += 2 {
				if !used[j/2] && Equal(a.list[i], b.list[j]) && Equal(a.list[i+1], b.list[j+1]) {
					used[j/2] = true
					continue outer
				}
			}
			return false
		}
		return true
	default:
		return a.num == b.num
	}
}

// GoString renders v for debugging and test failures.
func (v Value) GoString() string { return v.String() }

// String renders v in a compact, typed, human-readable form.
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "null"
	case KindString:
		return fmt.Sprintf("string(%q)", v.str)
	case KindBytes:
		return fmt.Sprintf("bytes(%x)", v.raw)
	case KindMessage:
		return fmt.Sprintf("pb_message(%s:%x)", v.str, v.raw)
	case KindBool:
		return fmt.Sprintf("bool(%t)", v.num != 0)
	case KindByte, KindInt16, KindInt32, KindInt64:
		return fmt.Sprintf("%s(%d)", v.kind, v.Int())
	case KindFloat32, KindFloat64:
		return fmt.Sprintf("%s(%v)", v.kind, v.Float())
	case KindStringArray:
		return fmt.Sprintf("string_array(%q)", v.strs)
	case KindStringMap:
		s := "string_map{"
		for i, p := range v.sm {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%q: %q", p.Key, p.Value)
		}
		return s + "}"
	case KindArray:
		s := "array["
		for i, it := range v.list {
			if i > 0 {
				s += ", "
			}
			s += it.String()
		}
		return s + "]"
	case KindMap:
		s := "map{"
		for i := 0; i < len(v.list); i += 2 {
			if i > 0 {
				s += ", "
			}
			s += v.list[i].String() + ": " + v.list[i+1].String()
		}
		return s + "}"
	}
	return v.kind.String()
}
