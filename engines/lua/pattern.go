package lua

import (
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Lua 5.1 patterns under the step budget.
//
// gopher-lua's matcher (package pm) runs inside one Lua instruction and
// backtracks without limit: string.find(string.rep("a", 9e5), ".-b") tries
// every start and from each scans to the end, some 10^11 steps in one
// instruction, which neither budget could see. kemi's string.find, match,
// gmatch and gsub use this matcher instead: Lua 5.1's algorithm (a
// backtracking matcher over the pattern text), with a step counter. Every
// matchStepsPerInstruction steps of the matcher (a pattern item tried, a
// character scanned by a repetition) take one instruction from the
// message's step budget, so a pattern that backtracks over a long subject
// ends with the same `script budget exhausted` error as a runaway loop.
// Recursion is capped at maxMatchDepth ("pattern too complex", as in Lua
// 5.2 and later), and at 32 captures, as in Lua.

// matchStepsPerInstruction is how many matcher steps cost one instruction
// of the step budget. A step takes about as long as an instruction (some
// ten nanoseconds), so a budget's worth of matching takes about as long as
// a budget's worth of Lua.
const matchStepsPerInstruction = 1

// matchChunk is how many steps the matcher takes between two looks at the
// budget.
const matchChunk = 1024

const (
	maxCaptures   = 32
	maxMatchDepth = 200
	capUnfinished = -1
	capPosition   = -2
)

type capture struct{ init, len int }

// matcher is one match of a pattern against a subject.
type matcher struct {
	src, pat string
	level    int // captures opened
	depth    int
	left     int // steps before the next charge
	capture  [maxCaptures]capture
	vm       *VM
	L        *glua.LState
}

// newMatcher starts a match. As in Lua 5.1, whose matcher reads the
// pattern as a C string, a pattern ends at its first NUL byte (%z
// matches one).
func (vm *VM) newMatcher(L *glua.LState, src, pat string) *matcher {
	pat = cutNUL(pat)
	m := vm.spareMatcher
	if m == nil {
		m = new(matcher)
	} else {
		vm.spareMatcher = nil
		m.level, m.depth = 0, 0
	}
	m.src, m.pat, m.vm, m.L, m.left = src, pat, vm, L, matchChunk
	return m
}

func cutNUL(pat string) string {
	if i := strings.IndexByte(pat, 0); i >= 0 {
		return pat[:i]
	}
	return pat
}

// done hands the matcher back for the next call (a matcher that raised
// is left to the collector): find and match allocate nothing then.
func (m *matcher) done() {
	m.src, m.pat, m.L = "", "", nil
	m.vm.spareMatcher = m
}

// tick counts one step and, every matchChunk, charges the budget.
func (m *matcher) tick() {
	m.left--
	if m.left > 0 {
		return
	}
	m.left = matchChunk
	b := &m.vm.budget
	b.left -= matchChunk / matchStepsPerInstruction
	if b.left < 0 {
		m.L.RaiseError("%s (in a pattern match)", b.Err().Error())
	}
}

func (m *matcher) error(msg string) {
	m.L.RaiseError("%s", msg)
}

// classEnd returns the index just past the single-character class at p.
func (m *matcher) classEnd(p int) int {
	pat := m.pat
	c := pat[p]
	p++
	switch c {
	case '%':
		if p >= len(pat) {
			m.error("malformed pattern (ends with '%')")
		}
		return p + 1
	case '[':
		if p < len(pat) && pat[p] == '^' {
			p++
		}
		for { // look for the ']'; the first character is never it
			if p >= len(pat) {
				m.error("malformed pattern (missing ']')")
			}
			c := pat[p]
			p++
			if c == '%' && p < len(pat) {
				p++ // skip an escape, such as %]
			}
			if p < len(pat) && pat[p] == ']' {
				return p + 1
			}
			if p >= len(pat) {
				m.error("malformed pattern (missing ']')")
			}
		}
	}
	return p
}

// matchClass reports whether c is in the class %cl (C locale).
func matchClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 32 || c == 127
	case 'd':
		res = c >= '0' && c <= '9'
	case 'l':
		res = c >= 'a' && c <= 'z'
	case 'p':
		res = c > 32 && c < 127 && !isAlpha(c) && !(c >= '0' && c <= '9')
	case 's':
		res = c == ' ' || (c >= '\t' && c <= '\r')
	case 'u':
		res = c >= 'A' && c <= 'Z'
	case 'w':
		res = isAlpha(c) || (c >= '0' && c <= '9')
	case 'x':
		res = (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if cl >= 'A' && cl <= 'Z' {
		return !res
	}
	return res
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// matchBracket reports whether c is in the set [...] from p (at '[') to
// ec (at ']').
func (m *matcher) matchBracket(c byte, p, ec int) bool {
	pat := m.pat
	sig := true
	if pat[p+1] == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case pat[p] == '%':
			p++
			if matchClass(c, pat[p]) {
				return sig
			}
		case pat[p+1] == '-' && p+2 < ec:
			p += 2
			if pat[p-2] <= c && c <= pat[p] {
				return sig
			}
		case pat[p] == c:
			return sig
		}
	}
	return !sig
}

func (m *matcher) singleMatch(s, p, ep int) bool {
	if s >= len(m.src) {
		return false
	}
	c := m.src[s]
	switch m.pat[p] {
	case '.':
		return true
	case '%':
		return matchClass(c, m.pat[p+1])
	case '[':
		return m.matchBracket(c, p, ep-1)
	}
	return m.pat[p] == c
}

// match matches the pattern from p against the subject from s: the end of
// the match, or -1.
func (m *matcher) match(s, p int) int {
	m.depth++
	if m.depth > maxMatchDepth {
		m.error("pattern too complex")
	}
	r := m.doMatch(s, p)
	m.depth--
	return r
}

func (m *matcher) doMatch(s, p int) int {
	pat, src := m.pat, m.src
	for {
		m.tick()
		if p == len(pat) {
			return s
		}
		switch pat[p] {
		case '(':
			if p+1 < len(pat) && pat[p+1] == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(pat) {
				if s == len(src) {
					return s
				}
				return -1
			}
		case '%':
			if p+1 < len(pat) {
				switch c := pat[p+1]; {
				case c == 'b':
					s = m.matchBalance(s, p+2)
					if s == -1 {
						return -1
					}
					p += 4
					continue
				case c == 'f':
					p += 2
					if p >= len(pat) || pat[p] != '[' {
						m.error("missing '[' after '%f' in pattern")
					}
					ep := m.classEnd(p)
					var prev, cur byte
					if s > 0 {
						prev = src[s-1]
					}
					if s < len(src) {
						cur = src[s]
					}
					if !m.matchBracket(prev, p, ep-1) && m.matchBracket(cur, p, ep-1) {
						p = ep
						continue
					}
					return -1
				case c >= '0' && c <= '9':
					s = m.matchCapture(s, c)
					if s == -1 {
						return -1
					}
					p += 2
					continue
				}
			}
		}
		// A single-character class, possibly repeated.
		ep := m.classEnd(p)
		ok := m.singleMatch(s, p, ep)
		if ep < len(pat) {
			switch pat[ep] {
			case '?':
				if ok {
					if r := m.match(s+1, ep+1); r != -1 {
						return r
					}
				}
				p = ep + 1
				continue
			case '*':
				return m.maxExpand(s, p, ep)
			case '+':
				if ok {
					return m.maxExpand(s+1, p, ep)
				}
				return -1
			case '-':
				return m.minExpand(s, p, ep)
			}
		}
		if !ok {
			return -1
		}
		s++
		p = ep
	}
}

func (m *matcher) maxExpand(s, p, ep int) int {
	i := 0
	for m.singleMatch(s+i, p, ep) {
		m.tick()
		i++
	}
	for ; i >= 0; i-- { // try the longest first
		if r := m.match(s+i, ep+1); r != -1 {
			return r
		}
	}
	return -1
}

func (m *matcher) minExpand(s, p, ep int) int {
	for {
		if r := m.match(s, ep+1); r != -1 {
			return r
		}
		if !m.singleMatch(s, p, ep) {
			return -1
		}
		s++
	}
}

func (m *matcher) startCapture(s, p, what int) int {
	if m.level >= maxCaptures {
		m.error("too many captures")
	}
	m.capture[m.level] = capture{s, what}
	m.level++
	r := m.match(s, p)
	if r == -1 {
		m.level--
	}
	return r
}

func (m *matcher) endCapture(s, p int) int {
	l := -1
	for i := m.level - 1; i >= 0; i-- {
		if m.capture[i].len == capUnfinished {
			l = i
			break
		}
	}
	if l < 0 {
		m.error("invalid pattern capture")
	}
	m.capture[l].len = s - m.capture[l].init
	r := m.match(s, p)
	if r == -1 {
		m.capture[l].len = capUnfinished
	}
	return r
}

func (m *matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.error("unbalanced pattern")
	}
	src := m.src
	if s >= len(src) || src[s] != m.pat[p] {
		return -1
	}
	b, e := m.pat[p], m.pat[p+1]
	cont := 1
	for i := s + 1; i < len(src); i++ {
		m.tick()
		switch src[i] {
		case e:
			cont--
			if cont == 0 {
				return i + 1
			}
		case b:
			cont++
		}
	}
	return -1
}

func (m *matcher) matchCapture(s int, c byte) int {
	l := int(c - '1')
	if l < 0 || l >= m.level || m.capture[l].len == capUnfinished {
		m.error("invalid capture index")
	}
	n := m.capture[l].len
	if n < 0 || len(m.src)-s < n {
		return -1
	}
	init := m.capture[l].init
	if m.src[init:init+n] == m.src[s:s+n] {
		return s + n
	}
	return -1
}

// oneCapture is capture i (0-based) of a match from s to e: the whole
// match for i 0 when the pattern has none.
func (m *matcher) oneCapture(i, s, e int) glua.LValue {
	if i >= m.level {
		if i != 0 {
			m.error("invalid capture index")
		}
		return glua.LString(m.src[s:e])
	}
	c := m.capture[i]
	switch c.len {
	case capUnfinished:
		m.error("unfinished capture")
	case capPosition:
		return glua.LNumber(c.init + 1)
	}
	return glua.LString(m.src[c.init : c.init+c.len])
}

// pushCaptures pushes the captures (the whole match when there are none
// and whole is set) and returns how many.
func (m *matcher) pushCaptures(s, e int, whole bool) int {
	n := m.level
	if n == 0 && whole {
		n = 1
	}
	for i := 0; i < n; i++ {
		m.L.Push(m.oneCapture(i, s, e))
	}
	return n
}

// find tries the pattern at each start from init (only init when it is
// anchored with ^): the start and end of the first match, or -1.
func (m *matcher) find(init int) (int, int) {
	p := 0
	anchor := len(m.pat) > 0 && m.pat[0] == '^'
	if anchor {
		p = 1
	}
	for s := init; ; s++ {
		m.level, m.depth = 0, 0
		if e := m.match(s, p); e != -1 {
			return s, e
		}
		if anchor || s >= len(m.src) {
			return -1, -1
		}
	}
}

// findInit is Lua 5.1's start position: 1-based, negative from the end,
// clamped to the subject.
func findInit(L *glua.LState, n int) int {
	init := L.OptInt(3, 1)
	if init < 0 {
		init += n + 1
		if init < 0 {
			init = 0
		}
	}
	init--
	if init < 0 {
		init = 0
	} else if init > n {
		init = n
	}
	return init
}

// strFind is string.find(s, pattern [, init [, plain]]): a plain search
// when asked or when the pattern has no magic characters, as C Lua does
// (gopher-lua compiled every pattern on every call, which made Kamailio's
// example script, with four string.find(ua, "friendly") calls a request,
// twice as expensive).
func (vm *VM) strFind(L *glua.LState) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	init := findInit(L, len(s))
	magic := p
	if i := strings.IndexByte(p, 0); i >= 0 {
		magic = p[:i] // Lua 5.1 looks for magic characters up to a NUL
	}
	if glua.LVAsBool(L.Get(4)) || !strings.ContainsAny(magic, "^$*+?.([%-") {
		i := strings.Index(s[init:], p)
		if i < 0 {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(glua.LNumber(init + i + 1))
		L.Push(glua.LNumber(init + i + len(p)))
		return 2
	}
	m := vm.newMatcher(L, s, p)
	start, end := m.find(init)
	if start < 0 {
		m.done()
		L.Push(glua.LNil)
		return 1
	}
	L.Push(glua.LNumber(start + 1))
	L.Push(glua.LNumber(end))
	n := 2 + m.pushCaptures(start, end, false)
	m.done()
	return n
}

// strMatch is string.match(s, pattern [, init]).
func (vm *VM) strMatch(L *glua.LState) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	m := vm.newMatcher(L, s, p)
	start, end := m.find(findInit(L, len(s)))
	if start < 0 {
		m.done()
		L.Push(glua.LNil)
		return 1
	}
	n := m.pushCaptures(start, end, true)
	m.done()
	return n
}

// strGmatch is string.gmatch(s, pattern). As in Lua 5.1, ^ is not an
// anchor here.
func (vm *VM) strGmatch(L *glua.LState) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	pos := 0
	var m *matcher
	L.Push(L.NewFunction(func(L *glua.LState) int {
		if m == nil { // its own: it lives as long as the iterator
			m = &matcher{src: s, pat: cutNUL(p), vm: vm}
		}
		m.left = matchChunk
		m.L = L
		for src := pos; src <= len(s); src++ {
			m.level, m.depth = 0, 0
			if e := m.match(src, 0); e != -1 {
				pos = e
				if e == src {
					pos++ // an empty match: move on at least one
				}
				return m.pushCaptures(src, e, true)
			}
		}
		pos = len(s) + 1
		return 0
	}))
	return 1
}
