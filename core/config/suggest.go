package config

import (
	"strings"

	names "kemi/internal/suggest"
)

// suggest returns the candidate nearest to name, or "" when none is near
// enough to be a likely typo. Distance counts a swap of two neighbours as
// one edit, since "chidlren" is one slip of the fingers, not two.
func suggest(name string, candidates []string) string {
	best, bestD := "", -1
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	lname := strings.ToLower(name)
	for _, c := range candidates {
		if c == "" || c == name {
			continue
		}
		d := editDistance(lname, strings.ToLower(c))
		if d > limit || d >= len(name) {
			continue // a guess must keep part of what was typed
		}
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean formats a suggestion as a message suffix.
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return " (did you mean \"" + s + "\"?)"
	}
	return ""
}

// editDistance is names.Distance (optimal string alignment).
var editDistance = names.Distance

// Suggest returns the candidate nearest to name, or "" when none is near
// enough to be a likely typo. kemi check uses it for script names too.
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }

// DidYouMean is Suggest formatted as a message suffix:
// ` (did you mean "x"?)`, or "".
func DidYouMean(name string, candidates []string) string { return didYouMean(name, candidates) }
