package procs

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of /proc/stat's times: USER_HZ, 100 on every Linux
// architecture Go supports (the kernel converts from its own HZ).
const userHZ = 100

// machineIdle is the time the machine's CPUs have been idle (idle plus
// iowait, summed over CPUs) since boot, from the first line of
// /proc/stat.
func machineIdle() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	return parseIdle(b)
}

// parseIdle reads idle and iowait from the "cpu " line of /proc/stat.
func parseIdle(stat []byte) (time.Duration, bool) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 6 || string(f[0]) != "cpu" {
		return 0, false
	}
	var ticks uint64
	for _, v := range f[4:6] { // idle, iowait
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / userHZ), true
}
