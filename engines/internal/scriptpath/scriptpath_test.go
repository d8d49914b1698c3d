package scriptpath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11: a script whose folder is reached through a symbolic link
// (/etc/kemi -> /opt/kemi) loads files below it, and a file's own loads
// resolve against its folder as the script names it; leaving the tree is
// refused either way.
func TestResolve_LinkedScriptFolder(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "opt")
	if err := os.MkdirAll(filepath.Join(real, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.js", "lib/a.js", "lib/b.js"} {
		if err := os.WriteFile(filepath.Join(real, f), []byte("//"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "outside.js"), []byte("//"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "etc")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	r := New(filepath.Join(link, "main.js"))
	if r.Dir != link {
		t.Fatalf("Dir = %s, want %s", r.Dir, link)
	}
	a, err := r.Resolve("require", "./lib/a", r.Dir, ".js")
	if err != nil || a != filepath.Join(real, "lib", "a.js") {
		t.Fatalf("Resolve(./lib/a) = %s, %v", a, err)
	}
	from := r.Folder(a)
	if from != filepath.Join(link, "lib") {
		t.Errorf("Folder(%s) = %s, want %s", a, from, filepath.Join(link, "lib"))
	}
	if b, err := r.Resolve("require", "b", from, ".js"); err != nil || b != filepath.Join(real, "lib", "b.js") {
		t.Errorf("Resolve(b) from lib = %s, %v", b, err)
	}
	for _, name := range []string{"../../outside", "../../../outside", filepath.Join(base, "outside.js")} {
		if _, err := r.Resolve("require", name, from, ".js"); err == nil || !strings.Contains(err.Error(), "outside the script's folder") {
			t.Errorf("Resolve(%s) = %v, want outside", name, err)
		}
	}
	if _, err := Read("load", filepath.Join(real, "lib")); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Read of a folder = %v", err)
	}
}
