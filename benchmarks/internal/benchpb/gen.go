// Package benchpb is the generated code of proto/bench/v1/echo.proto, the
// gRPC echo service of the HTTP/JSON -> gRPC end-to-end benchmark: messages
// (protoc-gen-go), client and server (protoc-gen-go-grpc) and the
// grpc-gateway v2 handlers (protoc-gen-grpc-gateway). The generated files
// are committed, so building needs no protoc. To regenerate, with protoc
// 3.21.12 (Debian bookworm's protobuf-compiler) and the plugins at these
// versions on PATH:
//
//	GOBIN=/tmp/protoc-gen go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	GOBIN=/tmp/protoc-gen go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	GOBIN=/tmp/protoc-gen go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.28.0
//	cd benchmarks && PATH=/tmp/protoc-gen:$PATH go generate ./internal/benchpb
package benchpb

//go:generate protoc -I ../../proto --go_out=../.. --go_opt=module=github.com/meshgate/meshgate/benchmarks --go-grpc_out=../.. --go-grpc_opt=module=github.com/meshgate/meshgate/benchmarks --grpc-gateway_out=../.. --grpc-gateway_opt=module=github.com/meshgate/meshgate/benchmarks bench/v1/echo.proto
