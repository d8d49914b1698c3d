// Package scenarios runs every script scenario in testdata/scripts in every
// engine and checks that each gives the same SIP outcome, through the
// runner `kemi test` uses (kemi/server/scenario).
//
// A scenario is a folder holding script.lua, script.js and script.star, the
// modules it loads (scenario.yaml), the SIP messages it receives, and what
// each message must produce: the first line of every message sent, and text
// that must appear in the log (a script error, say). See the package doc of
// kemi/server/scenario for the format.
package scenarios

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	_ "kemi/engines/all"
	_ "kemi/exports/all"
	"kemi/internal/resolve/dnstest"
	"kemi/internal/testsvc"
	"kemi/server/scenario"
)

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "scripts")
}

func TestScenarios(t *testing.T) {
	dirs, err := os.ReadDir(root())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(root(), d.Name())
		t.Run(d.Name(), func(t *testing.T) { runScenario(t, dir) })
	}
	if n == 0 {
		t.Fatal("no scenarios under testdata/scripts")
	}
}

func runScenario(t *testing.T, dir string) {
	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.DNS) > 0 {
		sc.DNSServer = dnstest.Start(t, sc.DNS...).Addr
	}
	if sc.Redis {
		sc.RedisPort = testsvc.StartRedis(t).Port
	}
	if len(sc.SQL) > 0 {
		for _, db := range sc.SQL {
			t.Run(db, func(t *testing.T) {
				var s *testsvc.SQL
				switch db {
				case "postgres":
					s = testsvc.StartPostgres(t)
				case "mysql":
					s = testsvc.StartMariaDB(t)
				default:
					t.Fatalf("sql: %q is not postgres or mysql", db)
				}
				sc.DBURL = s.URL()
				sc.Seed = func() error {
					seed := filepath.Join(dir, "seed.sql")
					if _, err := os.Stat(seed); err != nil {
						return nil
					}
					s.LoadFile(seed)
					return nil
				}
				checkRuns(t, scenario.RunEngines(sc))
			})
		}
		return
	}
	checkRuns(t, scenario.RunEngines(sc))
}

func checkRuns(t *testing.T, runs []*scenario.Result) {
	for _, r := range runs {
		t.Run(r.Engine, func(t *testing.T) {
			if r.Skipped != "" {
				t.Skip(r.Skipped)
			}
			for _, f := range r.Failures {
				t.Error(f)
			}
		})
	}
	for _, d := range scenario.CompareEngines(runs) {
		t.Error(d)
	}
}
