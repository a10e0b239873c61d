//go:build !unix

package taxii

import "time"

// cpuTime is unavailable here; benchmarks then omit their CPU metrics.
func cpuTime() time.Duration { return 0 }
