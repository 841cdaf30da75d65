package descriptors

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

var update = flag.Bool("update", false, "rewrite testdata/shop.pb from testdata/protos")

// shopSetBytes builds the descriptor set protoc would write for the test
// service with --descriptor_set_out --include_imports (no source info),
// from the in-process compiler, so the golden file needs no protoc.
func shopSetBytes(t *testing.T) []byte {
	t.Helper()
	set := DescriptorSet(compileShop(t))
	for _, f := range set.File {
		f.SourceCodeInfo = nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDescriptorSetGolden keeps testdata/shop.pb in step with
// testdata/protos. Regenerate with:
//
//	go test ./descriptors/ -run TestDescriptorSetGolden -update
//
// or, where protoc is installed, with
//
//	protoc -I descriptors/testdata/protos --include_imports \
//	  --descriptor_set_out=descriptors/testdata/shop.pb shop/v1/shop.proto
//
// (protoc then needs googleapis' google/api on its import path). Only the
// test's own files are compared: the builtin files change with the
// protobuf and genproto versions and are not what this test is about.
func TestDescriptorSetGolden(t *testing.T) {
	fresh := shopSetBytes(t)
	if *update {
		if err := os.WriteFile(shopSet, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(shopSet)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	own := func(b []byte) map[string]*descriptorpb.FileDescriptorProto {
		set := new(descriptorpb.FileDescriptorSet)
		if err := proto.Unmarshal(b, set); err != nil {
			t.Fatal(err)
		}
		m := map[string]*descriptorpb.FileDescriptorProto{}
		for _, f := range set.File {
			if strings.HasPrefix(f.GetName(), "shop/") {
				m[f.GetName()] = f
			}
		}
		return m
	}
	want, got := own(fresh), own(committed)
	if len(want) != 2 || len(got) != len(want) {
		t.Fatalf("%s has %d test files, the sources %d; run with -update", shopSet, len(got), len(want))
	}
	for name, w := range want {
		if !proto.Equal(w, got[name]) {
			t.Errorf("%s in %s differs from testdata/protos; run with -update", name, shopSet)
		}
	}
}

func TestDescriptorSetOrderIncludesImports(t *testing.T) {
	set := DescriptorSet(compileShop(t))
	pos := map[string]int{}
	for i, f := range set.File {
		pos[f.GetName()] = i
	}
	for _, f := range set.File {
		for _, dep := range f.GetDependency() {
			j, ok := pos[dep]
			if !ok {
				t.Errorf("%s imports %s, which the set lacks", f.GetName(), dep)
			} else if j > pos[f.GetName()] {
				t.Errorf("%s comes before its import %s", f.GetName(), dep)
			}
		}
	}
	if len(DescriptorSet(nil).File) != 0 {
		t.Error("DescriptorSet(nil) not empty")
	}
}

func readSet(t *testing.T) *descriptorpb.FileDescriptorSet {
	t.Helper()
	b, err := os.ReadFile(shopSet)
	if err != nil {
		t.Fatal(err)
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(b, set); err != nil {
		t.Fatal(err)
	}
	return set
}

func without(set *descriptorpb.FileDescriptorSet, drop func(name string) bool) *descriptorpb.FileDescriptorSet {
	out := &descriptorpb.FileDescriptorSet{}
	for _, f := range set.File {
		if !drop(f.GetName()) {
			out.File = append(out.File, f)
		}
	}
	return out
}

func TestDescriptorSetMissingImport(t *testing.T) {
	set := without(readSet(t), func(n string) bool { return n == "shop/v1/types.proto" })
	_, err := SnapshotFromSet("test", set)
	if err == nil {
		t.Fatal("set without shop/v1/types.proto loaded")
	}
	var se *SchemaError
	if !errors.As(err, &se) || se.File != shopProto {
		t.Fatalf("error does not name the importing file: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"shop/v1/types.proto"`) || !strings.Contains(msg, "--include_imports") {
		t.Errorf("error = %q; want the missing import and a hint", msg)
	}
	t.Log(err)
}

func TestDescriptorSetWithoutBuiltins(t *testing.T) {
	// A set written without --include_imports still loads when all it
	// lacks are builtin files.
	set := without(readSet(t), func(n string) bool { return strings.HasPrefix(n, "google/") })
	if len(set.File) != 2 {
		t.Fatalf("expected the two shop files, got %d", len(set.File))
	}
	// Reverse the order: imports need not come first.
	set.File[0], set.File[1] = set.File[1], set.File[0]
	s, err := SnapshotFromSet("test", set)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Message("google.protobuf.Timestamp"); !ok {
		t.Error("builtin Timestamp not resolved")
	}
	if rules, err := HTTPRules(s); err != nil || len(rules) != 9 {
		t.Errorf("HTTPRules = %d rules, %v", len(rules), err)
	}
}

func TestDescriptorSetErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	marshal := func(set *descriptorpb.FileDescriptorSet) []byte {
		b, err := proto.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dup := readSet(t)
	dup.File = append(dup.File, dup.File[len(dup.File)-1])
	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"no such file", filepath.Join(dir, "nope.pb"), "no such file"},
		{"garbage", write("garbage.pb", []byte("\xff\xff\xff garbage")), "not a FileDescriptorSet"},
		{"empty", write("empty.pb", nil), "contains no files"},
		{"duplicate", write("dup.pb", marshal(dup)), "appears twice"},
		{"unnamed", write("unnamed.pb", marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{}}})), "without a name"},
		{"bad type", write("badtype.pb", marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
			Name:    proto.String("x.proto"),
			Package: proto.String("x"),
			MessageType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("M"),
				Field: []*descriptorpb.FieldDescriptorProto{{
					Name: proto.String("f"), Number: proto.Int32(1),
					Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
					Type:     descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
					TypeName: proto.String(".x.Missing"),
				}},
			}},
		}}})), "x.proto: "},
		{"cycle", write("cycle.pb", marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
			{Name: proto.String("a.proto"), Dependency: []string{"b.proto"}},
			{Name: proto.String("b.proto"), Dependency: []string{"a.proto"}},
		}})), "import cycle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadDescriptorSet(tc.path)
			if err == nil {
				t.Fatalf("loaded: %v", s.Files())
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error = %q; want it to name %s and contain %q", err, tc.path, tc.want)
			}
		})
	}
}

// FuzzParseDescriptorSet: whatever the bytes, the loader returns a
// snapshot or an error, never panics, and a snapshot it returns answers
// lookups and HTTPRules.
func FuzzParseDescriptorSet(f *testing.F) {
	if b, err := os.ReadFile(shopSet); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\x0a\x02\x0a\x00"))
	f.Add([]byte("\x0a\x0b\x0a\x07a.proto\x1a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseDescriptorSet("fuzz", data)
		if err != nil {
			return
		}
		for _, sd := range s.Services() {
			s.Service(string(sd.FullName()))
			ms := sd.Methods()
			for i := 0; i < ms.Len(); i++ {
				if _, ok := s.Method(string(ms.Get(i).FullName())); !ok {
					t.Fatalf("method %s listed but not found", ms.Get(i).FullName())
				}
			}
		}
		_, _ = HTTPRules(s)
		_ = DescriptorSet(s)
	})
}
