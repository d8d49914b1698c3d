package core

import (
	"fmt"
	"strconv"
	"strings"
)

// Format is a compiled string with pseudo-variables, such as log_prefix
// "{$mt $hdr(CSeq) $ci} ". Compiling once keeps formatting free of parsing.
type Format struct {
	parts []formatPart
}

type formatPart struct {
	lit  string
	get  PVGetter
	arg  string
	name string
}

// CompileFormat parses s; an unknown $name is an error naming it.
func CompileFormat(s string) (*Format, error) {
	f := &Format{}
	var lit strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) {
			lit.WriteByte(s[i])
			i++
			continue
		}
		if s[i+1] == '(' && pvParser != nil {
			// $(ru{uri.user}), $(hdr(Via)[1]): forms module pv parses.
			n := closeParen(s[i+1:])
			if n < 0 {
				return nil, fmt.Errorf("format %s: unclosed $( at offset %d", quoteCut(s), i)
			}
			full := s[i : i+2+n]
			get, err := pvParser(full)
			if err != nil {
				return nil, fmt.Errorf("format %s: %w", quoteCut(s), err)
			}
			if lit.Len() > 0 {
				f.parts = append(f.parts, formatPart{lit: lit.String()})
				lit.Reset()
			}
			f.parts = append(f.parts, formatPart{get: get, name: full})
			i += len(full)
			continue
		}
		name, arg, n := scanPV(s[i+1:])
		if name == "" {
			lit.WriteByte(s[i])
			i++
			continue
		}
		get := pvGetters[name]
		if get == nil {
			return nil, fmt.Errorf("format %s: unknown pseudo-variable $%s at offset %d", quoteCut(s), name, i)
		}
		if lit.Len() > 0 {
			f.parts = append(f.parts, formatPart{lit: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, formatPart{get: get, arg: arg, name: name})
		i += 1 + n
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, formatPart{lit: lit.String()})
	}
	return f, nil
}

// pvParser compiles the "$(...)" forms of a pseudo-variable, which carry
// transformations or an index; module pv provides it.
var pvParser func(full string) (PVGetter, error)

// SetPVParser installs the parser CompileFormat hands "$(...)" names to,
// such as "$(ru{uri.user})" or "$(hdr(Via)[1])". Without one they stay
// literal text. Call it from init().
func SetPVParser(p func(full string) (PVGetter, error)) { pvParser = p }

// closeParen returns the index in s (which starts with '(') of the ')'
// that closes it, skipping nested parentheses and {...} transformation
// arguments; -1 when it is not closed.
func closeParen(s string) int {
	depth, brace := 0, 0
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '{':
			brace++
		case '}':
			if brace > 0 {
				brace--
			}
		case '(':
			if brace == 0 {
				depth++
			}
		case ')':
			if brace == 0 {
				depth--
				if depth == 0 {
					return j
				}
			}
		}
	}
	return -1
}

// quoteCut quotes a format for an error, cut short: formats may be long.
func quoteCut(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "..."
	}
	return strconv.Quote(s)
}

// Append expands the format for ctx onto dst.
func (f *Format) Append(dst []byte, ctx *Ctx) []byte {
	for i := range f.parts {
		p := &f.parts[i]
		if p.get == nil {
			dst = append(dst, p.lit...)
			continue
		}
		var ok bool
		if ctx == nil || ctx.Msg == nil {
			dst = append(dst, "<null>"...)
			continue
		}
		n := len(dst)
		if dst, ok = p.get(ctx, p.arg, dst); !ok {
			dst = append(dst[:n], "<null>"...)
		}
	}
	return dst
}
