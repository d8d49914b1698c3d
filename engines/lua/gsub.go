package lua

import (
	"strconv"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// gsubChunk is how many matches gsub asks gopher-lua's matcher for at a
// time: the matches are streamed, not all collected first.
const gsubChunk = 64

// gsubMatchCost is what each match is charged.
const gsubMatchCost = 16

// gsub is string.gsub(s, pattern, repl [, n]) with Lua 5.1's semantics,
// built on gopher-lua's pattern matcher. It replaces gopher-lua's version,
// which collects every match first and then copies the whole string once
// per match (a 1 MiB string with an empty pattern is 10^12 bytes of
// copying), and which the memory budget could not see. This one appends
// to one builder and charges every piece to the budget before adding it.
func (vm *VM) gsub(L *glua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, glua.LTString, glua.LTTable, glua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)
	if limit == 0 {
		L.Push(glua.LString(str))
		L.Push(glua.LNumber(0))
		return 2
	}
	src := unsafe.Slice(unsafe.StringData(str), len(str))
	anchored := strings.HasPrefix(pat, "^")

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
	count, copied, off := 0, 0, 0
	for off <= len(src) {
		want := gsubChunk
		if limit > 0 && limit-count < want {
			want = limit - count
		}
		mds, err := pm.Find(pat, src, off, want)
		if err != nil {
			L.RaiseError("string.gsub: %s", err.Error())
		}
		for _, m := range mds {
			// Each match costs the matcher about a hundred bytes of
			// garbage: counting some of it bounds the work of one call.
			vm.budget.charge(L, gsubMatchCost)
			start, end := m.Capture(0), m.Capture(1)
			add(str[copied:start])
			switch r := repl.(type) {
			case glua.LString:
				vm.gsubExpand(L, str, string(r), m, add)
			default:
				var v glua.LValue
				if t, ok := r.(*glua.LTable); ok {
					v = L.GetTable(t, gsubCapture(str, m, 1))
				} else {
					L.Push(r)
					nargs := 1
					if m.CaptureLength() > 2 {
						nargs = 0
						for i := 1; 2*i < m.CaptureLength(); i++ {
							L.Push(gsubCapture(str, m, i))
							nargs++
						}
					} else {
						L.Push(glua.LString(str[start:end]))
					}
					L.Call(nargs, 1)
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
						L.RaiseError("string.gsub: invalid replacement value (a boolean)")
					}
					add(str[start:end])
				default:
					if v != glua.LNil {
						L.RaiseError("string.gsub: invalid replacement value (a %s)", v.Type().String())
					}
					add(str[start:end])
				}
			}
			copied = end
			count++
			off = max(start+1, end)
		}
		if len(mds) < want || anchored || (limit > 0 && count >= limit) {
			break
		}
	}
	if count == 0 {
		L.Push(glua.LString(str))
	} else {
		add(str[copied:])
		L.Push(glua.LString(out.String()))
	}
	L.Push(glua.LNumber(count))
	return 2
}

// gsubCapture is capture i (1-based) of m: the whole match when the
// pattern has no captures, a number for a position capture.
func gsubCapture(str string, m *pm.MatchData, i int) glua.LValue {
	idx := 2 * i
	if idx >= m.CaptureLength() {
		idx = 0
	}
	if m.IsPosCapture(idx) {
		return glua.LNumber(m.Capture(idx))
	}
	return glua.LString(str[m.Capture(idx):m.Capture(idx+1)])
}

// gsubExpand adds a string replacement: %0 is the match, %1-%9 the
// captures (%1 the match when there are none), %% a percent sign, and %
// before any other character that character, as in Lua 5.1.
func (vm *VM) gsubExpand(L *glua.LState, str, repl string, m *pm.MatchData, add func(string)) {
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
			add(str[m.Capture(0):m.Capture(1)])
		case c >= '1' && c <= '9':
			n := int(c - '0')
			if 2*n >= m.CaptureLength() && n != 1 {
				L.RaiseError("string.gsub: invalid capture index %%%c", c)
			}
			switch v := gsubCapture(str, m, n).(type) {
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
