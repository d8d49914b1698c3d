package textops

import (
	"bytes"

	"kemi/core"
	"kemi/sip"
)

// state is per-worker: scratch space for rewrites (nothing in it outlives
// a call, so every buffer carries over to the next message).
type state struct {
	buf   []byte
	block []byte
	old   [][]byte
	new   [][]byte
	edits []hline
}

type hline struct {
	name, value []byte
}

var msgState = core.NewMsgState(func(old *state) state {
	return state{buf: old.buf[:0], block: old.block[:0], old: old.old[:0], new: old.new[:0], edits: old.edits[:0]}
})

func scratch(ctx *core.Ctx) *state { return msgState.Get(ctx) }

// off is the offset of sub within buf (sub is a slice of buf).
func off(buf, sub []byte) int { return cap(buf) - cap(sub) }

// splitLines splits a header block into lines, each with its line end;
// a line break followed by SP or HT continues the line (folding).
func splitLines(dst [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		end := len(b)
		for i := 0; i < len(b); i++ {
			if b[i] == '\n' && !(i+1 < len(b) && (b[i+1] == ' ' || b[i+1] == '\t')) {
				end = i + 1
				break
			}
		}
		dst = append(dst, b[:end])
		b = b[end:]
	}
	return dst
}

// parseLine splits "Name: value\r\n" into name and value.
func parseLine(l []byte) (hline, bool) {
	l = bytes.TrimRight(l, "\r\n")
	c := bytes.IndexByte(l, ':')
	if c <= 0 {
		return hline{}, false
	}
	name := bytes.TrimRight(l[:c], " \t")
	if len(name) == 0 {
		return hline{}, false
	}
	for _, ch := range name {
		if ch <= ' ' || ch >= 0x7f {
			return hline{}, false
		}
	}
	return hline{name: name, value: bytes.TrimLeft(l[c+1:], " \t")}, true
}

// rewrite applies se to the header block (after the first line) and/or
// the body and records the changes as edits. Without global, only the
// first match is replaced. It returns 1 when something was replaced.
func rewrite(ctx *core.Ctx, fn string, se *substExpr, global, hdrs, body bool) int {
	m := ctx.Msg
	if m == nil {
		return -1
	}
	st := scratch(ctx)
	n := 0
	if hdrs && m.NumHeaders() > 0 {
		raw := m.Raw()
		st.old = st.old[:0]
		for i := 0; i < m.NumHeaders(); i++ {
			name, _ := m.HeaderAt(i)
			s := off(raw, name)
			var e int
			if i+1 < m.NumHeaders() {
				next, _ := m.HeaderAt(i + 1)
				e = off(raw, next)
			} else {
				_, v := m.HeaderAt(i)
				e = off(raw, v) + len(v)
				if k := bytes.IndexByte(raw[e:], '\n'); k >= 0 {
					e += k + 1
				} else {
					e = len(raw)
				}
			}
			st.old = append(st.old, raw[s:e])
		}
		first, _ := m.HeaderAt(0)
		hs := off(raw, first)
		last := st.old[len(st.old)-1]
		he := off(raw, last) + len(last)
		var k int
		st.block, k = se.replace(ctx, st.block[:0], raw[hs:he], global)
		if k > 0 {
			if err := st.applyLines(m); err != nil {
				return logErr(ctx, fn, err)
			}
			n += k
		}
	}
	if body && (global || n == 0) {
		if b := m.Body(); len(b) > 0 {
			var k int
			st.buf, k = se.replace(ctx, st.buf[:0], b, global)
			if k > 0 {
				m.SetBody(st.buf, "")
				n += k
			}
		}
	}
	return b2i(n > 0)
}

// applyLines turns the difference between st.old (the header lines) and
// st.block (the new header block) into edits. Lines that stayed the same
// are left alone; with the same number of lines each changed line is
// rewritten, otherwise the changed window between the common first and
// last lines is.
func (st *state) applyLines(m *sip.Msg) error {
	if len(st.block) > 0 && st.block[len(st.block)-1] != '\n' {
		st.block = append(st.block, '\r', '\n')
	}
	st.new = splitLines(st.new[:0], st.block)
	no, nn := len(st.old), len(st.new)
	// Check every new line first so that a bad result changes nothing.
	st.edits = st.edits[:0]
	type change struct{ oldFrom, oldTo, newFrom, newTo int }
	var ch [sip.MaxHeaders]change
	nc := 0
	if no == nn {
		for i := 0; i < no; i++ {
			if !bytes.Equal(st.old[i], st.new[i]) {
				ch[nc] = change{i, i + 1, i, i + 1}
				nc++
			}
		}
	} else {
		p := 0
		for p < no && p < nn && bytes.Equal(st.old[p], st.new[p]) {
			p++
		}
		s := 0
		for s < no-p && s < nn-p && bytes.Equal(st.old[no-1-s], st.new[nn-1-s]) {
			s++
		}
		ch[0] = change{p, no - s, p, nn - s}
		nc = 1
	}
	for _, c := range ch[:nc] {
		for j := c.newFrom; j < c.newTo; j++ {
			l, ok := parseLine(st.new[j])
			if !ok {
				return errorf("the result is not a header line: " + quote(st.new[j]))
			}
			st.edits = append(st.edits, l)
		}
	}
	k := 0
	for _, c := range ch[:nc] {
		for i := c.oldFrom; i < c.oldTo; i++ {
			if err := m.RemoveHeaderAt(i); err != nil {
				return err
			}
		}
		for j := c.newFrom; j < c.newTo; j++ {
			l := st.edits[k]
			k++
			var err error
			if c.oldFrom < no {
				err = m.InsertHeaderBefore(c.oldFrom, string(l.name), l.value)
			} else {
				err = m.AppendHeader(string(l.name), l.value)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func quote(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	out := make([]byte, 0, len(b)+2)
	out = append(out, '"')
	for _, c := range b {
		switch c {
		case '\r':
			out = append(out, `\r`...)
		case '\n':
			out = append(out, `\n`...)
		default:
			out = append(out, c)
		}
	}
	return string(append(out, '"'))
}
