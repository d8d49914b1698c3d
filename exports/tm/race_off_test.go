//go:build !race

package tm

const raceOn = false
