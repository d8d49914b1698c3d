package scenario

import "strings"

// Diff is a line diff of want and got: common lines indented by two
// spaces, lines only wanted with "- ", lines only got with "+ ", each
// line indented by four more. Nothing on either side reads "(nothing)".
func Diff(want, got []string) string {
	// Longest common subsequence; the lists are a step's few messages.
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	line := func(mark, s string) { b.WriteString("    " + mark + s + "\n") }
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			line("  ", want[i])
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			line("- ", want[i])
			i++
		default:
			line("+ ", got[j])
			j++
		}
	}
	if n == 0 && m == 0 {
		line("  ", "(nothing)")
	}
	return strings.TrimRight(b.String(), "\n")
}
