package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
)

// include reads `include_file "path"` or `import_file "path"` and pushes
// the file. Relative paths are tried against the including file's folder
// first, then as given. A missing import_file is skipped, as in Kamailio
// (the default kamailio.cfg imports an optional kamailio-local.cfg).
func (lx *lexer) include(s *source, pos Pos, word string) {
	for !s.eof() && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.advance()
	}
	if s.eof() || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
		lx.errorf(pos, "%s: expected a quoted file name", word)
		return
	}
	t := lx.stringLit(s)
	if t.text == "" {
		lx.errorf(pos, "%s: empty file name", word)
		return
	}
	if len(lx.srcs) >= maxIncludeDepth {
		lx.errorf(pos, "%s %q: includes nested deeper than %d (does a file include itself?)", word, t.text, maxIncludeDepth)
		return
	}
	if lx.work.includes++; lx.work.includes > maxIncludes {
		if lx.work.includes == maxIncludes+1 {
			lx.errorf(pos, "%s %q: more than %d files included in all", word, t.text, maxIncludes)
		}
		return
	}
	var tried []string
	var data []byte
	var err error
	path := t.text
	if !filepath.IsAbs(path) {
		cand := filepath.Join(filepath.Dir(s.name), path)
		tried = append(tried, cand)
		data, err = lx.opt.ReadFile(cand)
		if err == nil {
			path = cand
		}
	}
	if filepath.IsAbs(path) || (err != nil && errors.Is(err, fs.ErrNotExist)) {
		if len(tried) == 0 || tried[0] != path {
			tried = append(tried, path)
			data, err = lx.opt.ReadFile(path)
		}
	}
	if err != nil {
		if word == "import_file" && errors.Is(err, fs.ErrNotExist) {
			lx.p.notice(pos, "", "import_file %q: not found, skipped (tried %s)", t.text, strings.Join(tried, ", "))
			return
		}
		if errors.Is(err, fs.ErrNotExist) {
			lx.errorf(pos, "%s %q: file not found (tried %s); use import_file for an optional file", word, t.text, strings.Join(tried, ", "))
			return
		}
		lx.errorf(pos, "%s %q: %v", word, t.text, err)
		return
	}
	if _, seen := lx.p.fileRank[path]; !seen {
		lx.p.fileRank[path] = len(lx.p.fileRank)
	}
	site := s.site
	if site.File == "" {
		site = pos
	}
	lx.srcs = append(lx.srcs, &source{name: path, b: trimBOM(data), line: 1, col: 1, site: site})
}

// trimBOM drops a UTF-8 byte order mark that some editors write.
func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
