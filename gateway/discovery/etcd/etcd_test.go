package etcd_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
	"github.com/meshgate/meshgate/gateway/discovery/etcd"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/internal/testregistry"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// client is a plain etcd client, standing for operators' tools.
func client(t *testing.T, addr string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func put(t *testing.T, c *clientv3.Client, k, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, k, v); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, c *clientv3.Client, k string, prefix bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var opts []clientv3.OpOption
	if prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	if _, err := c.Delete(ctx, k, opts...); err != nil {
		t.Fatal(err)
	}
}

// waitKey waits until key exists (or not) and returns its value.
func waitKey(t *testing.T, c *clientv3.Client, key string, exists bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		resp, err := c.Get(ctx, key)
		if err != nil {
			t.Fatalf("waiting for %s: %v", key, err)
		}
		if (len(resp.Kvs) > 0) == exists {
			if exists {
				return string(resp.Kvs[0].Value)
			}
			return ""
		}
		wch := c.Watch(ctx, key, clientv3.WithRev(resp.Header.Revision+1))
		select {
		case <-wch:
		case <-ctx.Done():
			t.Fatalf("%s: exists should become %v, not within 20s", key, exists)
		}
	}
}

const dir = "/meshgate/services/yf/com.example.Users/"

func TestEtcd(t *testing.T) {
	srv := testregistry.Etcd(t)
	proxy := testregistry.NewProxy(t, srv.Addr)
	c := client(t, srv.Addr)
	put(t, c, dir+"10.0.0.1:8002", "motan2://10.0.0.1:8002/com.example.Users?group=yf&weight=5")
	put(t, c, "/meshgate/services/tc/com.example.Users/10.0.1.1:8002", "motan2://10.0.1.1:8002/com.example.Users?group=tc")

	hub, err := discovery.NewHub([]config.Registry{{Name: "etcd", Type: "etcd", Address: proxy.Addr, Prefix: "/meshgate",
		SessionTimeout: 2 * time.Second, Timeout: time.Second}}, nil, testLog)
	if err != nil {
		t.Fatal(err)
	}
	mgr := hub.NewManager()
	defer func() {
		mgr.Close()
		if err := hub.Close(); err != nil {
			t.Errorf("hub close: %v", err)
		}
	}()
	rec := testregistry.NewRecorder(20 * time.Second)
	gate := discovery.NewGate("users", nil)
	if err := mgr.Subscribe(discovery.Subscription{Cluster: "users", Registry: "etcd", Service: "com.example.Users", Group: "yf",
		Target: rec, Gate: gate}); err != nil {
		t.Fatal(err)
	}
	set, _ := rec.WaitFor(t, "yf/10.0.0.1:8002")
	if set.Endpoints[0].Weight != 5 {
		t.Errorf("weight %d", set.Endpoints[0].Weight)
	}

	t.Run("add and remove", func(t *testing.T) {
		put(t, c, dir+"bad", "garbage")
		put(t, c, dir+"10.0.0.2:8002", "motan2://10.0.0.2:8002/com.example.Users?group=yf")
		rec.WaitFor(t, "yf/10.0.0.1:8002,yf/10.0.0.2:8002")
		del(t, c, dir+"10.0.0.1:8002", false)
		rec.WaitFor(t, "yf/10.0.0.2:8002")
		del(t, c, dir+"bad", false)
	})

	t.Run("registration and lease loss", func(t *testing.T) {
		e, err := hub.NewExport(config.Export{Registry: "etcd", Service: "com.example.Users", Group: "yf", DC: "yf"}, "127.0.0.1:9982")
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.Export("etcd", e); err != nil {
			t.Fatal(err)
		}
		if v := waitKey(t, c, "/meshgate/unavailable/yf/com.example.Users/127.0.0.1:9982", true); v != e.URL.String() {
			t.Fatalf("entry %q", v)
		}
		if err := hub.SetAvailable(true); err != nil {
			t.Fatal(err)
		}
		waitKey(t, c, dir+"127.0.0.1:9982", true)
		waitKey(t, c, "/meshgate/unavailable/yf/com.example.Users/127.0.0.1:9982", false)
		rec.WaitFor(t, "yf/10.0.0.2:8002,yf/127.0.0.1:9982")

		// Cut off past the lease TTL: the entry expires; once back, it
		// is registered again on a new lease and the watch resumes.
		proxy.Block()
		waitKey(t, c, dir+"127.0.0.1:9982", false)
		put(t, c, dir+"10.0.0.3:8002", "motan2://10.0.0.3:8002/com.example.Users?group=yf")
		proxy.Unblock()
		waitKey(t, c, dir+"127.0.0.1:9982", true)
		rec.WaitFor(t, "yf/10.0.0.2:8002,yf/10.0.0.3:8002,yf/127.0.0.1:9982")
	})

	t.Run("registry restart", func(t *testing.T) {
		srv.Stop()
		if rec.SawEmpty() {
			t.Fatal("registry down wiped the cluster")
		}
		srv.Start()
		c2 := client(t, srv.Addr)
		put(t, c2, dir+"10.0.0.4:8002", "motan2://10.0.0.4:8002/com.example.Users?group=yf")
		rec.WaitFor(t, "yf/10.0.0.2:8002,yf/10.0.0.3:8002,yf/10.0.0.4:8002,yf/127.0.0.1:9982")
	})

	t.Run("commands", func(t *testing.T) {
		c2 := client(t, srv.Addr)
		put(t, c2, "/meshgate/commands/yf", `{"clientCommandList":[{"index":1,"commandType":0,"pattern":"*","mergeGroups":["tc:60","yf:40"]}]}`)
		set, _ := rec.WaitFor(t, "tc/10.0.1.1:8002,yf/10.0.0.2:8002,yf/10.0.0.3:8002,yf/10.0.0.4:8002,yf/127.0.0.1:9982")
		if set.GroupWeights["tc"] != 60 || set.GroupWeights["yf"] != 40 {
			t.Fatalf("weights %v", set.GroupWeights)
		}
		reg := hub.Registry("etcd").(*etcd.Registry)
		events := mgr.Events()
		if err := reg.WriteCommand(discovery.CommandKey{Group: "yf"}, `{"clientCommandList":[{"commandType":1,"pattern":"com.example","remark":"off"}]}`); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(20 * time.Second)
		for gate.Degraded() == "" {
			select {
			case <-events:
				events = mgr.Events()
			case <-deadline:
				t.Fatal("degrade not applied")
			}
		}
		rec.WaitFor(t, "yf/10.0.0.2:8002,yf/10.0.0.3:8002,yf/10.0.0.4:8002,yf/127.0.0.1:9982")
	})
}
