// Package scriptpath resolves the files a routing script loads next to
// itself (JavaScript's require, Starlark's load) and keeps them inside the
// script's folder tree.
//
// A name is resolved against the folder of the file that loads it; an
// absolute name is taken as it is. Either way the file must lie in the
// script's folder or below it, before and after symbolic links are
// followed: "../x" that leaves the tree, an absolute path elsewhere and a
// link pointing out of the tree are errors. Kamailio's app_jsdt reads any
// path it is given; kemi does not let a script reach other files this way
// (link or copy a shared library into the folder instead).
package scriptpath

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxSize bounds a loaded file: scripts are small, and every worker pays
// for a huge one.
const MaxSize = 8 << 20

// Root is a script's folder tree.
type Root struct {
	Dir  string // the script's folder, absolute
	real string // Dir with links followed; "" when it cannot be
}

// New returns the tree of the folder holding script.
func New(script string) *Root {
	dir, err := filepath.Abs(filepath.Dir(script))
	if err != nil {
		dir = filepath.Clean(filepath.Dir(script))
	}
	r := &Root{Dir: dir}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		r.real = real
	}
	return r
}

// within reports whether path is root or below it; both are clean.
func within(path, root string) bool {
	if path == root {
		return true
	}
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	return strings.HasPrefix(path, root)
}

// Resolve finds the file call(name) names (call is "require" or "load",
// for errors) when called from a file in folder from, adding ext when name
// does not end in it (ext "" adds nothing). It returns the path with links
// followed, which is the file's identity for caching.
func (r *Root) Resolve(call, name, from, ext string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%s(\"\"): expected a file name", call)
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%s(%q): a file name cannot hold NUL", call, name)
	}
	path := filepath.FromSlash(name)
	if !filepath.IsAbs(path) {
		path = filepath.Join(from, path)
	}
	path = filepath.Clean(path)
	if ext != "" && !strings.HasSuffix(path, ext) {
		path += ext
	}
	if !within(path, r.Dir) {
		return "", fmt.Errorf("%s(%q): %s is outside the script's folder %s; files must lie in it or below it", call, name, path, r.Dir)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s(%q): no file %s (searched in %s)", call, name, path, from)
		}
		return "", fmt.Errorf("%s(%q): %w", call, name, err)
	}
	if r.real == "" || !within(real, r.real) {
		return "", fmt.Errorf("%s(%q): %s links to %s, outside the script's folder %s", call, name, path, real, r.Dir)
	}
	return real, nil
}

// Folder is the folder of resolved file path as seen from the script's
// own path: a file's loads resolve against it, so the "outside" check
// compares like with like even when the script's folder is reached through
// a link.
func (r *Root) Folder(path string) string {
	dir := filepath.Dir(path)
	if r.real != "" {
		if rel, err := filepath.Rel(r.real, dir); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(r.Dir, rel)
		}
	}
	return dir
}

// Read reads the regular file at path, at most MaxSize bytes.
func Read(call, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file", call, path)
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", call, path, err)
	}
	if len(src) > MaxSize {
		return nil, fmt.Errorf("%s: %s is larger than %d MiB", call, path, MaxSize>>20)
	}
	return src, nil
}
