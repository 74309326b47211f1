//go:build !unix

package grpc

import "time"

// CPUTime is not measured on this platform.
func CPUTime() time.Duration { return 0 }
