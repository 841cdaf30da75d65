package routes

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// MaxSegments is the largest number of segments (after flattening
// variables) a template added to a Builder may have. It bounds the depth of
// the trie, which lets Match keep its bookkeeping in fixed-size arrays on
// the stack.
const MaxSegments = 64

// AnyMethod is the method that makes a route match every HTTP method.
const AnyMethod = "*"

// Result is the outcome of Table.Match.
type Result uint8

const (
	// NotFound means no template matches the path.
	NotFound Result = iota
	// Found means a route matches both the path and the method.
	Found
	// MethodNotAllowed means at least one template matches the path, but
	// none of those routes accepts the method; Table.Allowed lists the
	// methods that would have matched.
	MethodNotAllowed
)

// String returns "Found", "NotFound" or "MethodNotAllowed".
func (r Result) String() string {
	switch r {
	case NotFound:
		return "NotFound"
	case Found:
		return "Found"
	case MethodNotAllowed:
		return "MethodNotAllowed"
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// route is one Builder.Add call.
type route struct {
	id       int
	method   string
	template string // as given to Add, for error messages
	tmpl     *Template
	vars     []varSpec
}

// varSpec is a template variable as the matcher needs it.
type varSpec struct {
	name       string
	start, end int32 // segment index range [start, end)
	multi      bool  // decode all but %2F (see Params.Get)
	deepLast   bool  // its last segment is "**"
}

// leaf holds the routes whose templates end at one trie position: either
// one AnyMethod route or routes with pairwise distinct methods.
type leaf struct {
	routes []*route
}

// node is a trie node; the edge into it consumed one path segment.
type node struct {
	lits map[string]*node // literal children, keyed by raw segment text
	star *node            // "*" child
	deep *leaf            // templates whose next segment is "**" (and last)
	end  *leaf            // templates that end here
}

// Builder collects routes; Build compiles them into an immutable Table.
// The zero Builder is ready to use. A Builder is not safe for concurrent
// use; it may keep being used after Build, and later Builds include the
// earlier routes.
type Builder struct {
	routes []*route
}

// Add adds a route. method is an upper-case HTTP method token ("GET",
// "PROPFIND") or AnyMethod ("*") for every method; template is parsed with
// ParseTemplate; id is the caller's route index, returned by Table.Match,
// and must be >= 0 (Match returns -1 for no route). Add reports a bad
// method, id or template (a *ParseError) at once and then does not add the
// route; conflicts between routes are reported by Build.
func (b *Builder) Add(method, template string, id int) error {
	if err := checkMethod(method); err != nil {
		return fmt.Errorf("routes: route %d (%s %s): %w", id, method, template, err)
	}
	if id < 0 {
		return fmt.Errorf("routes: route %d (%s %s): id must be >= 0", id, method, template)
	}
	t, err := ParseTemplate(template)
	if err != nil {
		return err
	}
	if len(t.segs) > MaxSegments {
		return fmt.Errorf("routes: route %d (%s %s): %d segments, at most %d are supported",
			id, method, template, len(t.segs), MaxSegments)
	}
	r := &route{id: id, method: method, template: template, tmpl: t}
	for _, v := range t.vars {
		r.vars = append(r.vars, varSpec{
			name:     v.path,
			start:    int32(v.start),
			end:      int32(v.end),
			multi:    v.multi(t.segs),
			deepLast: t.segs[v.end-1].kind == kindDeep,
		})
	}
	b.routes = append(b.routes, r)
	return nil
}

// checkMethod accepts AnyMethod or an RFC 9110 token without lower-case
// letters: methods are case-sensitive, and a lower-case one in
// configuration is almost always a mistake that would never match.
func checkMethod(m string) error {
	if m == AnyMethod {
		return nil
	}
	if m == "" {
		return errors.New("empty method")
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case 'a' <= c && c <= 'z':
			return fmt.Errorf("method %q must be upper-case", m)
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return fmt.Errorf("invalid character %q in method", m[i:i+1])
		}
	}
	return nil
}

// ConflictError reports two routes that could never be told apart: the
// same method (or AnyMethod on either side) and templates of the same
// shape — the same sequence of literal, "*" and "**" segments and the same
// verb; variable names and grouping do not count.
type ConflictError struct {
	ID, OtherID             int // OtherID was added before ID
	Method, OtherMethod     string
	Template, OtherTemplate string // as given to Add
}

// Error returns e.g. `routes: route 3 (GET /v1/users/{id}) conflicts with
// route 1 (GET /v1/users/{name})`.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("routes: route %d (%s %s) conflicts with route %d (%s %s)",
		e.ID, e.Method, e.Template, e.OtherID, e.OtherMethod, e.OtherTemplate)
}

// Build compiles the routes added so far into a Table. It reports every
// conflict at once, joined with errors.Join, each a *ConflictError naming
// the later route and the earlier one it collides with; on error it
// returns no Table. Templates that merely overlap ("/v1/users/me" and
// "/v1/users/{id}") are not conflicts: priority decides (see Table.Match).
func (b *Builder) Build() (*Table, error) {
	t := &Table{root: &node{}}
	var errs []error
	for _, r := range b.routes {
		if len(r.tmpl.segs) > t.depth {
			t.depth = len(r.tmpl.segs)
		}
		root := t.root
		if v := r.tmpl.verb; v != "" {
			if t.verbs == nil {
				t.verbs = make(map[string]*node)
			}
			root = t.verbs[v]
			if root == nil {
				root = &node{}
				t.verbs[v] = root
			}
		}
		l := root.insert(r.tmpl.segs)
		if err := l.add(r); err != nil {
			errs = append(errs, err...)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// insert walks (creating as needed) the trie path for segs and returns the
// leaf where the template ends.
func (n *node) insert(segs []segment) *leaf {
	for _, s := range segs {
		switch s.kind {
		case kindLiteral:
			if n.lits == nil {
				n.lits = make(map[string]*node)
			}
			c := n.lits[s.lit]
			if c == nil {
				c = &node{}
				n.lits[s.lit] = c
			}
			n = c
		case kindStar:
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		case kindDeep:
			if n.deep == nil {
				n.deep = &leaf{}
			}
			return n.deep // "**" is always last
		}
	}
	if n.end == nil {
		n.end = &leaf{}
	}
	return n.end
}

// add records r unless it conflicts with a route already in l; conflicting
// routes are reported against every route they collide with and left out.
func (l *leaf) add(r *route) []error {
	var errs []error
	for _, o := range l.routes {
		if o.method == r.method || o.method == AnyMethod || r.method == AnyMethod {
			errs = append(errs, &ConflictError{
				ID: r.id, Method: r.method, Template: r.template,
				OtherID: o.id, OtherMethod: o.method, OtherTemplate: o.template,
			})
		}
	}
	if errs == nil {
		l.routes = append(l.routes, r)
	}
	return errs
}

// Table is a compiled, immutable route table, safe for concurrent use.
// Build it with a Builder.
type Table struct {
	root  *node            // templates without a verb
	verbs map[string]*node // templates with a verb, by verb
	depth int              // most segments in any template
}

// Match looks up method and path and returns the matching route's id (as
// given to Builder.Add) with Found, or -1 with NotFound or
// MethodNotAllowed. path is the request path as raw bytes from the
// request line: no query string, still percent-encoded. If p is not nil,
// Match resets it and, on Found, fills it with the route's variables;
// p then refers to path, which must not change while p is in use.
//
// Matching follows grpc-gateway's segment semantics: the path is split at
// every "/", so "/v1/users/" has a last, empty segment and does not match
// "/v1/users" (it does match "/v1/users/{id}", with id ""). Literals
// compare with the raw segment, case-sensitively, without decoding.
//
// When several templates match, the winner is chosen by a depth-first walk
// of the trie: at each segment a literal beats "*" (or a single-segment
// variable), which beats "**"; a template that ends where the path ends
// beats "**" matching nothing; if a branch leads to no route, the walk
// backtracks and tries the next-best branch. If the last segment ends in
// ":V" after a non-empty prefix and some template has verb V, templates
// with verb V are tried first (against the path without ":V"); then
// templates without a verb, against the whole path, so "/v1/ops/1:x" still
// matches "/v1/ops/{id}" with id "1:x" when no template has verb "x".
// The method filters during the walk: the first route in priority order
// whose template matches and whose method is method or AnyMethod wins,
// as in grpc-gateway, where routes of other methods are not looked at
// before every route of the request's method has failed.
//
// Match does not allocate.
func (t *Table) Match(method string, path []byte, p *Params) (id int, res Result) {
	if p != nil {
		p.reset(path)
	}
	if len(path) == 0 || path[0] != '/' || len(path) > math.MaxInt32 {
		return -1, NotFound
	}
	var m matcher
	m.method = method
	if r := t.search(&m, path); r != nil {
		if p != nil {
			m.fill(r, p)
		}
		return r.id, Found
	}
	if m.seen {
		return -1, MethodNotAllowed
	}
	return -1, NotFound
}

// search tries the verb trie (if the path has a known verb), then the
// verb-less trie, returning the first route that matches.
func (t *Table) search(m *matcher, path []byte) *route {
	if t.verbs != nil {
		last := bytes.LastIndexByte(path, '/') + 1
		if i := bytes.LastIndexByte(path[last:], ':'); i > 0 {
			if root := t.verbs[string(path[last+i+1:])]; root != nil {
				m.p = path[:last+i]
				if m.walk(root, 0, 1) {
					return m.found
				}
			}
		}
	}
	m.p = path
	if m.walk(t.root, 0, 1) {
		return m.found
	}
	return nil
}

// Allowed returns the sorted methods of every route whose template matches
// path, for the Allow header of a 405 response; it includes AnyMethod if
// such a route accepts any method. It returns nil if no template matches.
// Allowed allocates; it is meant for the error path.
func (t *Table) Allowed(path []byte) []string {
	if len(path) == 0 || path[0] != '/' || len(path) > math.MaxInt32 {
		return nil
	}
	var methods []string
	m := matcher{collect: &methods}
	t.search(&m, path)
	sort.Strings(methods)
	return slices.Compact(methods)
}

// matcher is the state of one lookup. It lives on the caller's stack.
type matcher struct {
	p      []byte // the path, less ":verb" while walking a verb trie
	method string
	found  *route
	seen   bool // some template matched the path under another method
	// deepZero is set when the found route's "**" matched no segment.
	deepZero bool
	collect  *[]string // Allowed mode: gather methods, never stop
	// starts and ends hold the byte range of the segment consumed at each
	// depth of the current walk; index MaxSegments is for "**" at the
	// deepest level.
	starts, ends [MaxSegments + 1]int32
}

// walk matches the path from byte offset pos (the start of the segment at
// depth, or len(p)+1 when no segment is left) against the subtrie n.
func (m *matcher) walk(n *node, depth, pos int) bool {
	p := m.p
	if pos > len(p) {
		// Path exhausted: a template ending here, else "**" matching nothing.
		if n.end != nil && m.leaf(n.end) {
			return true
		}
		if n.deep != nil {
			m.starts[depth], m.ends[depth] = int32(len(p)), int32(len(p))
			if m.leaf(n.deep) {
				m.deepZero = true
				return true
			}
		}
		return false
	}
	end := bytes.IndexByte(p[pos:], '/')
	if end < 0 {
		end = len(p)
	} else {
		end += pos
	}
	if n.lits != nil {
		if c := n.lits[string(p[pos:end])]; c != nil {
			m.starts[depth], m.ends[depth] = int32(pos), int32(end)
			if m.walk(c, depth+1, end+1) {
				return true
			}
		}
	}
	if n.star != nil {
		m.starts[depth], m.ends[depth] = int32(pos), int32(end)
		if m.walk(n.star, depth+1, end+1) {
			return true
		}
	}
	if n.deep != nil {
		m.starts[depth], m.ends[depth] = int32(pos), int32(len(p))
		if m.leaf(n.deep) {
			return true
		}
	}
	return false
}

// leaf reports whether l has a route for m.method, recording it in
// m.found; otherwise it notes that the path matched under another method.
func (m *matcher) leaf(l *leaf) bool {
	if m.collect != nil {
		for _, r := range l.routes {
			*m.collect = append(*m.collect, r.method)
		}
		return false
	}
	for _, r := range l.routes {
		if r.method == m.method || r.method == AnyMethod {
			m.found = r
			return true
		}
	}
	if len(l.routes) > 0 {
		m.seen = true
	}
	return false
}

// fill stores r's variables into p as byte ranges of the path.
func (m *matcher) fill(r *route, p *Params) {
	for _, v := range r.vars {
		last := v.end - 1
		if v.deepLast && m.deepZero {
			last-- // "**" matched nothing: the value ends before it
		}
		var start, end int32
		if last >= v.start {
			start, end = m.starts[v.start], m.ends[last]
		} else {
			start, end = m.starts[v.start], m.starts[v.start]
		}
		p.add(param{name: v.name, start: start, end: end, multi: v.multi})
	}
}
