// Package archtest checks the dependency rules of ARCHITECTURE.md: which
// packages may import what.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/meshgate/meshgate"

// packages returns each package of the module with its non-test imports.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := make(map[string][]string)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs[f[0]] = f[1:]
	}
	return pkgs
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestPurePackagesImportLittle: the wire library and the route matcher
// depend on the standard library only, and translate on motan2 and the
// protobuf runtime (messages, JSON, google.rpc.Status), so they stay
// reusable and never pull the gateway or a transport in. Entries ending in
// "/" allow every package under that prefix.
func TestPurePackagesImportLittle(t *testing.T) {
	pkgs := packages(t)
	for pkg, allowed := range map[string][]string{
		module + "/motan2":    nil,
		module + "/routes":    nil,
		module + "/translate": {module + "/motan2", "google.golang.org/protobuf/", "google.golang.org/genproto/googleapis/rpc/"},
	} {
		imports, ok := pkgs[pkg]
		if !ok {
			t.Fatalf("package %s not found among %d packages", pkg, len(pkgs))
		}
		for _, imp := range imports {
			if !isStd(imp) && !allowedImport(allowed, imp) {
				t.Errorf("%s imports %s; it may use only the standard library and %v", pkg, imp, allowed)
			}
		}
	}
}

func allowedImport(allowed []string, imp string) bool {
	for _, a := range allowed {
		if a == imp || strings.HasSuffix(a, "/") && strings.HasPrefix(imp, a) {
			return true
		}
	}
	return false
}

// assemblers may import concrete plugins (upstreams, the demo service).
func assembler(pkg string) bool {
	return strings.HasPrefix(pkg, module+"/cmd/") || pkg == module+"/gateway/assembly"
}

// testregistry allows internal/testregistry, itself test support (only
// _test.go files import it), to build on internal/testproc.
func testregistry(pkg string) bool { return pkg == module+"/internal/testregistry" }

func TestDependencyRules(t *testing.T) {
	rules := []struct {
		from, to string // package prefixes
		allowed  func(pkg string) bool
		why      string
	}{
		{"", module + "/internal/demo", assembler, "only cmd/ and the assembly wire the demo service"},
		{"", module + "/gateway/upstream", assembler, "only cmd/ and the assembly wire upstreams"},
		{module + "/gateway/ingress", module + "/gateway/upstream", nil, "ingress never imports upstream"},
		{module + "/routes", module + "/gateway", nil, "routes never imports gateway"},
		{module + "/translate", module + "/gateway", nil, "translate never imports gateway"},
		{module + "/descriptors", module + "/gateway", nil, "descriptors never imports gateway"},
		{"", module + "/internal/testgrpc", nil, "internal/testgrpc is test support: only _test.go files may import it"},
		{"", module + "/internal/testregistry", nil, "internal/testregistry is test support: only _test.go files may import it"},
		{"", module + "/internal/testproc", testregistry, "internal/testproc is test support: only _test.go files and internal/testregistry (itself test support) may import it"},
		{"", module + "/gateway/filter/internal/filtertest", nil, "filtertest is test support: only _test.go files may import it"},
		{module + "/gateway/filter/", module + "/gateway/ingress", nil, "filters never import ingresses"},
		{module + "/gateway/filter/", module + "/gateway/upstream", nil, "filters never import upstreams"},
	}
	pkgs := packages(t)
	for pkg, imports := range pkgs {
		// Filters never import each other: each is a plugin of its own.
		if rest, ok := strings.CutPrefix(pkg, module+"/gateway/filter/"); ok {
			own, _, _ := strings.Cut(rest, "/")
			for _, imp := range imports {
				// gateway/filter/internal holds what filters share.
				if other, ok := strings.CutPrefix(imp, module+"/gateway/filter/"); ok && !strings.HasPrefix(other+"/", own+"/") && !strings.HasPrefix(other, "internal/") {
					t.Errorf("%s imports %s: filters never import each other", pkg, imp)
				}
			}
		}
	}
	// Leaf packages on the hot path import the standard library only.
	for _, leaf := range []string{module + "/gateway/upstream/lb", module + "/gateway/stats"} {
		if _, ok := pkgs[leaf]; !ok {
			t.Errorf("package %s not found", leaf)
		}
		for _, imp := range pkgs[leaf] {
			if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: it imports the standard library only", leaf, imp)
			}
		}
	}
	for pkg, imports := range pkgs {
		for _, imp := range imports {
			for _, r := range rules {
				if !strings.HasPrefix(pkg, r.from) || !strings.HasPrefix(imp, r.to) || strings.HasPrefix(pkg, r.to) {
					continue
				}
				if r.allowed == nil || !r.allowed(pkg) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.why)
				}
			}
		}
	}
}
