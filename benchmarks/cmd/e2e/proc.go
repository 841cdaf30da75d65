package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat: 100
// on every Linux architecture Go supports (sysconf(_SC_CLK_TCK) needs cgo).
const clockTicks = 100

// proc is a long-running child (echo server, agent, meshgate). Each child
// gets its own process group, so stopping it also stops anything it
// spawned, and is sent SIGKILL by the kernel if the harness dies first.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, valid after done
}

// children lists every proc started, for cleanup.
var children struct {
	sync.Mutex
	list []*proc
}

// startProc starts bin with args, stdout and stderr going to logPath.
func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	children.Lock()
	children.list = append(children.list, p)
	children.Unlock()
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after a grace
// period, and waits for the process to be reaped.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
	// Anything left in the group (nothing expected) goes too.
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// failure describes why p is unusable, with its exit status and log tail.
func (p *proc) failure(what string) error {
	status := "still running"
	if p.exited() {
		status = fmt.Sprintf("exited: %v", p.err)
	}
	return fmt.Errorf("%s: %s (%s); last lines of %s:\n%s", p.name, what, status, p.logPath, p.tail(30))
}

// allChildren returns every proc started so far.
func allChildren() []*proc {
	children.Lock()
	defer children.Unlock()
	return append([]*proc(nil), children.list...)
}

// stopAll stops every child, newest first.
func stopAll() {
	children.Lock()
	list := append([]*proc(nil), children.list...)
	children.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop()
	}
}

// runBounded runs a command to completion in its own process group,
// killing the group when ctx ends, and returns its stdout and state.
func runBounded(ctx context.Context, dir string, env []string, bin string, args ...string) (stdout []byte, state *os.ProcessState, err error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return out.Bytes(), cmd.ProcessState, fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), cmd.ProcessState, nil
}

// cpuSample is a process's CPU time so far, two ways.
type cpuSample struct {
	schedNs int64 // sum of the first field of /proc/<pid>/task/*/schedstat (ns, exact)
	ticks   int64 // utime+stime from /proc/<pid>/stat (clock ticks, includes exited threads)
}

func sampleCPU(pid int) (cpuSample, error) {
	var s cpuSample
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return s, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread exited in between
		}
		f := strings.Fields(string(b))
		if len(f) < 1 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return s, fmt.Errorf("schedstat of %d/%s: %w", pid, t.Name(), err)
		}
		s.schedNs += ns
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	s.ticks, err = statTicks(string(b))
	return s, err
}

// statTicks returns utime+stime from the text of /proc/<pid>/stat.
func statTicks(stat string) (int64, error) { return sumStatFields(stat, 2) }

// statTicksWithChildren returns utime+stime+cutime+cstime from the text
// of /proc/<pid>/stat.
func statTicksWithChildren(stat string) (int64, error) { return sumStatFields(stat, 4) }

// sumStatFields sums n fields of /proc/<pid>/stat starting at utime
// (field 14): utime, stime, cutime, cstime.
func sumStatFields(stat string, n int) (int64, error) {
	// The command name (field 2) is in parentheses and may contain spaces.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/<pid>/stat")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state), so utime is f[11]
	if len(f) < 11+n {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	var sum int64
	for _, field := range f[11 : 11+n] {
		v, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, errors.New("malformed CPU times in /proc/<pid>/stat")
		}
		sum += v
	}
	return sum, nil
}

// cpuDelta is the CPU a process used between two samples.
type cpuDelta struct {
	sched time.Duration // from schedstat
	stat  time.Duration // from utime+stime (10 ms resolution)
}

func delta(a, b cpuSample) cpuDelta {
	return cpuDelta{
		sched: time.Duration(b.schedNs - a.schedNs),
		stat:  time.Duration(b.ticks-a.ticks) * (time.Second / clockTicks),
	}
}

// best is the figure reported: schedstat's exact sum, unless threads
// exited during the run (their time is gone from task/*/schedstat but kept
// in utime+stime), which shows as stat exceeding sched by more than its
// resolution.
func (d cpuDelta) best() time.Duration {
	if d.stat > d.sched+d.sched/20+3*(time.Second/clockTicks) {
		return d.stat
	}
	return d.sched
}

// othersCPU is a snapshot of the CPU time of every process on the machine
// except the excluded ones, to tell how much of the machine the rest used
// during a run (on a shared machine, the noise to watch).
type othersCPU struct {
	ticks map[int]int64 // pid -> utime+stime+cutime+cstime
	steal int64         // hypervisor steal from /proc/stat, ticks
}

func sampleOthers(exclude map[int]bool) othersCPU {
	o := othersCPU{ticks: map[int]int64{}}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || exclude[pid] {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone
		}
		if n, err := statTicksWithChildren(string(b)); err == nil {
			o.ticks[pid] = n
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(line); len(f) > 8 && f[0] == "cpu" {
			o.steal, _ = strconv.ParseInt(f[8], 10, 64)
		}
	}
	return o
}

// othersDelta is the CPU the other processes used between a and b:
// processes alive at both samples count their difference, processes
// started in between all of theirs; processes that started and ended in
// between count through their parent's cutime/cstime once reaped.
func othersDelta(a, b othersCPU) (other, steal time.Duration) {
	var n int64
	for pid, t := range b.ticks {
		if t0, ok := a.ticks[pid]; ok && t >= t0 {
			n += t - t0
		} else if !ok {
			n += t
		}
	}
	tick := time.Second / clockTicks
	return time.Duration(n) * tick, time.Duration(b.steal-a.steal) * tick
}

// freePorts returns n distinct free TCP ports on 127.0.0.1: all are bound
// at once (so none repeats), then released for the children to take.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// stopFrom stops the children started after the first n, newest first.
func stopFrom(n int) {
	children.Lock()
	list := append([]*proc(nil), children.list[min(n, len(children.list)):]...)
	children.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop()
	}
}
