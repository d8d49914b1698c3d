//go:build race

package transport

// raceEnabled: the race detector makes stacks and heap objects larger.
const raceEnabled = true
