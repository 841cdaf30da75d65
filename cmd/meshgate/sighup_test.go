//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSIGHUPReloads sends SIGHUP to the test process while run serves
// (run has registered for it before it logs that it serves): the file is
// read again and applied; an invalid file is refused with its line and
// the old generation keeps serving.
func TestSIGHUPReloads(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, file, runYAML)
	r := startRun(t, "-c", file)
	if code, _ := r.get(r.http + "/v1/add?a=1"); code != 404 || r.generation() != 1 {
		t.Fatalf("before: %d, generation %d", code, r.generation())
	}
	hup := func() {
		t.Helper()
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, file, addRoute)
	hup()
	r.wait(`msg="meshgate: configuration reloaded"`, "trigger=SIGHUP", "generation=2")
	if code, body := r.get(r.http + "/v1/add?a=40&b=2"); code != 200 || body != "42" || r.generation() != 2 {
		t.Fatalf("after: %d %s", code, body)
	}
	writeFile(t, file, addRoute+"  - {name: bad, method: GET, path: /v1/bad, target: {cluster: nosuch, service: s, method: m}}\n")
	hup()
	r.wait(`msg="meshgate: configuration not applied; the generation in force keeps serving"`, "trigger=SIGHUP", "generation=2")
	r.wait(`msg="meshgate: invalid configuration"`, file+`:12: routes[2].target.cluster: unknown cluster \"nosuch\"`)
	if code, _ := r.get(r.http + "/v1/add?a=1"); code != 200 || r.generation() != 2 {
		t.Fatalf("after an invalid file: %d, generation %d", code, r.generation())
	}
	// A listener change needs a restart.
	writeFile(t, file, strings.Replace(addRoute, `admin: {listen: "127.0.0.1:0"}`, `admin: {listen: "127.0.0.1:0", watch: 1s}`, 1))
	hup()
	r.wait(`msg="meshgate: configuration not applied; the generation in force keeps serving"`, "admin.watch changed: restart required")
}
