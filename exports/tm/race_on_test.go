//go:build race

package tm

// raceOn: sync.Pool drops items at random under the race detector.
const raceOn = true
