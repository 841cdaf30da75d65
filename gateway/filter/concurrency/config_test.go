package concurrency_test

import (
	"context"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	_ "github.com/meshgate/meshgate/gateway/filter/concurrency"
	"github.com/meshgate/meshgate/translate"
)

const configYAML = `
demo: {}
clusters:
  - {name: demo, endpoints: [demo]}
filters:
  default:
    - {name: concurrency, max: 200}
  clusters:
    demo:
      - name: concurrency
        max: 1
        per_method: 1
        queue: 4
        wait: 25ms
routes:
  - method: GET
    path: /a
    target: {cluster: demo, service: s, method: m}
`

// blocker holds calls until release is closed.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) Invoke(context.Context, *gateway.Call, *gateway.Reply) error {
	b.entered <- struct{}{}
	<-b.release
	return nil
}

func TestOptionsFromConfiguration(t *testing.T) {
	c, err := config.Parse("meshgate.yaml", []byte(configYAML))
	if err != nil {
		t.Fatal(err)
	}
	fc := &c.Filters.Clusters["demo"][0]
	f, err := gateway.NewFilter(gateway.FilterSpec{Name: fc.Name, Scope: "cluster demo", Cluster: "demo", Decode: fc.Decode})
	if err != nil {
		t.Fatal(err)
	}
	b := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
	inv := gateway.Chain(b, f)
	done := make(chan error)
	go func() {
		done <- inv.Invoke(context.Background(), &gateway.Call{Service: "s", Method: "m"}, &gateway.Reply{})
	}()
	<-b.entered
	// The second call queues, waits 25ms (wait: 25ms decoded as a
	// duration) and is rejected.
	err = inv.Invoke(context.Background(), &gateway.Call{Service: "s", Method: "m"}, &gateway.Reply{})
	if e := translate.FromError(err); e.Status() != 429 || e.Message != "1 calls in flight for s/m on cluster demo (limit 1)" {
		t.Fatalf("second call: %v", err)
	}
	close(b.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBadOptionsInConfiguration(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{"{name: concurrency, max: 1, queue: 3}", "meshgate.yaml:7: filters.default[0]: filter concurrency: queue 3 needs wait"},
		{"{name: concurrency, max: 1, queue: 3, wait: 1 second}", "filter concurrency: bad options:"},
		{"concurrency", "filter concurrency: set max"},
	} {
		src := `
demo: {}
clusters:
  - {name: demo, endpoints: [demo]}
filters:
  default:
    - ` + tc.entry + `
routes:
  - method: GET
    path: /a
    target: {cluster: demo, service: s, method: m}
`
		_, err := config.Parse("meshgate.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.entry, err, tc.want)
		}
	}
}
