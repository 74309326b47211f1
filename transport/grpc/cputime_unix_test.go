//go:build unix

package grpc

import (
	"syscall"
	"time"
)

// CPUTime returns the CPU time, user and system, the process has used. It
// lets the benchmarks report CPU per call, which other load on the machine
// disturbs far less than wall time. It is exported for the package's external tests only.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
