package kemigen

import "sort"

// strConcatOperands wraps in str() every operand of a .. concatenation in
// a one-line Lua example that is not a string literal: a name, a number, or
// a call with its arguments (KSR.pv.get("$ru")).
func strConcatOperands(s string) string {
	type span struct{ from, to int }
	var ops []span
	seen := map[span]bool{}
	add := func(sp span) {
		if sp.from < sp.to && !seen[sp] && s[sp.from] != '"' && s[sp.from] != '\'' {
			seen[sp] = true
			ops = append(ops, sp)
		}
	}
	// quoted marks the bytes inside string literals, quotes included.
	quoted := make([]bool, len(s))
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			quoted[i] = true
			if c == '\\' && i+1 < len(s) {
				i++
				quoted[i] = true
			} else if c == quote {
				quote = 0
			}
			continue
		}
		if c == '"' || c == '\'' {
			quote = c
			quoted[i] = true
		}
	}
	for i := 0; i+1 < len(s); i++ {
		if quoted[i] || s[i:i+2] != ".." {
			continue
		}
		add(span{operandStart(s, quoted, i), trimRight(s, i)})
		j := i + 2
		for j < len(s) && s[j] == ' ' {
			j++
		}
		add(span{j, operandEnd(s, quoted, j)})
		i++
	}
	if len(ops) == 0 {
		return s
	}
	// Insert from the end so earlier offsets stay valid.
	sort.Slice(ops, func(a, b int) bool { return ops[a].from > ops[b].from })
	for _, o := range ops {
		s = s[:o.from] + "str(" + s[o.from:o.to] + ")" + s[o.to:]
	}
	return s
}

// trimRight is the end of s[:i] without trailing spaces.
func trimRight(s string, i int) int {
	for i > 0 && s[i-1] == ' ' {
		i--
	}
	return i
}

// operandStart walks back from the .. at i over one operand: a string
// literal, or a dotted name with an optional call.
func operandStart(s string, quoted []bool, i int) int {
	j := trimRight(s, i)
	if j > 0 && quoted[j-1] {
		for j > 0 && quoted[j-1] {
			j--
		}
		return j
	}
	if j > 0 && s[j-1] == ')' {
		depth := 0
		for j > 0 {
			j--
			if quoted[j] {
				continue
			}
			if s[j] == ')' {
				depth++
			} else if s[j] == '(' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
	}
	for j > 0 && (isIdentByte(s[j-1]) || s[j-1] == '.' && !(j > 1 && s[j-2] == '.')) {
		j--
	}
	return j
}

// operandEnd walks forward from j over one operand.
func operandEnd(s string, quoted []bool, j int) int {
	if j < len(s) && quoted[j] {
		for j < len(s) && quoted[j] {
			j++
		}
		return j
	}
	for j < len(s) && (isIdentByte(s[j]) || s[j] == '.' && !(j+1 < len(s) && s[j+1] == '.')) {
		j++
	}
	if j < len(s) && s[j] == '(' {
		depth := 0
		for ; j < len(s); j++ {
			if quoted[j] {
				continue
			}
			if s[j] == '(' {
				depth++
			} else if s[j] == ')' {
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
	}
	return j
}
