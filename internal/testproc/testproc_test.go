package testproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/leakcheck"
)

// helperEnv makes the test binary act as the external process of the
// tests: "exit" writes to stdout and stderr and exits 3; "idle" writes
// "ready" and waits to be killed.
const helperEnv = "TESTPROC_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "exit":
		fmt.Fprintln(os.Stdout, "to stdout")
		fmt.Fprintln(os.Stderr, "to stderr")
		os.Exit(3)
	case "idle":
		fmt.Fprintln(os.Stdout, "ready")
		time.Sleep(time.Hour) // a process doing nothing until killed
		os.Exit(0)
	}
	leakcheck.Main(m)
}

func helper(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// fakeTB records what the code under test does with its testing.TB:
// cleanups run by runCleanups, Fatalf ends the goroutine like the real
// one, Failed is what the test sets.
type fakeTB struct {
	*testing.T
	mu       sync.Mutex
	failed   bool
	fatal    string
	logs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fakeTB) Failed() bool      { f.mu.Lock(); defer f.mu.Unlock(); return f.failed }
func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed, f.fatal = true, fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// run runs fn as a test body would (Fatalf ends it) and waits for it.
func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func TestProcExitsAndLogsOnFailure(t *testing.T) {
	for _, failed := range []bool{false, true} {
		t.Run(fmt.Sprint("failed=", failed), func(t *testing.T) {
			f := &fakeTB{T: t}
			p := StartCmd(f, "helper", helper("exit"))
			select {
			case <-p.Exited():
			case <-time.After(30 * time.Second):
				t.Fatal("helper did not exit in 30s")
			}
			if err := p.Err(); err == nil || err.Error() != "exit status 3" {
				t.Errorf("Err() = %v, want exit status 3", err)
			}
			if out := p.Tail(LogLimit); !strings.Contains(out, "to stdout\n") || !strings.Contains(out, "to stderr\n") {
				t.Errorf("output %q lacks stdout or stderr", out)
			}
			if got := p.Tail(4); got != "(16 bytes before)\nerr\n" {
				t.Errorf("Tail(4) = %q", got)
			}
			f.run(p.FatalIfExited)
			if want := "helper exited: exit status 3"; f.fatal != want {
				t.Errorf("FatalIfExited: %q, want %q", f.fatal, want)
			}
			f.failed = failed
			f.runCleanups()
			if failed != (len(f.logs) == 1) {
				t.Fatalf("failed=%v, logs %q", failed, f.logs)
			}
			if failed && !strings.HasPrefix(f.logs[0], "helper output:\n") {
				t.Errorf("log %q", f.logs[0])
			}
		})
	}
}

func TestProcStop(t *testing.T) {
	f := &fakeTB{T: t}
	p := StartCmd(f, "idle", helper("idle"))
	WaitFor(t, 30*time.Second, "the helper's ready line", func() bool { return strings.Contains(p.Tail(100), "ready") })
	if p.Err() != nil {
		t.Fatalf("Err() of a running process: %v", p.Err())
	}
	f.run(p.FatalIfExited)
	if f.fatal != "" {
		t.Fatalf("FatalIfExited on a running process: %s", f.fatal)
	}
	p.Stop()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
	if p.Err() == nil {
		t.Error("Err() nil after a kill")
	}
	p.Stop() // idempotent, also from the cleanup
	f.runCleanups()
	if len(f.logs) != 0 {
		t.Errorf("logged without a failure: %q", f.logs)
	}
}

// TestSpawnLeavesStopToCaller: Spawn's cleanup logs the output of a
// failed test but leaves the process running for the caller's Stop.
func TestSpawnLeavesStopToCaller(t *testing.T) {
	f := &fakeTB{T: t}
	p := Spawn(f, "idle", helper("idle"))
	defer p.Stop()
	WaitFor(t, 30*time.Second, "the helper's ready line", func() bool { return strings.Contains(p.Tail(100), "ready") })
	f.failed = true
	f.runCleanups()
	select {
	case <-p.Exited():
		t.Fatalf("Spawn's process stopped by the cleanup: %v", p.Err())
	default:
	}
	if len(f.logs) != 1 || f.logs[0] != "idle output:\nready\n" {
		t.Errorf("logs %q", f.logs)
	}
	p.Stop()
	if p.Err() == nil {
		t.Error("Err() nil after Stop")
	}
}

func TestStartFailure(t *testing.T) {
	f := &fakeTB{T: t}
	f.run(func() { Start(f, "nothing", "/nonexistent/program") })
	if !strings.HasPrefix(f.fatal, "nothing: ") {
		t.Errorf("fatal %q", f.fatal)
	}
	f.runCleanups()
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, 10*time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times", n)
	}
	f := &fakeTB{T: t}
	start := time.Now()
	f.run(func() { WaitFor(f, 50*time.Millisecond, "never", func() bool { return false }) })
	if want := "timed out after 50ms waiting for never"; f.fatal != want {
		t.Errorf("fatal %q, want %q", f.fatal, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("WaitFor of 50ms took %v", d)
	}
}

func TestFreePortAndAddr(t *testing.T) {
	addr := FreeAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr %q", addr)
	}
	port := FreePort(t)
	for _, a := range []string{addr, fmt.Sprintf("127.0.0.1:%d", port)} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("listen on %s: %v", a, err)
			continue
		}
		ln.Close()
	}
}
