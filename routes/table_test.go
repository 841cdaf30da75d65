package routes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// build compiles "METHOD TEMPLATE" lines; each route's id is its index.
func build(t testing.TB, lines ...string) (*Table, []refRoute) {
	t.Helper()
	var b Builder
	var refs []refRoute
	for i, l := range lines {
		method, tmpl, ok := strings.Cut(l, " ")
		if !ok {
			t.Fatalf("bad route line %q", l)
		}
		if err := b.Add(method, tmpl, i); err != nil {
			t.Fatalf("Add(%q): %v", l, err)
		}
		pt, _ := ParseTemplate(tmpl)
		refs = append(refs, refRoute{method: method, id: i, t: pt})
	}
	tab, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return tab, refs
}

type matchCase struct {
	method, path string
	id           int
	res          Result
	vars         map[string]string // decoded values; nil means none expected
}

// check runs the cases against tab and, as a cross-check, the reference.
func check(t *testing.T, tab *Table, refs []refRoute, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var p Params
			id, res := tab.Match(c.method, []byte(c.path), &p)
			if id != c.id || res != c.res {
				t.Fatalf("Match = %d, %v; want %d, %v", id, res, c.id, c.res)
			}
			if p.Len() != len(c.vars) {
				t.Errorf("Len() = %d, want %d", p.Len(), len(c.vars))
			}
			for name, want := range c.vars {
				got, ok := p.Get(name)
				if !ok || got != want {
					t.Errorf("Get(%q) = %q, %v; want %q", name, got, ok, want)
				}
			}
			ref := refMatch(refs, c.method, c.path)
			if ref.id != id || ref.res != res {
				t.Errorf("reference matcher says %d, %v", ref.id, ref.res)
			}
		})
	}
}

func TestMatchTemplateForms(t *testing.T) {
	tab, refs := build(t,
		"GET /v1/users",                               // 0
		"GET /v1/users/{id}",                          // 1
		"GET /v1/shelves/{shelf}/books/{book}",        // 2
		"GET /v1/{name=shelves/*}",                    // 3
		"GET /v2/{name=shelves/*/books/*}",            // 4
		"GET /v3/*/x",                                 // 5
		"GET /static/**",                              // 6
		"GET /files/{path=**}",                        // 7
		"POST /v1/ops/{id}:cancel",                    // 8
		"GET /v1/ops/{id}",                            // 9
		"GET /v1/{name=ops/*}:get",                    // 10
		"GET /v1/files/{path=**}:download",            // 11
		"GET /v1/users/{user.id}/profile",             // 12
		"* /health",                                   // 13
		"GET /v1/users/me",                            // 14
		"GET /v4/{name=projects/*/locations/**}",      // 15
		"GET /a:b/{c}",                                // 16
		"GET /v5/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", // 17
	)
	check(t, tab, refs, []matchCase{
		{"GET", "/v1/users", 0, Found, nil},
		{"GET", "/v1/users/123", 1, Found, vars("id", "123")},
		{"GET", "/v1/users/me", 14, Found, nil},
		{"GET", "/v1/users/123/profile", 12, Found, vars("user.id", "123")},
		{"GET", "/v1/shelves/1/books/2", 2, Found, vars("shelf", "1", "book", "2")},
		{"GET", "/v1/shelves/1", 3, Found, vars("name", "shelves/1")},
		{"GET", "/v2/shelves/1/books/2", 4, Found, vars("name", "shelves/1/books/2")},
		{"GET", "/v2/shelves/1/books", -1, NotFound, nil},
		{"GET", "/v2/shelves/1/books/2/x", -1, NotFound, nil},
		{"GET", "/v3/anything/x", 5, Found, nil},
		{"GET", "/v3/x", -1, NotFound, nil},
		// "**" matches zero or more segments.
		{"GET", "/static", 6, Found, nil},
		{"GET", "/static/", 6, Found, nil},
		{"GET", "/static/a/b/c.css", 6, Found, nil},
		{"GET", "/files", 7, Found, vars("path", "")},
		{"GET", "/files/a", 7, Found, vars("path", "a")},
		{"GET", "/files/a/b/c.txt", 7, Found, vars("path", "a/b/c.txt")},
		{"GET", "/files/a//b/", 7, Found, vars("path", "a//b/")},
		{"GET", "/v4/projects/p1/locations", 15, Found, vars("name", "projects/p1/locations")},
		{"GET", "/v4/projects/p1/locations/eu/zones/z1", 15, Found, vars("name", "projects/p1/locations/eu/zones/z1")},
		// Verbs.
		{"POST", "/v1/ops/123:cancel", 8, Found, vars("id", "123")},
		{"GET", "/v1/ops/123:get", 10, Found, vars("name", "ops/123")},
		{"GET", "/v1/files/a/b:download", 11, Found, vars("path", "a/b")},
		{"GET", "/v1/files:download", 11, Found, vars("path", "")},
		// A ":" in the last segment does not stop a verb-less template from
		// matching it whole (grpc-gateway v2 does the same).
		{"GET", "/v1/ops/123:cancel", 9, Found, vars("id", "123:cancel")},
		{"GET", "/v1/ops/123:unknown", 9, Found, vars("id", "123:unknown")},
		{"GET", "/v1/ops/:cancel", 9, Found, vars("id", ":cancel")},
		{"GET", "/v1/users/a:b", 1, Found, vars("id", "a:b")},
		{"POST", "/v1/ops/:cancel", -1, MethodNotAllowed, nil}, // empty prefix: no verb
		{"DELETE", "/v1/ops/123:cancel", -1, MethodNotAllowed, nil},
		{"GET", "/a:b/x", 16, Found, vars("c", "x")},
		// AnyMethod.
		{"GET", "/health", 13, Found, nil},
		{"PROPFIND", "/health", 13, Found, nil},
		// Trailing slash: "/v1/users/" has an empty last segment, so it is
		// not "/v1/users" but does fill a single-segment variable with "".
		{"GET", "/v1/users/", 1, Found, vars("id", "")},
		{"GET", "/v1/users//profile", 12, Found, vars("user.id", "")},
		{"GET", "/health/", -1, NotFound, nil},
		{"GET", "/v1/shelves/1/", -1, NotFound, nil},
		// Literals are raw and case-sensitive.
		{"GET", "/v1/us%65rs", -1, NotFound, nil},
		{"GET", "/V1/users", -1, NotFound, nil},
		{"GET", "/v1/Users", -1, NotFound, nil},
		// Not a path.
		{"GET", "", -1, NotFound, nil},
		{"GET", "v1/users", -1, NotFound, nil},
		{"GET", "*", -1, NotFound, nil},
		{"GET", "/", -1, NotFound, nil},
		// Methods.
		{"POST", "/v1/users", -1, MethodNotAllowed, nil},
		{"get", "/v1/users", -1, MethodNotAllowed, nil},
		{"GET", "/nothing", -1, NotFound, nil},
		// Nine variables: one spills out of the inline storage.
		{"GET", "/v5/1/2/3/4/5/6/7/8/9", 17, Found,
			vars("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8", "i", "9")},
	})
}

func TestMatchPercentEncoding(t *testing.T) {
	tab, refs := build(t,
		"GET /v1/users/{id}",
		"GET /v1/{name=shelves/*}",
		"GET /files/{path=**}",
		"GET /v1/a%20b",
	)
	check(t, tab, refs, []matchCase{
		// Single-segment variables: every %XX decoded, "%2F" too.
		{"GET", "/v1/users/a%2Fb", 0, Found, vars("id", "a/b")},
		{"GET", "/v1/users/%E4%BD%A0%e5%a5%bd", 0, Found, vars("id", "你好")},
		{"GET", "/v1/users/a+b%2B", 0, Found, vars("id", "a+b+")},
		{"GET", "/v1/users/%25", 0, Found, vars("id", "%")},
		// Multi-segment variables: all but %2F, which stays as written.
		{"GET", "/v1/shelves/a%2Fb", 1, Found, vars("name", "shelves/a%2Fb")},
		{"GET", "/v1/shelves/a%2fb%20c", 1, Found, vars("name", "shelves/a%2fb c")},
		{"GET", "/files/dir%2Fx/a%20b.txt", 2, Found, vars("path", "dir%2Fx/a b.txt")},
		// Literals compare encoded.
		{"GET", "/v1/a%20b", 3, Found, nil},
		{"GET", "/v1/a b", -1, NotFound, nil},
		{"GET", "/v1/a%2520b", -1, NotFound, nil},
	})

	t.Run("malformed", func(t *testing.T) {
		for _, path := range []string{"/v1/users/%zz", "/v1/users/a%2", "/v1/users/%", "/v1/shelves/%g0", "/files/a/%"} {
			var p Params
			if _, res := tab.Match("GET", []byte(path), &p); res != Found {
				t.Fatalf("%s: Match = %v, want Found (escapes are checked on Get)", path, res)
			}
			name := p.Name(0)
			if got, ok := p.Get(name); ok || got != "" {
				t.Errorf("%s: Get(%q) = %q, %v; want \"\", false", path, name, got, ok)
			}
			_, err := p.Value(0)
			var ee *EscapeError
			if !errors.As(err, &ee) || ee.Name != name || !strings.HasPrefix(ee.Seq, "%") {
				t.Errorf("%s: Value(0) error = %v, want *EscapeError for %q", path, err, name)
			}
		}
	})
}

func TestMatchPriorityAndBacktracking(t *testing.T) {
	tab, refs := build(t,
		"GET /a/b/c",      // 0
		"GET /a/{x}/d",    // 1
		"GET /a/**",       // 2
		"GET /a/b/{y}",    // 3
		"GET /{p}/b/e",    // 4
		"POST /a/{x}/d",   // 5
		"GET /q/{r}",      // 6
		"GET /q/{r=**}",   // 7 (shape q/**, no conflict with q/*)
		"GET /q",          // 8
		"PUT /m/lit",      // 9
		"PATCH /m/{v}",    // 10
		"DELETE /m/**",    // 11
		"GET /v/{n=**}:x", // 12
		"GET /v/{id}",     // 13
		"GET /v/lit:x",    // 14
	)
	check(t, tab, refs, []matchCase{
		{"GET", "/a/b/c", 0, Found, nil},
		{"GET", "/a/b/d", 3, Found, vars("y", "d")}, // literal "b" beats {x}
		{"GET", "/a/z/d", 1, Found, vars("x", "z")},
		{"GET", "/a/b/e", 3, Found, vars("y", "e")}, // literal "a" beats {p}
		{"GET", "/z/b/e", 4, Found, vars("p", "z")},
		{"GET", "/a/b/c/d", 2, Found, nil}, // both literal branches fail: backtrack to **
		{"GET", "/a/b", 2, Found, nil},
		{"GET", "/a", 2, Found, nil},
		// The method filters during the walk: a better-ranked template for
		// another method does not hide a worse-ranked one for this method.
		{"POST", "/a/b/d", 5, Found, vars("x", "b")},
		{"DELETE", "/a/b/d", -1, MethodNotAllowed, nil},
		{"GET", "/q/1", 6, Found, vars("r", "1")},
		{"GET", "/q/1/2", 7, Found, vars("r", "1/2")},
		{"GET", "/q", 8, Found, nil}, // a template ending here beats ** matching nothing
		{"GET", "/q/", 6, Found, vars("r", "")},
		{"PUT", "/m/lit", 9, Found, nil},
		{"PATCH", "/m/lit", 10, Found, vars("v", "lit")},
		{"DELETE", "/m/lit", 11, Found, nil},
		{"GET", "/m/lit", -1, MethodNotAllowed, nil},
		// A verb template beats verb-less ones, whatever their literals.
		{"GET", "/v/1:x", 12, Found, vars("n", "1")},
		{"GET", "/v/lit:x", 14, Found, nil},
		{"GET", "/v/1:y", 13, Found, vars("id", "1:y")},
		{"GET", "/v:x", 12, Found, vars("n", "")},
	})
}

func TestAllowed(t *testing.T) {
	tab, refs := build(t,
		"GET /a/{x}",
		"POST /a/{x}",
		"DELETE /a/b",
		"PUT /a/**",
		"* /any",
		"GET /any/**",
		"POST /v/{x}:run",
	)
	tests := []struct {
		path string
		want []string
	}{
		{"/a/b", []string{"DELETE", "GET", "POST", "PUT"}},
		{"/a/c", []string{"GET", "POST", "PUT"}},
		{"/a/c/d", []string{"PUT"}},
		{"/any", []string{"*", "GET"}},
		{"/v/1:run", []string{"POST"}},
		{"/nothing", nil},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := tab.Allowed([]byte(tt.path))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Allowed = %q, want %q", got, tt.want)
			}
			if ref := refAllowed(refs, tt.path); !slices.Equal(ref, tt.want) {
				t.Errorf("reference Allowed = %q", ref)
			}
		})
	}
	// 405 and Allowed agree.
	if id, res := tab.Match("PATCH", []byte("/a/b"), nil); id != -1 || res != MethodNotAllowed {
		t.Errorf("Match(PATCH /a/b) = %d, %v", id, res)
	}
}

func TestBuildConflicts(t *testing.T) {
	t.Run("message", func(t *testing.T) {
		var b Builder
		must(t, b.Add("GET", "/v1/users/{name}", 1))
		must(t, b.Add("GET", "/v1/users/{id}", 3))
		_, err := b.Build()
		want := "routes: route 3 (GET /v1/users/{id}) conflicts with route 1 (GET /v1/users/{name})"
		if err == nil || err.Error() != want {
			t.Fatalf("Build error = %v\nwant %s", err, want)
		}
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.ID != 3 || ce.OtherID != 1 {
			t.Fatalf("error %v: want *ConflictError 3 vs 1", err)
		}
	})

	conflicts := []struct{ a, b string }{
		{"GET /v1/{a}", "GET /v1/{b}"},
		{"GET /v1/{a}", "GET /v1/*"},
		{"GET /v1/{name=shelves/*}", "GET /v1/shelves/{id}"},
		{"GET /v1/{a=**}", "GET /v1/**"},
		{"GET /v1/{a=x/**}", "GET /v1/x/{b=**}"},
		{"GET /v1/x", "GET /v1/x"},
		{"* /v1/x", "GET /v1/x"},
		{"POST /v1/x", "* /v1/x"},
		{"* /v1/x", "* /v1/x"},
		{"POST /v1/{id}:cancel", "POST /v1/{name}:cancel"},
		{"GET /v1/{id=*}", "GET /v1/{id}"},
	}
	for _, c := range conflicts {
		t.Run(c.a+" vs "+c.b, func(t *testing.T) {
			var b Builder
			for i, l := range []string{c.a, c.b} {
				m, tmpl, _ := strings.Cut(l, " ")
				must(t, b.Add(m, tmpl, i))
			}
			tab, err := b.Build()
			if err == nil || tab != nil {
				t.Fatalf("Build succeeded, want conflict")
			}
			for _, l := range []string{c.a, c.b} {
				if !strings.Contains(err.Error(), "("+l+")") {
					t.Errorf("error %q does not name %q", err, l)
				}
			}
		})
	}

	fine := []struct{ a, b string }{
		{"GET /v1/users/me", "GET /v1/users/{id}"},
		{"GET /v1/x/{id}", "POST /v1/x/{id}"},
		{"GET /v1/*", "GET /v1/**"},
		{"GET /v1/x", "GET /v1/x/**"},
		{"GET /v1/x:a", "GET /v1/x:b"},
		{"GET /v1/x", "GET /v1/x:a"},
		{"* /v1/x", "GET /v1/y"},
		{"GET /v1/{a}/b", "GET /v1/b/{a}"},
	}
	for _, c := range fine {
		t.Run(c.a+" and "+c.b, func(t *testing.T) {
			var b Builder
			for i, l := range []string{c.a, c.b} {
				m, tmpl, _ := strings.Cut(l, " ")
				must(t, b.Add(m, tmpl, i))
			}
			if _, err := b.Build(); err != nil {
				t.Fatalf("Build: %v", err)
			}
		})
	}

	t.Run("all reported", func(t *testing.T) {
		var b Builder
		lines := []string{
			"GET /a/{x}",  // 0
			"GET /a/{y}",  // 1: vs 0
			"GET /b",      // 2
			"POST /b",     // 3
			"* /b",        // 4: vs 2 and 3
			"GET /a/*",    // 5: vs 0 (1 was left out)
			"GET /c/{z}",  // 6: fine
			"PUT /d:v",    // 7
			"PUT /d:v",    // 8: vs 7
			"GET /e/{id}", // 9: fine
		}
		for i, l := range lines {
			m, tmpl, _ := strings.Cut(l, " ")
			must(t, b.Add(m, tmpl, i))
		}
		_, err := b.Build()
		if err == nil {
			t.Fatal("Build succeeded")
		}
		var got []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			ce := e.(*ConflictError)
			got = append(got, fmt.Sprintf("%d-%d", ce.ID, ce.OtherID))
		}
		want := []string{"1-0", "4-2", "4-3", "5-0", "8-7"}
		if !slices.Equal(got, want) {
			t.Errorf("conflicts %v, want %v\n%v", got, want, err)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAddErrors(t *testing.T) {
	deep := "/" + strings.Repeat("a/", MaxSegments) + "b"
	tests := []struct {
		method, template string
		id               int
		want             string
	}{
		{"get", "/a", 1, `routes: route 1 (get /a): method "get" must be upper-case`},
		{"", "/a", 1, `routes: route 1 ( /a): empty method`},
		{"GE T", "/a", 1, `routes: route 1 (GE T /a): invalid character " " in method`},
		{"GET", "/a", -1, `routes: route -1 (GET /a): id must be >= 0`},
		{"GET", "/v1/{id", 1, `routes: template "/v1/{id": missing "}" at offset 7`},
		{"GET", deep, 1, fmt.Sprintf("routes: route 1 (GET %s): %d segments, at most %d are supported", deep, MaxSegments+1, MaxSegments)},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.template, func(t *testing.T) {
			var b Builder
			err := b.Add(tt.method, tt.template, tt.id)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Add error = %v\nwant %s", err, tt.want)
			}
			if len(b.routes) != 0 {
				t.Errorf("failed Add kept the route")
			}
		})
	}
	var b Builder
	for _, m := range []string{"GET", "M-SEARCH", "PROPFIND", "X_1", "*"} {
		if err := b.Add(m, "/"+strings.ReplaceAll(m, "*", "star"), 0); err != nil {
			t.Errorf("Add(%q): %v", m, err)
		}
	}
}

func TestEmptyTable(t *testing.T) {
	tab, err := new(Builder).Build()
	if err != nil {
		t.Fatal(err)
	}
	if id, res := tab.Match("GET", []byte("/x"), nil); id != -1 || res != NotFound {
		t.Errorf("Match = %d, %v", id, res)
	}
	if got := tab.Allowed([]byte("/x")); got != nil {
		t.Errorf("Allowed = %q", got)
	}
}

func TestParamsReuse(t *testing.T) {
	tab, _ := build(t, "GET /v5/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}", "GET /x/{k}")
	var p Params
	path := []byte("/v5/1/2/3/4/5/6/7/8/9/10")
	if _, res := tab.Match("GET", path, &p); res != Found || p.Len() != 10 {
		t.Fatalf("Match = %v, Len %d", res, p.Len())
	}
	for i, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		if p.Name(i) != name {
			t.Errorf("Name(%d) = %q", i, p.Name(i))
		}
		if v, _ := p.Value(i); v != fmt.Sprint(i+1) {
			t.Errorf("Value(%d) = %q", i, v)
		}
	}
	if _, res := tab.Match("GET", []byte("/x/y"), &p); res != Found || p.Len() != 1 {
		t.Fatalf("second Match = %v, Len %d", res, p.Len())
	}
	if v, ok := p.Get("k"); !ok || v != "y" {
		t.Errorf("Get(k) = %q, %v", v, ok)
	}
	if _, ok := p.Get("a"); ok {
		t.Errorf("stale variable a still bound")
	}
	if _, res := tab.Match("GET", []byte("/none"), &p); res != NotFound || p.Len() != 0 {
		t.Errorf("miss: %v, Len %d", res, p.Len())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Name(0) on empty Params did not panic")
			}
		}()
		p.Name(0)
	}()
	// Spilled storage is reused: no allocation once grown.
	allocs := testing.AllocsPerRun(100, func() {
		tab.Match("GET", path, &p)
	})
	if allocs != 0 {
		t.Errorf("Match with 10 variables on a reused Params: %v allocs", allocs)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Found: "Found", NotFound: "NotFound", MethodNotAllowed: "MethodNotAllowed", 9: "Result(9)"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q", r, r.String())
		}
	}
}

// TestManyRoutes checks every generated route against its example request
// and the reference matcher.
func TestManyRoutes(t *testing.T) {
	routes, reqs := genRoutes(1000)
	tab, refs := build(t, routes...)
	var p Params
	for _, r := range reqs {
		id, res := tab.Match(r.method, []byte(r.path), &p)
		if res != Found || id != r.id {
			t.Fatalf("%s %s: Match = %d, %v; want %d", r.method, r.path, id, res, r.id)
		}
		ref := refMatch(refs, r.method, r.path)
		if ref.id != id {
			t.Fatalf("%s %s: reference says %d", r.method, r.path, ref.id)
		}
		for name, val := range ref.vars {
			want, _ := refDecode(val)
			if got, ok := p.Get(name); !ok || got != want {
				t.Fatalf("%s %s: Get(%q) = %q, want %q", r.method, r.path, name, got, want)
			}
		}
	}
}

// TestMatchZeroAllocs: Match plus Get on a ~200-route table allocates
// nothing when no variable needs decoding.
func TestMatchZeroAllocs(t *testing.T) {
	routes, reqs := genRoutes(200)
	tab, _ := build(t, routes...)
	var p Params
	paths := make([][]byte, len(reqs))
	for i, r := range reqs {
		paths[i] = []byte(r.path)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		r := reqs[i%len(reqs)]
		id, res := tab.Match(r.method, paths[i%len(reqs)], &p)
		if res != Found || id != r.id {
			panic("no match")
		}
		for j := 0; j < p.Len(); j++ {
			if _, ok := p.Get(p.Name(j)); !ok {
				panic("no value")
			}
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("Match+Get: %v allocs per run, want 0", allocs)
	}
	// The miss paths allocate nothing either.
	miss := []byte("/v1/nothing/here")
	wrong := []byte(reqs[0].path)
	allocs = testing.AllocsPerRun(1000, func() {
		tab.Match("GET", miss, &p)
		tab.Match("TRACE", wrong, &p)
	})
	if allocs != 0 {
		t.Fatalf("misses: %v allocs per run, want 0", allocs)
	}
}

func TestConcurrentMatch(t *testing.T) {
	routes, reqs := genRoutes(300)
	tab, _ := build(t, routes...)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var p Params
			for i := g; i < len(reqs); i += 8 {
				r := reqs[i]
				if id, res := tab.Match(r.method, []byte(r.path), &p); res != Found || id != r.id {
					t.Errorf("%s %s: %d, %v", r.method, r.path, id, res)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

type genReq struct {
	method, path string
	id           int
}

// genRoutes generates n literal-heavy REST routes, five per resource, and
// one example request for each:
//
//	GET    /v1/resource{N}
//	GET    /v1/resource{N}/{id}
//	POST   /v1/resource{N}/{id}:verb{N%7}
//	GET    /v1/resource{N}/{id}/sub{N%10}/{sub_id}
//	DELETE /v1/resource{N}/{id}/sub{N%10}/{sub_id}:purge
func genRoutes(n int) (routes []string, reqs []genReq) {
	for i := 0; i < n; i++ {
		r, m := i/5, (i/5)%10
		var route, method, path string
		switch i % 5 {
		case 0:
			method, route = "GET", fmt.Sprintf("/v1/resource%d", r)
			path = route
		case 1:
			method, route = "GET", fmt.Sprintf("/v1/resource%d/{id}", r)
			path = fmt.Sprintf("/v1/resource%d/abc%d", r, i)
		case 2:
			method, route = "POST", fmt.Sprintf("/v1/resource%d/{id}:verb%d", r, r%7)
			path = fmt.Sprintf("/v1/resource%d/abc%d:verb%d", r, i, r%7)
		case 3:
			method, route = "GET", fmt.Sprintf("/v1/resource%d/{id}/sub%d/{sub_id}", r, m)
			path = fmt.Sprintf("/v1/resource%d/abc%d/sub%d/xyz", r, i, m)
		case 4:
			method, route = "DELETE", fmt.Sprintf("/v1/resource%d/{id}/sub%d/{sub_id}:purge", r, m)
			path = fmt.Sprintf("/v1/resource%d/abc%d/sub%d/xyz:purge", r, i, m)
		}
		routes = append(routes, method+" "+route)
		reqs = append(reqs, genReq{method: method, path: path, id: i})
	}
	return routes, reqs
}

// vars builds the expected variables of a match from name, value pairs.
func vars(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
