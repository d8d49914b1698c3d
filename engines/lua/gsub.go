package lua

import (
	"math"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// gsubMatchCost is what each match is charged.
const gsubMatchCost = 16

// gsub is string.gsub(s, pattern, repl [, n]) with Lua 5.1's semantics,
// built on kemi's pattern matcher (pattern.go), which counts its steps
// against the step budget. It replaces gopher-lua's version,
// which collects every match first and then copies the whole string once
// per match (a 1 MiB string with an empty pattern is 10^12 bytes of
// copying), and which the memory budget could not see. This one appends
// to one builder and charges every piece to the budget before adding it.
func (vm *VM) gsub(L *glua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, glua.LTString, glua.LTTable, glua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, math.MaxInt)
	if limit <= 0 {
		L.Push(glua.LString(str))
		L.Push(glua.LNumber(0))
		return 2
	}
	m := vm.newMatcher(L, str, pat)
	anchor := len(pat) > 0 && pat[0] == '^'
	p := 0
	if anchor {
		p = 1
	}

	// The output buffer is charged as it grows (strings.Builder doubles
	// it), so the budget counts what is allocated, copies included.
	var out strings.Builder
	add := func(s string) {
		if out.Len()+len(s) > out.Cap() {
			vm.budget.charge(L, 2*out.Cap()+len(s))
			out.Grow(len(s))
		}
		out.WriteString(s)
	}
	count, copied := 0, 0
	for src := 0; count < limit; {
		m.level, m.depth = 0, 0
		end := m.match(src, p)
		if end != -1 {
			// Counting the matches bounds the work of one call.
			vm.budget.charge(L, gsubMatchCost)
			count++
			add(str[copied:src])
			vm.gsubValue(L, m, src, end, repl, add)
			copied = end
		}
		switch {
		case end != -1 && end > src:
			src = end
		case src < len(str):
			src++
		default:
			src = len(str) + 1
		}
		if src > len(str) || anchor {
			break
		}
	}
	m.done()
	if count == 0 {
		L.Push(glua.LString(str))
	} else {
		add(str[copied:])
		L.Push(glua.LString(out.String()))
	}
	L.Push(glua.LNumber(count))
	return 2
}

// gsubValue adds the replacement of the match from start to end.
func (vm *VM) gsubValue(L *glua.LState, m *matcher, start, end int, repl glua.LValue, add func(string)) {
	str := m.src
	var v glua.LValue
	switch r := repl.(type) {
	case glua.LString:
		vm.gsubExpand(L, m, start, end, string(r), add)
		return
	case *glua.LTable:
		v = L.GetTable(r, m.oneCapture(0, start, end))
	default:
		L.Push(r)
		n := m.pushCaptures(start, end, true)
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v := v.(type) {
	case glua.LString:
		add(string(v))
	case glua.LNumber:
		add(glua.LVAsString(v))
	case glua.LBool:
		if v {
			L.RaiseError("invalid replacement value (a boolean)")
		}
		add(str[start:end])
	default:
		if v != glua.LNil {
			L.RaiseError("invalid replacement value (a %s)", v.Type().String())
		}
		add(str[start:end])
	}
}

// gsubExpand adds a string replacement: %0 is the match, %1-%9 the
// captures (%1 the match when there are none), %% a percent sign, and %
// before any other character that character, as in Lua 5.1.
func (vm *VM) gsubExpand(L *glua.LState, m *matcher, start, end int, repl string, add func(string)) {
	for len(repl) > 0 {
		i := strings.IndexByte(repl, '%')
		if i < 0 || i == len(repl)-1 {
			add(repl)
			return
		}
		add(repl[:i])
		c, lit := repl[i+1], repl[i+1:i+2]
		repl = repl[i+2:]
		switch {
		case c == '0':
			add(m.src[start:end])
		case c >= '1' && c <= '9':
			switch v := m.oneCapture(int(c-'1'), start, end).(type) {
			case glua.LString:
				add(string(v))
			case glua.LNumber:
				add(strconv.Itoa(int(v)))
			}
		default:
			add(lit)
		}
	}
}
