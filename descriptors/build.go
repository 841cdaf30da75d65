package descriptors

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// buildSnapshot links file descriptor protos into a snapshot. Imports are
// resolved within protos first and then among the builtin files, so a set
// built without the well-known types still loads. Every file that fails is
// reported once; a file that fails only because an import failed is not
// reported again. missingHint is appended to a missing-import message.
func buildSnapshot(source string, protos []*descriptorpb.FileDescriptorProto, missingHint string) (*Snapshot, error) {
	byPath := make(map[string]*descriptorpb.FileDescriptorProto, len(protos))
	var errs ErrorList
	for _, fdp := range protos {
		name := fdp.GetName()
		if name == "" {
			errs = append(errs, &SchemaError{Message: "file descriptor without a name"})
			continue
		}
		if _, dup := byPath[name]; dup {
			errs = append(errs, &SchemaError{File: name, Message: "file appears twice"})
			continue
		}
		byPath[name] = fdp
	}
	if len(errs) > 0 {
		return nil, errs
	}

	reg := new(protoregistry.Files)
	const (
		visiting = 1
		done     = 2
		failed   = 3
	)
	state := map[string]int{}
	var visit func(path, importer string) bool
	visit = func(path, importer string) bool {
		switch state[path] {
		case done:
			return true
		case failed:
			return false
		case visiting:
			errs = append(errs, &SchemaError{File: importer, Message: fmt.Sprintf("import cycle through %q", path)})
			state[path] = failed
			return false
		}
		fdp, ok := byPath[path]
		if !ok {
			if b, ok := builtinFiles[path]; ok {
				if !registerBuiltin(reg, b) {
					errs = append(errs, &SchemaError{File: path, Message: "cannot register builtin file (a name in it is declared again by another file)"})
					state[path] = failed
					return false
				}
				state[path] = done
				return true
			}
			errs = append(errs, &SchemaError{File: importer, Message: fmt.Sprintf("import %q not found%s", path, missingHint)})
			state[path] = failed
			return false
		}
		state[path] = visiting
		depsOK := true
		for _, dep := range fdp.GetDependency() {
			if !visit(dep, path) {
				depsOK = false
			}
		}
		if !depsOK {
			state[path] = failed
			return false
		}
		fd, err := protodesc.NewFile(fdp, reg)
		if err == nil {
			err = reg.RegisterFile(fd)
		}
		if err != nil {
			errs = append(errs, &SchemaError{File: path, Message: err.Error()})
			state[path] = failed
			return false
		}
		state[path] = done
		return true
	}
	for _, fdp := range protos {
		if len(errs) >= maxErrors {
			break
		}
		visit(fdp.GetName(), "")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return newSnapshot(source, reg), nil
}

// registerBuiltin adds a builtin file and, first, its own imports (all
// builtin). It reports false if the registry refuses one.
func registerBuiltin(reg *protoregistry.Files, fd protoreflect.FileDescriptor) bool {
	if _, err := reg.FindFileByPath(fd.Path()); err == nil {
		return true
	}
	imps := fd.Imports()
	for i := 0; i < imps.Len(); i++ {
		if !registerBuiltin(reg, imps.Get(i).FileDescriptor) {
			return false
		}
	}
	return reg.RegisterFile(fd) == nil
}

// DescriptorSet returns the snapshot's files as a FileDescriptorSet in
// dependency order (every file after the files it imports), the layout of
// protoc --descriptor_set_out --include_imports. Source code info is kept
// when the snapshot has it; a nil snapshot yields an empty set.
func DescriptorSet(s *Snapshot) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	files := s.Files()
	sort.Slice(files, func(i, j int) bool { return files[i].Path() < files[j].Path() })
	seen := map[string]bool{}
	for _, fd := range files {
		walkImportsFirst(fd, seen, func(fd protoreflect.FileDescriptor) {
			set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		})
	}
	return set
}

// walkImportsFirst calls visit for fd and every file it imports,
// transitively, each file after its imports and once per seen map.
func walkImportsFirst(fd protoreflect.FileDescriptor, seen map[string]bool, visit func(protoreflect.FileDescriptor)) {
	if seen[fd.Path()] {
		return
	}
	seen[fd.Path()] = true
	imps := fd.Imports()
	for i := 0; i < imps.Len(); i++ {
		walkImportsFirst(imps.Get(i).FileDescriptor, seen, visit)
	}
	visit(fd)
}
