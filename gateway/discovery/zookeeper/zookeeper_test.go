package zookeeper_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
	"github.com/meshgate/meshgate/gateway/discovery/zookeeper"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/internal/testregistry"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

type setup struct {
	hub *discovery.Hub
	mgr *discovery.Manager
	rec *testregistry.Recorder
	reg *zookeeper.Registry
}

func subscribe(t *testing.T, addr string, session time.Duration, gate *discovery.Gate, nodeData string) *setup {
	t.Helper()
	hub, err := discovery.NewHub([]config.Registry{{Name: "zk", Type: "zookeeper", Address: addr, SessionTimeout: session,
		Timeout: time.Second, LocalIP: "10.9.0.1", NodeData: nodeData}}, gateway.NewSwitches(), testLog)
	if err != nil {
		t.Fatal(err)
	}
	s := &setup{hub: hub, mgr: hub.NewManager(), rec: testregistry.NewRecorder(15 * time.Second), reg: hub.Registry("zk").(*zookeeper.Registry)}
	t.Cleanup(func() {
		s.mgr.Close()
		if err := hub.Close(); err != nil {
			t.Errorf("hub close: %v", err)
		}
	})
	if err := s.mgr.Subscribe(discovery.Subscription{Cluster: "users", Registry: "zk", Service: "com.example.Users", Group: "yf",
		Target: s.rec, Gate: gate}); err != nil {
		t.Fatal(err)
	}
	return s
}

const svc = "/motan/yf/com.example.Users/server/"

func TestSubscribeMotanLayout(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	z := testregistry.DialZooKeeper(t, srv.Addr, 2*time.Second)
	// Entries as motan-go (text), Java Motan (serialized) and old agents
	// (no data) write them.
	z.Put(svc+"10.0.0.1:8002", []byte("motan2://10.0.0.1:8002/com.example.Users?group=yf&nodeType=service&weight=30&dc=yf"))
	z.Put(svc+"10.0.0.2:8002", discovery.EncodeJavaString("motan2://10.0.0.2:8002/com.example.Users?group=yf&nodeType=service"))
	z.Put(svc+"10.0.0.3:8002", nil)
	s := subscribe(t, srv.Addr, 2*time.Second, nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if w := s.mgr.WaitReady(ctx); len(w) > 0 {
		t.Fatalf("not ready: %v", w)
	}
	set, _ := s.rec.WaitFor(t, "yf/10.0.0.1:8002,yf/10.0.0.2:8002,yf/10.0.0.3:8002")
	if ep := set.Endpoints[0]; ep.Weight != 30 || ep.DC != "yf" || ep.Labels["nodeType"] != "service" {
		t.Errorf("first endpoint %+v", ep)
	}

	// A malformed entry is skipped, and one of another protocol is left
	// out by the (Motan2) cluster's subscription; the good one added with
	// them arrives.
	z.Put(svc+"garbage", []byte("not a url"))
	z.Put(svc+"10.0.0.9:80", []byte("http://10.0.0.9:80/com.example.Users?group=yf"))
	z.Put(svc+"10.0.0.4:8002", []byte("motan2://10.0.0.4:8002/com.example.Users?group=yf"))
	s.rec.WaitFor(t, "yf/10.0.0.1:8002,yf/10.0.0.2:8002,yf/10.0.0.3:8002,yf/10.0.0.4:8002")

	// A removal reaches the cluster within a second.
	removed := time.Now()
	z.Delete(svc + "10.0.0.1:8002")
	_, at := s.rec.WaitFor(t, "yf/10.0.0.2:8002,yf/10.0.0.3:8002,yf/10.0.0.4:8002")
	if d := at.Sub(removed); d > time.Second {
		t.Errorf("removal took %v to reach the cluster; want under 1s", d)
	}

	// Every entry gone at once: the last known endpoints stay.
	before := s.mgr.States()[0].Deliveries
	var ops []any
	for _, n := range []string{"10.0.0.2:8002", "10.0.0.3:8002", "10.0.0.4:8002", "garbage", "10.0.0.9:80"} {
		ops = append(ops, &zk.DeleteRequest{Path: svc + n, Version: -1})
	}
	events := s.mgr.Events()
	if _, err := z.Conn.Multi(ops...); err != nil {
		t.Fatal(err)
	}
	for s.mgr.States()[0].Deliveries == before {
		select {
		case <-events:
			events = s.mgr.Events()
		case <-ctx.Done():
			t.Fatal("the empty list was not delivered")
		}
	}
	if s.rec.SawEmpty() || s.mgr.States()[0].Endpoints != 3 {
		t.Fatalf("an empty registry read wiped the cluster: %+v", s.mgr.States()[0])
	}
}

func TestRegistryRestart(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	z := testregistry.DialZooKeeper(t, srv.Addr, 2*time.Second)
	z.Put(svc+"10.0.0.1:8002", []byte("motan2://10.0.0.1:8002/com.example.Users?group=yf"))
	s := subscribe(t, srv.Addr, 2*time.Second, nil, "")
	s.rec.WaitFor(t, "yf/10.0.0.1:8002")
	e := export(t, s.hub, "127.0.0.1:9982")
	z.WaitNode("/motan/yf/com.example.Users/server/127.0.0.1:9982", true)
	s.rec.WaitFor(t, "yf/10.0.0.1:8002,yf/127.0.0.1:9982")

	srv.Stop()
	// While ZooKeeper is down, the cluster keeps what it knew.
	if s.rec.SawEmpty() || s.mgr.States()[0].Endpoints != 2 {
		t.Fatalf("registry down: %+v", s.mgr.States()[0])
	}
	srv.Start()
	z2 := testregistry.DialZooKeeper(t, srv.Addr, 2*time.Second)
	z2.Put(svc+"10.0.0.5:8002", []byte("motan2://10.0.0.5:8002/com.example.Users?group=yf"))
	s.rec.WaitFor(t, "yf/10.0.0.1:8002,yf/10.0.0.5:8002,yf/127.0.0.1:9982")
	z2.WaitNode("/motan/yf/com.example.Users/server/127.0.0.1:9982", true)
	if st := s.hub.Exports(); len(st) != 1 || st[0].State != "available" || st[0].URL != e.URL.String() {
		t.Fatalf("Exports = %+v", st)
	}
}

func export(t *testing.T, hub *discovery.Hub, addr string) discovery.Export {
	t.Helper()
	e, err := hub.NewExport(config.Export{Registry: "zk", Service: "com.example.Users", Group: "yf", Weight: 7, DC: "yf", Application: "app"}, addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Export("zk", e); err != nil {
		t.Fatal(err)
	}
	if err := hub.SetAvailable(true); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRegistration(t *testing.T) {
	for _, nodeData := range []string{"text", "java"} {
		t.Run(nodeData, func(t *testing.T) {
			srv := testregistry.ZooKeeper(t)
			z := testregistry.DialZooKeeper(t, srv.Addr, 2*time.Second)
			hub, err := discovery.NewHub([]config.Registry{{Name: "zk", Type: "zookeeper", Address: srv.Addr, SessionTimeout: 2 * time.Second,
				Timeout: 2 * time.Second, NodeData: nodeData}}, nil, testLog)
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Close()
			e, err := hub.NewExport(config.Export{Registry: "zk", Service: "com.example.Users", Group: "yf", Weight: 7, DC: "tc",
				Params: map[string]string{"serialization": "breeze"}}, "127.0.0.1:9982")
			if err != nil {
				t.Fatal(err)
			}
			if err := hub.Export("zk", e); err != nil {
				t.Fatal(err)
			}
			const base = "/motan/yf/com.example.Users/"
			data := z.WaitNode(base+"unavailableServer/127.0.0.1:9982", true)
			if nodeData == "java" && (len(data) < 2 || data[0] != 0xac || data[1] != 0xed) {
				t.Fatalf("java node data: % x", data[:min(8, len(data))])
			}
			text, _ := discovery.DecodeNodeData(data)
			if want := "motan2://127.0.0.1:9982/com.example.Users?group=yf&dc=tc&nodeType=service&serialization=breeze&weight=7"; text != want {
				t.Fatalf("entry %q, want %q", text, want)
			}
			if ok, _, _ := z.Conn.Exists(base + "server/127.0.0.1:9982"); ok {
				t.Fatal("registered entry is available before SetAvailable")
			}
			if err := hub.SetAvailable(true); err != nil {
				t.Fatal(err)
			}
			z.WaitNode(base+"server/127.0.0.1:9982", true)
			z.WaitNode(base+"unavailableServer/127.0.0.1:9982", false)
			if err := hub.SetAvailable(false); err != nil {
				t.Fatal(err)
			}
			z.WaitNode(base+"unavailableServer/127.0.0.1:9982", true)
			if err := hub.Close(); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"server", "unavailableServer"} {
				if ok, _, _ := z.Conn.Exists(base + p + "/127.0.0.1:9982"); ok {
					t.Errorf("%s entry left after Close", p)
				}
			}
			if st := hub.Exports(); len(st) != 1 || st[0].State != "removed" {
				t.Errorf("Exports = %+v", st)
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	proxy := testregistry.NewProxy(t, srv.Addr)
	z := testregistry.DialZooKeeper(t, srv.Addr, 2*time.Second)
	z.Put(svc+"10.0.0.1:8002", []byte("motan2://10.0.0.1:8002/com.example.Users?group=yf"))
	s := subscribe(t, proxy.Addr, time.Second, nil, "")
	s.rec.WaitFor(t, "yf/10.0.0.1:8002")
	export(t, s.hub, "127.0.0.1:9982")
	const entry = "/motan/yf/com.example.Users/server/127.0.0.1:9982"
	z.WaitNode(entry, true)
	first := s.reg.Conn().SessionID()

	// Cut meshgate off: ZooKeeper expires its session and removes its
	// entry. A node added meanwhile is not seen yet.
	proxy.Block()
	z.WaitNode(entry, false)
	z.Put(svc+"10.0.0.2:8002", []byte("motan2://10.0.0.2:8002/com.example.Users?group=yf"))

	// Back: a new session, the entry registered again, the watch set
	// again.
	proxy.Unblock()
	z.WaitNode(entry, true)
	s.rec.WaitFor(t, "yf/10.0.0.1:8002,yf/10.0.0.2:8002,yf/127.0.0.1:9982")
	if s.reg.Conn().SessionID() == first {
		t.Fatal("session id unchanged: the session did not expire")
	}
	if s.rec.SawEmpty() {
		t.Fatal("the session loss wiped the cluster")
	}
}

func TestCommands(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	z := testregistry.DialZooKeeper(t, srv.Addr, 2*time.Second)
	z.Put(svc+"10.0.0.1:8002", []byte("motan2://10.0.0.1:8002/com.example.Users?group=yf"))
	z.Put("/motan/tc/com.example.Users/server/10.0.1.1:8002", []byte("motan2://10.0.1.1:8002/com.example.Users?group=tc"))
	gate := discovery.NewGate("users", nil)
	s := subscribe(t, srv.Addr, 2*time.Second, gate, "")
	s.rec.WaitFor(t, "yf/10.0.0.1:8002")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// apply writes a command and waits until the subscription took it
	// (text in force) or rejected it.
	apply := func(data []byte, rejected bool) {
		t.Helper()
		text, _ := discovery.DecodeNodeData(data)
		events := s.mgr.Events()
		z.Put("/motan/yf/command", data)
		for {
			for _, c := range s.mgr.States()[0].Commands {
				if c.Source == "group yf" && (rejected && c.Rejected != "" || !rejected && c.Rejected == "" && c.Text == text) {
					return
				}
			}
			select {
			case <-events:
				events = s.mgr.Events()
			case <-ctx.Done():
				t.Fatalf("command %q not processed", text)
			}
		}
	}
	// A traffic switch, Java-serialized as Java Motan's tools write it.
	apply(discovery.EncodeJavaString(`{"clientCommandList":[{"index":1,"version":"1.0","commandType":0,"dc":"yf","pattern":"*","mergeGroups":["yf:25","tc:75"],"routeRules":[],"remark":"tc takes 75%"}]}`), false)
	set, _ := s.rec.WaitFor(t, "yf/10.0.0.1:8002,tc/10.0.1.1:8002")
	if set.GroupWeights["yf"] != 25 || set.GroupWeights["tc"] != 75 {
		t.Fatalf("group weights %v", set.GroupWeights)
	}
	// A tc node added later joins the merged set.
	z.Put("/motan/tc/com.example.Users/server/10.0.1.2:8002", []byte("motan2://10.0.1.2:8002/com.example.Users?group=tc"))
	s.rec.WaitFor(t, "yf/10.0.0.1:8002,tc/10.0.1.1:8002,tc/10.0.1.2:8002")

	// Degrade.
	apply([]byte(`{"clientCommandList":[{"index":1,"commandType":1,"pattern":"com.example.Users","remark":"maintenance"}]}`), false)
	if !strings.Contains(gate.Degraded(), "maintenance") {
		t.Fatalf("degrade not applied: %q", gate.Degraded())
	}
	s.rec.WaitFor(t, "yf/10.0.0.1:8002")

	// A malformed command is logged and skipped: the degrade stays.
	apply([]byte(`{"clientCommandList":[{"commandType":0,"pattern":"*","mergeGroups":["tc:x"]}]}`), true)
	st := s.mgr.States()[0]
	if gate.Degraded() == "" || !strings.Contains(st.Commands[0].Rejected, `weight "x"`) {
		t.Fatalf("after a malformed command: degraded %q, state %+v", gate.Degraded(), st.Commands)
	}
	// Clearing the command (an empty node) ends the degrade.
	apply(nil, false)
	if gate.Degraded() != "" {
		t.Fatalf("still degraded: %q", gate.Degraded())
	}
}

// An agent command (/motan/agent/APPLICATION/command) takes precedence
// over the group's command, as in motan-go.
func TestAgentCommand(t *testing.T) {
	srv := testregistry.ZooKeeper(t)
	z := testregistry.DialZooKeeper(t, srv.Addr, 2*time.Second)
	z.Put(svc+"10.0.0.1:8002", []byte("motan2://10.0.0.1:8002/com.example.Users?group=yf"))
	z.Put("/motan/tc/com.example.Users/server/10.0.1.1:8002", []byte("motan2://10.0.1.1:8002/com.example.Users?group=tc"))
	z.Put("/motan/yf/command", []byte(`{"clientCommandList":[{"index":1,"commandType":0,"pattern":"*","mergeGroups":["yf"]}]}`))
	hub, err := discovery.NewHub([]config.Registry{{Name: "zk", Type: "zookeeper", Address: srv.Addr, SessionTimeout: 2 * time.Second,
		Timeout: time.Second, Application: "my-agent"}}, nil, testLog)
	if err != nil {
		t.Fatal(err)
	}
	mgr := hub.NewManager()
	defer func() {
		mgr.Close()
		hub.Close()
	}()
	rec := testregistry.NewRecorder(15 * time.Second)
	if err := mgr.Subscribe(discovery.Subscription{Cluster: "users", Registry: "zk", Service: "com.example.Users", Group: "yf", Target: rec}); err != nil {
		t.Fatal(err)
	}
	rec.WaitFor(t, "yf/10.0.0.1:8002")
	reg := hub.Registry("zk").(*zookeeper.Registry)
	if err := reg.WriteCommand(discovery.CommandKey{Application: "my-agent"},
		`{"clientCommandList":[{"index":1,"commandType":0,"pattern":"com.example","mergeGroups":["tc"]}]}`); err != nil {
		t.Fatal(err)
	}
	z.WaitNode("/motan/agent/my-agent/command", true)
	rec.WaitFor(t, "tc/10.0.1.1:8002")
	// A malformed command is refused before it is written.
	if err := reg.WriteCommand(discovery.CommandKey{Group: "yf"}, "{"); err == nil {
		t.Fatal("WriteCommand accepted a malformed command")
	}
	// The agent command gone, the group's applies again.
	if err := reg.WriteCommand(discovery.CommandKey{Application: "my-agent"}, ""); err != nil {
		t.Fatal(err)
	}
	rec.WaitFor(t, "yf/10.0.0.1:8002")
}
