package descriptors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// missingOnServerHint explains a missing import in a reflection load.
const missingOnServerHint = " on the server (its reflection service cannot supply it)"

// healthService is the standard gRPC health service, which LoadReflection
// leaves out unless asked for by name.
const healthService = "grpc.health.v1.Health"

// ReflectionOption adjusts LoadReflection and ReflectionLoader.
type ReflectionOption func(*reflectionConfig)

type reflectionConfig struct {
	only     []string // services to load; nil: all but the infrastructure ones
	internal bool     // keep grpc.reflection.* and grpc.health.v1.Health
}

// ReflectServices restricts a reflection load to the named services
// (full names, "pkg.Svc"); the other services the server lists are
// ignored. A named service the server does not list is an error. Naming
// grpc.health.v1.Health or a reflection service loads it.
func ReflectServices(names ...string) ReflectionOption {
	return func(c *reflectionConfig) { c.only = append(c.only, names...) }
}

// ReflectInternalServices keeps the services LoadReflection leaves out by
// default: the reflection service itself (grpc.reflection.v1 and v1alpha)
// and grpc.health.v1.Health.
func ReflectInternalServices() ReflectionOption {
	return func(c *reflectionConfig) { c.internal = true }
}

// internalService reports whether LoadReflection skips name by default.
func internalService(name string) bool {
	return name == healthService || strings.HasPrefix(name, "grpc.reflection.")
}

// LoadReflection builds a snapshot from the gRPC server reflection service
// of the server behind conn. It lists the server's services, fetches the
// file declaring each one with every file that file imports, transitively,
// and links them as SnapshotFromSet does. Snapshot.Source is
// "reflection:SOURCE"; source names the server in errors and logs (an
// address or an upstream's name).
//
// The reflection service itself and grpc.health.v1.Health are left out
// unless ReflectInternalServices or ReflectServices asks for them. Both
// versions of the reflection protocol work: grpc.reflection.v1 is tried
// first and grpc.reflection.v1alpha used when the server lacks it. The
// server's copies of the well-known types and of google/api are used when
// it sends them; an import the server cannot supply is taken from the
// builtin files (see BuiltinFiles), and failing that is an error.
//
// A server that lists no service (after leaving out the internal ones) is
// an error, so that an upstream caught mid-restart never replaces a schema
// with an empty one. Errors begin with "reflection SOURCE:" and name the
// service whose descriptors could not be fetched. ctx bounds the whole
// load; conn is neither closed nor otherwise changed.
func LoadReflection(ctx context.Context, conn grpc.ClientConnInterface, source string, opts ...ReflectionOption) (*Snapshot, error) {
	s, err := loadReflection(ctx, conn, source, opts)
	if err != nil {
		return nil, fmt.Errorf("reflection %s: %w", source, err)
	}
	return s, nil
}

func loadReflection(ctx context.Context, conn grpc.ClientConnInterface, source string, opts []ReflectionOption) (*Snapshot, error) {
	var cfg reflectionConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The client's stream lives in streamCtx. Cancelling it before Reset
	// makes Reset's drain of the stream return at once even when the
	// server has stopped answering.
	streamCtx, cancel := context.WithCancel(ctx)
	client := grpcreflect.NewClientAuto(streamCtx, conn)
	defer func() {
		cancel()
		client.Reset()
	}()
	client.AllowFallbackResolver(readOnlyFiles{builtinRegistry()}, nil)

	listed, err := client.ListServices()
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", ctxErr(ctx, err))
	}
	services, err := pickServices(listed, cfg)
	if err != nil {
		return nil, err
	}

	var protos []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	collect := func(fd protoreflect.FileDescriptor) {
		// A builtin file the client took from the fallback resolver is
		// left to buildSnapshot, which shares the builtin descriptor
		// rather than linking a copy of it.
		if b, ok := builtinFiles[fd.Path()]; ok && fd == b {
			return
		}
		protos = append(protos, protodesc.ToFileDescriptorProto(fd))
	}
	for _, name := range services {
		fd, err := client.FileContainingSymbol(name)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, ctxErr(ctx, err))
		}
		if fd.FindService(name) == nil {
			return nil, fmt.Errorf("service %s: the server sent file %q, which does not declare it", name, fd.GetName())
		}
		walkImportsFirst(fd.UnwrapFile(), seen, collect)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return buildSnapshot("reflection:"+source, protos, missingOnServerHint)
}

// pickServices returns the services to load, sorted, according to cfg.
func pickServices(listed []string, cfg reflectionConfig) ([]string, error) {
	var out []string
	if cfg.only != nil {
		have := make(map[string]bool, len(listed))
		for _, n := range listed {
			have[n] = true
		}
		var missing []string
		picked := map[string]bool{}
		for _, n := range cfg.only {
			switch {
			case picked[n]:
			case !have[n]:
				missing = append(missing, n)
			default:
				picked[n] = true
				out = append(out, n)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("service %s not listed by the server (it lists %s)", strings.Join(missing, ", "), strings.Join(listed, ", "))
		}
	} else {
		for _, n := range listed {
			if cfg.internal || !internalService(n) {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the server lists no service to load (it lists %q)", listed)
	}
	sort.Strings(out)
	return out, nil
}

// ctxErr prefers the context's error, which says why a stream failed
// ("context deadline exceeded") more plainly than the gRPC status does.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// ReflectionLoader returns a load function for Registry.Reload and
// Registry.Refresh that calls LoadReflection on conn. Each call is bounded
// by timeout (none when timeout <= 0) and by ctx, so cancelling ctx also
// ends a load in flight:
//
//	load := descriptors.ReflectionLoader(ctx, conn, "users", 10*time.Second)
//	if err := reg.Reload(load); err != nil {
//		return err // fail the start on an unreachable upstream or a bad schema
//	}
//	go reg.Refresh(ctx, 30*time.Second, load, logErr)
//
// A failed load leaves the snapshot in force, as Reload always does.
func ReflectionLoader(ctx context.Context, conn grpc.ClientConnInterface, source string, timeout time.Duration, opts ...ReflectionOption) func() (*Snapshot, error) {
	return func() (*Snapshot, error) {
		lctx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			lctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return LoadReflection(lctx, conn, source, opts...)
	}
}

// builtinRegistry holds every builtin file, for the reflection client to
// fall back on when the server cannot supply one of them.
var builtinRegistry = sync.OnceValue(func() *protoregistry.Files {
	reg := new(protoregistry.Files)
	for _, p := range BuiltinFiles() {
		registerBuiltin(reg, builtinFiles[p])
	}
	return reg
})
