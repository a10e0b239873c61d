//go:build unix

package cputime

import "testing"

// TestProcessAdvances: busy work shows as CPU time.
func TestProcessAdvances(t *testing.T) {
	start := Process()
	x := 0
	for i := 0; Process()-start < 1e6 && i < 1e9; i++ { // until 1 ms of CPU
		x += i
	}
	if Process() <= start {
		t.Fatalf("CPU time did not advance: %v then %v (%d)", start, Process(), x)
	}
}
