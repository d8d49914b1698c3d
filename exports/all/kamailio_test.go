package all

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core"
)

// TestKamailioTypes checks every linked export that Kamailio also has
// against the reference list of Kamailio's KEMI exports (../shared beside
// the checkout): same return type, same parameter types, so scripts
// written for Kamailio call it the same way. kemi's own additions are not
// in the list and are skipped.
func TestKamailioTypes(t *testing.T) {
	path := filepath.Join(repoRoot(t), "..", "shared", "reference", "kamailio-kemi-exports.tsv")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no Kamailio reference: %v", err)
	}
	defer f.Close()
	type sig struct{ ret, params string }
	ref := map[string]sig{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) < 3 {
			continue
		}
		params := ""
		if len(c) > 3 {
			params = c[3]
		}
		ref[c[0]+"."+c[1]] = sig{c[2], params}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	reg, err := core.NewRegistry(core.Registered()...)
	if err != nil {
		t.Fatal(err)
	}
	matched := 0
	for _, e := range reg.Exports() {
		for _, name := range append([]string{e.Name}, e.Aliases...) {
			want, ok := ref[e.Module+"."+name]
			if !ok {
				continue
			}
			matched++
			var ps []string
			for _, p := range e.Params {
				ps = append(ps, p.String())
			}
			got := sig{e.Returns.String(), strings.Join(ps, ",")}
			if got != want {
				t.Errorf("KSR.%s.%s: kemi has (%s) %s, Kamailio (%s) %s", e.Module, name, got.params, got.ret, want.params, want.ret)
			}
		}
	}
	if matched == 0 {
		t.Fatal("no export matched the reference")
	}
	t.Logf("%d exports checked against Kamailio's", matched)
}
