package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
)

// The /commands endpoints over a gateway without registries, and over
// one that serves no registry commands at all (the Commander interface
// hidden): the state is empty, bodies are checked, and a gateway without
// commands answers 501. The endpoints over a registry are tested with the
// assembly (TestCommandsAdminAPI).
func TestCommandsEndpoints(t *testing.T) {
	cfg, err := config.Parse("gw.yaml", []byte(gatewayYAML))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := assembly.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	}()
	withCommands := httptest.NewServer(admin.New(admin.Options{Gateway: gw, Logger: quiet}))
	defer withCommands.Close()
	// Embedding only admin.Gateway hides the gateway's Commander methods.
	without := httptest.NewServer(admin.New(admin.Options{Gateway: struct{ admin.Gateway }{gw}, Logger: quiet}))
	defer without.Close()

	tests := []struct {
		name, base, method, path, body string
		status                         int
		want                           string
	}{
		{"state without registries", withCommands.URL, "GET", "/commands", "", 200, `"clusters": []`},
		{"no body", withCommands.URL, "PUT", "/commands/demo", "", 400, "missing JSON body"},
		{"unknown field", withCommands.URL, "PUT", "/commands/demo", `{"cmd": "{}"}`, 400, `unknown field \"cmd\"`},
		{"array", withCommands.URL, "POST", "/commands/demo/dryrun", `{"command": []}`, 400, "as an object or a string"},
		{"set: cluster without registry", withCommands.URL, "PUT", "/commands/demo", `{"command": null}`, 404, "from a registry"},
		{"dry run: cluster without registry", withCommands.URL, "POST", "/commands/demo/dryrun", `{"command": null}`, 404, "from a registry"},
		{"no commander: state", without.URL, "GET", "/commands", "", 501, "no registry commands"},
		{"no commander: set", without.URL, "PUT", "/commands/demo", `{"command": null}`, 501, "no registry commands"},
		{"no commander: dry run", without.URL, "POST", "/commands/demo/dryrun", `{"command": null}`, 501, "no registry commands"},
	}
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("%s %s: %d %s; want %d and %q", tt.method, tt.path, resp.StatusCode, b, tt.status, tt.want)
			}
		})
	}
}
