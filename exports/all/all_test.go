package all

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kemi/core"
	"kemi/kemigen"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := kemigen.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestDocsListEveryExport compares what the linked modules register with
// docs/reference/index.json, both ways, name by name and type by type.
func TestDocsListEveryExport(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs/reference/index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ix struct {
		Modules []struct {
			Name, Dir string
		}
		Functions []struct {
			Module, Name, Native, Returns string
			Aliases                       []string
			Params                        []struct{ Name, Type string }
		}
	}
	if err := json.Unmarshal(raw, &ix); err != nil {
		t.Fatal(err)
	}
	reg, err := core.NewRegistry(core.Registered()...)
	if err != nil {
		t.Fatal(err)
	}
	inExports := map[string]bool{}
	for _, m := range ix.Modules {
		if strings.HasPrefix(m.Dir, "exports/") {
			inExports[m.Name] = true
		}
	}
	documented := map[string]bool{}
	for _, f := range ix.Functions {
		if !inExports[f.Module] {
			continue // engines register their own modules; they are not linked here
		}
		e := reg.Lookup(f.Module, f.Name)
		full := "KSR." + f.Module + "." + f.Name
		if e == nil || e.Name != f.Name {
			t.Errorf("%s is documented but not registered", full)
			continue
		}
		documented[e.Key()] = true
		var types []string
		for _, p := range f.Params {
			types = append(types, p.Type)
		}
		var got []string
		for _, p := range e.Params {
			got = append(got, p.String())
		}
		if !slices.Equal(types, got) || e.Returns.String() != f.Returns || e.Native != f.Native || !slices.Equal(e.Aliases, f.Aliases) {
			t.Errorf("%s: docs say (%v) %s native %s aliases %v; registry has (%v) %s native %s aliases %v",
				full, types, f.Returns, f.Native, f.Aliases, got, e.Returns, e.Native, e.Aliases)
		}
	}
	for _, e := range reg.Exports() {
		if !documented[e.Key()] {
			t.Errorf("%s is registered but missing from docs/reference/index.json (run go generate ./...)", e.FullName())
		}
	}
	if len(documented) == 0 {
		t.Fatal("no exports compared")
	}
}

// TestGeneratedUpToDate regenerates in memory and compares the files kemigen
// writes under exports/ with the ones on disk, so a spec edited without
// `go generate ./...` fails here as well as in CI.
func TestGeneratedUpToDate(t *testing.T) {
	root := repoRoot(t)
	mods, err := kemigen.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := kemigen.Generate(mods)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for p, want := range files {
		if !strings.HasPrefix(p, "exports/") {
			continue
		}
		n++
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./...", p)
		}
	}
	if n == 0 {
		t.Fatal("nothing generated under exports/")
	}
}
