package descriptors

import (
	"context"
	"errors"
	"regexp"
	"testing"
)

func TestHTTPRules(t *testing.T) {
	type row struct {
		method, verb, path, body, responseBody string
		additional                             bool
	}
	want := []row{
		{"GetBook", "GET", "/v1/{name=shelves/*/books/*}", "", "", false},
		{"GetBook", "GET", "/v1/books/{name=**}", "", "", true},
		{"CreateBook", "POST", "/v1/{parent=shelves/*}/books", "book", "", false},
		{"UpdateBook", "PATCH", "/v1/{book.name=shelves/*/books/*}", "book", "", false},
		{"UpdateBook", "PUT", "/v1/{book.name=shelves/*/books/*}", "*", "", true},
		{"DeleteBook", "DELETE", "/v1/{name=shelves/*/books/*}", "", "", false},
		{"CreateShelf", "POST", "/v1/shelves", "*", "", false},
		{"ListBooks", "GET", "/v1/{parent=shelves/*}/books", "", "books", false},
		{"CheckBook", "HEAD", "/v1/{name=shelves/*/books/*}:check", "", "", false},
	}
	set, err := LoadDescriptorSet(shopSet)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Snapshot{"compiled": compileShop(t), "descriptor-set": set} {
		t.Run(name, func(t *testing.T) {
			rules, err := HTTPRules(s)
			if err != nil {
				t.Fatal(err)
			}
			if len(rules) != len(want) {
				t.Fatalf("%d rules, want %d: %+v", len(rules), len(want), rules)
			}
			for i, r := range rules {
				got := row{string(r.Method.Name()), r.Verb, r.Path, r.Body, r.ResponseBody, r.Additional}
				if got != want[i] {
					t.Errorf("rule %d = %+v, want %+v", i, got, want[i])
				}
				if r.Method.Parent().FullName() != "shop.v1.Library" {
					t.Errorf("rule %d method %s", i, r.Method.FullName())
				}
			}
		})
	}
}

func TestHTTPRulesErrors(t *testing.T) {
	s, err := CompileProtos(context.Background(), []string{"testdata"}, []string{"broken/bad_http.proto"})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := HTTPRules(s)
	if err == nil {
		t.Fatalf("no error; rules %+v", rules)
	}
	want := []string{
		`broken/bad_http\.proto:8:3: method broken\.Bad\.NoSuchBody: google\.api\.http: body field "nope": broken\.Req has no field "nope"`,
		`broken/bad_http\.proto:14:3: method broken\.Bad\.NoSuchResponseBody: google\.api\.http: response_body field "missing": broken\.Resp has no field "missing"`,
		`broken/bad_http\.proto:17:3: method broken\.Bad\.Nested: google\.api\.http: an additional binding has additional_bindings of its own \(only one level is allowed\)`,
		`broken/bad_http\.proto:26:3: method broken\.Bad\.NoLeadingSlash: google\.api\.http: GET path "v1/g" must start with "/"`,
		`broken/bad_http\.proto:29:3: method broken\.Bad\.NoPattern: google\.api\.http: no pattern \(set one of get, put, post, delete, patch, custom\)`,
		`broken/bad_http\.proto:32:3: method broken\.Bad\.CustomWithoutKind: google\.api\.http: custom pattern without a kind`,
		`broken/bad_http\.proto:35:3: method broken\.Bad\.BadAdditional: google\.api\.http additional binding: body field "payload\.nope": broken\.Resp has no field "nope"`,
	}
	// ScalarBody (body: a string field) is valid, as in grpc-gateway, so it
	// is not among the errors.
	var list ErrorList
	if !errors.As(err, &list) || len(list) != len(want) {
		t.Fatalf("want %d errors, got:\n%v", len(want), err)
	}
	for i, w := range want {
		if !regexp.MustCompile("^" + w + "$").MatchString(list[i].Error()) {
			t.Errorf("error %d = %q\nwant match %q", i, list[i].Error(), w)
		}
	}
}

func TestFieldPath(t *testing.T) {
	s := compileShop(t)
	req, _ := s.Message("shop.v1.UpdateBookRequest")
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"book", true},
		{"book.name", true},
		{"book.authors", true},
		{"book.authors.display_name", false}, // through a repeated field
		{"book.nope", false},
		{"update_mask.paths", true},
		{"", false},
	} {
		_, err := fieldPath(req, tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("fieldPath(%q) error = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
}
