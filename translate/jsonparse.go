package translate

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/meshgate/meshgate/motan2"
)

// This file holds meshgate's JSON reader. encoding/json cannot be used for
// request bodies: decoding into map[string]any loses the order of object
// keys (which becomes the wire order of Motan2 maps), and json.Decoder's
// token API costs an allocation per token. The reader parses the whole
// text once into a flat tree of nodes that point into the text, accepting
// exactly what json.Valid accepts (RFC 8259) and decoding strings as
// encoding/json does (invalid UTF-8 and lone surrogates become U+FFFD).

// jkind is the JSON type of a node.
type jkind uint8

const (
	jNull jkind = iota
	jFalse
	jTrue
	jNumber
	jString
	jArray
	jObject
)

// jnode is one JSON value. It holds no pointers, so that the node arena
// costs the garbage collector nothing (no write barriers, no scanning):
//
//   - jString, jNumber: the text is src[a:b], the literal as written; for
//     a string that needed unescaping (esc), the decoded text is
//     decoded[a];
//   - jArray, jObject: the children are nodes[a : a+b], contiguous in the
//     arena; an object's children are its keys (jString) and values,
//     alternating, with duplicate keys merged (the first key's position,
//     the last value).
type jnode struct {
	a, b int32
	kind jkind
	esc  bool
}

// doc is a parsed JSON text.
type doc struct {
	src     string
	nodes   []jnode
	decoded []string
	root    jnode
}

func (d *doc) kids(n *jnode) []jnode { return d.nodes[n.a : n.a+n.b] }

// text returns the text of a string (decoded) or number (as written), ""
// for other nodes.
func (d *doc) text(n *jnode) string { return nodeText(d.src, d.decoded, n) }

func nodeText(src string, decoded []string, n *jnode) string {
	if n.kind != jString && n.kind != jNumber {
		return ""
	}
	if n.esc {
		return decoded[n.a]
	}
	return src[n.a:n.b]
}

// parseError is a failure of parseJSON: a syntax error at offset, or a
// well-formed text beyond the depth or size limits (syntax false).
type parseError struct {
	offset int
	reason string
	syntax bool
}

// SyntaxError describes where and why a request body is not JSON. It is
// the cause of the InvalidArgument error ParseJSONBody returns.
type SyntaxError struct {
	Line   int    // 1-based line of the offending byte
	Column int    // 1-based column, counted in characters (code points)
	Offset int    // 0-based byte offset of the offending byte; the body's length if it ended early
	Reason string // what is wrong, in encoding/json's words
}

// Error returns the error as text, as the caller sees it.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON body at line %d, column %d (offset %d): %s", e.Line, e.Column, e.Offset, e.Reason)
}

// newSyntaxError locates offset in s.
func newSyntaxError(s string, offset int, reason string) *SyntaxError {
	line, lineStart := 1, 0
	for i := 0; i < offset && i < len(s); i++ {
		if s[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return &SyntaxError{Line: line, Column: utf8.RuneCountInString(s[lineStart:min(offset, len(s))]) + 1, Offset: offset, Reason: reason}
}

type parser struct {
	s       string
	i       int
	depth   int
	count   int
	nodes   []jnode
	decoded []string
	stack   []jnode // values parsed but not yet placed in their container
	err     parseError
}

// parserPool recycles parsers for their scratch stack (which holds no
// pointers); the node arena belongs to the parsed document.
var parserPool = sync.Pool{New: func() any { return &parser{stack: make([]jnode, 0, 64)} }}

// maxPooledStack bounds the stack a pooled parser keeps.
const maxPooledStack = 4096

// parseJSON parses the JSON text s. The nodes' strings share s's memory
// unless they had to be unescaped.
func parseJSON(s string) (doc, *parseError) {
	p := parserPool.Get().(*parser)
	defer func() {
		if cap(p.stack) <= maxPooledStack {
			*p = parser{stack: p.stack[:0]}
			parserPool.Put(p)
		}
	}()
	p.s, p.i, p.depth, p.count = s, 0, 0, 0
	p.nodes = make([]jnode, 0, len(s)/8+4)
	if !p.value() {
		err := p.err
		if !err.syntax {
			// A limit stopped the parse: the text may still be malformed
			// further on, and a syntax error is the better answer.
			if off, reason, bad := firstSyntaxError(s); bad {
				err = parseError{offset: off, reason: reason, syntax: true}
			}
		}
		return doc{}, &err
	}
	p.ws()
	if p.i < len(s) {
		p.fail(p.i, "invalid character "+p.quoteChar(p.i)+" after top-level value")
		err := p.err
		return doc{}, &err
	}
	return doc{src: s, nodes: p.nodes, decoded: p.decoded, root: p.stack[0]}, nil
}

func (p *parser) fail(offset int, reason string) bool {
	p.err = parseError{offset: offset, reason: reason, syntax: true}
	return false
}

func (p *parser) failEOF() bool { return p.fail(len(p.s), "unexpected end of JSON input") }

// quoteChar describes the character at offset i for an error message.
func (p *parser) quoteChar(i int) string {
	c := p.s[i]
	switch {
	case c == '\'':
		return `'\''`
	case c >= 0x20 && c < utf8.RuneSelf:
		return "'" + string(c) + "'"
	case c < utf8.RuneSelf:
		return fmt.Sprintf("'\\x%02x'", c)
	}
	if r, size := utf8.DecodeRuneInString(p.s[i:]); r != utf8.RuneError || size > 1 {
		return fmt.Sprintf("%U", r)
	}
	return fmt.Sprintf("byte 0x%02x (invalid UTF-8)", c)
}

// more skips whitespace and reports whether input remains; at the end of
// the input it records the "unexpected end" error.
func (p *parser) more() bool {
	p.ws()
	return p.i < len(p.s) || p.failEOF()
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) push(n jnode) { p.stack = append(p.stack, n) }

// value parses one value and pushes it on the stack.
func (p *parser) value() bool {
	if !p.more() {
		return false
	}
	if p.count++; p.count > motan2.MaxValueCount {
		p.err = parseError{offset: p.i, reason: "more than " + strconv.Itoa(motan2.MaxValueCount) + " values"}
		return false
	}
	switch c := p.s[p.i]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		n, ok := p.str()
		if ok {
			p.push(n)
		}
		return ok
	case 't':
		return p.literal("true", jTrue)
	case 'f':
		return p.literal("false", jFalse)
	case 'n':
		return p.literal("null", jNull)
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return p.number()
		}
		return p.fail(p.i, "invalid character "+p.quoteChar(p.i)+" looking for beginning of value")
	}
}

func (p *parser) literal(lit string, k jkind) bool {
	for j := 0; j < len(lit); j++ {
		i := p.i + j
		if i >= len(p.s) {
			return p.failEOF()
		}
		if p.s[i] != lit[j] {
			return p.fail(i, "invalid character "+p.quoteChar(i)+" in literal "+lit+" (expecting '"+lit[j:j+1]+"')")
		}
	}
	p.i += len(lit)
	p.push(jnode{kind: k})
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber returns the end of the JSON number starting at s[i], or the
// offset of the first byte that breaks the grammar (eof reports the end of
// s was reached too early).
func scanNumber(s string, i int) (end int, ok, eof bool) {
	if s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return i, false, true
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i++; i < len(s) && isDigit(s[i]); i++ {
		}
	default:
		return i, false, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) {
			return i, false, true
		}
		if !isDigit(s[i]) {
			return i, false, false
		}
		for i++; i < len(s) && isDigit(s[i]); i++ {
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) {
			return i, false, true
		}
		if !isDigit(s[i]) {
			return i, false, false
		}
		for i++; i < len(s) && isDigit(s[i]); i++ {
		}
	}
	return i, true, false
}

// isJSONNumber reports whether s is exactly one JSON number.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	end, ok, _ := scanNumber(s, 0)
	return ok && end == len(s)
}

func (p *parser) number() bool {
	end, ok, eof := scanNumber(p.s, p.i)
	if !ok {
		if eof {
			return p.failEOF()
		}
		return p.fail(end, "invalid character "+p.quoteChar(end)+" in numeric literal")
	}
	p.push(jnode{kind: jNumber, a: int32(p.i), b: int32(end)})
	p.i = end
	return true
}

// str parses the string starting at p.s[p.i] (a quote) and returns its
// node: pointing into p.s when nothing needs decoding.
func (p *parser) str() (jnode, bool) {
	s := p.s
	start := p.i + 1
	i := start
	for i < len(s) {
		c := s[i]
		if c == '"' {
			p.i = i + 1
			return jnode{kind: jString, a: int32(start), b: int32(i)}, true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return jnode{}, p.fail(i, "invalid character "+p.quoteChar(i)+" in string literal")
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	if i >= len(s) {
		return jnode{}, p.failEOF()
	}
	return p.strSlow(start, i)
}

// strSlow decodes a string with escapes or invalid UTF-8; s[start:i] is
// the part already known to need no decoding.
func (p *parser) strSlow(start, i int) (jnode, bool) {
	s := p.s
	// A strings.Builder hands its buffer over as the string, without the
	// copy string(buf) would make.
	var buf strings.Builder
	buf.Grow(i - start + 16)
	buf.WriteString(s[start:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			p.decoded = append(p.decoded, buf.String())
			return jnode{kind: jString, esc: true, a: int32(len(p.decoded) - 1), b: int32(i)}, true
		case c == '\\':
			if i+1 >= len(s) {
				return jnode{}, p.failEOF()
			}
			e := s[i+1]
			switch e {
			case '"', '\\', '/':
				buf.WriteByte(e)
			case 'b':
				buf.WriteByte('\b')
			case 'f':
				buf.WriteByte('\f')
			case 'n':
				buf.WriteByte('\n')
			case 'r':
				buf.WriteByte('\r')
			case 't':
				buf.WriteByte('\t')
			case 'u':
				r, ok := p.hex4(i + 2)
				if !ok {
					return jnode{}, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair decodes to one rune; a lone surrogate to
					// U+FFFD, as encoding/json does.
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2, ok := p.hex4(i + 2)
						if !ok {
							return jnode{}, false
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							i += 6
							r = dec
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				buf.WriteRune(r)
				continue
			default:
				return jnode{}, p.fail(i+1, "invalid character "+p.quoteChar(i+1)+" in string escape code")
			}
			i += 2
		case c < 0x20:
			return jnode{}, p.fail(i, "invalid character "+p.quoteChar(i)+" in string literal")
		case c < utf8.RuneSelf:
			buf.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf.WriteString("\uFFFD")
			} else {
				buf.WriteString(s[i : i+size])
			}
			i += size
		}
	}
	return jnode{}, p.failEOF()
}

// hex4 reads the four hex digits of a \u escape at s[i:].
func (p *parser) hex4(i int) (rune, bool) {
	var r rune
	for j := i; j < i+4; j++ {
		if j >= len(p.s) {
			return 0, p.failEOF()
		}
		c := p.s[j]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, p.fail(j, "invalid character "+p.quoteChar(j)+" in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (p *parser) enter() bool {
	if p.depth++; p.depth > motan2.MaxValueDepth {
		p.err = parseError{offset: p.i, reason: "nested deeper than " + strconv.Itoa(motan2.MaxValueDepth) + " levels"}
		return false
	}
	return true
}

// close moves the children pushed since mark into the arena and pushes the
// container.
func (p *parser) close(mark int, k jkind) {
	kids := p.stack[mark:]
	if k == jObject {
		kids = dedupeKeys(kids, p.s, p.decoded)
	}
	off := len(p.nodes)
	p.nodes = append(p.nodes, kids...)
	p.stack = p.stack[:mark]
	p.depth--
	p.push(jnode{kind: k, a: int32(off), b: int32(len(kids))})
}

func (p *parser) array() bool {
	if !p.enter() {
		return false
	}
	p.i++ // [
	mark := len(p.stack)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.close(mark, jArray)
		return true
	}
	for {
		if !p.value() {
			return false
		}
		if !p.more() {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.close(mark, jArray)
			return true
		default:
			return p.fail(p.i, "invalid character "+p.quoteChar(p.i)+" after array element")
		}
	}
}

func (p *parser) object() bool {
	if !p.enter() {
		return false
	}
	p.i++ // {
	mark := len(p.stack)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.close(mark, jObject)
		return true
	}
	for {
		if !p.more() {
			return false
		}
		if p.s[p.i] != '"' {
			return p.fail(p.i, "invalid character "+p.quoteChar(p.i)+" looking for beginning of object key string")
		}
		if p.count++; p.count > motan2.MaxValueCount {
			p.err = parseError{offset: p.i, reason: "more than " + strconv.Itoa(motan2.MaxValueCount) + " values"}
			return false
		}
		key, ok := p.str()
		if !ok {
			return false
		}
		p.push(key)
		if !p.more() {
			return false
		}
		if p.s[p.i] != ':' {
			return p.fail(p.i, "invalid character "+p.quoteChar(p.i)+" after object key")
		}
		p.i++
		if !p.value() {
			return false
		}
		if !p.more() {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.close(mark, jObject)
			return true
		default:
			return p.fail(p.i, "invalid character "+p.quoteChar(p.i)+" after object key:value pair")
		}
	}
}

// dedupeKeys merges duplicate keys of an object's children (key, value,
// key, value, ...) in place: the entry keeps the position of the key's
// first occurrence and takes the value of its last, as JavaScript's
// JSON.parse does, and returns the shortened slice.
func dedupeKeys(kv []jnode, src string, decoded []string) []jnode {
	key := func(i int) string { return nodeText(src, decoded, &kv[i]) }
	n := len(kv) / 2
	if n < 2 {
		return kv
	}
	if n <= 16 {
		dup := false
	scan:
		for i := 2; i < len(kv); i += 2 {
			for j := 0; j < i; j += 2 {
				if key(i) == key(j) {
					dup = true
					break scan
				}
			}
		}
		if !dup {
			return kv
		}
		out := 0
	merge:
		for i := 0; i < len(kv); i += 2 {
			for j := 0; j < out; j += 2 {
				if key(j) == key(i) {
					kv[j+1] = kv[i+1]
					continue merge
				}
			}
			kv[out], kv[out+1] = kv[i], kv[i+1]
			out += 2
		}
		return kv[:out]
	}
	index := make(map[string]int, n)
	out := 0
	for i := 0; i < len(kv); i += 2 {
		if j, ok := index[key(i)]; ok {
			kv[j+1] = kv[i+1]
			continue
		}
		index[key(i)] = out
		kv[out], kv[out+1] = kv[i], kv[i+1]
		out += 2
	}
	return kv[:out]
}

// firstSyntaxError finds the first syntax error in s, like the parser
// but without recursion, limits or a tree, for texts the parser gave up on
// because of a limit.
func firstSyntaxError(s string) (offset int, reason string, found bool) {
	p := &parser{s: s}
	var open []byte // '[' or '{' for each open container
	const (
		wantValue = iota
		wantKey
		afterValue
	)
	state := wantValue
	for {
		p.stack = p.stack[:0]
		p.decoded = p.decoded[:0]
		switch state {
		case wantValue:
			p.ws()
			if p.i >= len(s) {
				p.failEOF()
				return p.err.offset, p.err.reason, true
			}
			switch c := s[p.i]; {
			case c == '{' || c == '[':
				open = append(open, c)
				p.i++
				p.ws()
				if p.i < len(s) && s[p.i] == c+2 { // '}' or ']'
					p.i++
					open = open[:len(open)-1]
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
				continue
			case c == '"':
				if _, ok := p.str(); !ok {
					return p.err.offset, p.err.reason, true
				}
			case c == 't' || c == 'f' || c == 'n':
				lit := "null"
				if c == 't' {
					lit = "true"
				} else if c == 'f' {
					lit = "false"
				}
				if !p.literal(lit, jNull) {
					return p.err.offset, p.err.reason, true
				}
			case c == '-' || isDigit(c):
				if !p.number() {
					return p.err.offset, p.err.reason, true
				}
			default:
				return p.i, "invalid character " + p.quoteChar(p.i) + " looking for beginning of value", true
			}
			state = afterValue
		case wantKey:
			p.ws()
			if p.i >= len(s) {
				p.failEOF()
				return p.err.offset, p.err.reason, true
			}
			if s[p.i] != '"' {
				return p.i, "invalid character " + p.quoteChar(p.i) + " looking for beginning of object key string", true
			}
			if _, ok := p.str(); !ok {
				return p.err.offset, p.err.reason, true
			}
			p.ws()
			if p.i >= len(s) {
				p.failEOF()
				return p.err.offset, p.err.reason, true
			}
			if s[p.i] != ':' {
				return p.i, "invalid character " + p.quoteChar(p.i) + " after object key", true
			}
			p.i++
			state = wantValue
		case afterValue:
			p.ws()
			if len(open) == 0 {
				if p.i < len(s) {
					return p.i, "invalid character " + p.quoteChar(p.i) + " after top-level value", true
				}
				return 0, "", false
			}
			if p.i >= len(s) {
				p.failEOF()
				return p.err.offset, p.err.reason, true
			}
			top := open[len(open)-1]
			switch c := s[p.i]; {
			case c == ',':
				p.i++
				state = wantValue
				if top == '{' {
					state = wantKey
				}
			case c == top+2:
				p.i++
				open = open[:len(open)-1]
			case top == '{':
				return p.i, "invalid character " + p.quoteChar(p.i) + " after object key:value pair", true
			default:
				return p.i, "invalid character " + p.quoteChar(p.i) + " after array element", true
			}
		}
	}
}

// appendNodeJSON appends the compact JSON text of n, stopping once dst
// holds more than limit bytes (for error messages).
func (d *doc) appendNodeJSON(dst []byte, n *jnode, limit int) []byte {
	if len(dst) > limit {
		return dst
	}
	switch n.kind {
	case jNull:
		return append(dst, "null"...)
	case jTrue:
		return append(dst, "true"...)
	case jFalse:
		return append(dst, "false"...)
	case jNumber:
		return append(dst, d.text(n)...)
	case jString:
		return appendJSONString(dst, d.text(n))
	case jArray:
		dst = append(dst, '[')
		for i, k := range d.kids(n) {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst = d.appendNodeJSON(dst, &k, limit); len(dst) > limit {
				return dst
			}
		}
		return append(dst, ']')
	case jObject:
		dst = append(dst, '{')
		kids := d.kids(n)
		for i := 0; i < len(kids); i += 2 {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, d.text(&kids[i]))
			dst = append(dst, ':')
			if dst = d.appendNodeJSON(dst, &kids[i+1], limit); len(dst) > limit {
				return dst
			}
		}
		return append(dst, '}')
	}
	return dst
}
