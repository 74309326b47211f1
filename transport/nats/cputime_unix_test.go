//go:build unix

package nats_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time, user and system, the process has used so
// far. Client, server and nats-server all run in the benchmark's process,
// so its growth per call is the work a call costs, less disturbed than wall
// time by other load on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
