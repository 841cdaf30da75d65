// Package testproc runs real external server processes for tests (a
// Prometheus, a carbon-cache, a ZooKeeper, an etcd) the same way
// everywhere: output captured to a file, the process killed and waited
// for when the test ends, its output logged when the test failed. It also
// finds free loopback ports and polls external conditions with a bound.
// It is test support: only _test.go files (and internal/testregistry,
// itself test support) import it.
//
//	p := testproc.Start(t, "prometheus", prom, "--web.listen-address="+addr)
//	testproc.WaitFor(t, 30*time.Second, "prometheus on "+addr, func() bool {
//		p.FatalIfExited()
//		return dialable(addr)
//	})
package testproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// LogLimit bounds the output logged when a test failed: the last LogLimit
// bytes of each process's output.
const LogLimit = 64 << 10

// Proc is a started process. Its methods may be called from any
// goroutine.
type Proc struct {
	// Name names the process in messages ("prometheus").
	Name string

	tb     testing.TB
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{}
	err    error // Wait's result, set before exited closes

	stopOnce sync.Once
}

// Start starts the program path with args, as StartCmd does.
func Start(tb testing.TB, name, path string, args ...string) *Proc {
	tb.Helper()
	return StartCmd(tb, name, exec.Command(path, args...))
}

// StartCmd starts cmd, which must not have been started, with its
// standard output and error going to a file in tb.TempDir() (it sets
// cmd.Stdout and cmd.Stderr). On Linux the process gets a process group
// of its own, killed as a whole, and is killed if the test binary dies
// (cmd.SysProcAttr, when nil). A failure to start fails tb.
//
// When the test ends the process is stopped (Stop) and, if the test
// failed, the last LogLimit bytes of its output are logged as "NAME
// output:". Several Procs may run under one name (a server stopped and
// started again): each has its own output file.
func StartCmd(tb testing.TB, name string, cmd *exec.Cmd) *Proc {
	tb.Helper()
	return start(tb, name, cmd, true)
}

// Spawn starts cmd as StartCmd does but leaves stopping it to the caller,
// who must call Stop before the test ends. It serves a server that a test
// stops and starts again: a cleanup registered at its first start (say,
// before the clients that must disconnect from it close) stops whichever
// process runs then, where a cleanup registered by a restart would run
// first, before those clients close. The output is still logged when the
// test failed (the output so far, if the process still runs then).
func Spawn(tb testing.TB, name string, cmd *exec.Cmd) *Proc {
	tb.Helper()
	return start(tb, name, cmd, false)
}

func start(tb testing.TB, name string, cmd *exec.Cmd, stopAtCleanup bool) *Proc {
	tb.Helper()
	out, err := os.CreateTemp(tb.TempDir(), name+"-*.out")
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = sysProcAttr()
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		tb.Fatalf("%s: %v", name, err)
	}
	p := &Proc{Name: name, tb: tb, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	// Registered after tb.TempDir above, so it runs before the output file
	// is removed.
	tb.Cleanup(func() {
		if stopAtCleanup {
			p.Stop()
		}
		if tb.Failed() {
			tb.Logf("%s output:\n%s", name, p.Tail(LogLimit))
		}
	})
	return p
}

// Exited is closed when the process has exited (by itself or by Stop).
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err returns how the process exited (exec.Cmd.Wait's error); nil while
// it runs.
func (p *Proc) Err() error {
	select {
	case <-p.exited:
		return p.err
	default:
		return nil
	}
}

// FatalIfExited fails the test with "NAME exited: ERR" when the process
// has exited, so that a WaitFor on a server that died stops at once
// instead of at its timeout. It must be called from the test's goroutine.
func (p *Proc) FatalIfExited() {
	select {
	case <-p.exited:
		p.tb.Helper()
		p.tb.Fatalf("%s exited: %v", p.Name, p.err)
	default:
	}
}

// Stop kills the process (its process group on Linux), waits for it to
// exit and closes its output file. It is idempotent; the output stays
// readable with Tail.
func (p *Proc) Stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
		default:
			kill(p.cmd.Process)
			<-p.exited
		}
		p.out.Close()
	})
}

// Tail returns the last n bytes of the process's output so far.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.out.Name())
	if err != nil {
		return fmt.Sprintf("(output of %s unreadable: %v)", p.Name, err)
	}
	if len(b) > n {
		return fmt.Sprintf("(%d bytes before)\n%s", len(b)-n, b[len(b)-n:])
	}
	return string(b)
}

// FreePort returns a TCP port free on 127.0.0.1 a moment ago, for a
// process that opens its own listener. Another process may take it
// meanwhile: tests starting servers on it fail rather than hang.
func FreePort(tb testing.TB) int {
	tb.Helper()
	return freeTCPAddr(tb).Port
}

// FreeAddr returns "127.0.0.1:PORT" for a port as FreePort.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return freeTCPAddr(tb).String()
}

func freeTCPAddr(tb testing.TB) *net.TCPAddr {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr)
}

// WaitFor polls cond, with a delay growing from 10ms to 200ms, until it
// holds, and fails tb with "timed out after TIMEOUT waiting for WHAT" when
// timeout passes first. It must be called from the test's goroutine.
//
// It is for conditions outside the test process (a server starting to
// listen, a file another process writes, a scrape that happens on its own
// schedule), which give nothing to wait on. It is never for synchronising
// goroutines of the test process: wait on a channel or a condition
// variable for those.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(delay) // polling an external process, not synchronising goroutines
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// WriteFile writes a file a process reads (a configuration), failing tb
// on error.
func WriteFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
