package interop

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	motan "github.com/weibocom/motan-go/core"
	"github.com/weibocom/motan-go/registry"

	"github.com/meshgate/meshgate/internal/testregistry"
)

// motan-go's ZkRegistry races on its own availability flag (its session
// goroutine writes it while Initialize does, unsynchronised), which the
// race detector, on for the interop tests, would report against any test
// using it. So motan-go's registry runs in a child process, this test
// binary run again with zkHelperEnv set: an agent helper that either
// registers a service as a motan-go server agent does (and keeps its
// session until killed) or discovers a service as a motan-go client does
// (and prints the URLs found). GORACE makes the child's exit status
// ignore motan-go's races; everything meshgate does stays under the race
// detector in this process.
const zkHelperEnv = "MESHGATE_INTEROP_ZK_HELPER"

func init() {
	mode := os.Getenv(zkHelperEnv)
	if mode == "" {
		return
	}
	initMotanGoLogging()
	zkAddr, arg := os.Getenv("ZK_ADDR"), os.Getenv("ZK_ARG")
	host, portStr, _ := net.SplitHostPort(zkAddr)
	port, _ := strconv.Atoi(portStr)
	r := &registry.ZkRegistry{}
	r.SetURL(&motan.URL{Protocol: "zookeeper", Host: host, Port: port,
		Parameters: map[string]string{motan.SessionTimeOutKey: "10"}})
	r.Initialize()
	switch mode {
	case "register":
		u := motan.FromExtInfo(arg)
		r.Register(u)
		r.Available(u)
		fmt.Println("registered")
		io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or kills us
		os.Exit(0)
	case "discover":
		refer := motan.FromExtInfo(arg)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if urls := r.Discover(refer); len(urls) > 0 {
				for _, u := range urls {
					fmt.Println(u.ToExtInfo())
				}
				os.Exit(0)
			}
			time.Sleep(50 * time.Millisecond) // motan-go's Discover offers no wait
		}
		fmt.Fprintln(os.Stderr, "nothing discovered within 20s")
		os.Exit(3)
	}
	os.Exit(2)
}

// motanGoAgent runs the helper in a child process; its stdout lines come
// back on the returned channel, and it is killed at the end of the test.
func motanGoAgent(t *testing.T, mode, zkAddr, arg string) <-chan string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = t.TempDir() // motan-go's registry writes a snapshot directory where it runs
	cmd.Env = append(os.Environ(), zkHelperEnv+"="+mode, "ZK_ADDR="+zkAddr, "ZK_ARG="+arg,
		"GORACE=halt_on_error=0 exitcode=0 log_path="+filepath.Join(t.TempDir(), "motan-go-race"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-done
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("motan-go helper stderr:\n%s", stderr.String())
		}
	})
	return lines
}

// nextLine waits (bounded) for the helper's next output line.
func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the motan-go helper exited without answering")
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("the motan-go helper did not answer within 30s")
	}
	return ""
}

// TestMeshgateDiscoversMotanGoServer: a motan-go v1.2.0 server registered
// in ZooKeeper by motan-go's own registry (unavailableServer, then
// server, as its agent does) is discovered and called by meshgate.
func TestMeshgateDiscoversMotanGoServer(t *testing.T) {
	checkNoLeaks(t)
	zk := testregistry.ZooKeeper(t)
	srv := startMotanGoServer(t)
	host, portStr, _ := net.SplitHostPort(srv.Addr)
	port, _ := strconv.Atoi(portStr)
	serviceURL := &motan.URL{Protocol: "motan2", Host: host, Port: port, Path: echoService, Group: "interop-yf",
		Parameters: map[string]string{"nodeType": "service", "serialization": "simple", "weight": "10"}}
	if l := nextLine(t, motanGoAgent(t, "register", zk.Addr, serviceURL.ToExtInfo())); l != "registered" {
		t.Fatalf("helper said %q", l)
	}

	gw := startGateway(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
motan2: {listen: "127.0.0.1:0"}
registries:
  - {name: zk, type: zookeeper, address: %q, timeout: 10s}
clusters:
  - {name: motan-go, discovery: {registry: zk, service: %s, group: interop-yf}}
motan2_routes:
  - {service: %s, target: {cluster: motan-go, timeout: 5s}}
`, zk.Addr, echoService, echoService))
	ep := newMotanGoEndpoint(t, gw.Motan2Addr().String(), nil)
	for _, v := range []interface{}{"héllo", int64(1) << 40, map[string]string{"k": "v"}} {
		resp := motanGoCall(ep, echoService, "echo", v)
		if resp.GetException() != nil {
			t.Fatalf("echo %#v through the discovered motan-go server: %+v", v, resp.GetException())
		}
		if got := resp.GetValue(); fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", v) {
			t.Fatalf("echo %#v came back as %#v", v, got)
		}
	}
	found := false
	for _, cl := range gw.Clusters().Clusters {
		for _, e := range cl.Endpoints {
			found = found || e.Address == srv.Addr
		}
	}
	if !found {
		t.Fatalf("cluster endpoints do not list the motan-go server %s: %+v", srv.Addr, gw.Clusters().Clusters)
	}
}

// TestMotanGoClientDiscoversMeshgate: services meshgate's Motan2 ingress
// exports (as text, as motan-go writes, and Java-serialized, as Java
// Motan writes) are discovered by motan-go v1.2.0's registry and called
// by a motan-go client.
func TestMotanGoClientDiscoversMeshgate(t *testing.T) {
	for _, nodeData := range []string{"text", "java"} {
		t.Run(nodeData, func(t *testing.T) {
			checkNoLeaks(t)
			zk := testregistry.ZooKeeper(t)
			backend := startMotanGoServer(t)
			gw := startGateway(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
motan2:
  listen: "127.0.0.1:0"
  export:
    - {registry: zk, service: %s, group: interop-mesh, weight: 20, dc: yf, application: meshgate-interop}
registries:
  - {name: zk, type: zookeeper, address: %q, timeout: 10s, node_data: %s}
clusters:
  - {name: motan-go, endpoints: [%q]}
motan2_routes:
  - {service: %s, target: {cluster: motan-go, timeout: 5s}}
`, echoService, zk.Addr, nodeData, backend.Addr, echoService))
			refer := &motan.URL{Protocol: "motan2", Path: echoService, Group: "interop-mesh", Parameters: map[string]string{}}
			u := motan.FromExtInfo(nextLine(t, motanGoAgent(t, "discover", zk.Addr, refer.ToExtInfo())))
			if u == nil || u.GetAddressStr() != gw.Motan2Addr().String() || u.Protocol != "motan2" ||
				u.GetParam("weight", "") != "20" || u.GetParam("dc", "") != "yf" || u.GetParam("application", "") != "meshgate-interop" {
				t.Fatalf("motan-go discovered %v (meshgate at %s)", u, gw.Motan2Addr())
			}
			ep := newMotanGoEndpoint(t, u.GetAddressStr(), nil)
			resp := motanGoCall(ep, echoService, "echo", "from motan-go")
			if resp.GetException() != nil || resp.GetValue() != "from motan-go" {
				t.Fatalf("call through the discovered meshgate: %v %+v", resp.GetValue(), resp.GetException())
			}
			if !strings.HasPrefix(u.ToExtInfo(), "motan2://") {
				t.Fatalf("entry %s", u.ToExtInfo())
			}
		})
	}
}
