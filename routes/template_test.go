package routes

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestParseTemplateValid(t *testing.T) {
	tests := []struct {
		in        string
		canonical string
		vars      []string
		verb      string
	}{
		{"/v1", "/v1", nil, ""},
		{"/v1/users", "/v1/users", nil, ""},
		{"/v1/users/{id}", "/v1/users/{id}", []string{"id"}, ""},
		{"/v1/users/{id=*}", "/v1/users/{id}", []string{"id"}, ""},
		{"/v1/users/{user.id}", "/v1/users/{user.id}", []string{"user.id"}, ""},
		{"/v1/{name=shelves/*}", "/v1/{name=shelves/*}", []string{"name"}, ""},
		{"/v1/{name=shelves/*/books/*}", "/v1/{name=shelves/*/books/*}", []string{"name"}, ""},
		{"/v1/*", "/v1/*", nil, ""},
		{"/v1/**", "/v1/**", nil, ""},
		{"/**", "/**", nil, ""},
		{"/v1/{path=**}", "/v1/{path=**}", []string{"path"}, ""},
		{"/v1/{name=projects/*/locations/**}", "/v1/{name=projects/*/locations/**}", []string{"name"}, ""},
		{"/v1/ops/{id}:cancel", "/v1/ops/{id}:cancel", []string{"id"}, "cancel"},
		{"/v1/ops:batchGet", "/v1/ops:batchGet", nil, "batchGet"},
		{"/v1/*:x", "/v1/*:x", nil, "x"},
		{"/v1/**:download", "/v1/**:download", nil, "download"},
		{"/v1/{path=**}:download", "/v1/{path=**}:download", []string{"path"}, "download"},
		{"/v1/{a}/{b}/{c_1.d_2}", "/v1/{a}/{b}/{c_1.d_2}", []string{"a", "b", "c_1.d_2"}, ""},
		// The verb is split at the last ":" of the last segment; earlier
		// segments may hold ":" as a literal character.
		{"/a:b/c", "/a:b/c", nil, ""},
		{"/a/b:c:d", "/a/b:c:d", nil, "d"},
		{"/{x=a:b}", "/{x=a:b}", []string{"x"}, ""},
		{"/v1/a%20b/~user/it's/$1,2;3=4@5+6!(7)&", "/v1/a%20b/~user/it's/$1,2;3=4@5+6!(7)&", nil, ""},
		{"/v1/{_x}", "/v1/{_x}", []string{"_x"}, ""},
		{"/***", "/***", nil, ""}, // a literal, as in grpc-gateway
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.in)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			if got := tmpl.String(); got != tt.canonical {
				t.Errorf("String() = %q, want %q", got, tt.canonical)
			}
			if got := tmpl.Vars(); !slices.Equal(got, tt.vars) {
				t.Errorf("Vars() = %q, want %q", got, tt.vars)
			}
			if got := tmpl.Verb(); got != tt.verb {
				t.Errorf("Verb() = %q, want %q", got, tt.verb)
			}
			again, err := ParseTemplate(tmpl.String())
			if err != nil {
				t.Fatalf("re-parse %q: %v", tmpl.String(), err)
			}
			if !reflect.DeepEqual(tmpl, again) {
				t.Errorf("re-parse of %q differs: %#v vs %#v", tmpl.String(), tmpl, again)
			}
		})
	}
}

func TestParseTemplateInvalid(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{"", 0, `missing leading "/"`},
		{"v1/users", 0, `missing leading "/"`},
		{"/", 1, "empty segment"},
		{"//", 1, "empty segment"},
		{"/v1//users", 4, "empty segment"},
		{"/v1/users/", 10, "empty segment"},
		{"/v1/{id", 7, `missing "}"`},
		{"/v1/{id=*", 9, `missing "}"`},
		{"/v1/{id=shelves/*", 17, `missing "}"`},
		{"/v1/{id=shelves/", 16, `missing "}"`},
		{"/v1/{", 5, `missing "}"`},
		{"/v1/{}", 5, "missing field path identifier"},
		{"/v1/{=*}", 5, "missing field path identifier"},
		{"/v1/{a.}", 7, "missing field path identifier"},
		{"/v1/{.a}", 5, "missing field path identifier"},
		{"/v1/{1a}", 5, `invalid character "1" in field path`},
		{"/v1/{a-b}", 6, `invalid character "-" in field path`},
		{"/v1/{a b}", 6, `invalid character " " in field path`},
		{"/v1/{a=}", 7, "empty segment"},
		{"/v1/{a=x//y}", 9, "empty segment"},
		{"/v1/{a={b}}", 7, "nested variable"},
		{"/v1/{a=x/{b}}", 9, "nested variable"},
		{"/v1/{a=x/{b", 9, "nested variable"},
		{"/v1/**/x", 4, `"**" must be the last segment`},
		{"/**/**", 1, `"**" must be the last segment`},
		{"/v1/{a=**}/x", 7, `"**" must be the last segment`},
		{"/v1/{a=**/x}", 7, `"**" must be the last segment`},
		{"/v1/{a=**}/{b}", 7, `"**" must be the last segment`},
		{"/v1/{id}/{id}", 10, `duplicate variable "id"`},
		{"/v1/{a.b}/x/{a.b=**}", 13, `duplicate variable "a.b"`},
		{"/v1/{id}x", 8, `unexpected "x" after variable`},
		{"/v1/{id}}", 8, `unexpected "}" after variable`},
		{"/v1/x}", 5, `invalid character "}" in literal`},
		{"/v1/a{b}", 5, `invalid character "{" in literal`},
		{"/v1/a b", 5, `invalid character " " in literal`},
		{"/v1/a?b", 5, `invalid character "?" in literal`},
		{"/v1/a#b", 5, `invalid character "#" in literal`},
		{"/v1/\xff", 4, `invalid character "\xff" in literal`},
		{"/v1/a%2", 5, "invalid percent-encoding in literal"},
		{"/v1/a%zz/b", 5, "invalid percent-encoding in literal"},
		{"/v1/x:", 6, "empty verb"},
		{"/v1/{id}:", 9, "empty verb"},
		{"/v1/:cancel", 4, "empty segment"},
		{"/:cancel", 1, "empty segment"},
		{"/v1/{id}:a:b", 10, `invalid character ":" in verb`},
		{"/v1/{id}:a/b", 10, `invalid character "/" in verb`},
		{"/v1/x:a b", 7, `invalid character " " in verb`},
		{"/v1/x:%zz", 6, "invalid percent-encoding in verb"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.in)
			if err == nil {
				t.Fatalf("ParseTemplate(%q) = %q, want error", tt.in, tmpl)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if pe.Offset != tt.offset || pe.Msg != tt.msg || pe.Template != tt.in {
				t.Errorf("got %v\nwant offset %d, msg %q", err, tt.offset, tt.msg)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := ParseTemplate("/v1/{id")
	want := `routes: template "/v1/{id": missing "}" at offset 7`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{
		"/v1/users/{id}", "/v1/{name=shelves/*/books/*}", "/v1/{path=**}:download",
		"/v1/ops/{id}:cancel", "/a:b/c:d", "/v1/{a.b}/{c=x/**}", "/v1/{id", "//", "/**/x",
		"/v1/{a={b}}", "/v1/a%2Fb", "/{x=a:b}:c", "/*/*/**", "/v1/{id=*}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(s) {
				t.Fatalf("offset %d outside [0,%d]: %v", pe.Offset, len(s), err)
			}
			return
		}
		if len(tmpl.segs) == 0 {
			t.Fatalf("%q parsed to no segments", s)
		}
		canon := tmpl.String()
		again, err := ParseTemplate(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", canon, s, err)
		}
		if !reflect.DeepEqual(tmpl, again) {
			t.Fatalf("canonical %q of %q parses differently:\n%#v\n%#v", canon, s, tmpl, again)
		}
		if again.String() != canon {
			t.Fatalf("String not stable: %q then %q", canon, again.String())
		}
	})
}
