package routes

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// fuzzRoutes overlap on purpose: literals against variables against "**",
// verbs against verb-less templates, methods against AnyMethod.
var fuzzRoutes = []string{
	"GET /v1/users",
	"GET /v1/users/{id}",
	"DELETE /v1/users/{id}",
	"GET /v1/users/me",
	"PATCH /v1/users/{user.id}",
	"POST /v1/users/{id}:activate",
	"GET /v1/users/{id}/books/{book}",
	"GET /v1/{name=shelves/*}",
	"GET /v1/{name=shelves/*/books/*}",
	"PUT /v1/{name=shelves/*/books/*}",
	"GET /v1/*/books",
	"GET /v1/files/{path=**}",
	"GET /v1/files/{path=**}:download",
	"* /v1/any/{x}",
	"GET /v1/**",
	"POST /v1/ops/{id}:cancel",
	"GET /v1/ops/{id}",
	"GET /v1/{name=ops/*}:get",
	"GET /{a}/{b}/c",
	"GET /x/{a}/{b}",
	"GET /x/y/**",
	"GET /*",
	"POST /**:run",
	"GET /a:b/{c}",
	"GET /v2/{name=projects/*/locations/**}",
	"GET /v2/projects/{p}/locations/{l}",
	"* /v2/**:x",
	"GET /e/{id}/{rest=**}",
}

// fuzzVocab builds structured paths so the fuzzer reaches deep branches
// quickly; raw byte paths are fuzzed too.
var fuzzVocab = []string{
	"", "v1", "v2", "users", "me", "123", "shelves", "books", "files", "any",
	"ops", "1:cancel", "x:activate", ":cancel", "a%2Fb", "%zz", "%41", "x", "y", "c",
	"a:b", "projects", "locations", "a:download", "1:get", "z:run", "q:x", "e", "a",
	"%2f", "b:x:x",
}

var fuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "*"}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		"/v1/users/me", "/v1/users/1", "/v1/shelves/1/books/2", "/v1/files/a/b:download",
		"/v1/ops/1:cancel", "/x/y/z", "/v1/users/1:activate", "/a:b/c", "/", "//",
		"/v2/projects/p/locations/l", "/v2/projects/p/locations/l/m:x", "/e/1", "/e/1/2/3",
		"/v1/users/%zz", "/v1/shelves/a%2Fb", "v1", "", "/:run", "/a/b:run",
	} {
		f.Add(uint8(0), false, []byte(s))
	}
	f.Add(uint8(1), true, []byte{1, 3, 5})
	f.Add(uint8(3), true, []byte{1, 3, 4, 7})
	f.Add(uint8(4), true, []byte{1, 6, 7, 8, 7})

	tab, refs := build(f, fuzzRoutes...)
	f.Fuzz(func(t *testing.T, m uint8, structured bool, data []byte) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		path := string(data)
		if structured {
			var b strings.Builder
			for _, c := range data {
				b.WriteByte('/')
				b.WriteString(fuzzVocab[int(c)%len(fuzzVocab)])
			}
			path = b.String()
		}
		var p Params
		id, res := tab.Match(method, []byte(path), &p)
		ref := refMatch(refs, method, path)
		if id != ref.id || res != ref.res {
			t.Fatalf("%s %q: Match = %d, %v; reference = %d, %v", method, path, id, res, ref.id, ref.res)
		}
		if p.Len() != len(ref.vars) {
			t.Fatalf("%s %q: %d variables, reference %d", method, path, p.Len(), len(ref.vars))
		}
		for i := 0; i < p.Len(); i++ {
			name := p.Name(i)
			rv, ok := ref.vars[name]
			if !ok {
				t.Fatalf("%s %q: unexpected variable %q", method, path, name)
			}
			want, wantOK := refDecode(rv)
			got, err := p.Value(i)
			if (err == nil) != wantOK || got != want {
				t.Fatalf("%s %q: Value(%q) = %q, %v; reference %q, %v", method, path, name, got, err, want, wantOK)
			}
			var ee *EscapeError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("error %v is %T", err, err)
			}
			if g, ok := p.Get(name); g != got || ok != (err == nil) {
				t.Fatalf("Get(%q) = %q, %v; Value gave %q, %v", name, g, ok, got, err)
			}
		}
		allowed := tab.Allowed([]byte(path))
		if want := refAllowed(refs, path); !slices.Equal(allowed, want) {
			t.Fatalf("%q: Allowed = %q, reference %q", path, allowed, want)
		}
		if (res == NotFound) != (len(allowed) == 0) {
			t.Fatalf("%s %q: %v but Allowed = %q", method, path, res, allowed)
		}
	})
}
