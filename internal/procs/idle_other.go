//go:build !linux

package procs

import "time"

// machineIdle is unknown outside Linux: the Governor grows on its own CPU
// use alone.
func machineIdle() (time.Duration, bool) { return 0, false }
