//go:build unix

// Package cputime measures the CPU time a process has used. Benchmarks
// report cost per CPU-second with it, which holds up on a loaded or shared
// machine where wall-clock time does not (docs/performance.md).
package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time (user and system) this process has used so
// far, or 0 when it cannot be read.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
