package ingress

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
)

// registerReflection serves grpc.reflection.v1 and v1alpha over the
// schemas of the routes in force, read at each request.
func (g *GRPC) registerReflection() {
	r := grpcReflector{g}
	opts := reflection.ServerOptions{Services: r, DescriptorResolver: r, ExtensionResolver: r}
	reflectionv1.RegisterServerReflectionServer(g.srv, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(g.srv, reflection.NewServer(opts))
}

// grpcReflector is the reflection service's view of the ingress: the
// services it lists (reflection.ServiceInfoProvider) and the descriptors
// and extensions it resolves (protodesc.Resolver,
// reflection.ExtensionResolver). Every method reads the current
// GRPCSnapshot and the current snapshot of each schema, so a Swap or a
// schema reload shows on the next reflection request. Lookups try the
// routes' schemas in route order, then GRPCOptions.Schemas, then the
// types linked into meshgate (which describe the reflection service
// itself).
type grpcReflector struct{ g *GRPC }

// schemas returns the schema snapshots in force, in lookup order.
func (r grpcReflector) schemas() []*descriptors.Snapshot {
	snap := r.g.snap.Load()
	out := make([]*descriptors.Snapshot, 0, len(snap.schemas)+len(r.g.opts.Schemas))
	for _, reg := range snap.schemas {
		if s := reg.Current(); s != nil {
			out = append(out, s)
		}
	}
	for _, reg := range r.g.opts.Schemas {
		if reg == nil {
			continue
		}
		if s := reg.Current(); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// GetServiceInfo lists the services registered on the grpc.Server (the
// reflection services) and every routed service a schema describes.
func (r grpcReflector) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := r.g.srv.GetServiceInfo()
	extra := r.g.opts.Schemas
	for _, route := range r.g.snap.Load().routes {
		if _, ok := out[route.Service]; ok {
			continue
		}
		var sd protoreflect.ServiceDescriptor
		if route.Schema != nil {
			sd, _ = route.Schema.Current().Service(route.Service)
		}
		for i := 0; sd == nil && i < len(extra); i++ {
			if extra[i] != nil {
				sd, _ = extra[i].Current().Service(route.Service)
			}
		}
		if sd == nil {
			continue
		}
		info := grpc.ServiceInfo{Metadata: sd.ParentFile().Path()}
		ms := sd.Methods()
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			info.Methods = append(info.Methods, grpc.MethodInfo{Name: string(m.Name()),
				IsClientStream: m.IsStreamingClient(), IsServerStream: m.IsStreamingServer()})
		}
		out[route.Service] = info
	}
	return out
}

// FindFileByPath implements protodesc.Resolver.
func (r grpcReflector) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	for _, s := range r.schemas() {
		if fd, ok := s.File(path); ok {
			return fd, nil
		}
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

// FindDescriptorByName implements protodesc.Resolver.
func (r grpcReflector) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, s := range r.schemas() {
		if d, err := s.Resolver().FindDescriptorByName(name); err == nil {
			return d, nil
		}
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(name)
}

// FindExtensionByName implements protoregistry.ExtensionTypeResolver.
func (r grpcReflector) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	for _, s := range r.schemas() {
		if xt, err := s.Types().FindExtensionByName(name); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

// FindExtensionByNumber implements protoregistry.ExtensionTypeResolver.
func (r grpcReflector) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	for _, s := range r.schemas() {
		if xt, err := s.Types().FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// RangeExtensionsByMessage implements reflection.ExtensionResolver: the
// extensions of message the schemas declare, then those linked into
// meshgate, each field number once.
func (r grpcReflector) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	seen := map[protoreflect.FieldNumber]bool{}
	visit := func(xd protoreflect.ExtensionDescriptor) bool {
		if xd.ContainingMessage().FullName() != message || seen[xd.Number()] {
			return true
		}
		seen[xd.Number()] = true
		return f(dynamicpb.NewExtensionType(xd))
	}
	for _, s := range r.schemas() {
		for _, fd := range s.Files() {
			if !grpcRangeExtensions(fd.Extensions(), fd.Messages(), visit) {
				return
			}
		}
	}
	protoregistry.GlobalTypes.RangeExtensionsByMessage(message, func(xt protoreflect.ExtensionType) bool {
		xd := xt.TypeDescriptor()
		if seen[xd.Number()] {
			return true
		}
		seen[xd.Number()] = true
		return f(xt)
	})
}

// grpcRangeExtensions calls visit for the extensions declared at one level
// and, recursively, in the messages there, until visit returns false.
func grpcRangeExtensions(xds protoreflect.ExtensionDescriptors, mds protoreflect.MessageDescriptors, visit func(protoreflect.ExtensionDescriptor) bool) bool {
	for i := 0; i < xds.Len(); i++ {
		if !visit(xds.Get(i)) {
			return false
		}
	}
	for i := 0; i < mds.Len(); i++ {
		m := mds.Get(i)
		if !grpcRangeExtensions(m.Extensions(), m.Messages(), visit) {
			return false
		}
	}
	return true
}
