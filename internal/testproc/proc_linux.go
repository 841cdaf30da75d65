package testproc

import (
	"os"
	"syscall"
)

// sysProcAttr puts the process in a group of its own (kill reaches its
// children, a JVM's or a Python daemon's) and kills it when the thread
// that started it, and so the test binary, dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func kill(p *os.Process) {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		p.Kill()
	}
}
