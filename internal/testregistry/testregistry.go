// Package testregistry starts real registries for tests: a ZooKeeper
// server (Debian's zookeeper package, run with java) and an etcd server
// (Debian's etcd-server), each on a free loopback port with its data in
// a test's temporary directory, a TCP proxy that can cut a client off a
// server, and a Recorder standing in for the clusters a registry feeds. It
// is test support: only _test.go files import it.
//
// A test whose machine lacks the server is skipped with the reason
// (CI installs both: .ci/run).
package testregistry

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
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/testproc"
)

// StartTimeout bounds a server's start.
var StartTimeout = 60 * time.Second

// Server is a registry server process.
type Server struct {
	t    testing.TB
	name string
	args []string
	// Addr is the client address, "127.0.0.1:PORT"; it stays the same
	// across Stop and Start.
	Addr string

	mu   sync.Mutex
	proc *testproc.Proc // nil while stopped
}

// zkClasspath returns the jars ZooKeeperServerMain needs, or "" when
// zookeeper is not installed.
func zkClasspath() string {
	var cp []string
	for _, jar := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-nop.jar",
		"netty-handler.jar", "netty-common.jar", "netty-buffer.jar", "netty-transport.jar", "netty-codec.jar",
		"netty-resolver.jar", "netty-transport-native-epoll.jar", "netty-transport-native-unix-common.jar", "metrics-core.jar", "snappy-java.jar", "commons-io.jar"} {
		p := filepath.Join("/usr/share/java", jar)
		if _, err := os.Stat(p); err == nil {
			cp = append(cp, p)
		} else if jar == "zookeeper.jar" || jar == "zookeeper-jute.jar" {
			return ""
		}
	}
	return strings.Join(cp, ":")
}

// ZooKeeper starts a standalone ZooKeeper server with a tick of 100ms
// (session timeouts negotiate between 200ms and 2s: 2 to 20 ticks) and
// registers its stop with t.Cleanup. It skips t when zookeeper or java is
// missing.
func ZooKeeper(t testing.TB) *Server {
	t.Helper()
	cp := zkClasspath()
	java, err := exec.LookPath("java")
	if cp == "" || err != nil {
		t.Skip("ZooKeeper not installed (apt-get install zookeeper): /usr/share/java/zookeeper.jar and java are needed")
	}
	port := testproc.FreePort(t)
	dir := t.TempDir()
	s := &Server{t: t, name: "zookeeper", Addr: "127.0.0.1:" + strconv.Itoa(port),
		args: []string{java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
			"-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=*",
			"-Dzookeeper.jmx.log4j.disable=true",
			"-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", strconv.Itoa(port), dir, "100"}}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Etcd starts a single-member etcd server and registers its stop with
// t.Cleanup. It skips t when etcd is missing.
func Etcd(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd not installed (apt-get install etcd-server)")
	}
	port, peer := testproc.FreePort(t), testproc.FreePort(t)
	dir := t.TempDir()
	client := "http://127.0.0.1:" + strconv.Itoa(port)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	s := &Server{t: t, name: "etcd", Addr: "127.0.0.1:" + strconv.Itoa(port),
		args: []string{bin, "--name", "test", "--data-dir", dir,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "test=" + peerURL, "--log-level", "error"}}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again, after Stop) and waits until it accepts
// connections on Addr. The process is testproc's: its output is logged
// when the test failed.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return
	}
	// Spawn: the cleanup ZooKeeper and Etcd registered stops the process,
	// also one started again, after the clients registered later close.
	p := testproc.Spawn(s.t, s.name, exec.Command(s.args[0], s.args[1:]...))
	serving := false
	defer func() { // a start that failed the test leaves nothing running
		if !serving {
			p.Stop()
		}
	}()
	testproc.WaitFor(s.t, StartTimeout, s.String()+" to serve", func() bool {
		if s.ready() {
			return true
		}
		select {
		case <-p.Exited():
			s.t.Fatalf("%s exited at start:\n%s", s.name, p.Tail(4000))
		default:
		}
		return false
	})
	serving = true
	s.proc = p
}

// ready reports whether the server answers: ZooKeeper's "ruok" (imok),
// etcd's /health.
func (s *Server) ready() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if s.name == "zookeeper" {
		io.WriteString(c, "ruok")
		b, _ := io.ReadAll(c)
		return string(b) == "imok"
	}
	io.WriteString(c, "GET /health HTTP/1.0\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.Contains(line, " 200 ")
}

// Stop kills the server and waits for it to exit (data stays for Start).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Stop()
	s.proc = nil
}

// Proxy forwards TCP connections from its own loopback address to a
// server, and can cut them: Block closes every connection and refuses new
// ones (they are accepted and closed at once) until Unblock.
type Proxy struct {
	// Addr is the proxy's address, for the client.
	Addr   string
	target string
	ln     net.Listener

	mu      sync.Mutex
	blocked bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// NewProxy starts a proxy to target and registers its close with
// t.Cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.blocked {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(c, up)
		go pipe(up, c)
	}
}

// Block cuts every connection and refuses new ones.
func (p *Proxy) Block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		c.Close()
	}
}

// Unblock lets connections through again.
func (p *Proxy) Unblock() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Block()
	p.wg.Wait()
}

// String names the server for messages.
func (s *Server) String() string { return fmt.Sprintf("%s at %s", s.name, s.Addr) }
