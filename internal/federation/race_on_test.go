//go:build race

package federation

// raceEnabled tells tests that count allocations that the race detector
// is on: it makes sync.Pool drop objects at random, and allocate.
const raceEnabled = true
