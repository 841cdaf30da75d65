package routes

import (
	"fmt"
	"strings"
)

// segKind is the kind of one template segment.
type segKind uint8

const (
	kindLiteral segKind = iota // matches one path segment with exactly this text
	kindStar                   // "*": matches exactly one path segment
	kindDeep                   // "**": matches zero or more path segments; always last
)

// segment is one "/"-separated element of a template, with variables
// flattened away: {name=shelves/*} contributes two segments.
type segment struct {
	kind segKind
	lit  string // kindLiteral only; raw (still percent-encoded) text
}

// variable binds the path text of segments [start, end) to a field path.
type variable struct {
	path       string
	start, end int
}

// multi reports whether the variable can span more than one path segment,
// which selects the percent-decoding rule (see Params.Get).
func (v variable) multi(segs []segment) bool {
	return v.end-v.start > 1 || segs[v.start].kind == kindDeep
}

// Template is a parsed path template in the grpc-gateway / google.api.http
// syntax:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// A Template is immutable once parsed and safe for concurrent use. Two
// templates parsed from equivalent text ("{id}" and "{id=*}") are equal
// under reflect.DeepEqual and have the same String.
type Template struct {
	segs []segment
	vars []variable
	verb string
}

// String returns the canonical form of the template: variables bound to a
// single "*" are written "{name}", everything else "{name=segments}", and
// the verb, if any, follows the last segment after ":". Parsing the result
// yields an equal Template.
func (t *Template) String() string {
	var b strings.Builder
	vi := 0
	for i := 0; i < len(t.segs); i++ {
		b.WriteByte('/')
		if vi < len(t.vars) && t.vars[vi].start == i {
			v := t.vars[vi]
			vi++
			b.WriteByte('{')
			b.WriteString(v.path)
			if v.end-v.start == 1 && t.segs[i].kind == kindStar {
				b.WriteByte('}')
				continue
			}
			b.WriteByte('=')
			for j := v.start; j < v.end; j++ {
				if j > v.start {
					b.WriteByte('/')
				}
				b.WriteString(t.segs[j].text())
			}
			b.WriteByte('}')
			i = v.end - 1
			continue
		}
		b.WriteString(t.segs[i].text())
	}
	if t.verb != "" {
		b.WriteByte(':')
		b.WriteString(t.verb)
	}
	return b.String()
}

func (s segment) text() string {
	switch s.kind {
	case kindStar:
		return "*"
	case kindDeep:
		return "**"
	}
	return s.lit
}

// Vars returns the field paths of the template's variables in the order
// they appear. The caller owns the returned slice.
func (t *Template) Vars() []string {
	out := make([]string, len(t.vars))
	for i, v := range t.vars {
		out[i] = v.path
	}
	return out
}

// Verb returns the template's custom verb without the leading ":", or ""
// if it has none.
func (t *Template) Verb() string { return t.verb }

// ParseError reports a malformed template: what is wrong and the byte offset
// in the template text where it was found.
type ParseError struct {
	Template string // the text given to ParseTemplate
	Offset   int    // byte offset into Template
	Msg      string // what is wrong, e.g. `missing "}"`
}

// Error returns e.g. `routes: template "/v1/{id": missing "}" at offset 7`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("routes: template %q: %s at offset %d", e.Template, e.Msg, e.Offset)
}

// ParseTemplate parses a path template. Besides the grammar in the Template
// doc it rejects: a missing leading "/", empty segments ("//", a trailing
// "/", "/" alone), "**" anywhere but the last segment, nested variables,
// two variables with the same field path, field paths that are not
// dot-separated identifiers ([A-Za-z_][A-Za-z0-9_]*), literal characters
// outside RFC 3986 pchar, malformed percent-encoding, and an empty verb.
//
// As in grpc-gateway, the verb is split off the last segment at its last
// ":" (or at the ":" right after a closing "}"); a verb therefore never
// contains ":", while literals in earlier segments, and inside variables,
// may. Errors are of type *ParseError.
func ParseTemplate(s string) (*Template, error) {
	p := parser{s: s, deepAt: -1, t: &Template{}}
	if s == "" || s[0] != '/' {
		return nil, p.fail(0, `missing leading "/"`)
	}
	p.pos = 1
	for {
		last, err := p.topSegment()
		if err != nil {
			return nil, err
		}
		if last {
			return p.t, nil
		}
		p.pos++ // the "/"
	}
}

type parser struct {
	s      string
	pos    int
	deepAt int // offset of the "**" seen so far, -1 if none
	t      *Template
}

func (p *parser) fail(off int, format string, args ...any) error {
	return &ParseError{Template: p.s, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// addSeg appends a segment, enforcing that "**" is last.
func (p *parser) addSeg(off int, s segment) error {
	if p.deepAt >= 0 {
		return p.fail(p.deepAt, `"**" must be the last segment`)
	}
	if s.kind == kindDeep {
		p.deepAt = off
	}
	p.t.segs = append(p.t.segs, s)
	return nil
}

// topSegment parses one top-level segment at p.pos, leaving p.pos on the
// following "/" (last == false) or at the end of the text (last == true).
func (p *parser) topSegment() (last bool, err error) {
	s := p.s
	start := p.pos
	if start == len(s) || s[start] == '/' {
		return false, p.fail(start, "empty segment")
	}
	if s[start] == '{' {
		if err := p.variable(); err != nil {
			return false, err
		}
		switch {
		case p.pos == len(s):
			return true, nil
		case s[p.pos] == '/':
			return false, nil
		case s[p.pos] == ':':
			return true, p.verb(p.pos + 1)
		}
		return false, p.fail(p.pos, `unexpected %q after variable`, s[p.pos:p.pos+1])
	}
	end := strings.IndexByte(s[start:], '/')
	if end >= 0 {
		p.pos = start + end
		return false, p.plain(start, s[start:p.pos])
	}
	// The last segment: the text after its last ":" is the verb.
	text := s[start:]
	p.pos = len(s)
	last = true
	if i := strings.LastIndexByte(text, ':'); i >= 0 {
		if err := p.verb(start + i + 1); err != nil {
			return true, err
		}
		text = text[:i]
		if text == "" {
			return true, p.fail(start, "empty segment")
		}
	}
	return true, p.plain(start, text)
}

// plain adds a "*", "**" or literal segment whose text starts at off.
func (p *parser) plain(off int, text string) error {
	switch text {
	case "*":
		return p.addSeg(off, segment{kind: kindStar})
	case "**":
		return p.addSeg(off, segment{kind: kindDeep})
	}
	if text == "" {
		return p.fail(off, "empty segment")
	}
	if text[0] == '{' {
		return p.fail(off, "nested variable")
	}
	if err := p.pchars(off, text, "literal"); err != nil {
		return err
	}
	return p.addSeg(off, segment{kind: kindLiteral, lit: text})
}

// verb validates and records the verb starting at off and running to the
// end of the text.
func (p *parser) verb(off int) error {
	v := p.s[off:]
	if v == "" {
		return p.fail(off, "empty verb")
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		return p.fail(off+i, `invalid character ":" in verb`)
	}
	if err := p.pchars(off, v, "verb"); err != nil {
		return err
	}
	p.t.verb = v
	p.pos = len(p.s)
	return nil
}

// pchars checks that text (found at off) consists of RFC 3986 pchar:
// unreserved / pct-encoded / sub-delims / ":" / "@".
func (p *parser) pchars(off int, text, what string) error {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '%' {
			if i+2 >= len(text) || !isHex(text[i+1]) || !isHex(text[i+2]) {
				return p.fail(off+i, "invalid percent-encoding in %s", what)
			}
			i += 2
			continue
		}
		if !isPchar(c) {
			return p.fail(off+i, "invalid character %q in %s", text[i:i+1], what)
		}
	}
	return nil
}

// variable parses "{" FieldPath [ "=" Segments ] "}" at p.pos, leaving
// p.pos after the "}".
func (p *parser) variable() error {
	s := p.s
	p.pos++ // "{"
	nameAt := p.pos
	for {
		if err := p.ident(); err != nil {
			return err
		}
		if p.pos < len(s) && s[p.pos] == '.' {
			p.pos++
			continue
		}
		break
	}
	name := s[nameAt:p.pos]
	for _, v := range p.t.vars {
		if v.path == name {
			return p.fail(nameAt, "duplicate variable %q", name)
		}
	}
	v := variable{path: name, start: len(p.t.segs)}
	if p.pos == len(s) {
		return p.fail(p.pos, `missing "}"`)
	}
	switch s[p.pos] {
	case '}':
		if err := p.addSeg(p.pos, segment{kind: kindStar}); err != nil {
			return err
		}
	case '=':
		p.pos++
		if err := p.varSegments(); err != nil {
			return err
		}
	default:
		return p.fail(p.pos, "invalid character %q in field path", s[p.pos:p.pos+1])
	}
	p.pos++ // "}"
	v.end = len(p.t.segs)
	p.t.vars = append(p.t.vars, v)
	return nil
}

// varSegments parses the Segments of "{name=Segments}", leaving p.pos on
// the closing "}".
func (p *parser) varSegments() error {
	s := p.s
	for {
		start := p.pos
		if start == len(s) {
			return p.fail(start, `missing "}"`)
		}
		switch s[start] {
		case '{':
			return p.fail(start, "nested variable")
		case '/', '}':
			return p.fail(start, "empty segment")
		}
		end := strings.IndexAny(s[start:], "/}")
		if end < 0 {
			// Report a bad character first: it is the likelier mistake.
			if err := p.plainCheck(start, s[start:]); err != nil {
				return err
			}
			return p.fail(len(s), `missing "}"`)
		}
		p.pos = start + end
		if err := p.plain(start, s[start:p.pos]); err != nil {
			return err
		}
		if s[p.pos] == '}' {
			return nil
		}
		p.pos++ // "/"
	}
}

// plainCheck validates segment text without recording it.
func (p *parser) plainCheck(off int, text string) error {
	if text == "*" || text == "**" {
		return nil
	}
	if i := strings.IndexByte(text, '{'); i >= 0 {
		return p.fail(off+i, "nested variable")
	}
	return p.pchars(off, text, "literal")
}

// ident parses [A-Za-z_][A-Za-z0-9_]* at p.pos.
func (p *parser) ident() error {
	s := p.s
	start := p.pos
	if start == len(s) {
		return p.fail(start, `missing "}"`)
	}
	if c := s[start]; !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		if c == '}' || c == '=' || c == '.' {
			return p.fail(start, "missing field path identifier")
		}
		return p.fail(start, "invalid character %q in field path", s[start:start+1])
	}
	p.pos++
	for p.pos < len(s) {
		c := s[p.pos]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// isPchar reports whether c is an RFC 3986 pchar other than pct-encoded.
func isPchar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', // sub-delims
		':', '@':
		return true
	}
	return false
}
