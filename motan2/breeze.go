package motan2

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Breeze type bytes (spec section 14).
const (
	breezeStringMaxDirect = 0x3E // direct strings: the type byte is the length
	breezeString          = 0x3F
	breezeInt32MinDirect  = 0x40
	breezeInt32Zero       = 0x50
	breezeInt32MaxDirect  = 0x7E
	breezeInt32           = 0x7F
	breezeInt64MinDirect  = 0x80
	breezeInt64Zero       = 0x88
	breezeInt64MaxDirect  = 0x97
	breezeInt64           = 0x98
	breezeNull            = 0x99
	breezeTrue            = 0x9A
	breezeFalse           = 0x9B
	breezeByte            = 0x9C
	breezeBytes           = 0x9D
	breezeInt16           = 0x9E
	breezeFloat32         = 0x9F
	breezeFloat64         = 0xA0
	breezeMap             = 0xD9
	breezeArray           = 0xDA
	breezePackedMap       = 0xDB
	breezePackedArray     = 0xDC

	// BreezeMaxElements is the largest collection the Breeze decoder
	// accepts, as in breeze-go.
	BreezeMaxElements = 100000
)

// AppendBreeze appends the Breeze encoding of v to dst, choosing the forms
// breeze-go writes for the equivalent Go values: short strings and small
// integers use the direct type bytes, string maps and string arrays use the
// packed containers (key/value/element type 0x3F), generic maps and arrays
// the typed ones. Messages are not supported. Nothing is allocated when dst
// has room. On error dst is returned unchanged.
func AppendBreeze(dst []byte, v Value) ([]byte, error) {
	start := len(dst)
	dst, err := appendBreeze(dst, &v, 0)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// appendBreezeStringBody writes a string without its type byte, the form
// packed containers use.
func appendBreezeStringBody(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendBreeze(dst []byte, v *Value, depth int) ([]byte, error) {
	switch v.kind {
	case KindNull:
		return append(dst, breezeNull), nil
	case KindString:
		if len(v.str) <= breezeStringMaxDirect {
			return append(append(dst, byte(len(v.str))), v.str...), nil
		}
		return appendBreezeStringBody(append(dst, breezeString), v.str), nil
	case KindBool:
		if v.num != 0 {
			return append(dst, breezeTrue), nil
		}
		return append(dst, breezeFalse), nil
	case KindByte:
		return append(dst, breezeByte, byte(v.num)), nil
	case KindBytes:
		if uint64(len(v.raw)) > math.MaxUint32 {
			return dst, errTooLarge
		}
		dst = binary.BigEndian.AppendUint32(append(dst, breezeBytes), uint32(len(v.raw)))
		return append(dst, v.raw...), nil
	case KindInt16:
		return binary.BigEndian.AppendUint16(append(dst, breezeInt16), uint16(v.num)), nil
	case KindInt32:
		i := int32(v.num)
		if i >= breezeInt32MinDirect-breezeInt32Zero && i <= breezeInt32MaxDirect-breezeInt32Zero {
			return append(dst, byte(i+breezeInt32Zero)), nil
		}
		return binary.AppendUvarint(append(dst, breezeInt32), uint64(zigzag32(i))), nil
	case KindInt64:
		i := int64(v.num)
		if i >= breezeInt64MinDirect-breezeInt64Zero && i <= breezeInt64MaxDirect-breezeInt64Zero {
			return append(dst, byte(i+breezeInt64Zero)), nil
		}
		return binary.AppendUvarint(append(dst, breezeInt64), zigzag64(i)), nil
	case KindFloat32:
		return binary.BigEndian.AppendUint32(append(dst, breezeFloat32), uint32(v.num)), nil
	case KindFloat64:
		return binary.BigEndian.AppendUint64(append(dst, breezeFloat64), v.num), nil
	case KindStringMap:
		dst = binary.AppendUvarint(append(dst, breezePackedMap), uint64(len(v.sm)))
		if len(v.sm) > 0 {
			dst = append(dst, breezeString, breezeString)
		}
		for _, p := range v.sm {
			dst = appendBreezeStringBody(dst, p.Key)
			dst = appendBreezeStringBody(dst, p.Value)
		}
		return dst, nil
	case KindStringArray:
		dst = binary.AppendUvarint(append(dst, breezePackedArray), uint64(len(v.strs)))
		if len(v.strs) > 0 {
			dst = append(dst, breezeString)
		}
		for _, s := range v.strs {
			dst = appendBreezeStringBody(dst, s)
		}
		return dst, nil
	case KindMap, KindArray:
		if depth >= MaxValueDepth {
			return dst, errTooDeep
		}
		if v.kind == KindMap {
			dst = binary.AppendUvarint(append(dst, breezeMap), uint64(len(v.list)/2))
		} else {
			dst = binary.AppendUvarint(append(dst, breezeArray), uint64(len(v.list)))
		}
		var err error
		for i := range v.list {
			if dst, err = appendBreeze(dst, &v.list[i], depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, &KindError{Serialization: SerializationBreeze, Kind: v.kind}
}

// DecodeBreeze decodes a Breeze request body: the argument values back to
// back until the body ends. Strings and byte arrays alias body, as with
// DecodeSimple. Packed maps whose key and value types are both strings
// decode to string maps and packed string arrays to string arrays; every
// other container decodes to a generic map or array. Messages (0xDE and
// message references) are not supported.
func DecodeBreeze(body []byte) ([]Value, error) {
	if len(body) == 0 {
		return nil, nil
	}
	d := breezeDecoder{b: body}
	// Decode into a stack buffer first so that a typical request costs one
	// exactly sized allocation, without a separate counting pass (Breeze
	// containers carry element counts, not byte sizes, so counting top-level
	// values would mean walking everything twice).
	// The buffer is never returned (only copied), or it would escape.
	var small [8]Value
	var big []Value
	n := 0
	for ; d.pos < len(body); n++ {
		var v *Value
		switch {
		case n < len(small):
			v = &small[n]
		case n == len(small):
			big = append(make([]Value, 0, 2*len(small)), small[:]...)
			fallthrough
		default:
			big = append(big, Value{})
			v = &big[n]
		}
		if err := d.value(v, 0); err != nil {
			return nil, err
		}
	}
	if big != nil {
		return big, nil
	}
	return append([]Value(nil), small[:n]...), nil
}

// DecodeBreezeValue decodes a Breeze reply body: one value, null for an
// empty body; bytes after the value are an error.
func DecodeBreezeValue(body []byte) (Value, error) {
	var v Value
	if len(body) == 0 {
		return v, nil
	}
	d := breezeDecoder{b: body}
	if err := d.value(&v, 0); err != nil {
		return Null, err
	}
	if d.pos != len(body) {
		return Null, d.fail(d.pos, -1, "trailing bytes after the value")
	}
	return v, nil
}

type breezeDecoder struct {
	b      []byte
	pos    int
	values int // decoded so far, held to MaxValueCount
}

func (d *breezeDecoder) fail(at, t int, reason string) error {
	return &ValueError{Serialization: SerializationBreeze, Offset: at, Tag: t, Reason: reason}
}

func (d *breezeDecoder) need(at int, t byte, n int) error {
	if len(d.b)-d.pos < n {
		return d.fail(at, int(t), "truncated value")
	}
	return nil
}

func (d *breezeDecoder) varint(at int, t byte) (uint64, error) {
	x, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, d.fail(at, int(t), "truncated varint")
		}
		return 0, d.fail(at, int(t), "varint overflows 64 bits")
	}
	d.pos += n
	return x, nil
}

// strN reads n string bytes aliasing the body.
func (d *breezeDecoder) strN(at int, t byte, n uint64) (string, error) {
	if n > uint64(len(d.b)-d.pos) {
		return "", d.fail(at, int(t), "declared length exceeds the remaining body")
	}
	s := unsafeString(d.b[d.pos : d.pos+int(n)])
	d.pos += int(n)
	return s, nil
}

// count reads a collection's element count and checks it against the
// limit and against the bytes left (every element takes at least one byte
// each, perEntry values per entry), before anything is allocated.
func (d *breezeDecoder) count(at int, t byte, perEntry int) (int, error) {
	n, err := d.varint(at, t)
	if err != nil {
		return 0, err
	}
	if n > BreezeMaxElements {
		return 0, d.fail(at, int(t), fmt.Sprintf("collection of %d elements exceeds the limit of %d", n, BreezeMaxElements))
	}
	if n*uint64(perEntry) > uint64(len(d.b)-d.pos) {
		return 0, d.fail(at, int(t), "element count exceeds the remaining body")
	}
	return int(n), nil
}

func isBreezeStringType(t byte) bool { return t <= breezeString }

// packedString reads a string written without its type byte (varint
// length + bytes). It exists apart from payload so that string maps and
// arrays do not pass the address of a local into the recursive decoder,
// which would move that local to the heap on every element.
func (d *breezeDecoder) packedString(t byte) (string, error) {
	at := d.pos
	n, err := d.varint(at, t)
	if err != nil {
		return "", err
	}
	return d.strN(at, t, n)
}

func (d *breezeDecoder) value(v *Value, depth int) error {
	at := d.pos
	if at >= len(d.b) {
		return d.fail(at, -1, "unexpected end of body")
	}
	t := d.b[at]
	d.pos++
	return d.payload(v, at, t, false, depth)
}

// payload decodes what follows type byte t. packed says the value sits in
// a packed container without its own type byte, where strings and integers
// always use their full-width forms and bools still carry 0x9A/0x9B.
func (d *breezeDecoder) payload(v *Value, at int, t byte, packed bool, depth int) error {
	if d.values++; d.values > MaxValueCount {
		return d.fail(at, int(t), "more than MaxValueCount values in one body")
	}
	switch {
	case t <= breezeString:
		var n uint64
		if t == breezeString || packed {
			var err error
			if n, err = d.varint(at, t); err != nil {
				return err
			}
		} else {
			n = uint64(t)
		}
		s, err := d.strN(at, t, n)
		if err != nil {
			return err
		}
		*v = Value{kind: KindString, str: s}
		return nil
	case t <= breezeInt32:
		if t == breezeInt32 || packed {
			z, err := d.varint(at, t)
			if err != nil {
				return err
			}
			*v = Int32(unzigzag32(z))
		} else {
			*v = Int32(int32(t) - breezeInt32Zero)
		}
		return nil
	case t <= breezeInt64:
		if t == breezeInt64 || packed {
			z, err := d.varint(at, t)
			if err != nil {
				return err
			}
			*v = Int64(unzigzag64(z))
		} else {
			*v = Int64(int64(t) - breezeInt64Zero)
		}
		return nil
	}
	switch t {
	case breezeNull:
		if packed {
			// A packed null would take no bytes at all, letting a few bytes
			// declare 100,000 elements; breeze-go never writes one.
			return d.fail(at, int(t), "null is not a valid packed element type")
		}
		*v = Value{}
	case breezeTrue, breezeFalse:
		if packed {
			if err := d.need(at, t, 1); err != nil {
				return err
			}
			t = d.b[d.pos]
			d.pos++
			if t != breezeTrue && t != breezeFalse {
				return d.fail(d.pos-1, int(t), "packed bool is neither 0x9a nor 0x9b")
			}
		}
		*v = Bool(t == breezeTrue)
	case breezeByte:
		if err := d.need(at, t, 1); err != nil {
			return err
		}
		*v = Byte(d.b[d.pos])
		d.pos++
	case breezeBytes:
		if err := d.need(at, t, 4); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(d.b[d.pos:])
		d.pos += 4
		if uint64(n) > uint64(len(d.b)-d.pos) {
			return d.fail(at, int(t), "declared length exceeds the remaining body")
		}
		*v = Value{kind: KindBytes, raw: d.b[d.pos : d.pos+int(n) : d.pos+int(n)]}
		d.pos += int(n)
	case breezeInt16:
		if err := d.need(at, t, 2); err != nil {
			return err
		}
		*v = Int16(int16(binary.BigEndian.Uint16(d.b[d.pos:])))
		d.pos += 2
	case breezeFloat32:
		if err := d.need(at, t, 4); err != nil {
			return err
		}
		*v = Value{kind: KindFloat32, num: uint64(binary.BigEndian.Uint32(d.b[d.pos:]))}
		d.pos += 4
	case breezeFloat64:
		if err := d.need(at, t, 8); err != nil {
			return err
		}
		*v = Value{kind: KindFloat64, num: binary.BigEndian.Uint64(d.b[d.pos:])}
		d.pos += 8
	case breezeMap, breezeArray, breezePackedMap, breezePackedArray:
		if depth >= MaxValueDepth {
			return d.fail(at, int(t), errTooDeep.Error())
		}
		return d.container(v, at, t, depth+1)
	default:
		return d.fail(at, int(t), "unsupported breeze type (messages, schemas and message references are not supported)")
	}
	return nil
}

func (d *breezeDecoder) container(v *Value, at int, t byte, depth int) error {
	perEntry := 1
	if t == breezeMap || t == breezePackedMap {
		perEntry = 2
	}
	n, err := d.count(at, t, perEntry)
	if err != nil {
		return err
	}
	switch t {
	case breezeMap, breezeArray:
		list := make([]Value, n*perEntry)
		for i := range list {
			if err := d.value(&list[i], depth); err != nil {
				return err
			}
		}
		if t == breezeMap {
			*v = Value{kind: KindMap, list: list}
		} else {
			*v = Value{kind: KindArray, list: list}
		}
		return nil
	case breezePackedMap:
		if n == 0 {
			*v = Value{kind: KindStringMap}
			return nil
		}
		if err := d.need(at, t, 2); err != nil {
			return err
		}
		kt, vt := d.b[d.pos], d.b[d.pos+1]
		d.pos += 2
		if isBreezeStringType(kt) && isBreezeStringType(vt) {
			pairs := make([]StringPair, n)
			for i := range pairs {
				if pairs[i].Key, err = d.packedString(kt); err != nil {
					return err
				}
				if pairs[i].Value, err = d.packedString(vt); err != nil {
					return err
				}
			}
			*v = Value{kind: KindStringMap, sm: pairs}
			return nil
		}
		list := make([]Value, 2*n)
		for i := 0; i < len(list); i += 2 {
			if err := d.payload(&list[i], d.pos, kt, true, depth); err != nil {
				return err
			}
			if err := d.payload(&list[i+1], d.pos, vt, true, depth); err != nil {
				return err
			}
		}
		*v = Value{kind: KindMap, list: list}
		return nil
	default: // breezePackedArray
		if n == 0 {
			*v = Value{kind: KindStringArray}
			return nil
		}
		if err := d.need(at, t, 1); err != nil {
			return err
		}
		et := d.b[d.pos]
		d.pos++
		if isBreezeStringType(et) {
			strs := make([]string, n)
			for i := range strs {
				if strs[i], err = d.packedString(et); err != nil {
					return err
				}
			}
			*v = Value{kind: KindStringArray, strs: strs}
			return nil
		}
		list := make([]Value, n)
		for i := range list {
			if err := d.payload(&list[i], d.pos, et, true, depth); err != nil {
				return err
			}
		}
		*v = Value{kind: KindArray, list: list}
		return nil
	}
}
