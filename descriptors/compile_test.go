package descriptors

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		// want is a regexp the error must match in full, one per problem.
		want []string
	}{
		{"broken/syntax.proto", []string{`broken/syntax\.proto:7:3: syntax error: .*`}},
		{"broken/unknown_type.proto", []string{`broken/unknown_type\.proto:7:3: field broken\.HasUnknown\.thing: unknown type NoSuchType`}},
		{"broken/missing_import.proto", []string{`broken/missing_import\.proto:5:8: file "broken/does_not_exist\.proto" not found in import paths testdata, testdata/protos`}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := CompileProtos(context.Background(), []string{"testdata", protoRoot}, []string{tc.file})
			if err == nil {
				t.Fatal("compiled")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T %v is not an ErrorList", err, err)
			}
			if len(list) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(list), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !regexp.MustCompile("^" + w + "$").MatchString(list[i].Error()) {
					t.Errorf("error %d = %q, want match for %q", i, list[i].Error(), w)
				}
			}
			var se *SchemaError
			if !errors.As(err, &se) || se.File != tc.file || se.Line == 0 {
				t.Errorf("errors.As(*SchemaError) = %+v", se)
			}
		})
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := CompileProtos(context.Background(), []string{"testdata"}, []string{"broken/unknown_type.proto", "broken/syntax.proto"})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if !strings.Contains(err.Error(), "\n") {
		t.Errorf("errors not one per line: %q", err)
	}
}

func TestCompileMissingFile(t *testing.T) {
	_, err := CompileProtos(context.Background(), []string{protoRoot}, []string{"nope/nope.proto"})
	if err == nil || !strings.Contains(err.Error(), `"nope/nope.proto" not found in import paths testdata/protos`) {
		t.Fatalf("error = %v", err)
	}
	if _, err := CompileProtos(context.Background(), []string{protoRoot}, nil); err == nil {
		t.Error("compiling nothing succeeded")
	}
}

func TestCompileCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := CompileProtos(ctx, []string{protoRoot}, []string{shopProto})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestCompileDiskPath(t *testing.T) {
	// A path on disk under an import path is taken relative to it, so
	// the file is named as its importers name it.
	for _, f := range []string{filepath.Join(protoRoot, shopProto), mustAbs(t, filepath.Join(protoRoot, shopProto))} {
		s, err := CompileProtos(context.Background(), []string{protoRoot}, []string{f})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, ok := s.File(shopProto); !ok || s.Source != "protos:"+shopProto {
			t.Errorf("%s: files %v, source %q", f, s.Files(), s.Source)
		}
	}
}

func TestCompileBuiltinsWithoutImportPaths(t *testing.T) {
	// No import path given: the current directory is searched, and the
	// builtin files still resolve.
	s, err := CompileProtos(context.Background(), nil, []string{"testdata/broken/bad_http.proto"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Message("google.api.HttpRule"); !ok {
		t.Error("google/api/http.proto not available")
	}
}

func TestCompileKeepsSourceInfo(t *testing.T) {
	s := compileShop(t)
	md, _ := s.Method("shop.v1.Library.GetBook")
	loc := md.ParentFile().SourceLocations().ByDescriptor(md)
	if !strings.Contains(loc.LeadingComments, "GET with a path variable") {
		t.Errorf("leading comments = %q", loc.LeadingComments)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCompileProtoFS(t *testing.T) {
	fsys := fstest.MapFS{
		"a/v1/a.proto": {Data: []byte(`syntax = "proto3";
package a.v1;
import "google/api/annotations.proto";
import "a/v1/b.proto";
service A { rpc Get(B) returns (B) { option (google.api.http) = {get: "/v1/{name}"}; } }
`)},
		"a/v1/b.proto": {Data: []byte("syntax = \"proto3\";\npackage a.v1;\nmessage B { string name = 1; }\n")},
		"bad.proto":    {Data: []byte("syntax = \"proto3\";\nmessage X { nope y = 1; }\n")},
	}
	snap, err := CompileProtoFS(context.Background(), fsys, []string{"a/v1/a.proto"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Method("a.v1.A/Get"); !ok {
		t.Fatal("method a.v1.A/Get not found")
	}
	if rules, err := HTTPRules(snap); err != nil || len(rules) != 1 || rules[0].Path != "/v1/{name}" {
		t.Fatalf("rules %v %v", rules, err)
	}
	if _, err := CompileProtoFS(context.Background(), fsys, []string{"bad.proto"}); err == nil || !strings.Contains(err.Error(), "bad.proto:2:") {
		t.Fatalf("bad.proto: %v", err)
	}
	if _, err := CompileProtoFS(context.Background(), fsys, []string{"missing.proto"}); err == nil || !strings.Contains(err.Error(), "missing.proto") {
		t.Fatalf("missing.proto: %v", err)
	}
}
