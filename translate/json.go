package translate

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/meshgate/meshgate/motan2"
)

// JSONOptions controls how AppendJSON renders a Motan2 value. The zero
// value is the default.
type JSONOptions struct {
	// Int64AsString renders int64 values as JSON strings ("123"), as
	// protojson does, for callers whose JSON numbers are float64 (browsers
	// lose precision above 2^53). By default int64 values are JSON numbers
	// with their exact digits. byte, int16 and int32 values are always
	// numbers.
	Int64AsString bool
}

// errJSONTooDeep is returned by AppendJSON for values nested deeper than
// motan2.MaxValueDepth (decoders refuse them already; a Value built in
// code might not).
var errJSONTooDeep = fmt.Errorf("translate: value nested deeper than %d levels", motan2.MaxValueDepth)

// AppendJSON appends the JSON form of v to dst, for an HTTP caller:
//
//   - null → null; bool → true/false;
//   - string → JSON string (invalid UTF-8 becomes U+FFFD);
//   - byte, int16, int32, int64 → number (int64 → string with
//     Int64AsString);
//   - float32, float64 → the shortest number that reads back to the same
//     float (float32 formatted as 32 bits: 0.1, not 0.10000000149011612),
//     in encoding/json's style (exponent below 1e-6 and from 1e21);
//     NaN, +Inf, -Inf → the strings "NaN", "Infinity", "-Infinity", as
//     protojson writes them;
//   - bytes and pb_message → base64 string (standard alphabet, padded);
//   - string_array → array of strings; array → array;
//   - string_map → object, entries in wire order;
//   - map → object, entries in wire order. A string key is used as is;
//     other keys become their text: null → "null", bool → "true"/"false",
//     integers in decimal, floats as above, bytes in base64, and
//     containers as their compact JSON text. Distinct keys with the same
//     text (1 and "1") give duplicate JSON keys.
//
// It allocates nothing when dst has room. On error (a value nested deeper
// than motan2.MaxValueDepth, an unknown kind) dst is returned with its
// original length.
func AppendJSON(dst []byte, v motan2.Value, o JSONOptions) ([]byte, error) {
	start := len(dst)
	dst, err := appendValueJSON(dst, v, o, 0)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func appendValueJSON(dst []byte, v motan2.Value, o JSONOptions, depth int) ([]byte, error) {
	switch v.Kind() {
	case motan2.KindNull:
		return append(dst, "null"...), nil
	case motan2.KindString:
		return appendJSONString(dst, v.Str()), nil
	case motan2.KindBool:
		if v.BoolValue() {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case motan2.KindByte, motan2.KindInt16, motan2.KindInt32:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case motan2.KindInt64:
		if o.Int64AsString {
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, v.Int(), 10)
			return append(dst, '"'), nil
		}
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case motan2.KindFloat32:
		return appendFloatJSON(dst, v.Float(), 32, false), nil
	case motan2.KindFloat64:
		return appendFloatJSON(dst, v.Float(), 64, false), nil
	case motan2.KindBytes, motan2.KindMessage:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Raw())
		return append(dst, '"'), nil
	case motan2.KindStringArray:
		dst = append(dst, '[')
		for i, s := range v.Strings() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']'), nil
	case motan2.KindStringMap:
		dst = append(dst, '{')
		for i, p := range v.Pairs() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, p.Key)
			dst = append(dst, ':')
			dst = appendJSONString(dst, p.Value)
		}
		return append(dst, '}'), nil
	case motan2.KindArray:
		if depth >= motan2.MaxValueDepth {
			return dst, errJSONTooDeep
		}
		dst = append(dst, '[')
		items := v.Items()
		for i := range items {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValueJSON(dst, items[i], o, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case motan2.KindMap:
		if depth >= motan2.MaxValueDepth {
			return dst, errJSONTooDeep
		}
		dst = append(dst, '{')
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			k, val := v.Entry(i)
			var err error
			if dst, err = appendKeyJSON(dst, k, o, depth+1); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = appendValueJSON(dst, val, o, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("translate: cannot render a %s value as JSON", v.Kind())
}

// appendKeyJSON appends the JSON object key (a JSON string) for a generic
// map key.
func appendKeyJSON(dst []byte, k motan2.Value, o JSONOptions, depth int) ([]byte, error) {
	switch k.Kind() {
	case motan2.KindString:
		return appendJSONString(dst, k.Str()), nil
	case motan2.KindBytes, motan2.KindMessage:
		// Already a JSON string (base64), which needs no escaping.
		return appendValueJSON(dst, k, o, depth)
	case motan2.KindNull, motan2.KindBool, motan2.KindByte, motan2.KindInt16, motan2.KindInt32, motan2.KindInt64:
		// Their JSON text needs no escaping: quote it.
		dst = append(dst, '"')
		dst, _ = appendValueJSON(dst, k, JSONOptions{}, depth)
		return append(dst, '"'), nil
	case motan2.KindFloat32:
		return appendFloatJSON(dst, k.Float(), 32, true), nil
	case motan2.KindFloat64:
		return appendFloatJSON(dst, k.Float(), 64, true), nil
	}
	// Containers: their compact JSON text, as a JSON string. The text is
	// rendered after dst's end, escaped after itself and moved back, so
	// that no scratch buffer is needed.
	start := len(dst)
	dst, err := appendValueJSON(dst, k, o, depth)
	if err != nil {
		return dst[:start], err
	}
	mid := len(dst)
	dst = appendJSONString(dst, dst[start:mid])
	n := copy(dst[start:], dst[mid:])
	return dst[:start+n], nil
}

// appendFloatJSON appends f as encoding/json would (shortest form that
// reads back to the same float of the given bit size, exponent form below
// 1e-6 and from 1e21), non-finite values as protojson's strings. quoted
// wraps finite numbers in quotes too (map keys).
func appendFloatJSON(dst []byte, f float64, bits int, quoted bool) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	if quoted {
		dst = append(dst, '"')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	if quoted {
		dst = append(dst, '"')
	}
	return dst
}

// jsonSafe reports the ASCII bytes that a JSON string can hold unescaped.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, quoted, escaped as
// AppendJSONEscaped says.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// AppendJSONEscaped appends s escaped for the inside of a JSON string
// (no quotes): control characters, quotes and backslashes are escaped;
// invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped, as
// encoding/json does, so the output is also safe in JavaScript source.
// HTML characters are left alone: the output is served as
// application/json.
func AppendJSONEscaped(dst []byte, s string) []byte { return appendJSONEscaped(dst, s) }

func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	dst = appendJSONEscaped(dst, s)
	return append(dst, '"')
}

func appendJSONEscaped[T string | []byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s, i)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// decodeRune decodes the rune at s[i:] for a string or a byte slice
// without converting (and so copying) the byte slice.
func decodeRune[T string | []byte](s T, i int) (rune, int) {
	var buf [utf8.UTFMax]byte
	n := copy(buf[:], s[i:min(i+utf8.UTFMax, len(s))])
	return utf8.DecodeRune(buf[:n])
}
