package descriptors

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestSnapshotLookups(t *testing.T) {
	for name, load := range map[string]func(testing.TB) *Snapshot{
		"compiled": compileShop,
		"descriptor-set": func(tb testing.TB) *Snapshot {
			s, err := LoadDescriptorSet(shopSet)
			if err != nil {
				tb.Fatalf("LoadDescriptorSet: %v", err)
			}
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := load(t)
			if s.Version != 0 {
				t.Errorf("unpublished snapshot has Version %d, want 0", s.Version)
			}
			if s.LoadedAt.IsZero() {
				t.Error("LoadedAt not set")
			}
			if sd, ok := s.Service("shop.v1.Library"); !ok || sd.Methods().Len() != 9 {
				t.Fatalf("Service(shop.v1.Library) = %v, %v", sd, ok)
			}
			if _, ok := s.Service("shop.v1.Nope"); ok {
				t.Error("Service found a service that does not exist")
			}
			for _, tc := range []struct {
				in   string
				want protoreflect.FullName
			}{
				{"/shop.v1.Library/GetBook", "shop.v1.Library.GetBook"},
				{"shop.v1.Library/GetBook", "shop.v1.Library.GetBook"},
				{"shop.v1.Library.GetBook", "shop.v1.Library.GetBook"},
				{"/shop.v1.Library/Watch", "shop.v1.Library.Watch"},
				{"/shop.v1.Library.GetBook", ""},
				{"/shop.v1.Library/Nope", ""},
				{"shop.v1.Library", ""},
				{"", ""},
				{"/", ""},
			} {
				md, ok := s.Method(tc.in)
				if tc.want == "" {
					if ok {
						t.Errorf("Method(%q) = %v, want not found", tc.in, md.FullName())
					}
					continue
				}
				if !ok || md.FullName() != tc.want {
					t.Errorf("Method(%q) = %v, %v; want %s", tc.in, md, ok, tc.want)
				}
			}
			if md, _ := s.Method("/shop.v1.Library/Watch"); !md.IsStreamingServer() || md.IsStreamingClient() {
				t.Error("Watch should be server streaming")
			}
			for _, name := range []string{"shop.v1.Book", "shop.v1.Book.Author", "shop.v1.Book.Author.Contact", "google.protobuf.Timestamp", "google.protobuf.Struct", "google.api.HttpRule"} {
				if _, ok := s.Message(name); !ok {
					t.Errorf("Message(%q) not found", name)
				}
			}
			if _, ok := s.Message("shop.v1.Book.Format"); ok {
				t.Error("Message found an enum")
			}
			if ed, ok := s.Enum("shop.v1.Book.Format"); !ok || ed.Values().Len() != 4 {
				t.Errorf("Enum(shop.v1.Book.Format) = %v, %v", ed, ok)
			}
			if _, ok := s.Enum("shop.v1.Availability"); !ok {
				t.Error("top-level enum not found")
			}
			book, _ := s.Message("shop.v1.Book")
			if f := book.Fields().ByName("published"); f == nil || f.Message().FullName() != "google.protobuf.Timestamp" {
				t.Errorf("Book.published = %v", f)
			}
			if f := book.Fields().ByName("labels"); f == nil || !f.IsMap() {
				t.Errorf("Book.labels = %v, want a map", f)
			}
			var paths []string
			for _, fd := range s.Files() {
				paths = append(paths, fd.Path())
			}
			for _, want := range []string{shopProto, "shop/v1/types.proto", "google/api/annotations.proto", "google/api/http.proto", "google/protobuf/timestamp.proto", "google/protobuf/struct.proto", "google/protobuf/descriptor.proto"} {
				if !slices.Contains(paths, want) {
					t.Errorf("Files() lacks %s: %v", want, paths)
				}
			}
			if !slices.IsSorted(paths) {
				t.Errorf("Files() not sorted: %v", paths)
			}
			if _, ok := s.File("shop/v1/types.proto"); !ok {
				t.Error("File(shop/v1/types.proto) not found")
			}
			if _, err := s.Resolver().FindDescriptorByName("shop.v1.Book"); err != nil {
				t.Errorf("Resolver: %v", err)
			}
			if mt, err := s.Types().FindMessageByName("shop.v1.Book"); err != nil || mt.New() == nil {
				t.Errorf("Types().FindMessageByName: %v", err)
			}
		})
	}
}

func TestSnapshotSource(t *testing.T) {
	if s := compileShop(t); s.Source != "protos:"+shopProto {
		t.Errorf("Source = %q", s.Source)
	}
	s, err := LoadDescriptorSet(shopSet)
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != "descriptor-set:"+shopSet {
		t.Errorf("Source = %q", s.Source)
	}
}

func TestServicesSorted(t *testing.T) {
	// Two files given shop first: services still come sorted by name.
	s, err := CompileProtos(context.Background(), []string{protoRoot, "testdata"}, []string{shopProto, "broken/bad_http.proto"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sd := range s.Services() {
		names = append(names, string(sd.FullName()))
	}
	if want := []string{"broken.Bad", "shop.v1.Library"}; !slices.Equal(names, want) {
		t.Errorf("Services() = %v, want %v", names, want)
	}
}

func TestNilSnapshot(t *testing.T) {
	var s *Snapshot
	if _, ok := s.Service("a.B"); ok {
		t.Error("nil snapshot found a service")
	}
	if _, ok := s.Method("/a.B/C"); ok {
		t.Error("nil snapshot found a method")
	}
	if _, ok := s.Message("a.B"); ok {
		t.Error("nil snapshot found a message")
	}
	if _, ok := s.Enum("a.B"); ok {
		t.Error("nil snapshot found an enum")
	}
	if _, ok := s.File("a.proto"); ok {
		t.Error("nil snapshot found a file")
	}
	if s.Services() != nil || s.Files() != nil {
		t.Error("nil snapshot lists something")
	}
	if _, err := s.Resolver().FindFileByPath("a.proto"); err == nil {
		t.Error("nil snapshot resolves a file")
	}
	if _, err := s.Types().FindMessageByName("a.B"); err == nil {
		t.Error("nil snapshot resolves a type")
	}
	if rules, err := HTTPRules(s); err != nil || rules != nil {
		t.Errorf("HTTPRules(nil) = %v, %v", rules, err)
	}
}

func TestNewSnapshotAddsImports(t *testing.T) {
	s := compileShop(t)
	s2, err := NewSnapshot("partial", []protoreflect.FileDescriptor{mustFile(t, s, shopProto)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s2.Message("google.protobuf.Timestamp"); !ok {
		t.Error("transitive import not added")
	}
	if !strings.HasPrefix(s2.Source, "partial") {
		t.Errorf("Source = %q", s2.Source)
	}
}

func mustFile(t *testing.T, s *Snapshot, path string) protoreflect.FileDescriptor {
	t.Helper()
	fd, ok := s.File(path)
	if !ok {
		t.Fatalf("file %s not in snapshot", path)
	}
	return fd
}

// TestMethodAllocs: Method is called per gRPC request and must not
// allocate for any of its spellings.
func TestMethodAllocs(t *testing.T) {
	s := compileShop(t)
	for _, in := range []string{"/shop.v1.Library/GetBook", "shop.v1.Library.GetBook", "/shop.v1.Library/Nope"} {
		if n := testing.AllocsPerRun(100, func() { s.Method(in) }); n != 0 {
			t.Errorf("Method(%q) allocates %v times", in, n)
		}
	}
}

func BenchmarkMethod(b *testing.B) {
	s := compileShop(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Method("/shop.v1.Library/UpdateBook"); !ok {
			b.Fatal("not found")
		}
	}
}

func TestNewSnapshotSamePath(t *testing.T) {
	compiled := compileShop(t)
	set, err := LoadDescriptorSet(shopSet)
	if err != nil {
		t.Fatal(err)
	}
	// The same file built by two loaders is accepted once.
	s, err := NewSnapshot("both", []protoreflect.FileDescriptor{mustFile(t, compiled, shopProto), mustFile(t, set, shopProto)})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Services()) != 1 {
		t.Errorf("services %v", s.Services())
	}
	// A different file under a path already taken is refused.
	other, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String(shopProto),
		Package: proto.String("other"),
		Syntax:  proto.String("proto3"),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSnapshot("clash", []protoreflect.FileDescriptor{mustFile(t, compiled, shopProto), other})
	if err == nil || !strings.Contains(err.Error(), shopProto+": two different files with this path") {
		t.Errorf("error = %v", err)
	}
}
