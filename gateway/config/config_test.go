package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
