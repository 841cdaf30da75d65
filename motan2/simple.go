package motan2

import (
	"encoding/binary"
	"math"
)

// Simple serialization tags (spec section 12).
const (
	simpleNull        = 0
	simpleString      = 1
	simpleStringMap   = 2
	simpleBytes       = 3
	simpleStringArray = 4
	simpleBool        = 5
	simpleByte        = 6
	simpleInt16       = 7
	simpleInt32       = 8
	simpleInt64       = 9
	simpleFloat32     = 10
	simpleFloat64     = 11
	simpleMap         = 20
	simpleArray       = 21
)

// AppendSimple appends the Simple encoding of v to dst. Containers get the
// tag the kind says (an empty string map stays tag 2, as motan-go writes
// it); null inside containers is written as tag 0, as Java does. Messages
// have no Simple form. Nothing is allocated when dst has room. On error dst
// is returned unchanged.
func AppendSimple(dst []byte, v Value) ([]byte, error) {
	start := len(dst)
	dst, err := appendSimple(dst, &v, 0)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func appendU32Bytes(dst []byte, s string) ([]byte, error) {
	if uint64(len(s)) > math.MaxUint32 {
		return dst, errTooLarge
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...), nil
}

// patchSize writes the content size of a container whose 4-byte size
// placeholder ends at at; the size is only known once the content is out.
func patchSize(dst []byte, at int) ([]byte, error) {
	n := len(dst) - at
	if uint64(n) > math.MaxUint32 {
		return dst, errTooLarge
	}
	binary.BigEndian.PutUint32(dst[at-4:], uint32(n))
	return dst, nil
}

func appendSimple(dst []byte, v *Value, depth int) ([]byte, error) {
	var err error
	switch v.kind {
	case KindNull:
		return append(dst, simpleNull), nil
	case KindString:
		return appendU32Bytes(append(dst, simpleString), v.str)
	case KindBytes:
		if uint64(len(v.raw)) > math.MaxUint32 {
			return dst, errTooLarge
		}
		dst = binary.BigEndian.AppendUint32(append(dst, simpleBytes), uint32(len(v.raw)))
		return append(dst, v.raw...), nil
	case KindBool:
		return append(dst, simpleBool, byte(v.num&1)), nil
	case KindByte:
		return append(dst, simpleByte, byte(v.num)), nil
	case KindInt16:
		return binary.BigEndian.AppendUint16(append(dst, simpleInt16), uint16(v.num)), nil
	case KindInt32:
		return binary.AppendUvarint(append(dst, simpleInt32), uint64(zigzag32(int32(v.num)))), nil
	case KindInt64:
		return binary.AppendUvarint(append(dst, simpleInt64), zigzag64(int64(v.num))), nil
	case KindFloat32:
		return binary.BigEndian.AppendUint32(append(dst, simpleFloat32), uint32(v.num)), nil
	case KindFloat64:
		return binary.BigEndian.AppendUint64(append(dst, simpleFloat64), v.num), nil
	case KindStringMap:
		dst = append(dst, simpleStringMap, 0, 0, 0, 0)
		at := len(dst)
		for i := range v.sm {
			if dst, err = appendU32Bytes(dst, v.sm[i].Key); err != nil {
				return dst, err
			}
			if dst, err = appendU32Bytes(dst, v.sm[i].Value); err != nil {
				return dst, err
			}
		}
		return patchSize(dst, at)
	case KindStringArray:
		dst = append(dst, simpleStringArray, 0, 0, 0, 0)
		at := len(dst)
		for _, s := range v.strs {
			if dst, err = appendU32Bytes(dst, s); err != nil {
				return dst, err
			}
		}
		return patchSize(dst, at)
	case KindMap, KindArray:
		if depth >= MaxValueDepth {
			return dst, errTooDeep
		}
		tag := byte(simpleArray)
		if v.kind == KindMap {
			tag = simpleMap
		}
		dst = append(dst, tag, 0, 0, 0, 0)
		at := len(dst)
		for i := range v.list {
			if dst, err = appendSimple(dst, &v.list[i], depth+1); err != nil {
				return dst, err
			}
		}
		return patchSize(dst, at)
	}
	return dst, &KindError{Serialization: SerializationSimple, Kind: v.kind}
}

func zigzag32(n int32) uint32 { return uint32(n<<1) ^ uint32(n>>31) }
func zigzag64(n int64) uint64 { return uint64(n<<1) ^ uint64(n>>63) }

func unzigzag64(z uint64) int64 { return int64(z>>1) ^ -int64(z&1) }

// unzigzag32 keeps the low 32 bits of the varint, as motan-go converts the
// decoded uint64 to int32.
func unzigzag32(z uint64) int32 { return int32(uint32(z)>>1) ^ -int32(z&1) }

// DecodeSimple decodes a Simple request body: the argument values back to
// back until the body ends (an empty body has no arguments).
//
// The returned strings and byte arrays alias body (strings through
// unsafe.String), so body must not be modified while the values are in
// use; this package never modifies a body after decoding it. Decoding a
// body of scalars and strings allocates only the returned slice. Declared
// sizes are checked against the bytes actually present before anything is
// allocated and slices are sized by counting real elements, so a hostile
// body costs at most one Value (128 bytes) per body byte, never an
// allocation sized from a length field.
func DecodeSimple(body []byte) ([]Value, error) {
	if len(body) == 0 {
		return nil, nil
	}
	d := simpleDecoder{b: body}
	n := d.count(0, len(body))
	vs := make([]Value, n)
	for i := 0; d.pos < len(body); i++ {
		if i == len(vs) {
			// count stopped early, at a value that decoding rejects too:
			// report it without allocating on the way.
			var v Value
			if err := d.value(&v, 0); err != nil {
				return nil, err
			}
			vs = append(vs, v)
			continue
		}
		if err := d.value(&vs[i], 0); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// DecodeSimpleValue decodes a Simple reply body: one value. An empty body
// and the single byte 0x00 (Java's serialized null) are both null; bytes
// after the value are an error. Values alias body as with DecodeSimple.
func DecodeSimpleValue(body []byte) (Value, error) {
	var v Value
	if len(body) == 0 {
		return v, nil
	}
	d := simpleDecoder{b: body}
	if err := d.value(&v, 0); err != nil {
		return Null, err
	}
	if d.pos != len(body) {
		return Null, d.fail(d.pos, -1, "trailing bytes after the value")
	}
	return v, nil
}

type simpleDecoder struct {
	b      []byte
	pos    int
	values int // decoded so far, held to MaxValueCount
}

func (d *simpleDecoder) fail(at, tag int, reason string) error {
	return &ValueError{Serialization: SerializationSimple, Offset: at, Tag: tag, Reason: reason}
}

// size reads a uint32 length and checks that that many bytes remain.
func (d *simpleDecoder) size(at int, tag byte) (int, error) {
	if len(d.b)-d.pos < 4 {
		return 0, d.fail(at, int(tag), "truncated size")
	}
	n := binary.BigEndian.Uint32(d.b[d.pos:])
	d.pos += 4
	if uint64(n) > uint64(len(d.b)-d.pos) {
		return 0, d.fail(at, int(tag), "declared size exceeds the remaining body")
	}
	return int(n), nil
}

// skip returns the offset after the value at pos without decoding it, or -1
// when the value is malformed (the decoder then reports why).
func (d *simpleDecoder) skip(pos int) int {
	b := d.b
	if pos >= len(b) {
		return -1
	}
	tag := b[pos]
	pos++
	switch tag {
	case simpleNull:
		return pos
	case simpleString, simpleStringMap, simpleBytes, simpleStringArray, simpleMap, simpleArray:
		if len(b)-pos < 4 {
			return -1
		}
		n := binary.BigEndian.Uint32(b[pos:])
		pos += 4
		if uint64(n) > uint64(len(b)-pos) {
			return -1
		}
		return pos + int(n)
	case simpleBool, simpleByte:
		pos++
	case simpleInt16:
		pos += 2
	case simpleFloat32:
		pos += 4
	case simpleFloat64:
		pos += 8
	case simpleInt32, simpleInt64:
		_, n := binary.Uvarint(b[pos:])
		if n <= 0 {
			return -1
		}
		pos += n
	default:
		return -1
	}
	if pos > len(b) {
		return -1
	}
	return pos
}

// count returns the number of values in b[pos:end], stopping early at a
// malformed one. It sizes slices exactly, which saves the repeated growth
// (and garbage) of append; the result never exceeds end-pos.
func (d *simpleDecoder) count(pos, end int) int {
	n := 0
	for pos < end {
		if pos = d.skip(pos); pos < 0 || pos > end {
			break
		}
		n++
	}
	return n
}

// countStrings returns the number of length-prefixed strings in b[pos:end].
func (d *simpleDecoder) countStrings(pos, end int) int {
	n := 0
	for end-pos >= 4 {
		l := binary.BigEndian.Uint32(d.b[pos:])
		pos += 4
		if uint64(l) > uint64(end-pos) {
			break
		}
		pos += int(l)
		n++
	}
	return n
}

// str reads a uint32-length-prefixed string aliasing the body. Inside a
// string map or string array (inContainer) it must end by end, the end of
// the container's content.
func (d *simpleDecoder) str(at int, tag byte, end int, inContainer bool) (string, error) {
	if end-d.pos < 4 {
		if inContainer {
			return "", d.fail(at, int(tag), "wrong size: string length overshoots its container")
		}
		return "", d.fail(at, int(tag), "truncated size")
	}
	n := binary.BigEndian.Uint32(d.b[d.pos:])
	d.pos += 4
	if uint64(n) > uint64(end-d.pos) {
		if inContainer {
			return "", d.fail(at, int(tag), "wrong size: string overshoots its container")
		}
		return "", d.fail(at, int(tag), "declared size exceeds the remaining body")
	}
	s := unsafeString(d.b[d.pos : d.pos+int(n)])
	d.pos += int(n)
	return s, nil
}

func (d *simpleDecoder) need(at int, tag byte, n int) error {
	if len(d.b)-d.pos < n {
		return d.fail(at, int(tag), "truncated value")
	}
	return nil
}

func (d *simpleDecoder) varint(at int, tag byte) (uint64, error) {
	x, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, d.fail(at, int(tag), "truncated varint")
		}
		return 0, d.fail(at, int(tag), "varint overflows 64 bits")
	}
	d.pos += n
	return x, nil
}

// value decodes the value at d.pos into *v. Decoding into place rather than
// returning Values saves copying the (large) Value struct around.
func (d *simpleDecoder) value(v *Value, depth int) error {
	at := d.pos
	if d.values++; d.values > MaxValueCount {
		return d.fail(at, -1, "more than MaxValueCount values in one body")
	}
	if at >= len(d.b) {
		return d.fail(at, -1, "unexpected end of body")
	}
	tag := d.b[at]
	d.pos++
	switch tag {
	case simpleNull:
		*v = Value{}
	case simpleString:
		s, err := d.str(at, tag, len(d.b), false)
		if err != nil {
			return err
		}
		*v = Value{kind: KindString, str: s}
	case simpleBytes:
		n, err := d.size(at, tag)
		if err != nil {
			return err
		}
		*v = Value{kind: KindBytes, raw: d.b[d.pos : d.pos+n : d.pos+n]}
		d.pos += n
	case simpleBool:
		if err := d.need(at, tag, 1); err != nil {
			return err
		}
		*v = Value{kind: KindBool}
		if d.b[d.pos] == 1 {
			v.num = 1
		}
		d.pos++
	case simpleByte:
		if err := d.need(at, tag, 1); err != nil {
			return err
		}
		*v = Value{kind: KindByte, num: uint64(d.b[d.pos])}
		d.pos++
	case simpleInt16:
		if err := d.need(at, tag, 2); err != nil {
			return err
		}
		*v = Int16(int16(binary.BigEndian.Uint16(d.b[d.pos:])))
		d.pos += 2
	case simpleInt32:
		z, err := d.varint(at, tag)
		if err != nil {
			return err
		}
		*v = Int32(unzigzag32(z))
	case simpleInt64:
		z, err := d.varint(at, tag)
		if err != nil {
			return err
		}
		*v = Int64(unzigzag64(z))
	case simpleFloat32:
		if err := d.need(at, tag, 4); err != nil {
			return err
		}
		*v = Value{kind: KindFloat32, num: uint64(binary.BigEndian.Uint32(d.b[d.pos:]))}
		d.pos += 4
	case simpleFloat64:
		if err := d.need(at, tag, 8); err != nil {
			return err
		}
		*v = Value{kind: KindFloat64, num: binary.BigEndian.Uint64(d.b[d.pos:])}
		d.pos += 8
	case simpleStringMap:
		n, err := d.size(at, tag)
		if err != nil {
			return err
		}
		end := d.pos + n
		var pairs []StringPair
		if n > 0 {
			pairs = make([]StringPair, 0, (d.countStrings(d.pos, end)+1)/2)
		}
		for d.pos < end {
			k, err := d.str(d.pos, tag, end, true)
			if err != nil {
				return err
			}
			val, err := d.str(d.pos, tag, end, true)
			if err != nil {
				return err
			}
			pairs = append(pairs, StringPair{k, val})
		}
		*v = Value{kind: KindStringMap, sm: pairs}
	case simpleStringArray:
		n, err := d.size(at, tag)
		if err != nil {
			return err
		}
		end := d.pos + n
		var strs []string
		if n > 0 {
			strs = make([]string, 0, d.countStrings(d.pos, end))
		}
		for d.pos < end {
			s, err := d.str(d.pos, tag, end, true)
			if err != nil {
				return err
			}
			strs = append(strs, s)
		}
		*v = Value{kind: KindStringArray, strs: strs}
	case simpleMap, simpleArray:
		if depth >= MaxValueDepth {
			return d.fail(at, int(tag), errTooDeep.Error())
		}
		n, err := d.size(at, tag)
		if err != nil {
			return err
		}
		end := d.pos + n
		var list []Value
		if n > 0 {
			c := d.count(d.pos, end)
			if tag == simpleMap {
				c += c & 1
			}
			list = make([]Value, 0, c)
		}
		for d.pos < end {
			list = append(list, Value{})
			if err := d.value(&list[len(list)-1], depth+1); err != nil {
				return err
			}
			if d.pos > end {
				return d.fail(at, int(tag), "wrong size: an element overshoots the container")
			}
		}
		kind := KindArray
		if tag == simpleMap {
			if len(list)%2 != 0 {
				return d.fail(at, int(tag), "map has a key without a value")
			}
			kind = KindMap
		}
		*v = Value{kind: kind, list: list}
	default:
		return d.fail(at, int(tag), "unknown tag")
	}
	return nil
}
