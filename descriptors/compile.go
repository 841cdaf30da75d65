package descriptors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// CompileProtos compiles .proto sources in-process and links them into a
// snapshot whose Source is "protos:FILE,FILE".
//
// files name the files to compile, relative to one of importPaths (as in a
// protoc command line: -I importPath file); a path that exists on disk
// under one of importPaths is made relative to it. Imports are searched in
// importPaths in order; when importPaths is empty the current directory is
// the only import path. The files of BuiltinFiles (the well-known types,
// google/protobuf/descriptor.proto, google/api/annotations.proto and its
// companions) are always available and take precedence over copies found
// in importPaths, so every snapshot shares one definition of them.
//
// A schema error fails the whole compilation with an ErrorList of every
// problem found (at most 20), each formatted "file.proto:LINE:COL: message"
// with the file named as it is imported. Source code info (positions and
// comments) is kept in the snapshot.
func CompileProtos(ctx context.Context, importPaths []string, files []string) (*Snapshot, error) {
	if len(files) == 0 {
		return nil, errors.New("descriptors: no .proto files to compile")
	}
	if len(importPaths) == 0 {
		importPaths = []string{"."}
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = importName(importPaths, f)
	}
	return compile(ctx, sourceResolver(importPaths), names)
}

// CompileProtoFS is CompileProtos for sources in a file system (an
// embedded one, typically): files and their imports are paths in fsys.
// The builtin files are available as for CompileProtos.
func CompileProtoFS(ctx context.Context, fsys fs.FS, files []string) (*Snapshot, error) {
	if len(files) == 0 {
		return nil, errors.New("descriptors: no .proto files to compile")
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = path.Clean(f)
	}
	return compile(ctx, protocompile.ResolverFunc(func(name string) (protocompile.SearchResult, error) {
		f, err := fsys.Open(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return protocompile.SearchResult{}, notFoundError(fmt.Sprintf("file %q not found", name))
			}
			return protocompile.SearchResult{}, err
		}
		return protocompile.SearchResult{Source: f}, nil
	}), names)
}

func compile(ctx context.Context, sources protocompile.Resolver, names []string) (*Snapshot, error) {

	var (
		mu   sync.Mutex
		errs ErrorList
	)
	rep := reporter.NewReporter(func(err reporter.ErrorWithPos) error {
		mu.Lock()
		defer mu.Unlock()
		pos := err.GetPosition()
		errs = append(errs, &SchemaError{File: pos.Filename, Line: pos.Line, Column: pos.Col, Message: err.Unwrap().Error()})
		if len(errs) >= maxErrors {
			return err // stop: enough to work on
		}
		return nil
	}, nil)
	c := protocompile.Compiler{
		Resolver:       builtinFirst{sources: sources},
		Reporter:       rep,
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := c.Compile(ctx, names...)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		mu.Lock()
		defer mu.Unlock()
		if len(errs) > 0 {
			return nil, errs
		}
		// Not a source error (a top-level file that cannot be found, an
		// I/O error): no position to report, but name the file if we can.
		var ewp reporter.ErrorWithPos
		if errors.As(err, &ewp) {
			pos := ewp.GetPosition()
			return nil, ErrorList{{File: pos.Filename, Line: pos.Line, Column: pos.Col, Message: ewp.Unwrap().Error()}}
		}
		return nil, ErrorList{{Message: err.Error()}}
	}

	// Re-link the results with protodesc so that snapshots from every
	// source are built the same way (options as descriptorpb messages, the
	// builtin files shared), whatever protocompile's internal types.
	var protos []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var collect func(fd protoreflect.FileDescriptor)
	collect = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		if _, builtin := builtinFiles[fd.Path()]; builtin {
			return
		}
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			collect(imps.Get(i).FileDescriptor)
		}
		protos = append(protos, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range linked {
		collect(fd)
	}
	return buildSnapshot("protos:"+strings.Join(names, ","), protos, "")
}

// importName turns a file argument into the name the compiler resolves:
// a path on disk under an import path becomes relative to it.
func importName(importPaths []string, file string) string {
	if _, err := os.Stat(file); err == nil {
		abs, err := filepath.Abs(file)
		if err == nil {
			for _, ip := range importPaths {
				ipAbs, err := filepath.Abs(ip)
				if err != nil {
					continue
				}
				if rel, err := filepath.Rel(ipAbs, abs); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
					return filepath.ToSlash(rel)
				}
			}
		}
	}
	return path.Clean(filepath.ToSlash(file))
}

// sourceResolver finds source files in import paths, in order.
func sourceResolver(importPaths []string) protocompile.Resolver {
	return protocompile.ResolverFunc(func(name string) (protocompile.SearchResult, error) {
		for _, ip := range importPaths {
			f, err := os.Open(filepath.Join(ip, filepath.FromSlash(name)))
			if err == nil {
				return protocompile.SearchResult{Source: f}, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return protocompile.SearchResult{}, err
			}
		}
		return protocompile.SearchResult{}, notFoundError(fmt.Sprintf("file %q not found in import paths %s", name, strings.Join(importPaths, ", ")))
	})
}

// notFoundError is a missing source file; it matches fs.ErrNotExist.
type notFoundError string

func (e notFoundError) Error() string        { return string(e) }
func (e notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// builtinFirst serves BuiltinFiles from their compiled descriptors and
// everything else from sources.
type builtinFirst struct{ sources protocompile.Resolver }

func (b builtinFirst) FindFileByPath(name string) (protocompile.SearchResult, error) {
	if fd, ok := builtinFiles[name]; ok {
		return protocompile.SearchResult{Desc: fd}, nil
	}
	return b.sources.FindFileByPath(name)
}
