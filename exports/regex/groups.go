package regex

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// maxLine is the longest line of a group file, as Kamailio reads them
// (fgets into FILE_MAX_LINE-4 bytes, the newline included).
const maxLine = 495

// Limits bound what a group file may hold.
type Limits struct {
	MaxGroups    int // modparam max_groups
	GroupMaxSize int // modparam group_max_size
}

// LoadGroups reads and compiles the group file at path; flags is the RE2
// flag prefix from the pcre_* params. Errors name path:line.
func LoadGroups(path, flags string, lim Limits) ([]*regexp.Regexp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf(`modparam("regex", "file"): %w`, err)
	}
	defer f.Close()
	return ParseGroups(f, path, flags, lim)
}

// group is one group being read: its alternatives and where they are.
type group struct {
	line  int      // line of its '[' opener
	alts  []string // one per expression line
	lines []int
	size  int // length of the combined expression so far
}

// ParseGroups reads a group file from r; name is how errors call it.
func ParseGroups(r io.Reader, name, flags string, lim Limits) ([]*regexp.Regexp, error) {
	var groups []*group
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxLine+2) // room for CR LF
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > maxLine {
			return nil, fmt.Errorf("%s:%d: line of %d bytes, more than %d", name, n, len(line), maxLine)
		}
		if len(line) == 0 || isSpace(line[0]) || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			if len(groups) >= lim.MaxGroups {
				return nil, fmt.Errorf("%s:%d: group %d: more groups than max_groups (%d)", name, n, len(groups), lim.MaxGroups)
			}
			groups = append(groups, &group{line: n, size: 2})
			continue
		}
		if len(groups) == 0 {
			return nil, fmt.Errorf("%s:%d: expected a group opener such as [0] before the first expression, got %q", name, n, line)
		}
		g := groups[len(groups)-1]
		g.size += len(line) + 3 // "(" line ")" and a '|'
		if g.size >= lim.GroupMaxSize-4 {
			return nil, fmt.Errorf("%s:%d: group %d is longer than group_max_size (%d bytes)", name, n, len(groups)-1, lim.GroupMaxSize)
		}
		g.alts = append(g.alts, string(line))
		g.lines = append(g.lines, n)
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, n+1, maxLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("%s: no expression groups: want [0] and expressions, one per line", name)
	}
	out := make([]*regexp.Regexp, len(groups))
	for i, g := range groups {
		re, err := g.compile(flags)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: group %d: %w", name, g.errLine(flags), i, err)
		}
		out[i] = re
	}
	return out, nil
}

// compile builds the group's expression as Kamailio does:
// "((line1)|(line2))", or "^$" for a group without lines.
func (g *group) compile(flags string) (*regexp.Regexp, error) {
	if len(g.alts) == 0 {
		return regexp.Compile(flags + "^$")
	}
	var b strings.Builder
	b.WriteString(flags)
	b.WriteByte('(')
	for i, a := range g.alts {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteByte('(')
		b.WriteString(a)
		b.WriteByte(')')
	}
	b.WriteByte(')')
	return regexp.Compile(b.String())
}

// errLine finds the line to blame for a group that does not compile: the
// first that does not compile alone, else the group's opener.
func (g *group) errLine(flags string) int {
	for i, a := range g.alts {
		if _, err := regexp.Compile(flags + a); err != nil {
			return g.lines[i]
		}
	}
	return g.line
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
