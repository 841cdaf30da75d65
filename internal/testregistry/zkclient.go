package testregistry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZKClient is a plain ZooKeeper client, standing for motan-go, Java Motan
// and operators' tools in tests. Its methods fail the test on an error.
type ZKClient struct {
	t testing.TB
	// Conn is the connection, for what the methods do not cover.
	Conn *zk.Conn
}

type zkQuiet struct{}

func (zkQuiet) Printf(string, ...any) {}

// DialZooKeeper connects to the ZooKeeper server at addr with the given
// session timeout, waits (20s at most) for a session and registers the
// connection's close with t.Cleanup.
func DialZooKeeper(t testing.TB, addr string, session time.Duration) *ZKClient {
	t.Helper()
	conn, ev, err := zk.Connect([]string{addr}, session, zk.WithLogger(zkQuiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(20 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no ZooKeeper session at %s", addr)
		}
	}
	go func() { // ends when the connection closes
		for range ev {
		}
	}()
	return &ZKClient{t: t, Conn: conn}
}

// Put creates the persistent node path, and its missing parents, with
// data, or sets the data of an existing one.
func (z *ZKClient) Put(path string, data []byte) {
	z.t.Helper()
	parts := strings.Split(path, "/")
	for i := 2; i < len(parts); i++ {
		if _, err := z.Conn.Create(strings.Join(parts[:i], "/"), nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			z.t.Fatal(err)
		}
	}
	if _, err := z.Conn.Create(path, data, 0, zk.WorldACL(zk.PermAll)); errors.Is(err, zk.ErrNodeExists) {
		if _, err := z.Conn.Set(path, data, -1); err != nil {
			z.t.Fatal(err)
		}
	} else if err != nil {
		z.t.Fatal(err)
	}
}

// Delete deletes the node path, which must exist.
func (z *ZKClient) Delete(path string) {
	z.t.Helper()
	if err := z.Conn.Delete(path, -1); err != nil {
		z.t.Fatalf("delete %s: %v", path, err)
	}
}

// Exists reports whether the node path exists.
func (z *ZKClient) Exists(path string) bool {
	z.t.Helper()
	ok, _, err := z.Conn.Exists(path)
	if err != nil {
		z.t.Fatalf("exists %s: %v", path, err)
	}
	return ok
}

// WaitNode waits (15s at most) until path exists, and returns its data,
// or, with exists false, until it does not, and returns nil.
func (z *ZKClient) WaitNode(path string, exists bool) []byte {
	z.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		ok, _, ev, err := z.Conn.ExistsW(path)
		if err != nil {
			z.t.Fatal(err)
		}
		if ok == exists {
			if !ok {
				return nil
			}
			data, _, err := z.Conn.Get(path)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				z.t.Fatal(err)
			}
			return data
		}
		select {
		case <-ev:
		case <-deadline:
			z.t.Fatalf("%s: exists should become %v, not within 15s", path, exists)
		}
	}
}
