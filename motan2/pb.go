package motan2

import (
	"encoding/binary"
	"fmt"
)

// Markers that precede every value of a pb (number 5) body.
const (
	pbValueMarker = 0x00
	pbNullMarker  = 0x01
)

// AppendPB appends one value in motan-go's pb packing (spec 13.1) to dst:
// the varint 1 for null, otherwise the varint 0 followed by the value in
// protobuf wire style (zigzag varints for int16/int32/int64, plain varint
// for bool and byte, little-endian fixed32/fixed64 for floats, varint
// length + bytes for strings, byte arrays and messages). Maps and arrays
// have no pb form. On error dst is returned unchanged.
func AppendPB(dst []byte, v Value) ([]byte, error) {
	if v.kind == KindNull {
		return append(dst, pbNullMarker), nil
	}
	start := len(dst)
	dst = append(dst, pbValueMarker)
	switch v.kind {
	case KindBool:
		return append(dst, byte(v.num&1)), nil
	case KindByte:
		return binary.AppendUvarint(dst, v.num&0xFF), nil
	case KindInt16, KindInt32:
		return binary.AppendUvarint(dst, uint64(zigzag32(int32(v.num)))), nil
	case KindInt64:
		return binary.AppendUvarint(dst, zigzag64(int64(v.num))), nil
	case KindFloat32:
		return binary.LittleEndian.AppendUint32(dst, uint32(v.num)), nil
	case KindFloat64:
		return binary.LittleEndian.AppendUint64(dst, v.num), nil
	case KindString:
		return append(binary.AppendUvarint(dst, uint64(len(v.str))), v.str...), nil
	case KindBytes, KindMessage:
		return append(binary.AppendUvarint(dst, uint64(len(v.raw))), v.raw...), nil
	}
	return dst[:start], &KindError{Serialization: SerializationPB, Kind: v.kind}
}

// DecodePB decodes a pb (number 5) body holding one value of each of kinds,
// in order. The body does not say its types, so the caller supplies them
// (from the method signature or an IDL). Any value may be null. A
// KindMessage value comes back as Message("", bytes); KindNull accepts only
// null. Strings, byte arrays and messages alias body. Missing values and
// trailing bytes are errors.
func DecodePB(body []byte, kinds []Kind) ([]Value, error) {
	d := pbDecoder{b: body}
	vs := make([]Value, len(kinds))
	for i, k := range kinds {
		if err := d.value(&vs[i], k); err != nil {
			return nil, err
		}
	}
	if d.pos != len(body) {
		return nil, d.fail(d.pos, -1, fmt.Sprintf("trailing bytes after %d values", len(kinds)))
	}
	return vs, nil
}

type pbDecoder struct {
	b   []byte
	pos int
}

func (d *pbDecoder) fail(at, marker int, reason string) error {
	return &ValueError{Serialization: SerializationPB, Offset: at, Tag: marker, Reason: reason}
}

func (d *pbDecoder) varint(at int, what string) (uint64, error) {
	x, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, d.fail(at, -1, "truncated "+what)
		}
		return 0, d.fail(at, -1, what+" overflows 64 bits")
	}
	d.pos += n
	return x, nil
}

func (d *pbDecoder) fixed(at, n int, k Kind) ([]byte, error) {
	if len(d.b)-d.pos < n {
		return nil, d.fail(at, -1, "truncated "+k.String())
	}
	b := d.b[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *pbDecoder) value(v *Value, k Kind) error {
	at := d.pos
	if at >= len(d.b) {
		return d.fail(at, -1, "body ends before the "+k.String()+" value")
	}
	marker, err := d.varint(at, "marker")
	if err != nil {
		return err
	}
	switch marker {
	case pbNullMarker:
		*v = Value{}
		return nil
	case pbValueMarker:
	default:
		return d.fail(at, int(min(marker, 0xFF)), "marker is neither 0 (value) nor 1 (null)")
	}
	switch k {
	case KindBool:
		x, err := d.varint(at, "bool")
		if err != nil {
			return err
		}
		*v = Bool(x != 0)
	case KindByte:
		x, err := d.varint(at, "byte")
		if err != nil {
			return err
		}
		*v = Byte(uint8(x))
	case KindInt16:
		x, err := d.varint(at, "int16")
		if err != nil {
			return err
		}
		*v = Int16(int16(unzigzag32(x)))
	case KindInt32:
		x, err := d.varint(at, "int32")
		if err != nil {
			return err
		}
		*v = Int32(unzigzag32(x))
	case KindInt64:
		x, err := d.varint(at, "int64")
		if err != nil {
			return err
		}
		*v = Int64(unzigzag64(x))
	case KindFloat32:
		b, err := d.fixed(at, 4, k)
		if err != nil {
			return err
		}
		*v = Float32Bits(binary.LittleEndian.Uint32(b))
	case KindFloat64:
		b, err := d.fixed(at, 8, k)
		if err != nil {
			return err
		}
		*v = Float64Bits(binary.LittleEndian.Uint64(b))
	case KindString, KindBytes, KindMessage:
		n, err := d.varint(at, "length")
		if err != nil {
			return err
		}
		if n > uint64(len(d.b)-d.pos) {
			return d.fail(at, -1, "declared length exceeds the remaining body")
		}
		b := d.b[d.pos : d.pos+int(n) : d.pos+int(n)]
		d.pos += int(n)
		switch k {
		case KindString:
			*v = Value{kind: KindString, str: unsafeString(b)}
		case KindBytes:
			*v = Value{kind: KindBytes, raw: b}
		default:
			*v = Value{kind: KindMessage, raw: b}
		}
	case KindNull:
		return d.fail(at, pbValueMarker, "a value where the parameter kind is null")
	default:
		return d.fail(at, -1, "pb has no encoding for a "+k.String()+" value")
	}
	return nil
}

// DecodeGrpcPB returns the grpc-pb (number 1) body as the single message it
// is: the bytes pass through untouched and alias body. The error is always
// nil today; it is there so that validating the message later does not
// change the signature.
func DecodeGrpcPB(body []byte) (Value, error) {
	return Message("", body[:len(body):len(body)]), nil
}

// AppendGrpcPB appends the grpc-pb body for v, which must be a message or a
// byte array holding one protobuf message: its bytes, unchanged.
func AppendGrpcPB(dst []byte, v Value) ([]byte, error) {
	if v.kind != KindMessage && v.kind != KindBytes {
		return dst, &KindError{Serialization: SerializationGrpcPB, Kind: v.kind}
	}
	return append(dst, v.raw...), nil
}
