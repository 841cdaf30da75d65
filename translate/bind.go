package translate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meshgate/meshgate/motan2"
)

// ArgType is the declared type of a Motan2 argument bound from an HTTP
// request (a path variable, a query parameter, a header, the body or a
// body field). Each type produces values of one motan2.Kind (see Kind).
type ArgType uint8

// Argument types, with their configuration names. The zero value is
// ArgString.
const (
	// ArgString ("string") converts to a motan2 string.
	ArgString ArgType = iota
	// ArgBool ("bool") converts to a motan2 bool.
	ArgBool
	// ArgInt32 ("int32") converts to a motan2 int32.
	ArgInt32
	// ArgInt64 ("int64") converts to a motan2 int64.
	ArgInt64
	// ArgFloat64 ("float64") converts to a motan2 float64.
	ArgFloat64
	// ArgBytes ("bytes") converts base64 text to a motan2 byte array.
	ArgBytes
	// ArgStringMap ("string_map") converts a JSON object to a motan2
	// map<string,string>.
	ArgStringMap
	// ArgMap ("map") converts a JSON object to a motan2 generic map.
	ArgMap
	// ArgArray ("array") converts a JSON array to a motan2 generic array.
	ArgArray
	// ArgInt16 ("int16") converts to a motan2 int16.
	ArgInt16
	// ArgByte ("byte") converts 0..255 to a motan2 byte.
	ArgByte
	// ArgFloat32 ("float32") converts to a motan2 float32.
	ArgFloat32
	// ArgStringArray ("string_array") converts a JSON array to a motan2
	// string array.
	ArgStringArray
	numArgTypes
)

var argTypeNames = [numArgTypes]string{
	ArgString:      "string",
	ArgBool:        "bool",
	ArgInt32:       "int32",
	ArgInt64:       "int64",
	ArgFloat64:     "float64",
	ArgBytes:       "bytes",
	ArgStringMap:   "string_map",
	ArgMap:         "map",
	ArgArray:       "array",
	ArgInt16:       "int16",
	ArgByte:        "byte",
	ArgFloat32:     "float32",
	ArgStringArray: "string_array",
}

var argTypeKinds = [numArgTypes]motan2.Kind{
	ArgString:      motan2.KindString,
	ArgBool:        motan2.KindBool,
	ArgInt32:       motan2.KindInt32,
	ArgInt64:       motan2.KindInt64,
	ArgFloat64:     motan2.KindFloat64,
	ArgBytes:       motan2.KindBytes,
	ArgStringMap:   motan2.KindStringMap,
	ArgMap:         motan2.KindMap,
	ArgArray:       motan2.KindArray,
	ArgInt16:       motan2.KindInt16,
	ArgByte:        motan2.KindByte,
	ArgFloat32:     motan2.KindFloat32,
	ArgStringArray: motan2.KindStringArray,
}

// ParseArgType returns the type called name in route configuration. The
// names are those String returns; the error lists them.
func ParseArgType(name string) (ArgType, error) {
	for t, n := range argTypeNames {
		if n == name {
			return ArgType(t), nil
		}
	}
	return 0, fmt.Errorf("unknown argument type %q (valid: %s)", name, strings.Join(argTypeNames[:], ", "))
}

// String returns the type's configuration name ("int64", "string_map").
func (t ArgType) String() string {
	if t < numArgTypes {
		return argTypeNames[t]
	}
	return "ArgType(" + strconv.Itoa(int(t)) + ")"
}

// Kind returns the kind of the values the type converts to (a null input
// converts to motan2.Null whatever the type).
func (t ArgType) Kind() motan2.Kind {
	if t < numArgTypes {
		return argTypeKinds[t]
	}
	return motan2.KindNull
}

// ArgError reports an argument whose input does not fit its declared
// type. Its text names the argument:
//
//	argument "id": "abc" is not a valid int64
//
// FromError maps it to InvalidArgument (HTTP 400).
type ArgError struct {
	Arg  string  // the argument's name
	Type ArgType // its declared type
	// Value is the offending input written as JSON (a path, query or
	// header value is a JSON string), cut after about 64 bytes with "...".
	// Inside a container it is the offending element. Empty when there is
	// no input (a missing body).
	Value  string
	Reason string // why it does not fit: "is not a valid int64"
}

// Error returns `argument "<Arg>": <Value> <Reason>`.
func (e *ArgError) Error() string {
	if e.Value == "" {
		return "argument " + strconv.Quote(e.Arg) + ": " + e.Reason
	}
	return "argument " + strconv.Quote(e.Arg) + ": " + e.Value + " " + e.Reason
}

// maxShown bounds the input quoted in an ArgError.
const maxShown = 64

// shownString returns s as a JSON string for ArgError.Value, cut after
// maxShown bytes on a character boundary.
func shownString(s string) string {
	if len(s) <= maxShown {
		return string(appendJSONString(nil, s))
	}
	cut := maxShown
	for cut > maxShown-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return string(appendJSONString(nil, s[:cut])) + "..."
}

// shownNode returns the JSON text of n for ArgError.Value, cut after
// about maxShown bytes.
func (d *doc) shownNode(n *jnode) string {
	if n.kind == jString {
		return shownString(d.text(n))
	}
	b := d.appendNodeJSON(make([]byte, 0, 32), n, maxShown)
	if len(b) > maxShown {
		return string(b[:maxShown]) + "..."
	}
	return string(b)
}

// FromString converts a path variable, query parameter or header value to
// the type t:
//
//   - string: s as is;
//   - bool: "true" or "false" in any case, "1" or "0";
//   - byte, int16, int32, int64: a decimal integer (optional sign, no
//     spaces) within the type's range;
//   - float32, float64: anything strconv.ParseFloat accepts within the
//     type's range, including "NaN", "Infinity" and "-Infinity";
//   - bytes: base64, standard or URL alphabet, padded or not (in a query
//     string prefer the URL alphabet: a '+' there decodes to a space);
//   - string_map, map, array, string_array: s is parsed as JSON and
//     converted as FromJSON does, so ?filter={"a":"b"} works.
//
// The value may share memory with s. Errors are *ArgError naming arg.
func FromString(arg string, s string, t ArgType) (motan2.Value, error) {
	bad := func(reason string) (motan2.Value, error) {
		return motan2.Null, &ArgError{Arg: arg, Type: t, Value: shownString(s), Reason: reason}
	}
	switch t {
	case ArgString:
		return motan2.String(s), nil
	case ArgBool:
		switch {
		case s == "1" || strings.EqualFold(s, "true"):
			return motan2.Bool(true), nil
		case s == "0" || strings.EqualFold(s, "false"):
			return motan2.Bool(false), nil
		}
		return bad("is not a valid bool (want true, false, 1 or 0)")
	case ArgByte, ArgInt16, ArgInt32, ArgInt64:
		lo, hi := intRange(t)
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return bad("is not a valid " + t.String())
		}
		if err != nil || i < lo || i > hi {
			return bad(outOfRange(t))
		}
		return intValue(t, i), nil
	case ArgFloat32, ArgFloat64:
		bits := 64
		if t == ArgFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return bad(outOfRange(t))
			}
			return bad("is not a valid " + t.String())
		}
		return floatValue(t, f), nil
	case ArgBytes:
		b, ok := decodeBase64(s)
		if !ok {
			return bad("is not valid base64")
		}
		return motan2.Bytes(b), nil
	case ArgStringMap, ArgMap, ArgArray, ArgStringArray:
		d, perr := parseJSON(s)
		if perr != nil {
			if perr.syntax {
				return bad(fmt.Sprintf("is not valid JSON (%s at offset %d)", perr.reason, perr.offset))
			}
			return bad("is not acceptable JSON: " + perr.reason)
		}
		return d.convert(arg, &d.root, t)
	}
	return motan2.Null, &ArgError{Arg: arg, Type: t, Reason: "has an unknown type " + t.String()}
}

// FromJSON converts a JSON value, as encoding/json decodes it into an any
// (nil, bool, float64 or json.Number with UseNumber, string, []any,
// map[string]any), to the type t. Go integers, float32, []string and
// map[string]string are accepted too. map[string]any has no order, so
// its keys are taken in sorted order; ParseJSONBody keeps the text's order.
//
// JSON null converts to motan2.Null whatever the type. Otherwise:
//
//   - string ← a string; a number or bool becomes its JSON text (42 →
//     "42", 1.50 → "1.50", true → "true"), as the text is exact;
//   - bool ← true or false only;
//   - byte, int16, int32, int64 ← an integral number within range
//     (1e3 and 1.0 are integral), or a string holding one ("42", as
//     proto3 JSON writes int64);
//   - float32, float64 ← a number, or a string holding one or "NaN",
//     "Infinity", "-Infinity" (as protojson writes them); a number beyond
//     the type's range is an error;
//   - bytes ← a base64 string (standard or URL alphabet, padded or not);
//   - string_map ← an object whose values are strings, numbers or bools
//     (numbers and bools become their text; null, objects and arrays are
//     errors);
//   - string_array ← an array of strings, numbers or bools (same rule);
//   - map ← any object: keys become string keys, values are inferred;
//   - array ← any array: elements are inferred.
//
// Inferred values: string → string, a number written as an integer that
// fits int64 → int64, any other number → float64, bool → bool, null →
// null, object → map (string keys, in order), array → array.
//
// Errors are *ArgError naming arg.
func FromJSON(arg string, v any, t ArgType) (motan2.Value, error) {
	var b docBuilder
	root, err := b.add(v, 0)
	if err != nil {
		return motan2.Null, &ArgError{Arg: arg, Type: t, Value: err.value, Reason: err.reason}
	}
	d := doc{nodes: b.nodes, decoded: b.strs, root: root}
	return d.convert(arg, &d.root, t)
}

// builderError reports a Go value FromJSON cannot take.
type builderError struct{ value, reason string }

// docBuilder turns a decoded any into a doc, so that FromJSON and
// ParseJSONBody share one converter. All its texts are in the decoded
// table.
type docBuilder struct {
	nodes []jnode
	strs  []string
}

func (b *docBuilder) container(k jkind, kids []jnode) jnode {
	off := len(b.nodes)
	b.nodes = append(b.nodes, kids...)
	return jnode{kind: k, a: int32(off), b: int32(len(kids))}
}

func (b *docBuilder) text(k jkind, s string) jnode {
	b.strs = append(b.strs, s)
	return jnode{kind: k, esc: true, a: int32(len(b.strs) - 1)}
}

func (b *docBuilder) add(v any, depth int) (jnode, *builderError) {
	if depth > motan2.MaxValueDepth {
		return jnode{}, &builderError{reason: "is nested deeper than " + strconv.Itoa(motan2.MaxValueDepth) + " levels"}
	}
	num := func(s string) (jnode, *builderError) { return b.text(jNumber, s), nil }
	switch x := v.(type) {
	case nil:
		return jnode{kind: jNull}, nil
	case bool:
		if x {
			return jnode{kind: jTrue}, nil
		}
		return jnode{kind: jFalse}, nil
	case string:
		return b.text(jString, x), nil
	case json.Number:
		if !isJSONNumber(string(x)) {
			return jnode{}, &builderError{shownString(string(x)), "is not a valid JSON number"}
		}
		return num(string(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return jnode{}, &builderError{strconv.FormatFloat(x, 'g', -1, 64), "is not a JSON number"}
		}
		return num(strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return jnode{}, &builderError{strconv.FormatFloat(f, 'g', -1, 32), "is not a JSON number"}
		}
		return num(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case int:
		return num(strconv.FormatInt(int64(x), 10))
	case int8:
		return num(strconv.FormatInt(int64(x), 10))
	case int16:
		return num(strconv.FormatInt(int64(x), 10))
	case int32:
		return num(strconv.FormatInt(int64(x), 10))
	case int64:
		return num(strconv.FormatInt(x, 10))
	case uint:
		return num(strconv.FormatUint(uint64(x), 10))
	case uint8:
		return num(strconv.FormatUint(uint64(x), 10))
	case uint16:
		return num(strconv.FormatUint(uint64(x), 10))
	case uint32:
		return num(strconv.FormatUint(uint64(x), 10))
	case uint64:
		return num(strconv.FormatUint(x, 10))
	case []string:
		kids := make([]jnode, len(x))
		for i, s := range x {
			kids[i] = b.text(jString, s)
		}
		return b.container(jArray, kids), nil
	case []any:
		kids := make([]jnode, len(x))
		for i, e := range x {
			n, err := b.add(e, depth+1)
			if err != nil {
				return jnode{}, err
			}
			kids[i] = n
		}
		return b.container(jArray, kids), nil
	case map[string]string:
		keys := sortedKeys(x)
		kids := make([]jnode, 0, 2*len(keys))
		for _, k := range keys {
			kids = append(kids, b.text(jString, k), b.text(jString, x[k]))
		}
		return b.container(jObject, kids), nil
	case map[string]any:
		keys := sortedKeys(x)
		kids := make([]jnode, 0, 2*len(keys))
		for _, k := range keys {
			n, err := b.add(x[k], depth+1)
			if err != nil {
				return jnode{}, err
			}
			kids = append(kids, b.text(jString, k), n)
		}
		return b.container(jObject, kids), nil
	}
	return jnode{}, &builderError{reason: fmt.Sprintf("has Go type %T, which is not a decoded JSON value", v)}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Body is a request body parsed once as JSON, keeping the order of object
// keys. Whole converts all of it to an argument, Field one field. A Body is
// immutable and safe for concurrent use; the values it returns share its
// memory.
type Body struct {
	d     doc
	empty bool
}

// ParseJSONBody parses a request body. An empty body (no bytes, or only
// white space) is not an error: every field is then missing. A body that
// is not JSON gives an *Error with Code InvalidArgument, the message
//
//	malformed JSON body at line L, column C (offset O): <reason>
//
// and a *SyntaxError cause; a body nested deeper than
// motan2.MaxValueDepth levels or holding more than motan2.MaxValueCount
// values gives an InvalidArgument *Error too. When an object has a key
// twice, the last value wins (at the first key's position). b is copied:
// the caller may reuse it once ParseJSONBody returns.
func ParseJSONBody(b []byte) (*Body, error) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	if i == len(b) {
		return &Body{empty: true}, nil
	}
	if len(b) > math.MaxInt32 {
		return nil, &Error{Code: ResourceExhausted, HTTPStatus: 413, Message: "JSON body larger than 2 GiB"}
	}
	s := string(b)
	d, perr := parseJSON(s)
	if perr != nil {
		if perr.syntax {
			se := newSyntaxError(s, perr.offset, perr.reason)
			return nil, &Error{Code: InvalidArgument, Message: se.Error(), Cause: se}
		}
		return nil, &Error{Code: InvalidArgument, Message: "JSON body " + perr.reason}
	}
	return &Body{d: d}, nil
}

// Empty reports whether the body was empty (or only white space).
func (b *Body) Empty() bool { return b.empty }

// Whole converts the whole body to the argument arg of type t, with the
// rules of FromJSON. An empty body is an *ArgError ("the request body is
// empty"); test Empty first to treat it otherwise.
func (b *Body) Whole(arg string, t ArgType) (motan2.Value, error) {
	if b.empty {
		return motan2.Null, &ArgError{Arg: arg, Type: t, Reason: "is missing: the request body is empty"}
	}
	return b.d.convert(arg, &b.d.root, t)
}

// Field converts the body field at the dotted path ("user.name": field
// "name" of the object in field "user" of the body object) to the
// argument arg of type t, with the rules of FromJSON. Keys containing dots
// cannot be addressed; an empty path is the whole body.
//
// ok is false when the field is missing: the body is empty, a key on the
// path is absent, or an object on the path is null. A field that is
// present with the value null gives motan2.Null and ok true. Stepping
// into something other than an object is an *ArgError, as is a value that
// does not fit t.
func (b *Body) Field(arg, path string, t ArgType) (v motan2.Value, ok bool, err error) {
	if b.empty {
		return motan2.Null, false, nil
	}
	n := &b.d.root
	rest := path
	for rest != "" {
		walked := strings.TrimSuffix(path[:len(path)-len(rest)], ".")
		var seg string
		seg, rest, _ = strings.Cut(rest, ".")
		switch n.kind {
		case jNull:
			return motan2.Null, false, nil
		case jObject:
		default:
			where := "the body"
			if walked != "" {
				where = "body field " + strconv.Quote(walked)
			}
			return motan2.Null, false, &ArgError{Arg: arg, Type: t, Value: b.d.shownNode(n),
				Reason: fmt.Sprintf("at %s is not an object, so body path %q cannot be followed", where, path)}
		}
		kids := b.d.kids(n)
		var next *jnode
		for i := 0; i < len(kids); i += 2 {
			if b.d.text(&kids[i]) == seg {
				next = &kids[i+1]
				break
			}
		}
		if next == nil {
			return motan2.Null, false, nil
		}
		n = next
	}
	v, err = b.d.convert(arg, n, t)
	return v, err == nil, err
}

// convert converts node n to type t for argument arg.
func (d *doc) convert(arg string, n *jnode, t ArgType) (motan2.Value, error) {
	if n.kind == jNull {
		return motan2.Null, nil
	}
	bad := func(reason string) (motan2.Value, error) {
		return motan2.Null, &ArgError{Arg: arg, Type: t, Value: d.shownNode(n), Reason: reason}
	}
	switch t {
	case ArgString:
		if s, ok := d.scalarText(n); ok {
			return motan2.String(s), nil
		}
		return bad("is not a string")
	case ArgBool:
		switch n.kind {
		case jTrue:
			return motan2.Bool(true), nil
		case jFalse:
			return motan2.Bool(false), nil
		}
		return bad("is not a bool")
	case ArgByte, ArgInt16, ArgInt32, ArgInt64:
		text := d.text(n)
		if n.kind != jNumber && (n.kind != jString || !isJSONNumber(text)) {
			return bad("is not a valid " + t.String())
		}
		i, reason := intFromJSONNumber(text, t)
		if reason != "" {
			return bad(reason)
		}
		return intValue(t, i), nil
	case ArgFloat32, ArgFloat64:
		text := d.text(n)
		if n.kind == jString {
			switch text {
			case "NaN":
				return floatValue(t, math.NaN()), nil
			case "Infinity":
				return floatValue(t, math.Inf(1)), nil
			case "-Infinity":
				return floatValue(t, math.Inf(-1)), nil
			}
			if !isJSONNumber(text) {
				return bad("is not a valid " + t.String())
			}
		} else if n.kind != jNumber {
			return bad("is not a valid " + t.String())
		}
		bits := 64
		if t == ArgFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(text, bits)
		if err != nil {
			return bad(outOfRange(t))
		}
		return floatValue(t, f), nil
	case ArgBytes:
		if n.kind != jString {
			return bad("is not a base64 string")
		}
		b, ok := decodeBase64(d.text(n))
		if !ok {
			return bad("is not valid base64")
		}
		return motan2.Bytes(b), nil
	case ArgStringMap:
		if n.kind != jObject {
			return bad("is not an object")
		}
		kids := d.kids(n)
		pairs := make([]motan2.StringPair, len(kids)/2)
		for i := range pairs {
			k, val := &kids[2*i], &kids[2*i+1]
			s, ok := d.scalarText(val)
			if !ok || val.kind == jNull {
				return motan2.Null, &ArgError{Arg: arg, Type: t, Value: d.shownNode(val),
					Reason: fmt.Sprintf("at key %s is not a string (string_map values are strings, numbers or bools)", shownString(d.text(k)))}
			}
			pairs[i] = motan2.StringPair{Key: d.text(k), Value: s}
		}
		return motan2.StringMap(pairs), nil
	case ArgStringArray:
		if n.kind != jArray {
			return bad("is not an array")
		}
		kids := d.kids(n)
		strs := make([]string, len(kids))
		for i := range kids {
			s, ok := d.scalarText(&kids[i])
			if !ok || kids[i].kind == jNull {
				return motan2.Null, &ArgError{Arg: arg, Type: t, Value: d.shownNode(&kids[i]),
					Reason: fmt.Sprintf("at index %d is not a string (string_array elements are strings, numbers or bools)", i)}
			}
			strs[i] = s
		}
		return motan2.StringArray(strs), nil
	case ArgMap, ArgArray:
		if t == ArgMap && n.kind != jObject {
			return bad("is not an object")
		}
		if t == ArgArray && n.kind != jArray {
			return bad("is not an array")
		}
		// One allocation holds the items of every container in the tree.
		slab := make([]motan2.Value, d.countValues(n, 0))
		return d.infer(arg, t, n, 0, &slab)
	}
	return bad("has an unknown type " + t.String())
}

// scalarText returns the text a string argument takes from n: a string's
// text, a number's literal, "true" or "false". null gives "" and true
// (callers reject it where it matters); containers give false.
func (d *doc) scalarText(n *jnode) (string, bool) {
	switch n.kind {
	case jString, jNumber:
		return d.text(n), true
	case jTrue:
		return "true", true
	case jFalse:
		return "false", true
	case jNull:
		return "", true
	}
	return "", false
}

// countValues returns the number of Values the containers of the tree at
// n hold (map keys included).
func (d *doc) countValues(n *jnode, depth int) int {
	total := int(n.b)
	if depth < motan2.MaxValueDepth {
		for i, k := range d.kids(n) {
			if k.kind == jArray || k.kind == jObject {
				total += d.countValues(&d.kids(n)[i], depth+1)
			}
		}
	}
	return total
}

// infer converts n with inferred kinds (see FromJSON), taking the items of
// containers from slab.
func (d *doc) infer(arg string, t ArgType, n *jnode, depth int, slab *[]motan2.Value) (motan2.Value, error) {
	switch n.kind {
	case jNull:
		return motan2.Null, nil
	case jTrue:
		return motan2.Bool(true), nil
	case jFalse:
		return motan2.Bool(false), nil
	case jString:
		return motan2.String(d.text(n)), nil
	case jNumber:
		text := d.text(n)
		if isIntLiteral(text) {
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				return motan2.Int64(i), nil
			}
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return motan2.Null, &ArgError{Arg: arg, Type: t, Value: d.shownNode(n), Reason: "is out of range for float64"}
		}
		return motan2.Float64(f), nil
	}
	if depth >= motan2.MaxValueDepth {
		return motan2.Null, &ArgError{Arg: arg, Type: t, Reason: "is nested deeper than " + strconv.Itoa(motan2.MaxValueDepth) + " levels"}
	}
	kids := d.kids(n)
	var items []motan2.Value
	if len(*slab) >= len(kids) {
		items, *slab = (*slab)[:len(kids):len(kids)], (*slab)[len(kids):]
	} else {
		items = make([]motan2.Value, len(kids))
	}
	for i := range kids {
		if n.kind == jObject && i%2 == 0 {
			items[i] = motan2.String(d.text(&kids[i]))
			continue
		}
		v, err := d.infer(arg, t, &kids[i], depth+1, slab)
		if err != nil {
			return motan2.Null, err
		}
		items[i] = v
	}
	if n.kind == jObject {
		return motan2.Map(items...), nil
	}
	return motan2.Array(items), nil
}

func intRange(t ArgType) (lo, hi int64) {
	switch t {
	case ArgByte:
		return 0, math.MaxUint8
	case ArgInt16:
		return math.MinInt16, math.MaxInt16
	case ArgInt32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

func outOfRange(t ArgType) string {
	if t == ArgFloat32 || t == ArgFloat64 {
		return "is out of range for " + t.String()
	}
	lo, hi := intRange(t)
	return fmt.Sprintf("is out of range for %s [%d, %d]", t, lo, hi)
}

func intValue(t ArgType, i int64) motan2.Value {
	switch t {
	case ArgByte:
		return motan2.Byte(uint8(i))
	case ArgInt16:
		return motan2.Int16(int16(i))
	case ArgInt32:
		return motan2.Int32(int32(i))
	}
	return motan2.Int64(i)
}

func floatValue(t ArgType, f float64) motan2.Value {
	if t == ArgFloat32 {
		return motan2.Float32(float32(f))
	}
	return motan2.Float64(f)
}

// intFromJSONNumber converts the JSON number s to an integer of type t
// exactly (no detour through float64, so 9007199254740993 and
// 9.223372036854775807e18 are exact): integral values written with a
// fraction or an exponent (1.0, 1e3) are accepted. It returns the reason
// when s is not integral or out of range.
func intFromJSONNumber(s string, t ArgType) (int64, string) {
	lo, hi := intRange(t)
	if isIntLiteral(s) {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || i < lo || i > hi {
			return 0, outOfRange(t)
		}
		return i, ""
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, exp := s, 0
	if e := strings.IndexAny(s, "eE"); e >= 0 {
		mant = s[:e]
		es := s[e+1:]
		x, err := strconv.Atoi(es)
		if err != nil { // only an exponent too long for an int
			if strings.Trim(mant, "0.") == "" {
				return 0, "" // zero whatever the exponent
			}
			if es[0] == '-' {
				return 0, "is not an integer"
			}
			return 0, outOfRange(t)
		}
		// Clamp absurd exponents: the result is the same (out of range,
		// or not integral as the text has fewer trailing zeros), and the
		// arithmetic below cannot overflow.
		exp = max(-(len(s) + 20), min(x, len(s)+20))
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	if digits == "" {
		return 0, ""
	}
	if exp < 0 {
		trimmed := strings.TrimRight(digits, "0")
		if len(digits)-len(trimmed) < -exp {
			return 0, "is not an integer"
		}
		digits = digits[:len(digits)+exp]
		exp = 0
	}
	if exp > 19 || len(digits)+exp > 19 {
		return 0, outOfRange(t)
	}
	text := digits + strings.Repeat("0", exp)
	if neg {
		text = "-" + text
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil || i < lo || i > hi {
		return 0, outOfRange(t)
	}
	return i, ""
}

// isIntLiteral reports whether the JSON number s has neither a fraction
// nor an exponent.
func isIntLiteral(s string) bool { return !strings.ContainsAny(s, ".eE") }

// decodeBase64 decodes standard or URL base64, padded or not, choosing as
// protojson does: the URL alphabet when s has '-' or '_', no padding when
// the length is not a multiple of 4.
func decodeBase64(s string) ([]byte, bool) {
	url := strings.ContainsAny(s, "-_")
	var enc *base64.Encoding
	switch padded := len(s)%4 == 0; {
	case url && padded:
		enc = base64.URLEncoding
	case url:
		enc = base64.RawURLEncoding
	case padded:
		enc = base64.StdEncoding
	default:
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}
