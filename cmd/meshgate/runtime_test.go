package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/procs"
	"github.com/meshgate/meshgate/internal/testproc"
)

// applyRuntime sets the configured processor count and GC percentage,
// starts (and stops) the governor for auto, and leaves both to the
// environment variables when they are set.
func TestApplyRuntime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gcPercent := func() int { p := debug.SetGCPercent(0); debug.SetGCPercent(p); return p }

	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GOGC", "")
	applyRuntime(config.Runtime{GOMAXPROCS: "3", GCPercent: 250}, log)()
	if n, p := runtime.GOMAXPROCS(0), gcPercent(); n != 3 || p != 250 {
		t.Fatalf("fixed: GOMAXPROCS %d, GC percent %d; want 3 and 250", n, p)
	}

	stop := applyRuntime(config.Runtime{GOMAXPROCS: config.ProcsAuto, GCPercent: 400}, log)
	stop() // returns once the governor has stopped; it starts at one processor
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("auto: GOMAXPROCS %d, want 1 (the governor's start)", n)
	}

	t.Setenv("GOMAXPROCS", "2")
	t.Setenv("GOGC", "50")
	runtime.GOMAXPROCS(2)
	debug.SetGCPercent(50)
	applyRuntime(config.Runtime{GOMAXPROCS: "1", GCPercent: 400}, log)()
	if n, p := runtime.GOMAXPROCS(0), gcPercent(); n != 2 || p != 50 {
		t.Fatalf("environment set: GOMAXPROCS %d, GC percent %d; want the environment's 2 and 50", n, p)
	}
}

// meshgate run with runtime.sysmon steady (the default) starts itself
// again, once and under the same process id, with GODEBUG's steady
// setting added to the environment's; it then serves and GET /status says
// steady. A schedtrace the environment chose, or sysmon: go, leaves the
// process as it started.
func TestRunStartsAgainForSteadySysmon(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/environ")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	goFile := filepath.Join(t.TempDir(), "go.yaml")
	testproc.WriteFile(t, goFile, string(config.DefaultYAML)+"runtime: {sysmon: go}\n")
	for _, c := range []struct {
		name, godebug string
		args          []string
		wantGODEBUG   string // in the serving process's environment
		wantSysmon    string
	}{
		{"default", "", nil, procs.SteadySchedtrace, "steady"},
		{"other settings kept", "gctrace=0", nil, "gctrace=0," + procs.SteadySchedtrace, "steady"},
		{"environment chose", "schedtrace=0", nil, "schedtrace=0", "go"},
		{"sysmon go", "", []string{"-c", goFile}, "", "go"},
	} {
		t.Run(c.name, func(t *testing.T) {
			admin := testproc.FreeAddr(t)
			args := append([]string{"run", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
				"--demo-addr", "127.0.0.1:0", "--admin-addr", admin}, c.args...)
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), "MESHGATE_TEST_MAIN=1", "GODEBUG="+c.godebug)
			p := testproc.StartCmd(t, "meshgate", cmd)
			var st struct {
				Sysmon string `json:"sysmon"`
			}
			testproc.WaitFor(t, 20*time.Second, "GET /status", func() bool {
				p.FatalIfExited()
				resp, err := http.Get("http://" + admin + "/status")
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&st) == nil
			})
			if st.Sysmon != c.wantSysmon {
				t.Errorf("GET /status sysmon %q, want %q", st.Sysmon, c.wantSysmon)
			}
			environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			var godebug []string
			for _, kv := range strings.Split(string(environ), "\x00") {
				if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
					godebug = append(godebug, v)
				}
			}
			if len(godebug) != 1 || godebug[0] != c.wantGODEBUG {
				t.Errorf("GODEBUG in the serving process %q, want [%q]", godebug, c.wantGODEBUG)
			}
			steadyLog := strings.Contains(p.Tail(1<<16), "runtime: steady monitor thread")
			if steadyLog != (c.wantSysmon == "steady") {
				t.Errorf("log says steady: %v, want %v:\n%s", steadyLog, c.wantSysmon == "steady", p.Tail(1<<16))
			}
		})
	}
}
