package kemigen

import (
	"regexp"
	"strings"
)

// deriveExamples fills the engines a spec gave no example for from its Lua
// one: the call reads the same in every language but for nil/true/false
// and the native function name.
//
// A function with no example at all gets a call with its param names as
// arguments, so every reference entry shows the call in every language.
func deriveExamples(module string, f *Function) {
	if len(f.Examples) == 0 {
		var args []string
		for _, p := range f.Params {
			args = append(args, p.Name)
		}
		prefix := "KSR."
		if module != "" {
			prefix += module + "."
		}
		f.Examples["lua"] = prefix + f.Name + "(" + strings.Join(args, ", ") + ")"
	}
	lua, ok := f.Examples["lua"]
	if !ok || strings.Contains(lua, "\n") {
		return
	}
	full := "KSR." + f.Name + "("
	if module != "" {
		full = "KSR." + module + "." + f.Name + "("
	}
	js, star, native := "", "", ""
	if m := luaIfThen.FindStringSubmatch(lua); m != nil {
		// if <cond> then <one statement> end; a body of several
		// statements needs its examples written out.
		if luaStmt.MatchString(m[2]) {
			js = "if (" + toJS(m[1]) + ") { " + toJS(m[2]) + "; }"
			star = "if " + toStarlark(m[1]) + ":\n    " + toStarlark(m[2])
		}
	} else if luaCall.MatchString(lua) {
		js = toJS(lua) + ";"
		star = toStarlark(lua)
		if strings.HasPrefix(lua, full) {
			native = f.Native + "(" + lua[len(full):] + ";"
		}
	}
	for eng, ex := range map[string]string{"js": js, "starlark": star, "native": native} {
		if _, ok := f.Examples[eng]; !ok && ex != "" {
			f.Examples[eng] = ex
		}
	}
}

// The Lua example forms kemigen can translate: one call, or an if with a
// single statement. Anything else needs its examples written out.
var (
	luaCall   = regexp.MustCompile(`^(local \w+ = )?KSR\.[\w.]+\(.*\)$`)
	luaIfThen = regexp.MustCompile(`^if (.+) then (.+) end$`)
	// luaStmt is the one statement an if may hold: a call, an assignment
	// of a call or a simple value, or a return, with nothing after it.
	luaStmt = regexp.MustCompile(`^(return( -?[\w."]+)?|(local )?(\w+ = )?(KSR\.[\w.]+\(.*\)|[\w."]+))$`)
)

func toJS(s string) string {
	s = strings.TrimPrefix(s, "local ")
	if strings.Contains(s, " = KSR.") {
		s = "let " + s
	}
	return rewrite(s, map[string]string{"nil": "null", "not": "!", "and": "&&", "or": "||", "~=": "!=", "..": "+"})
}

// toStarlark also wraps each operand of Lua's .. that is not a string
// literal in str(): Lua turns a number into a string there, Starlark's +
// refuses string + int (an int or xval return, say).
func toStarlark(s string) string {
	return rewrite(strConcatOperands(strings.TrimPrefix(s, "local ")), map[string]string{"nil": "None", "true": "True", "false": "False", "~=": "!=", "..": "+"})
}

// rewrite swaps whole words and the operators ~= and .. of a one-line Lua
// example, leaving string literals alone.
func rewrite(s string, words map[string]string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(s) {
				b.WriteByte(c)
				i++
				c = s[i]
			} else if c == quote {
				quote = 0
			}
			b.WriteByte(c)
			i++
			continue
		case c == '"' || c == '\'':
			quote = c
			b.WriteByte(c)
			i++
			continue
		case i+1 < len(s) && (s[i:i+2] == "~=" || s[i:i+2] == ".."):
			b.WriteString(words[s[i:i+2]])
			i += 2
			continue
		}
		j := i
		for j < len(s) && isIdentByte(s[j]) {
			j++
		}
		if j == i {
			b.WriteByte(c)
			i++
			continue
		}
		w := s[i:j]
		if r, ok := words[w]; ok && !(i > 0 && s[i-1] == '.') {
			w = r
			if w == "!" && j < len(s) && s[j] == ' ' {
				j++ // "not x" becomes "!x"
			}
		}
		b.WriteString(w)
		i = j
	}
	return b.String()
}
