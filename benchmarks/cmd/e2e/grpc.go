package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/meshgate/meshgate/benchmarks/internal/benchpb"
)

// The http-grpc scenario: HTTP/JSON -> gRPC transcoding of
// GET /v1/echo/{msg} (google.api.http on bench.v1.Echo/Get) through
// meshgate (a schema, a gRPC cluster, transcoding) and through
// grpc-gateway v2.28.0's generated handlers (cmd/grpcgateway), next to
// direct gRPC calls (cmd/grpcload), against a grpc-go echo server
// (cmd/grpcecho). Every client of the echo server (each gateway, the
// direct load generator) has one HTTP/2 connection to it.

const (
	grpcEchoPath = "/v1/echo/" + echoArg
	grpcEchoBody = `{"msg":"` + echoArg + `"}`
)

var grpcScenario = &scenario{
	name:    "http-grpc",
	title:   "HTTP/JSON -> gRPC",
	targets: []string{"direct", "meshgate", "grpc-gateway"},
	calls:   "gRPC",
	run:     runGRPC,
	loadLine: func(o options) string {
		return fmt.Sprintf("wrk -t%d -c%d -d%s --latency GET %s (direct: grpcload, %d callers, GOMAXPROCS=%d); warm-up %v; one HTTP/2 connection per client",
			o.threads, o.conns, wrkDuration(o.duration), grpcEchoPath, o.conns, o.threads, o.warmup)
	},
	result: func(rs results) string { return resultLine(rs, "http-grpc", "grpc-gateway", "grpcgateway") },
}

func runGRPC(ctx context.Context, s *scenario, o options, tmp string, bins binaries) (results, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	echoAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	mgPort, gwPort, mgPprof, gwPprof := ports[1], ports[2], ports[3], ports[4]

	// The harness's own gRPC client: readiness, reply checks and the echo
	// server's call counter, never during a measured run.
	conn, err := grpc.NewClient(echoAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client := benchpb.NewEchoClient(conn)

	up, err := startUpstream(ctx, o, tmp, "grpcecho", bins.grpcEcho, []string{"-addr", echoAddr}, echoAddr,
		func(ctx context.Context) error { return checkGRPC(ctx, client) },
		func(ctx context.Context) (int64, error) { return grpcCount(ctx, client) })
	if err != nil {
		return nil, err
	}

	var rs results
	if o.targets["direct"] {
		rs = append(rs, &target{name: "direct", label: "direct gRPC (grpcload)",
			direct: func(ctx context.Context, d time.Duration) (loadResult, error) {
				return runGRPCLoad(ctx, bins.grpcLoad, o.threads, o.conns, d, echoAddr)
			}})
	}
	if o.targets["meshgate"] {
		set, err := benchDescriptorSet()
		if err != nil {
			return nil, err
		}
		desc := filepath.Join(tmp, "bench.pb")
		if err := os.WriteFile(desc, set, 0o644); err != nil {
			return nil, err
		}
		t, err := startMeshgate(ctx, o, tmp, bins.meshgate, "meshgate-grpc", meshgateGRPCConfig(mgPort, echoAddr, desc),
			mgPort, mgPprof, "meshgate HTTP/JSON -> gRPC", grpcEchoPath, grpcEchoBody)
		if err != nil {
			return nil, err
		}
		rs = append(rs, t)
	}
	if o.targets["grpc-gateway"] {
		args := []string{"-addr", fmt.Sprintf("127.0.0.1:%d", gwPort), "-upstream", echoAddr}
		t := &target{name: "grpc-gateway", label: "grpc-gateway HTTP/JSON -> gRPC",
			url: fmt.Sprintf("http://127.0.0.1:%d%s", gwPort, grpcEchoPath), want: grpcEchoBody}
		if o.profile != "" {
			args = append(args, "-pprof-addr", fmt.Sprintf("127.0.0.1:%d", gwPprof))
			t.pprof = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile", gwPprof)
		}
		if t.gw, err = startGateway(ctx, o, "grpc-gateway", fmt.Sprintf("HTTP on 127.0.0.1:%d", gwPort),
			filepath.Join(tmp, "grpcgateway.log"), bins.grpcGateway, args, t.url, t.want); err != nil {
			return nil, err
		}
		rs = append(rs, t)
	}

	if err := measureAll(ctx, o, s, bins, up, rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// checkGRPC calls Get("hello") directly and checks the reply.
func checkGRPC(ctx context.Context, c benchpb.EchoClient) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r, err := c.Get(ctx, &benchpb.EchoRequest{Msg: echoArg})
	if err != nil {
		return err
	}
	if r.GetMsg() != echoArg {
		return fmt.Errorf("bench.v1.Echo/Get replied %q, want %q", r.GetMsg(), echoArg)
	}
	return nil
}

// grpcCount asks the gRPC echo server how many Get calls it has served.
func grpcCount(ctx context.Context, c benchpb.EchoClient) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r, err := c.Count(ctx, &benchpb.CountRequest{})
	if err != nil {
		return 0, fmt.Errorf("gRPC echo server Count: %w", err)
	}
	return r.GetCalls(), nil
}

// benchDescriptorSet is the schema meshgate loads: bench/v1/echo.proto and
// everything it imports, dependencies first (what protoc
// --include_imports --descriptor_set_out writes), taken from the
// descriptors compiled into internal/benchpb, so that meshgate and
// grpc-gateway serve exactly the same definition.
func benchDescriptorSet() ([]byte, error) {
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := range imps.Len() {
			add(imps.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(benchpb.File_bench_v1_echo_proto)
	if len(set.File) == 0 {
		return nil, errors.New("no descriptors")
	}
	return proto.Marshal(&set)
}

// meshgateGRPCConfig is meshgate's configuration for HTTP/JSON -> gRPC:
// the schema from the descriptor set, one gRPC cluster (the echo server)
// and transcoding of every annotated method of the schema to it.
func meshgateGRPCConfig(port int, echoAddr, descriptorSet string) string {
	return fmt.Sprintf(`# generated by benchmarks/cmd/e2e
http:
  listen: 127.0.0.1:%d
schemas:
  - name: bench
    descriptor_set: %q
clusters:
  - name: echo-grpc
    protocol: grpc
    endpoints: [%q]
    lb: round_robin
transcoding:
  - schema: bench
    target:
      cluster: echo-grpc
      timeout: 1s
`, port, descriptorSet, echoAddr)
}
