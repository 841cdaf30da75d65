package descriptors

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Snapshot is one loaded, linked set of file descriptors. It never changes
// after NewSnapshot (or a loader) returns it, so any number of goroutines
// may use it at once without locks, and a request that started on one
// snapshot finishes on it even while a newer one is published.
//
// A nil *Snapshot is valid for the lookup methods and finds nothing, so
// code reading Registry.Current before the first load need not check.
type Snapshot struct {
	// Version is assigned by Registry.Swap when the snapshot is published:
	// 1 for the first snapshot a Registry publishes, then one more for each
	// later one. A snapshot that was never published has Version 0.
	Version uint64
	// Source says where the schemas came from, for logs and the admin API:
	// "descriptor-set:PATH", "protos:FILE,FILE", "reflection:SOURCE", or what
	// the caller of NewSnapshot passed.
	Source string
	// LoadedAt is when the snapshot was built.
	LoadedAt time.Time

	files    *protoregistry.Files
	types    *dynamicpb.Types
	paths    []string // file paths, sorted
	services []protoreflect.ServiceDescriptor
	byName   map[string]protoreflect.ServiceDescriptor
	// methods is keyed twice per method: "pkg.Svc/Method" (the gRPC path
	// without its leading slash) and "pkg.Svc.Method" (the full name), so
	// Method finds either form without building a key.
	methods map[string]protoreflect.MethodDescriptor
}

// NewSnapshot builds a snapshot from linked file descriptors, adding every
// file they import, transitively, so that the snapshot resolves all the
// types it mentions. Two different files with the same path, or two files
// that declare the same name, are an error. source is recorded as
// Snapshot.Source.
func NewSnapshot(source string, files []protoreflect.FileDescriptor) (*Snapshot, error) {
	reg := new(protoregistry.Files)
	seen := map[string]protoreflect.FileDescriptor{}
	var add func(fd protoreflect.FileDescriptor) error
	add = func(fd protoreflect.FileDescriptor) error {
		if prev, ok := seen[fd.Path()]; ok {
			if prev != fd && !sameFile(prev, fd) {
				return &SchemaError{File: fd.Path(), Message: "two different files with this path"}
			}
			return nil
		}
		seen[fd.Path()] = fd
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			imp := imports.Get(i)
			if imp.IsPlaceholder() {
				return &SchemaError{File: fd.Path(), Message: fmt.Sprintf("import %q is not available", imp.Path())}
			}
			if err := add(imp.FileDescriptor); err != nil {
				return err
			}
		}
		if err := reg.RegisterFile(fd); err != nil {
			return &SchemaError{File: fd.Path(), Message: err.Error()}
		}
		return nil
	}
	for _, fd := range files {
		if err := add(fd); err != nil {
			return nil, err
		}
	}
	return newSnapshot(source, reg), nil
}

// sameFile reports whether two descriptors of the same path are the same
// file built twice (the well-known types reached through two loaders),
// which is harmless, rather than two different files.
func sameFile(a, b protoreflect.FileDescriptor) bool {
	if a.Package() != b.Package() || a.Imports().Len() != b.Imports().Len() ||
		a.Messages().Len() != b.Messages().Len() || a.Enums().Len() != b.Enums().Len() ||
		a.Services().Len() != b.Services().Len() || a.Extensions().Len() != b.Extensions().Len() {
		return false
	}
	for i := 0; i < a.Messages().Len(); i++ {
		if a.Messages().Get(i).FullName() != b.Messages().Get(i).FullName() {
			return false
		}
	}
	return true
}

// newSnapshot indexes a complete, consistent registry.
func newSnapshot(source string, reg *protoregistry.Files) *Snapshot {
	s := &Snapshot{
		Source:   source,
		LoadedAt: time.Now(),
		files:    reg,
		types:    dynamicpb.NewTypes(reg),
		byName:   map[string]protoreflect.ServiceDescriptor{},
		methods:  map[string]protoreflect.MethodDescriptor{},
	}
	reg.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		s.paths = append(s.paths, fd.Path())
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			sd := svcs.Get(i)
			s.services = append(s.services, sd)
			s.byName[string(sd.FullName())] = sd
			ms := sd.Methods()
			for j := 0; j < ms.Len(); j++ {
				md := ms.Get(j)
				s.methods[string(sd.FullName())+"/"+string(md.Name())] = md
				s.methods[string(md.FullName())] = md
			}
		}
		return true
	})
	sort.Strings(s.paths)
	sort.Slice(s.services, func(i, j int) bool { return s.services[i].FullName() < s.services[j].FullName() })
	return s
}

// Service returns the service with the given full name ("pkg.Svc").
func (s *Snapshot) Service(fullName string) (protoreflect.ServiceDescriptor, bool) {
	if s == nil {
		return nil, false
	}
	sd, ok := s.byName[fullName]
	return sd, ok
}

// Method returns a method by its gRPC path ("/pkg.Svc/Method"), that path
// without the leading slash, or its full name ("pkg.Svc.Method"). It does
// not allocate, so the gRPC ingress may call it per request.
func (s *Snapshot) Method(fullMethod string) (protoreflect.MethodDescriptor, bool) {
	if s == nil {
		return nil, false
	}
	if strings.HasPrefix(fullMethod, "/") {
		fullMethod = fullMethod[1:]
		// "/pkg.Svc.Method" is not a gRPC path; refuse it rather than
		// accept two spellings of the wire form.
		if strings.IndexByte(fullMethod, '/') < 0 {
			return nil, false
		}
	}
	md, ok := s.methods[fullMethod]
	return md, ok
}

// Message returns the message type with the given full name
// ("pkg.Outer.Inner").
func (s *Snapshot) Message(fullName string) (protoreflect.MessageDescriptor, bool) {
	if s == nil {
		return nil, false
	}
	d, err := s.files.FindDescriptorByName(protoreflect.FullName(fullName))
	if err != nil {
		return nil, false
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	return md, ok
}

// Enum returns the enum type with the given full name.
func (s *Snapshot) Enum(fullName string) (protoreflect.EnumDescriptor, bool) {
	if s == nil {
		return nil, false
	}
	d, err := s.files.FindDescriptorByName(protoreflect.FullName(fullName))
	if err != nil {
		return nil, false
	}
	ed, ok := d.(protoreflect.EnumDescriptor)
	return ed, ok
}

// Services returns every service in the snapshot, sorted by full name. The
// slice is shared: callers must not modify it.
func (s *Snapshot) Services() []protoreflect.ServiceDescriptor {
	if s == nil {
		return nil
	}
	return s.services
}

// File returns the file with the given path ("shop/v1/shop.proto").
func (s *Snapshot) File(path string) (protoreflect.FileDescriptor, bool) {
	if s == nil {
		return nil, false
	}
	fd, err := s.files.FindFileByPath(path)
	return fd, err == nil
}

// Files returns every file in the snapshot, imports included, sorted by
// path.
func (s *Snapshot) Files() []protoreflect.FileDescriptor {
	if s == nil {
		return nil
	}
	out := make([]protoreflect.FileDescriptor, 0, len(s.paths))
	for _, p := range s.paths {
		fd, _ := s.files.FindFileByPath(p)
		out = append(out, fd)
	}
	return out
}

// Resolver returns a read-only view of the snapshot's files for
// protodesc.NewFile and similar functions.
func (s *Snapshot) Resolver() protodesc.Resolver {
	if s == nil {
		return new(protoregistry.Files)
	}
	return readOnlyFiles{s.files}
}

// Types returns resolvers of dynamic message, enum and extension types for
// the snapshot's descriptors: the protojson and proto Unmarshal options of
// the transcoder take it to decode google.protobuf.Any and extensions.
func (s *Snapshot) Types() *dynamicpb.Types {
	if s == nil {
		return dynamicpb.NewTypes(new(protoregistry.Files))
	}
	return s.types
}

// readOnlyFiles hides RegisterFile so that no caller can mutate a
// published snapshot.
type readOnlyFiles struct{ f *protoregistry.Files }

func (r readOnlyFiles) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	return r.f.FindFileByPath(p)
}

func (r readOnlyFiles) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	return r.f.FindDescriptorByName(n)
}
