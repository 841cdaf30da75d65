// Package descriptors is meshgate's schema registry: it loads protobuf
// schemas, publishes them as immutable, versioned snapshots, and extracts
// the google.api.http bindings the REST transcoder routes by.
//
// Schemas come from three kinds of source:
//
//   - descriptor-set files written by protoc --descriptor_set_out
//     --include_imports (LoadDescriptorSet, ParseDescriptorSet);
//   - .proto sources compiled in-process with bufbuild/protocompile
//     (CompileProtos), where the well-known types and the google/api
//     annotations are available without the user shipping them;
//   - the gRPC server reflection service of an upstream (LoadReflection,
//     v1 or v1alpha), re-read on an interval with Registry.Refresh and
//     ReflectionLoader;
//   - any other producer of descriptors, through NewSnapshot.
//
// Every load yields a *Snapshot, which never changes once built and is safe
// for concurrent use. A Registry holds the snapshot currently in force
// behind an atomic pointer: readers call Current once per request and keep
// using what they got, while Swap or Reload publish a new snapshot without
// disturbing them. A load that fails (a syntax error, an unknown type, a
// missing import, an invalid HTTP rule) returns an error naming the file
// and line, and the previous snapshot stays in force.
//
// HTTPRules lists every google.api.http binding of a snapshot, primary and
// additional, after checking what can be checked without the router (body
// and response_body fields exist, no nested additional_bindings). The path
// templates themselves are compiled and validated by package routes.
//
// The package never imports the gateway packages: it is configuration, not
// request handling. See docs/descriptors.md for the semantics in prose.
package descriptors
