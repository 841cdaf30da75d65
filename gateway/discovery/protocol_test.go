package discovery_test

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
	"github.com/meshgate/meshgate/gateway/discovery/static"
	"github.com/meshgate/meshgate/internal/testregistry"
)

func TestAcceptsProtocol(t *testing.T) {
	tests := []struct {
		cluster, entry string
		want           bool
	}{
		{"motan2", "motan2", true},
		{"motan2", "motan", true},
		{"", "motan2", true}, // a cluster's default protocol is motan2
		{"", "motan", true},
		{"motan2", "grpc", false},
		{"", "grpc", false},
		{"motan2", "http", false},
		{"grpc", "grpc", true},
		{"grpc", "motan2", false},
		{"grpc", "motan", false},
		{"grpc", "GRPC", false}, // protocols are compared as written
		{"grpc", "http", false},
		{"motan2", "", true}, // no protocol: a static registry's node
		{"grpc", "", true},
		{"http", "http", false}, // not a protocol discovery serves
	}
	for _, tt := range tests {
		if got := discovery.AcceptsProtocol(tt.cluster, tt.entry); got != tt.want {
			t.Errorf("AcceptsProtocol(%q, %q) = %v, want %v", tt.cluster, tt.entry, got, tt.want)
		}
	}
}

func TestFilterProtocol(t *testing.T) {
	ep := func(addr, proto string) gateway.Endpoint { return gateway.Endpoint{Addr: addr, Protocol: proto} }
	addrs := func(eps []gateway.Endpoint) string {
		var out []string
		for _, e := range eps {
			out = append(out, e.Addr)
		}
		return strings.Join(out, ",")
	}
	mixed := []gateway.Endpoint{ep("a", "motan2"), ep("b", "grpc"), ep("c", "motan"), ep("d", ""), ep("e", "http")}
	tests := []struct {
		name, cluster string
		in            []gateway.Endpoint
		kept, skipped string
	}{
		{"motan2 of mixed", "motan2", mixed, "a,c,d", "b,e"},
		{"grpc of mixed", "grpc", mixed, "b,d", "a,c,e"},
		{"default of mixed", "", mixed, "a,c,d", "b,e"},
		{"grpc of motan2 only", "grpc", []gateway.Endpoint{ep("a", "motan2")}, "", "a"},
		{"nothing", "grpc", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]gateway.Endpoint(nil), tt.in...)
			kept, skipped := discovery.FilterProtocol(tt.cluster, tt.in)
			if addrs(kept) != tt.kept || addrs(skipped) != tt.skipped {
				t.Errorf("kept %q skipped %q, want %q and %q", addrs(kept), addrs(skipped), tt.kept, tt.skipped)
			}
			if !reflect.DeepEqual(before, tt.in) {
				t.Error("FilterProtocol modified its input")
			}
		})
	}
	// All kept: the input itself, without allocating.
	all := []gateway.Endpoint{ep("a", "grpc"), ep("b", "grpc")}
	if n := testing.AllocsPerRun(100, func() { discovery.FilterProtocol("grpc", all) }); n != 0 {
		t.Errorf("FilterProtocol allocates %v times when it keeps everything", n)
	}
	if kept, _ := discovery.FilterProtocol("grpc", all); &kept[0] != &all[0] {
		t.Error("FilterProtocol copied a list it keeps whole")
	}
}

// registerEntry writes an available entry in the static registry.
func registerEntry(t *testing.T, reg *static.Registry, raw string) discovery.Export {
	t.Helper()
	u, err := discovery.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	e := discovery.Export{URL: u}
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAvailable(e, true); err != nil {
		t.Fatal(err)
	}
	return e
}

// Clusters subscribed to one service and group each get the entries of
// their protocol; an unknown cluster protocol is refused; a list left
// with no entry of the cluster's protocol keeps its last known endpoints.
func TestSubscriptionProtocol(t *testing.T) {
	hub, err := discovery.NewHub([]config.Registry{{Name: "local", Type: "static", Timeout: time.Second, LocalIP: "10.0.0.1",
		Nodes: []config.StaticNode{{Group: "yf", Service: "Svc", Addr: "10.1.0.1:1"}}}}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	reg := hub.Registry("local").(*static.Registry)
	registerEntry(t, reg, "motan2://10.3.0.1:1/Svc?group=yf")
	registerEntry(t, reg, "motan://10.3.0.2:1/Svc?group=yf")
	registerEntry(t, reg, "grpc://10.4.0.1:1/Svc?group=yf")
	registerEntry(t, reg, "http://10.5.0.1:1/Svc?group=yf")
	only := registerEntry(t, reg, "grpc://10.4.0.9:1/Only?group=yf")

	mgr := hub.NewManager()
	defer mgr.Close()
	if err := mgr.Subscribe(discovery.Subscription{Cluster: "h", Registry: "local", Service: "Svc", Group: "yf", Protocol: "http",
		Target: testregistry.NewRecorder(time.Second)}); err == nil || !strings.Contains(err.Error(), `cluster h: discovery serves motan2 and grpc clusters, not "http"`) {
		t.Fatalf("subscription of an http cluster: %v", err)
	}
	tests := []struct {
		cluster, protocol, service, want string
	}{
		{"m", "motan2", "Svc", "yf/10.1.0.1:1,yf/10.3.0.1:1,yf/10.3.0.2:1"},
		{"d", "", "Svc", "yf/10.1.0.1:1,yf/10.3.0.1:1,yf/10.3.0.2:1"},
		{"g", "grpc", "Svc", "yf/10.1.0.1:1,yf/10.4.0.1:1"},
		{"only", "grpc", "Only", "yf/10.4.0.9:1"},
	}
	recs := map[string]*testregistry.Recorder{}
	for _, tt := range tests {
		recs[tt.cluster] = testregistry.NewRecorder(5 * time.Second)
		if err := mgr.Subscribe(discovery.Subscription{Cluster: tt.cluster, Registry: "local", Service: tt.service, Group: "yf",
			Protocol: tt.protocol, Target: recs[tt.cluster]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		recs[tt.cluster].WaitFor(t, tt.want)
	}

	// Only's grpc entry leaves and a motan2 one arrives: to the gRPC
	// cluster the list is empty, and its endpoint stays.
	deliveries := func() uint64 {
		for _, st := range mgr.States() {
			if st.Cluster == "only" {
				return st.Deliveries
			}
		}
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// change makes a registry change and waits until the subscription
	// processed the delivery it causes.
	change := func(what string, do func()) {
		t.Helper()
		before := deliveries()
		do()
		for {
			events := mgr.Events()
			if deliveries() > before {
				return
			}
			select {
			case <-events:
			case <-ctx.Done():
				t.Fatalf("%s: not delivered", what)
			}
		}
	}
	change("a motan2 entry added", func() { registerEntry(t, reg, "motan2://10.3.0.9:1/Only?group=yf") })
	change("the grpc entry gone", func() {
		if err := reg.SetAvailable(only, false); err != nil {
			t.Fatal(err)
		}
	})
	if set, _, n := recs["only"].Last(); testregistry.Addrs(set) != "yf/10.4.0.9:1" || n != 1 || recs["only"].SawEmpty() {
		t.Fatalf("gRPC cluster after its last grpc entry left: %s (%d updates)", testregistry.Addrs(set), n)
	}
}
