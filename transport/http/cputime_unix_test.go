//go:build unix

package http_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time, user and system, the process has used, so
// that the benchmarks report CPU per call, which other load on the machine
// disturbs far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
