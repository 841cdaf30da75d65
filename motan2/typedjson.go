package motan2

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TypedJSON returns v in the typed-JSON form of the golden-vector index
// ("typed_values" in its conventions), ready for encoding/json:
//
//	{"type":"int32","value":"-7"}
//	{"type":"float32","value":"1.5","bits":"0x3fc00000"}
//	{"type":"string_map","entries":[["k","v"]]}
//	{"type":"map","entries":[{"key":{...},"value":{...}}]}
//
// Integers are decimal strings (JSON numbers would lose int64 precision),
// floats carry both a readable value and their exact bits, bytes are hex.
// A string that is not valid UTF-8 also carries "hex", since JSON text
// cannot hold it; "type" always comes first in the output.
func TypedJSON(v Value) any {
	t := jsonField{"type", v.kind.String()}
	switch v.kind {
	case KindNull:
		return jsonObject{t}
	case KindString:
		o := jsonObject{t, {"value", v.str}}
		if !utf8.ValidString(v.str) {
			o = append(o, jsonField{"hex", hex.EncodeToString([]byte(v.str))})
		}
		return o
	case KindBytes:
		return jsonObject{t, {"hex", hex.EncodeToString(v.raw)}}
	case KindBool:
		return jsonObject{t, {"value", v.num != 0}}
	case KindByte, KindInt16, KindInt32, KindInt64:
		return jsonObject{t, {"value", strconv.FormatInt(v.Int(), 10)}}
	case KindFloat32:
		f := float64(math.Float32frombits(uint32(v.num)))
		return jsonObject{t, {"value", strconv.FormatFloat(f, 'g', -1, 32)}, {"bits", fmt.Sprintf("0x%08x", uint32(v.num))}}
	case KindFloat64:
		f := math.Float64frombits(v.num)
		return jsonObject{t, {"value", strconv.FormatFloat(f, 'g', -1, 64)}, {"bits", fmt.Sprintf("0x%016x", v.num)}}
	case KindStringMap:
		entries := make([][2]string, len(v.sm))
		for i, p := range v.sm {
			entries[i] = [2]string{p.Key, p.Value}
		}
		return jsonObject{t, {"entries", entries}}
	case KindStringArray:
		strs := v.strs
		if strs == nil {
			strs = []string{}
		}
		return jsonObject{t, {"value", strs}}
	case KindMap:
		entries := make([]any, 0, len(v.list)/2)
		for i := 0; i+1 < len(v.list); i += 2 {
			entries = append(entries, jsonObject{{"key", TypedJSON(v.list[i])}, {"value", TypedJSON(v.list[i+1])}})
		}
		return jsonObject{t, {"entries", entries}}
	case KindArray:
		items := make([]any, len(v.list))
		for i := range v.list {
			items[i] = TypedJSON(v.list[i])
		}
		return jsonObject{t, {"items", items}}
	case KindMessage:
		o := jsonObject{t, {"message_hex", hex.EncodeToString(v.raw)}}
		if v.str != "" {
			o = append(o, jsonField{"message_type", v.str})
		}
		return o
	}
	return jsonObject{t}
}

// jsonObject is a JSON object that keeps its keys in order, so that "type"
// leads and CLI output reads like the vector index.
type jsonObject []jsonField

type jsonField struct {
	key string
	val any
}

// MarshalJSON writes the fields in order. HTML characters are left alone:
// the enclosing encoder escapes them if it is asked to.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		for j, x := range [2]any{f.key, f.val} {
			if err := enc.Encode(x); err != nil {
				return nil, err
			}
			buf.Truncate(buf.Len() - 1) // Encode's newline
			if j == 0 {
				buf.WriteByte(':')
			}
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (o jsonObject) asMap() map[string]any {
	m := make(map[string]any, len(o))
	for _, f := range o {
		m[f.key] = f.val
	}
	return m
}

// ParseTypedJSON parses one typed-JSON value (see TypedJSON). Numbers are
// read as json.Number so that integers keep their precision.
func ParseTypedJSON(data []byte) (Value, error) {
	x, err := decodeJSON(data)
	if err != nil {
		return Null, err
	}
	return FromTypedJSON(x)
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("motan2: typed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("motan2: typed JSON: data after the value")
	}
	return x, nil
}

// FromTypedJSON converts a decoded typed-JSON value (as produced by
// encoding/json into an any, with or without UseNumber, or as returned by
// TypedJSON) to a Value. Floats use "bits" when present and "value"
// otherwise; integers may be decimal strings or JSON numbers and are
// range-checked for their kind. Extra keys (such as the index's "wire_hex")
// are ignored.
func FromTypedJSON(x any) (Value, error) {
	return fromTyped(x, "$", 0)
}

type typedJSONError struct {
	path, msg string
}

func (e *typedJSONError) Error() string { return "motan2: typed JSON " + e.path + ": " + e.msg }

func tjErr(path, format string, args ...any) error {
	return &typedJSONError{path, fmt.Sprintf(format, args...)}
}

func asObject(x any) (map[string]any, bool) {
	switch o := x.(type) {
	case map[string]any:
		return o, true
	case jsonObject:
		return o.asMap(), true
	}
	return nil, false
}

func asList(x any) ([]any, bool) {
	switch l := x.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	case [][2]string:
		out := make([]any, len(l))
		for i, p := range l {
			out[i] = []any{p[0], p[1]}
		}
		return out, true
	}
	return nil, false
}

func fromTyped(x any, path string, depth int) (Value, error) {
	if depth > MaxValueDepth {
		return Null, tjErr(path, "nested deeper than %d levels", MaxValueDepth)
	}
	obj, ok := asObject(x)
	if !ok {
		return Null, tjErr(path, "want an object with a \"type\", got %s", jsonTypeName(x))
	}
	tname, ok := obj["type"].(string)
	if !ok {
		return Null, tjErr(path, "missing or non-string \"type\"")
	}
	kind, ok := ParseKind(tname)
	if !ok {
		return Null, tjErr(path, "unknown type %q", tname)
	}
	switch kind {
	case KindNull:
		return Null, nil
	case KindString:
		if h, ok := obj["hex"]; ok {
			b, err := hexField(h, path+".hex")
			if err != nil {
				return Null, err
			}
			return String(string(b)), nil
		}
		s, ok := obj["value"].(string)
		if !ok {
			return Null, tjErr(path, "string needs a string \"value\"")
		}
		return String(s), nil
	case KindBytes:
		h, ok := obj["hex"]
		if !ok {
			if _, large := obj["sha256"]; large {
				return Null, tjErr(path, "bytes given by length and sha256 only; the content is not inline")
			}
			return Null, tjErr(path, "bytes need \"hex\"")
		}
		b, err := hexField(h, path+".hex")
		if err != nil {
			return Null, err
		}
		return Bytes(b), nil
	case KindMessage:
		b, err := hexField(obj["message_hex"], path+".message_hex")
		if err != nil {
			return Null, err
		}
		name, _ := obj["message_type"].(string)
		return Message(name, b), nil
	case KindBool:
		b, ok := obj["value"].(bool)
		if !ok {
			return Null, tjErr(path, "bool needs a true/false \"value\"")
		}
		return Bool(b), nil
	case KindByte:
		i, err := intField(obj["value"], 0, math.MaxUint8, path)
		return Byte(uint8(i)), err
	case KindInt16:
		i, err := intField(obj["value"], math.MinInt16, math.MaxInt16, path)
		return Int16(int16(i)), err
	case KindInt32:
		i, err := intField(obj["value"], math.MinInt32, math.MaxInt32, path)
		return Int32(int32(i)), err
	case KindInt64:
		i, err := intField(obj["value"], math.MinInt64, math.MaxInt64, path)
		return Int64(i), err
	case KindFloat32, KindFloat64:
		return floatField(obj, kind, path)
	case KindStringMap:
		entries, ok := asList(obj["entries"])
		if !ok {
			return Null, tjErr(path, "string_map needs \"entries\": [[key, value], ...]")
		}
		pairs := make([]StringPair, len(entries))
		for i, e := range entries {
			kv, ok := asList(e)
			if !ok || len(kv) != 2 {
				return Null, tjErr(fmt.Sprintf("%s.entries[%d]", path, i), "want [key, value]")
			}
			k, ok1 := kv[0].(string)
			val, ok2 := kv[1].(string)
			if !ok1 || !ok2 {
				return Null, tjErr(fmt.Sprintf("%s.entries[%d]", path, i), "key and value must be strings")
			}
			pairs[i] = StringPair{k, val}
		}
		return StringMap(pairs), nil
	case KindStringArray:
		items, ok := asList(obj["value"])
		if !ok {
			return Null, tjErr(path, "string_array needs \"value\": [strings]")
		}
		strs := make([]string, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return Null, tjErr(fmt.Sprintf("%s.value[%d]", path, i), "want a string, got %s", jsonTypeName(it))
			}
			strs[i] = s
		}
		return StringArray(strs), nil
	case KindMap:
		entries, ok := asList(obj["entries"])
		if !ok {
			return Null, tjErr(path, "map needs \"entries\": [{\"key\":..., \"value\":...}, ...]")
		}
		kv := make([]Value, 0, 2*len(entries))
		for i, e := range entries {
			p := fmt.Sprintf("%s.entries[%d]", path, i)
			eo, ok := asObject(e)
			if !ok {
				return Null, tjErr(p, "want {\"key\":..., \"value\":...}")
			}
			k, err := fromTyped(eo["key"], p+".key", depth+1)
			if err != nil {
				return Null, err
			}
			val, err := fromTyped(eo["value"], p+".value", depth+1)
			if err != nil {
				return Null, err
			}
			kv = append(kv, k, val)
		}
		return Map(kv...), nil
	case KindArray:
		items, ok := asList(obj["items"])
		if !ok {
			return Null, tjErr(path, "array needs \"items\": [...]")
		}
		list := make([]Value, len(items))
		for i, it := range items {
			v, err := fromTyped(it, fmt.Sprintf("%s.items[%d]", path, i), depth+1)
			if err != nil {
				return Null, err
			}
			list[i] = v
		}
		return Array(list), nil
	}
	return Null, tjErr(path, "unsupported type %q", tname)
}

func jsonTypeName(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any, jsonObject:
		return "an object"
	}
	return fmt.Sprintf("%T", x)
}

func hexField(x any, path string) ([]byte, error) {
	s, ok := x.(string)
	if !ok {
		return nil, tjErr(path, "want a hex string")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, tjErr(path, "%v", err)
	}
	return b, nil
}

func intField(x any, lo, hi int64, path string) (int64, error) {
	var s string
	switch n := x.(type) {
	case string:
		s = n
	case json.Number:
		s = n.String()
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, tjErr(path, "%v is not an exact integer (write large integers as decimal strings)", n)
		}
		s = strconv.FormatInt(int64(n), 10)
	default:
		return 0, tjErr(path, "integer \"value\" must be a decimal string or a number, got %s", jsonTypeName(x))
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil || i < lo || i > hi {
		return 0, tjErr(path, "%q is not an integer in [%d, %d]", s, lo, hi)
	}
	return i, nil
}

func floatField(obj map[string]any, kind Kind, path string) (Value, error) {
	size := 64
	if kind == KindFloat32 {
		size = 32
	}
	if b, ok := obj["bits"]; ok {
		s, ok := b.(string)
		if !ok {
			return Null, tjErr(path, "\"bits\" must be a hex string such as \"0x3fc00000\"")
		}
		bits, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), 16, size)
		if err != nil {
			return Null, tjErr(path, "bad \"bits\" %q for %s", s, kind)
		}
		if kind == KindFloat32 {
			return Float32Bits(uint32(bits)), nil
		}
		return Float64Bits(bits), nil
	}
	var f float64
	switch n := obj["value"].(type) {
	case float64:
		f = n
	case string, json.Number:
		s := fmt.Sprint(n)
		switch s {
		case "NaN", "nan":
			if kind == KindFloat32 {
				return Float32Bits(0x7FC00000), nil
			}
			return Float64(math.NaN()), nil
		}
		var err error
		// Explicit infinities parse without error; a range error means a
		// finite literal too large for the kind.
		if f, err = strconv.ParseFloat(s, size); err != nil {
			return Null, tjErr(path, "%q is not a %s", s, kind)
		}
	default:
		return Null, tjErr(path, "%s needs \"bits\" or a \"value\"", kind)
	}
	if kind == KindFloat32 {
		if !math.IsInf(f, 0) && math.IsInf(float64(float32(f)), 0) {
			return Null, tjErr(path, "%v overflows float32", f)
		}
		return Float32(float32(f)), nil
	}
	return Float64(f), nil
}

// FromPlainJSON converts ordinary JSON (decoded into an any, ideally with
// UseNumber) to a Value for command-line convenience: an object whose
// "type" names a kind is typed JSON (see FromTypedJSON); otherwise strings,
// bools and null map to themselves, integer literals to int64, other
// numbers to float64, arrays of strings to string arrays, other arrays to
// arrays, objects of string values to string maps and other objects to
// generic maps with string keys (keys sorted, as JSON objects have no
// order). Other Go values go through ValueOf.
func FromPlainJSON(x any) (Value, error) {
	return fromPlain(x, "$", 0)
}

func fromPlain(x any, path string, depth int) (Value, error) {
	if depth > MaxValueDepth {
		return Null, tjErr(path, "nested deeper than %d levels", MaxValueDepth)
	}
	switch x := x.(type) {
	case nil:
		return Null, nil
	case string:
		return String(x), nil
	case bool:
		return Bool(x), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return Int64(i), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return Null, tjErr(path, "bad number %q", string(x))
		}
		return Float64(f), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return Int64(int64(x)), nil
		}
		return Float64(x), nil
	case []any:
		allStrings := true
		for _, it := range x {
			if _, ok := it.(string); !ok {
				allStrings = false
				break
			}
		}
		if allStrings {
			strs := make([]string, len(x))
			for i, it := range x {
				strs[i] = it.(string)
			}
			return StringArray(strs), nil
		}
		items := make([]Value, len(x))
		for i, it := range x {
			v, err := fromPlain(it, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return Null, err
			}
			items[i] = v
		}
		return Array(items), nil
	case map[string]any, jsonObject:
		obj, _ := asObject(x)
		if t, ok := obj["type"].(string); ok {
			if _, known := ParseKind(t); known {
				return fromTyped(obj, path, depth)
			}
		}
		keys := make([]string, 0, len(obj))
		allStrings := true
		for k, v := range obj {
			keys = append(keys, k)
			if _, ok := v.(string); !ok {
				allStrings = false
			}
		}
		sort.Strings(keys)
		if allStrings {
			pairs := make([]StringPair, len(keys))
			for i, k := range keys {
				pairs[i] = StringPair{k, obj[k].(string)}
			}
			return StringMap(pairs), nil
		}
		kv := make([]Value, 0, 2*len(keys))
		for _, k := range keys {
			v, err := fromPlain(obj[k], path+"."+k, depth+1)
			if err != nil {
				return Null, err
			}
			kv = append(kv, String(k), v)
		}
		return Map(kv...), nil
	}
	return ValueOf(x)
}
