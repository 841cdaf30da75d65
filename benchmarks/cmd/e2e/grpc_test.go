package main

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The descriptor set the harness gives meshgate is complete (it builds on
// its own, as meshgate builds it) and holds the one annotated method
// grpc-gateway generated a handler for.
func TestBenchDescriptorSet(t *testing.T) {
	b, err := benchDescriptorSet()
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range set.File {
		paths = append(paths, f.GetName())
	}
	if got := strings.Join(paths, " "); got != "google/api/http.proto google/protobuf/descriptor.proto google/api/annotations.proto bench/v1/echo.proto" {
		t.Errorf("files %s, want dependencies first", got)
	}
	d, err := files.FindDescriptorByName("bench.v1.Echo")
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	methods := d.(protoreflect.ServiceDescriptor).Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		// The options were parsed with the linked-in extension type.
		if r, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule); ok && r != nil {
			rules = append(rules, string(m.Name())+" GET "+r.GetGet()+" body="+r.GetBody())
		}
	}
	if got := strings.Join(rules, "; "); got != "Get GET /v1/echo/{msg} body=" {
		t.Errorf("annotated methods: %q", got)
	}
	if grpcEchoPath != "/v1/echo/"+echoArg || !strings.Contains(grpcEchoBody, echoArg) {
		t.Errorf("path %q body %q", grpcEchoPath, grpcEchoBody)
	}
}

func TestMeshgateGRPCConfig(t *testing.T) {
	c := meshgateGRPCConfig(8080, "127.0.0.1:9", "/tmp/x/bench.pb")
	for _, want := range []string{"listen: 127.0.0.1:8080", `descriptor_set: "/tmp/x/bench.pb"`, "protocol: grpc", `endpoints: ["127.0.0.1:9"]`, "schema: bench", "cluster: echo-grpc"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
}
