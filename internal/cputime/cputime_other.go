//go:build !unix

// Package cputime measures the CPU time a process has used. Benchmarks
// report cost per CPU-second with it, which holds up on a loaded or shared
// machine where wall-clock time does not (docs/performance.md).
package cputime

import "time"

// Process returns 0: CPU time is not measured on this platform.
func Process() time.Duration { return 0 }
