package config

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"gopkg.in/yaml.v3"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if c.HTTP.Listen != "127.0.0.1:8080" || c.Demo == nil || c.Demo.Listen != "127.0.0.1:9981" {
		t.Fatalf("default listeners: %+v %+v", c.HTTP, c.Demo)
	}
	if len(c.Routes) == 0 || c.Routes[0].Target.Timeout != time.Second || c.Clusters[0].Connections != 2 {
		t.Fatalf("defaults not applied: %+v", c.Routes[0])
	}
}

const good = `
http:
  listen: 127.0.0.1:0
clusters:
  - name: users
    endpoints: ["127.0.0.1:9982"]
routes:
  - method: get
    path: /v1/users/{id}
    target: {cluster: users, service: com.example.UserService, method: get}
    args:
      - {name: id, from: path, type: int64}
`

func TestParseAppliesDefaults(t *testing.T) {
	c, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.Method != "GET" || r.Name != "GET /v1/users/{id}" || r.Args[0].Key != "id" || c.Clusters[0].LB != "round_robin" {
		t.Fatalf("defaults: %+v", r)
	}
}

// Every problem is reported at once, each with file, line and key path.
func TestErrorsNameFileLineAndKey(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want []string
	}{
		"unknown key": {"http:\n  listen: 127.0.0.1:1\n  lisen: x\n", []string{"bad.yaml:3: field lisen not found"}},
		"wrong type":  {"http:\n  max_body_bytes: lots\n", []string{"bad.yaml:2: cannot unmarshal"}},
		"syntax":      {"http:\n  listen: [\n", []string{"bad.yaml:"}},
		"empty":       {"", []string{"empty configuration"}},
		"validation": {`
clusters:
  - name: users
    endpoints: ["nohostport"]
    lb: fastest
routes:
  - method: FETCH
    path: /v1/users/{id
    target: {cluster: nosuch, service: "", method: get, timeout: -1s}
    args:
      - {name: id, from: path, type: int128}
      - {name: q, from: where, type: string}
      - {name: n, from: query, type: int32, default: "x"}
  - method: GET
    path: /v1/a/{x}
    target: {cluster: users, service: s, method: m}
    args:
      - {name: y, from: path, type: string}
  - method: GET
    path: /v1/a/{z}
    target: {cluster: users, service: s, method: m}
`, []string{
			`bad.yaml:4: clusters[0].endpoints[0]: "nohostport" is not a host:port address`,
			`bad.yaml:5: clusters[0].lb: unknown load balancer "fastest"`,
			`bad.yaml:7: routes[0].method: unknown HTTP method "FETCH"`,
			`bad.yaml:8: routes[0].path: `,
			`bad.yaml:9: routes[0].target.cluster: unknown cluster "nosuch" (defined: users)`,
			`bad.yaml:9: routes[0].target.service: missing`,
			`bad.yaml:11: routes[0].args[0].type: `,
			`bad.yaml:12: routes[0].args[1].from: unknown source "where"`,
			`bad.yaml:13: routes[0].args[2].default: `,
			`bad.yaml:18: routes[1].args[0].key: path variable "y" is not in "/v1/a/{x}"`,
			`routes: `, // the conflict between routes 1 and 2
		}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meshgate.yaml")
	if err := os.WriteFile(path, []byte("http:\n  bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Fatalf("error %v does not name %s:2", err, path)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

// The example configurations shipped in docs/ and deploy/ must stay valid.
func TestShippedExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../deploy/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configuration found under deploy/")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestUnknownClusterWithNoneDefined(t *testing.T) {
	_, err := Parse("x.yaml", []byte("routes:\n  - {method: GET, path: /a, target: {cluster: c, service: s, method: m}}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown cluster "c" (no clusters are defined)`) {
		t.Fatalf("%v", err)
	}
}

func TestSchemasGRPCAndTranscodingValidation(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(`
grpc_routes:
  - {service: shop.v1.Library, target: {cluster: m2, encoding: simple}}
  - {service: shop.v1.Library, target: {cluster: g, encoding: pb}}
  - {service: "shop/v1", schema: nope, target: {cluster: g, group: x}}
clusters:
  - {name: m2, endpoints: ["127.0.0.1:1"], tls: {}}
  - {name: g, protocol: grpc, endpoints: ["127.0.0.1:2"]}
  - {name: x, protocol: thrift, endpoints: ["127.0.0.1:3"]}
schemas:
  - {name: both, descriptor_set: a.pb, protos: {files: [a.proto]}}
  - {name: none}
  - {name: refl, reflection: {cluster: m2}}
motan2_routes:
  - {service: a.B, target: {cluster: g}}
transcoding:
  - {target: {cluster: g, encoding: simple}}
routes:
  - {method: GET, path: /a, target: {cluster: g, service: s, method: m}}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`bad.yaml:2: grpc_routes: routes without a grpc listener`,
		`bad.yaml:3: grpc_routes[0].schema: missing: encoding simple converts messages through a schema`,
		`bad.yaml:4: grpc_routes[1].service: service "shop.v1.Library" method "" is already routed by grpc_routes[0]`,
		`bad.yaml:4: grpc_routes[1].target.encoding: gRPC clusters take messages as they are`,
		`bad.yaml:5: grpc_routes[2].service: "shop/v1" is not a full service name`,
		`bad.yaml:5: grpc_routes[2].schema: unknown schema "nope" (defined: both, none, refl)`,
		`bad.yaml:5: grpc_routes[2].target: group, version and args apply to Motan2 clusters only`,
		`bad.yaml:7: clusters[0].tls: applies to gRPC clusters only`,
		`bad.yaml:9: clusters[2].protocol: unknown protocol "thrift" (motan2, grpc)`,
		`bad.yaml:11: schemas[0]: needs exactly one of descriptor_set, protos, reflection and builtin (has 2)`,
		`bad.yaml:12: schemas[1]: needs exactly one of descriptor_set, protos, reflection and builtin (has 0)`,
		`bad.yaml:13: schemas[2].reflection.cluster: cluster "m2" is not a gRPC cluster`,
		`bad.yaml:14: motan2_routes: routes without a motan2 listener`,
		`bad.yaml:15: motan2_routes[0].schema: missing: a route to a gRPC cluster converts Motan2 arguments through a schema`,
		`bad.yaml:17: transcoding[0].schema: missing`,
		`bad.yaml:17: transcoding[0].target.encoding: gRPC clusters take messages as they are; encoding "simple" applies to Motan2 clusters`,
		`bad.yaml:19: routes[0].target.cluster: cluster "g" is a grpc cluster`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestGRPCDefaultsAndPaths(t *testing.T) {
	c, err := Parse("/etc/meshgate/gw.yaml", []byte(`
grpc: {}
clusters:
  - {name: g, protocol: grpc, endpoints: ["127.0.0.1:2"], tls: {ca_file: ca.pem}}
schemas:
  - {name: shop, protos: {files: [shop/v1/shop.proto]}}
  - {name: set, descriptor_set: /abs/shop.pb}
  - {name: refl, reflection: {cluster: g}}
grpc_routes:
  - {service: shop.v1.Library, method: GetBook, schema: shop, target: {cluster: g}}
`))
	if err != nil {
		t.Fatal(err)
	}
	g := c.GRPC
	if g.Listen != "127.0.0.1:9090" || g.MaxRecvMsgBytes != 4<<20 || g.MaxConcurrentStreams != 1000 || !*g.Reflection {
		t.Errorf("grpc defaults: %+v", g)
	}
	if got := c.Clusters[0].TLS.CAFile; got != "/etc/meshgate/ca.pem" {
		t.Errorf("ca_file = %q, want it relative to the config file", got)
	}
	if got := c.Schemas[0].Protos.ImportPaths; len(got) != 1 || got[0] != "/etc/meshgate" {
		t.Errorf("import_paths = %q", got)
	}
	if got := c.Schemas[1].DescriptorSet; got != "/abs/shop.pb" {
		t.Errorf("descriptor_set = %q", got)
	}
	if r := c.Schemas[2].Reflection; r.Refresh != time.Minute || r.Timeout != 10*time.Second {
		t.Errorf("reflection defaults: %+v", r)
	}
	r := c.GRPCRoutes[0]
	if r.Name != "shop.v1.Library/GetBook" || r.Target.Service != "shop.v1.Library" || r.Target.Encoding != EncodingGrpcPB || r.Target.Timeout != time.Second {
		t.Errorf("grpc route defaults: %+v", r)
	}
}

func init() {
	gateway.RegisterFilter("config-test", func(spec gateway.FilterSpec) (gateway.Filter, error) {
		var o struct {
			Tag string `yaml:"tag"`
		}
		if err := spec.Decode(&o); err != nil {
			return nil, err
		}
		if o.Tag == "" {
			return nil, errors.New("tag is required")
		}
		return gateway.FilterFunc(func(ctx context.Context, call *gateway.Call, reply *gateway.Reply, next gateway.Invoker) error {
			return next.Invoke(ctx, call, reply)
		}), nil
	})
}

func TestFilterConfig(t *testing.T) {
	base := `
demo: {}
clusters:
  - {name: demo, endpoints: [demo]}
routes:
  - method: GET
    path: /a
    target: {cluster: demo, service: s, method: m}
    filters:
      - {name: config-test, tag: a}
`
	c, err := Parse("f.yaml", []byte(base+`
filters:
  default: [{name: config-test, tag: d}]
  clusters:
    demo: [{name: config-test, tag: c}]
`))
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		Tag string `yaml:"tag"`
	}
	if f := c.Routes[0].Filters[0]; f.Name != "config-test" || f.Line != 10 || f.Decode(&o) != nil || o.Tag != "a" {
		t.Fatalf("route filter %+v %+v", f, o)
	}
	if len(c.Filters.Default) != 1 || len(c.Filters.Clusters["demo"]) != 1 {
		t.Fatalf("defaults %+v", c.Filters)
	}
	_, err = Parse("f.yaml", []byte(base+`
filters:
  default:
    - {name: nosuch}
    - {name: config-test}
    - {name: config-test, tag: x, extra: 1}
    - {tag: x}
  clusters:
    ghost: [config-test]
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`f.yaml:14: filters.default[0]: unknown filter "nosuch"`,
		`f.yaml:15: filters.default[1]: filter config-test: tag is required`,
		`f.yaml:16: filters.default[2]: filter config-test: bad options: field extra not found` + "\n",
		`f.yaml:17: filters.default[3]: a filter needs a name`,
		`f.yaml:19: filters.clusters.ghost: unknown cluster "ghost"`,
		`f.yaml:19: filters.clusters.ghost[0]: filter config-test: tag is required`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestAdminSection(t *testing.T) {
	c, err := Parse("a.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Admin; a.Listen != "127.0.0.1:8002" || !a.Enabled() || a.Token != "" || a.Watch != 0 {
		t.Errorf("admin defaults: %+v", a)
	}
	for _, ok := range []string{
		"admin: {listen: off}",
		"admin: {listen: \"[::1]:0\"}",
		"admin: {listen: \"localhost:9000\", watch: 2s}",
		"admin: {listen: \"0.0.0.0:8002\", token: s3cret}",
		"admin: {listen: \":8002\", token: s3cret}",
	} {
		c, err := Parse("a.yaml", []byte(good+ok+"\n"))
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		if ok == "admin: {listen: off}" && c.Admin.Enabled() {
			t.Errorf("listen off: enabled")
		}
	}
	for bad, want := range map[string]string{
		"admin: {listen: \"0.0.0.0:8002\"}":           `a.yaml:13: admin.listen: "0.0.0.0:8002" is not a loopback address: set admin.token`,
		"admin: {listen: \":8002\"}":                  `admin.listen: ":8002" is not a loopback address`,
		"admin: {listen: \"gw.example:8002\"}":        `is not a loopback address`,
		"admin: {listen: nohostport}":                 `a.yaml:13: admin.listen: "nohostport" is not a host:port address (or off)`,
		"admin: {watch: 10ms}":                        `admin.watch: must be 0 (off) or at least 100ms, got 10ms`,
		"admin: {watch: -1s}":                         `admin.watch: must be 0 (off) or at least 100ms`,
		"admin: {token: \"a b\"}":                     `admin.token: must not contain spaces or control characters`,
		"admin: {listen: \"10.0.0.1:8002\", tokn: x}": `field tokn not found`,
	} {
		_, err := Parse("a.yaml", []byte(good+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", bad, err, want)
		}
	}
}

// The Kubernetes example's embedded meshgate configuration is valid.
func TestKubernetesExample(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	found := 0
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc.Kind != "ConfigMap" {
			continue
		}
		for name, text := range doc.Data {
			if _, err := Parse("sidecar.yaml "+name, []byte(text)); err != nil {
				t.Errorf("%v", err)
			}
			found++
		}
	}
	if found == 0 {
		t.Fatal("no meshgate configuration in the Kubernetes example")
	}
}
