// Package suggest measures how far a mistyped name is from a known one,
// for "did you mean" hints in kemi check, the config loader and kemigen.
// It has no dependencies, so the generator can use it without building
// the runtime packages it generates code for.
package suggest

// Distance is the optimal string alignment distance between a and b: a
// swap of two neighbours counts as one edit, since "chidlren" is one slip
// of the fingers, not two.
func Distance(a, b string) int {
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
