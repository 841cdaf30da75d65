package tracing

import (
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/meshgate/meshgate/gateway"
)

// export is what a collector received.
type export struct {
	req   *coltrace.ExportTraceServiceRequest
	token string
}

// grpcCollector is an OTLP/gRPC trace collector on loopback.
type grpcCollector struct {
	coltrace.UnimplementedTraceServiceServer
	got chan export
}

func (c *grpcCollector) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	tok := ""
	if v := md.Get("x-token"); len(v) > 0 {
		tok = v[0]
	}
	c.got <- export{req, tok}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func startGRPCCollector(t *testing.T) (string, chan export) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &grpcCollector{got: make(chan export, 16)}
	s := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(s, c)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String(), c.got
}

func startHTTPCollector(t *testing.T) (string, chan export) {
	got := make(chan export, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/custom/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		req := &coltrace.ExportTraceServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(b, req)
		}
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got <- export{req, r.Header.Get("X-Token")}
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), got
}

// The OTLP exporters deliver the spans, the service name and the
// configured headers to a real collector of each kind.
func TestOTLPExporters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*testing.T) (string, chan export)
		opts  ExporterOptions
	}{
		{"grpc", startGRPCCollector, ExporterOptions{}},
		{"grpc gzip", startGRPCCollector, ExporterOptions{Gzip: true}},
		{"http", startHTTPCollector, ExporterOptions{HTTP: true, URLPath: "/custom/traces"}},
		{"http gzip", startHTTPCollector, ExporterOptions{HTTP: true, URLPath: "/custom/traces", Gzip: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := tc.start(t)
			o := tc.opts
			o.Endpoint, o.Insecure, o.Timeout = addr, true, 5*time.Second
			o.Headers = map[string]string{"x-token": "secret"}
			exp, err := NewExporter(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			tr := New(Options{ServiceName: "edge-" + tc.name, SampleRatio: 1, Exporter: exp})
			inv := gateway.Chain(&terminal{}, tr.RouteFilter("r-export", "c"))
			if err := inv.Invoke(context.Background(), &gateway.Call{Service: "s", Method: "m"}, &gateway.Reply{}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			var e export
			select {
			case e = <-got:
			case <-ctx.Done():
				t.Fatal("nothing exported")
			}
			if e.token != "secret" {
				t.Errorf("header x-token %q", e.token)
			}
			rs := e.req.GetResourceSpans()
			if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 || len(rs[0].GetScopeSpans()[0].GetSpans()) != 1 {
				t.Fatalf("export %v", e.req)
			}
			if name := rs[0].GetScopeSpans()[0].GetSpans()[0].GetName(); name != "r-export" {
				t.Errorf("span name %q", name)
			}
			svc := ""
			for _, kv := range rs[0].GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					svc = kv.GetValue().GetStringValue()
				}
			}
			if svc != "edge-"+tc.name {
				t.Errorf("service.name %q", svc)
			}
		})
	}
}
