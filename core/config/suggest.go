package config

import "strings"

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

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Names this long are never typos of ours; skip the quadratic work.
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Suggest returns the candidate nearest to name, or "" when none is near
// enough to be a likely typo. kemi check uses it for script names too.
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }

// DidYouMean is Suggest formatted as a message suffix:
// ` (did you mean "x"?)`, or "".
func DidYouMean(name string, candidates []string) string { return didYouMean(name, candidates) }
