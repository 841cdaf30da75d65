package routes

import (
	"net/url"
	"slices"
	"sort"
	"strings"
)

// refRoute is a route for the naive reference matcher.
type refRoute struct {
	method string
	id     int
	t      *Template
}

// refResult is the outcome of the reference matcher.
type refResult struct {
	id   int
	res  Result
	vars map[string]refValue // raw values of the winning route's variables
}

type refValue struct {
	raw   string
	multi bool
}

// refMatch is the naive reference: it tries every template in turn,
// grpc-gateway style (split the path on "/", run the template over the
// components), and then picks the winner by the documented priority
// instead of by a trie walk:
//
//  1. templates with a verb (matched against the path less ":verb") before
//     templates without;
//  2. then lexicographically by segment rank: template ended = 0 (only when
//     the path ended too), literal = 1, "*" = 2, "**" = 3.
//
// Among templates that match the path, the best-ranked one whose method is
// the request's or "*" wins; if none, MethodNotAllowed if any matched.
func refMatch(rs []refRoute, method, path string) refResult {
	var (
		best    *refRoute
		bestKey []int
		bestVar map[string]refValue
		seen    bool
	)
	for i := range rs {
		r := &rs[i]
		key, vars, ok := refTry(r.t, path)
		if !ok {
			continue
		}
		if r.method != method && r.method != "*" {
			seen = true
			continue
		}
		if best == nil || slices.Compare(key, bestKey) < 0 {
			best, bestKey, bestVar = r, key, vars
		}
	}
	switch {
	case best != nil:
		return refResult{id: best.id, res: Found, vars: bestVar}
	case seen:
		return refResult{id: -1, res: MethodNotAllowed}
	}
	return refResult{id: -1, res: NotFound}
}

// refAllowed lists, sorted and deduplicated, the methods of every route
// whose template matches path.
func refAllowed(rs []refRoute, path string) []string {
	var out []string
	for _, r := range rs {
		if _, _, ok := refTry(r.t, path); ok {
			out = append(out, r.method)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// refTry matches one template against path, returning its priority key
// and the raw variable values.
func refTry(t *Template, path string) (key []int, vars map[string]refValue, ok bool) {
	if !strings.HasPrefix(path, "/") {
		return nil, nil, false
	}
	comps := strings.Split(path[1:], "/")
	class := 1
	if t.verb != "" {
		last := comps[len(comps)-1]
		suffix := ":" + t.verb
		if !strings.HasSuffix(last, suffix) || len(last) == len(suffix) {
			return nil, nil, false
		}
		comps[len(comps)-1] = strings.TrimSuffix(last, suffix)
		class = 0
	}
	key = []int{class}
	pos := 0
	for _, s := range t.segs {
		switch s.kind {
		case kindLiteral:
			if pos >= len(comps) || comps[pos] != s.lit {
				return nil, nil, false
			}
			pos++
			key = append(key, 1)
		case kindStar:
			if pos >= len(comps) {
				return nil, nil, false
			}
			pos++
			key = append(key, 2)
		case kindDeep:
			pos = len(comps)
			key = append(key, 3)
		}
	}
	if pos != len(comps) {
		return nil, nil, false
	}
	if t.segs[len(t.segs)-1].kind != kindDeep {
		key = append(key, 0)
	}
	vars = make(map[string]refValue)
	for _, v := range t.vars {
		hi := v.end
		if t.segs[v.end-1].kind == kindDeep {
			hi = len(comps)
		}
		vars[v.path] = refValue{raw: strings.Join(comps[v.start:hi], "/"), multi: v.multi(t.segs)}
	}
	return key, vars, true
}

// refDecode decodes like Params.Value, built on net/url instead: split a
// multi-segment value at %2F / %2f, unescape the pieces, join them back
// with the separators as written.
func refDecode(v refValue) (string, bool) {
	if !v.multi {
		s, err := url.PathUnescape(v.raw)
		return s, err == nil
	}
	var b strings.Builder
	rest := v.raw
	for {
		i := indexSlash(rest)
		piece := rest
		if i >= 0 {
			piece = rest[:i]
		}
		s, err := url.PathUnescape(piece)
		if err != nil {
			return "", false
		}
		b.WriteString(s)
		if i < 0 {
			return b.String(), true
		}
		b.WriteString(rest[i : i+3])
		rest = rest[i+3:]
	}
}

// indexSlash finds the first "%2F" or "%2f" that starts a percent-escape
// (not one that follows a "%" as in "%%2F", which is malformed anyway).
func indexSlash(s string) int {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' {
			if s[i+1] == '2' && (s[i+2] == 'F' || s[i+2] == 'f') {
				return i
			}
			i += 2
		}
	}
	return -1
}
