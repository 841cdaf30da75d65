package discovery_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
)

// The management API reads the exports' states (Exports) while a
// shutdown closes the Hub: the states Close writes are read under the
// same lock (the race detector fails this test otherwise).
func TestHubCloseWhileExportsRead(t *testing.T) {
	hub, err := discovery.NewHub([]config.Registry{{Name: "local", Type: "static", Timeout: time.Second, LocalIP: "10.0.0.1"}},
		nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"} {
		e, err := hub.NewExport(config.Export{Registry: "local", Service: "Svc", Group: "yf"}, addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.Export("local", e); err != nil {
			t.Fatal(err)
		}
	}
	if err := hub.SetAvailable(true); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg, reading sync.WaitGroup
	for range 2 {
		wg.Add(1)
		reading.Add(1)
		go func() {
			defer wg.Done()
			hub.Exports()
			reading.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				hub.Exports()
			}
		}()
	}
	reading.Wait() // the readers run while Close does
	closeErr := hub.Close()
	close(stop)
	wg.Wait()
	if closeErr != nil {
		t.Fatal(closeErr)
	}
	for _, st := range hub.Exports() {
		if st.State != "removed" {
			t.Errorf("after Close, export %s is %s, want removed", st.URL, st.State)
		}
	}
}
