package descriptors

import (
	"os"
	"sort"

	"github.com/bufbuild/protocompile"
	api "google.golang.org/genproto/googleapis/api"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// builtinFiles are the files every source may import without shipping
// them: protoc's standard imports (the well-known types and
// google/protobuf/descriptor.proto) and the googleapis files that HTTP
// transcoding uses. The google/api ones are the descriptors compiled into
// google.golang.org/genproto/googleapis/api (Apache-2.0 googleapis
// sources), so the registry and the typed HttpRule it reads share one
// definition and no .proto copy has to be kept in sync.
var builtinFiles = func() map[string]protoreflect.FileDescriptor {
	m := map[string]protoreflect.FileDescriptor{}
	for _, fd := range []protoreflect.FileDescriptor{
		annotations.File_google_api_annotations_proto,
		annotations.File_google_api_http_proto,
		annotations.File_google_api_field_behavior_proto,
		annotations.File_google_api_field_info_proto,
		annotations.File_google_api_resource_proto,
		annotations.File_google_api_client_proto,
		annotations.File_google_api_routing_proto,
		api.File_google_api_launch_stage_proto,
		httpbody.File_google_api_httpbody_proto,
	} {
		m[fd.Path()] = fd
	}
	std := protocompile.WithStandardImports(protocompile.ResolverFunc(func(string) (protocompile.SearchResult, error) {
		return protocompile.SearchResult{}, os.ErrNotExist
	}))
	for _, p := range standardImportPaths {
		if res, err := std.FindFileByPath(p); err == nil && res.Desc != nil {
			m[p] = res.Desc
		}
	}
	return m
}()

// standardImportPaths are the files protoc ships in its include directory.
var standardImportPaths = []string{
	"google/protobuf/any.proto",
	"google/protobuf/api.proto",
	"google/protobuf/compiler/plugin.proto",
	"google/protobuf/descriptor.proto",
	"google/protobuf/duration.proto",
	"google/protobuf/empty.proto",
	"google/protobuf/field_mask.proto",
	"google/protobuf/source_context.proto",
	"google/protobuf/struct.proto",
	"google/protobuf/timestamp.proto",
	"google/protobuf/type.proto",
	"google/protobuf/wrappers.proto",
	"google/protobuf/go_features.proto",
	"google/protobuf/cpp_features.proto",
	"google/protobuf/java_features.proto",
}

// BuiltinFiles returns the paths of the files that every source may import
// without providing them (the well-known types, descriptor.proto and
// google/api/annotations.proto with its companions), sorted.
func BuiltinFiles() []string {
	out := make([]string, 0, len(builtinFiles))
	for p := range builtinFiles {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
