package routes

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"
)

// inlineParams is how many variables Params holds without allocating.
const inlineParams = 8

// param is one bound variable: a byte range of the matched path.
type param struct {
	name       string
	start, end int32
	multi      bool
}

// Params holds the variables bound by Table.Match. It stores byte offsets
// into the matched path, not copies: up to 8 variables inline, more in a
// slice that is allocated once and then reused. The zero Params is ready to
// use; reuse one per request (or per connection) to keep matching
// allocation-free. A Params is not safe for concurrent use.
//
// Params refers to the path passed to Match, and Get may return strings
// that alias that path (see Get): the path buffer must not be modified
// or reused while the Params or any such string is in use.
type Params struct {
	path   []byte
	n      int
	inline [inlineParams]param
	more   []param
}

func (p *Params) reset(path []byte) {
	p.path = path
	p.n = 0
	p.more = p.more[:0]
}

func (p *Params) add(x param) {
	if p.n < inlineParams {
		p.inline[p.n] = x
	} else {
		p.more = append(p.more, x)
	}
	p.n++
}

func (p *Params) at(i int) *param {
	if i < 0 || i >= p.n {
		panic(fmt.Sprintf("routes: Params index %d out of range [0,%d)", i, p.n))
	}
	if i < inlineParams {
		return &p.inline[i]
	}
	return &p.more[i-inlineParams]
}

// Len returns the number of variables bound by the last Match, 0 unless it
// returned Found.
func (p *Params) Len() int { return p.n }

// Name returns the field path of variable i (0 <= i < Len()), in template
// order. It panics if i is out of range.
func (p *Params) Name(i int) string { return p.at(i).name }

// Value returns the percent-decoded value of variable i (0 <= i < Len()).
// It panics if i is out of range, and returns an *EscapeError if the value
// holds a "%" not followed by two hex digits.
//
// Decoding follows grpc-gateway's non-legacy unescaping modes: a variable
// that binds one segment ("{id}", "{id=*}") has every %XX decoded
// (UnescapingModeAllCharacters); a variable that may bind several
// ("{name=shelves/*}", "{path=**}") has every %XX decoded except %2F,
// which is kept as written ("%2F" or "%2f"), so the "/" that separated
// segments stays distinguishable from an encoded one
// (UnescapingModeAllExceptSlash). "+" is not a space in a path and stays
// "+".
//
// If the value holds no "%", the result aliases the path given to Match
// and is valid only while that buffer is unchanged: do not keep it past the
// request without copying it (strings.Clone). Only decoding allocates.
func (p *Params) Value(i int) (string, error) {
	x := p.at(i)
	return decode(x.name, p.path[x.start:x.end], x.multi)
}

// Get returns the percent-decoded value of the variable with field path
// name, as Value does. ok is false if the last Match bound no such
// variable, or if its value is malformed (Value tells which). Get does
// not allocate unless the value needs decoding, and the same aliasing
// rule as for Value applies.
func (p *Params) Get(name string) (value string, ok bool) {
	for i := 0; i < p.n; i++ {
		if p.at(i).name == name {
			v, err := p.Value(i)
			return v, err == nil
		}
	}
	return "", false
}

// EscapeError reports a malformed percent-encoding in a variable's value.
type EscapeError struct {
	Name string // the variable's field path
	Seq  string // the bad sequence: "%" and up to two following bytes
}

// Error returns e.g. `routes: variable "id": malformed escape "%zz"`.
func (e *EscapeError) Error() string {
	return fmt.Sprintf("routes: variable %q: malformed escape %q", e.Name, e.Seq)
}

// decode percent-decodes v; for a multi-segment variable it keeps %2F.
func decode(name string, v []byte, multi bool) (string, error) {
	i := bytes.IndexByte(v, '%')
	if i < 0 {
		if len(v) == 0 {
			return "", nil
		}
		return unsafe.String(&v[0], len(v)), nil
	}
	var b strings.Builder
	b.Grow(len(v))
	b.Write(v[:i])
	for ; i < len(v); i++ {
		c := v[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			return "", &EscapeError{Name: name, Seq: string(v[i:min(i+3, len(v))])}
		}
		d := unhex(v[i+1])<<4 | unhex(v[i+2])
		if multi && d == '/' {
			b.Write(v[i : i+3])
		} else {
			b.WriteByte(d)
		}
		i += 2
	}
	return b.String(), nil
}
