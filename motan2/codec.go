package motan2

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"unsafe"
)

// Limits bounds what the decoder accepts. A zero field means DefaultMaxSize.
// Sizes are checked against the size fields before anything is allocated;
// the decompressed size of a gzip body is held to MaxBodySize as well.
type Limits struct {
	MaxMetaSize int
	MaxBodySize int
}

func (l Limits) meta() int {
	if l.MaxMetaSize > 0 {
		return l.MaxMetaSize
	}
	return DefaultMaxSize
}

func (l Limits) body() int {
	if l.MaxBodySize > 0 {
		return l.MaxBodySize
	}
	return DefaultMaxSize
}

// checkHeader validates the fixed header bytes (at least 5 of them).
func checkHeader(h []byte) error {
	if binary.BigEndian.Uint16(h[0:2]) != Magic {
		return fmt.Errorf("%w (got % x%s)", ErrBadMagic, h[0:2], sniffProtocol(h))
	}
	switch v := h[3] >> 3; v {
	case Version2:
		return nil
	case 0:
		return ErrMotanV1
	default:
		return fmt.Errorf("%w %d", ErrUnsupportedVersion, v)
	}
}

// sniffProtocol names a few protocols people point at a Motan port by
// mistake, to make the error actionable.
func sniffProtocol(h []byte) string {
	for _, p := range []string{"GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC"} {
		if len(h) >= 4 && string(h[:4]) == p {
			return ": looks like HTTP/1.x"
		}
	}
	if len(h) >= 4 && string(h[:4]) == "PRI " {
		return ": looks like HTTP/2 (gRPC?)"
	}
	if len(h) >= 1 && h[0] == 0x16 {
		return ": looks like TLS"
	}
	return ""
}

func (f *Frame) setHeader(h []byte) {
	f.Flags = Flags(h[2])
	f.Version = h[3] >> 3
	f.Status = Status(h[3] & 0x07)
	f.Serialization = Serialization(h[4] >> 3)
	f.RequestID = binary.BigEndian.Uint64(h[5:13])
}

// ReadFrame reads one frame from r into f (which it resets first).
//
// Meta strings and the body share one allocation sized from the frame's
// size fields; nothing else is allocated for a frame whose meta fits in r's
// buffer, apart from decompression of gzip bodies. The meta strings stay
// valid for as long as they are referenced; f.Body may be modified freely.
//
// io.EOF is returned only when r ends cleanly before the first byte of a
// frame; an end inside a frame is ErrTruncated.
func ReadFrame(r *bufio.Reader, f *Frame, lim Limits) error {
	f.Reset()
	// Check the first five bytes on their own, so a foreign protocol or a
	// Motan v1 frame is reported even when fewer than 17 bytes ever come.
	h, err := r.Peek(5)
	if err != nil {
		if err == io.EOF && len(h) == 0 {
			return io.EOF
		}
		return readErr(err)
	}
	if err := checkHeader(h); err != nil {
		return err
	}
	headerRead := false
	if h, err = r.Peek(HeaderSize + 4); err == bufio.ErrBufferFull {
		// bufio's smallest buffer (16 bytes) cannot hold the 17-byte fixed
		// header, so it cannot be peeked: read it instead.
		hdr := make([]byte, HeaderSize+4)
		_, err = io.ReadFull(r, hdr)
		h, headerRead = hdr, true
	}
	if err != nil {
		return readErr(err)
	}
	f.setHeader(h)
	metaSize := int64(binary.BigEndian.Uint32(h[13:17]))
	if metaSize > int64(lim.meta()) {
		return &SizeError{Section: "meta", Size: metaSize, Limit: lim.meta()}
	}
	m := int(metaSize)
	// Fast path: meta and body size in the buffer, one allocation for both.
	if HeaderSize+4+m+4 <= r.Size() {
		h, err = r.Peek(HeaderSize + 4 + m + 4)
		if err != nil {
			return readErr(err)
		}
		bodySize := int64(binary.BigEndian.Uint32(h[HeaderSize+4+m:]))
		if bodySize > int64(lim.body()) {
			return &SizeError{Section: "body", Size: bodySize, Limit: lim.body()}
		}
		buf := make([]byte, m+int(bodySize))
		copy(buf, h[HeaderSize+4:HeaderSize+4+m])
		if _, err := r.Discard(HeaderSize + 4 + m + 4); err != nil {
			return readErr(err)
		}
		if _, err := io.ReadFull(r, buf[m:]); err != nil {
			return readErr(err)
		}
		if f.Meta, err = parseMeta(f.Meta, buf[:m]); err != nil {
			return err
		}
		f.Body = buf[m:]
		return f.finishBody(lim)
	}
	if !headerRead {
		if _, err := r.Discard(HeaderSize + 4); err != nil {
			return readErr(err)
		}
	}
	metaBuf := make([]byte, m)
	if _, err := io.ReadFull(r, metaBuf); err != nil {
		return readErr(err)
	}
	if f.Meta, err = parseMeta(f.Meta, metaBuf); err != nil {
		return err
	}
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return readErr(err)
	}
	bodySize := int64(binary.BigEndian.Uint32(sz[:]))
	if bodySize > int64(lim.body()) {
		return &SizeError{Section: "body", Size: bodySize, Limit: lim.body()}
	}
	f.Body = make([]byte, bodySize)
	if _, err := io.ReadFull(r, f.Body); err != nil {
		return readErr(err)
	}
	return f.finishBody(lim)
}

func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return err
}

// DecodeFrame decodes the first frame in b and returns it with the number of
// bytes it used. Meta strings and the body alias b, so b must not be
// modified while the frame is in use; DecodeFrame allocates only the Frame
// (and the decompressed body of a gzip frame).
func DecodeFrame(b []byte, lim Limits) (*Frame, int, error) {
	f := &Frame{}
	n, err := f.decode(b, lim)
	if err != nil {
		return nil, 0, err
	}
	return f, n, nil
}

func (f *Frame) decode(b []byte, lim Limits) (int, error) {
	f.Reset()
	if len(b) >= 5 {
		if err := checkHeader(b); err != nil {
			return 0, err
		}
	}
	if len(b) < HeaderSize+4 {
		return 0, ErrTruncated
	}
	f.setHeader(b)
	metaSize := int64(binary.BigEndian.Uint32(b[13:17]))
	if metaSize > int64(lim.meta()) {
		return 0, &SizeError{Section: "meta", Size: metaSize, Limit: lim.meta()}
	}
	off := HeaderSize + 4
	if int64(len(b)-off) < metaSize+4 {
		return 0, ErrTruncated
	}
	m := int(metaSize)
	var err error
	if f.Meta, err = parseMeta(f.Meta, b[off:off+m]); err != nil {
		return 0, err
	}
	off += m
	bodySize := int64(binary.BigEndian.Uint32(b[off:]))
	if bodySize > int64(lim.body()) {
		return 0, &SizeError{Section: "body", Size: bodySize, Limit: lim.body()}
	}
	off += 4
	if int64(len(b)-off) < bodySize {
		return 0, ErrTruncated
	}
	f.Body = b[off : off+int(bodySize) : off+int(bodySize)]
	if err := f.finishBody(lim); err != nil {
		return 0, err
	}
	return off + int(bodySize), nil
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// finishBody records the wire size and gunzips a gzip body.
func (f *Frame) finishBody(lim Limits) error {
	f.WireBodySize = len(f.Body)
	if f.Flags&FlagGzip == 0 || len(f.Body) == 0 || f.IsException() {
		return nil
	}
	body, err := gunzip(f.Body, lim.body())
	if err != nil {
		return err
	}
	f.Body = body
	return nil
}

var gzipReaders sync.Pool

func gunzip(b []byte, limit int) ([]byte, error) {
	br := bytes.NewReader(b)
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(br)
	} else {
		err = zr.Reset(br)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadGzip, err)
	}
	defer gzipReaders.Put(zr)
	zr.Multistream(false)
	// The ISIZE trailer (uncompressed size mod 2^32) sizes the buffer when
	// it is plausible; the limit is enforced on what is actually produced.
	hint := 0
	if len(b) >= 4 {
		hint = int(binary.LittleEndian.Uint32(b[len(b)-4:]))
	}
	if hint <= 0 || hint > limit || hint > 64*len(b)+1024 {
		hint = min(4*len(b), limit)
	}
	out := bytes.NewBuffer(make([]byte, 0, hint+1))
	n, err := io.Copy(out, io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadGzip, err)
	}
	if n > int64(limit) {
		return nil, &SizeError{Section: "gzip body", Size: n, Limit: limit}
	}
	return out.Bytes(), nil
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// appendGzip appends the gzip stream of body to dst the way motan-go writes
// it: BestSpeed, zero mtime, a sync flush before close.
func appendGzip(dst, body []byte) []byte {
	buf := bytes.NewBuffer(dst)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(buf)
	zw.Write(body) // bytes.Buffer writes cannot fail
	zw.Flush()
	zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}

// AppendFrame appends the wire form of f to dst.
//
// Meta pairs that cannot travel (empty key or value, LF inside) are left
// out, as motan-go does. The body is gzip-compressed when f has FlagGzip or
// when gzipThreshold > 0 and the body is longer than gzipThreshold bytes;
// empty bodies and heartbeats are never compressed, and exception bodies
// are written as they are.
func AppendFrame(dst []byte, f *Frame, gzipThreshold int) ([]byte, error) {
	flags := f.Flags
	// The decoder leaves exception bodies as they came (receivers ignore
	// them, spec 8), so they go back out the same way, flag included,
	// instead of being compressed a second time.
	exception := f.IsException()
	compress := len(f.Body) > 0 && flags&FlagHeartbeat == 0 && !exception &&
		(flags&FlagGzip != 0 || (gzipThreshold > 0 && len(f.Body) > gzipThreshold))
	if compress {
		flags |= FlagGzip
	} else if !exception {
		flags &^= FlagGzip
	}
	metaSize := f.Meta.encodedSize()
	if metaSize > math.MaxUint32 || len(f.Body) > math.MaxUint32 {
		return dst, errors.New("motan2: frame section larger than 4 GiB")
	}
	start := len(dst)
	dst = grow(dst, MinFrameSize+metaSize+len(f.Body))
	dst = dst[:start+HeaderSize+4]
	f.putHeader(dst[start:], flags)
	binary.BigEndian.PutUint32(dst[start+HeaderSize:], uint32(metaSize))
	dst = f.Meta.appendTo(dst)
	bodyAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if compress {
		dst = appendGzip(dst, f.Body)
	} else {
		dst = append(dst, f.Body...)
	}
	bodyLen := len(dst) - bodyAt - 4
	if bodyLen > math.MaxUint32 {
		return dst[:start], errors.New("motan2: frame section larger than 4 GiB")
	}
	binary.BigEndian.PutUint32(dst[bodyAt:], uint32(bodyLen))
	return dst, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n+len(b)/4)
	copy(nb, b)
	return nb
}

// parseMeta parses a meta section held in b. The pairs alias b, which must
// never be modified afterwards (the decoders hand it a fresh buffer).
func parseMeta(dst Meta, b []byte) (Meta, error) {
	return parseMetaPieces(dst, unsafeString(b))
}
