package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/internal/testsvc"
)

// TestREADME_PostgresSetup covers issue 18 item 6: the README's
// PostgreSQL section works as written (with the test server's URL):
// kemi db init, kemi user add -db-url, and a config with its modparams
// that kemi check loads.
func TestREADME_PostgresSetup(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := string(b)
	i := strings.Index(sec, "## With PostgreSQL")
	if i < 0 {
		t.Fatal("README has no PostgreSQL section")
	}
	sec = sec[i:]
	sec = sec[:strings.Index(sec[3:], "\n## ")+3]
	var cmds, cfg []string
	for _, l := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(l, "    ") {
			continue
		}
		l = strings.TrimPrefix(l, "    ")
		switch {
		case strings.HasPrefix(l, "kemi "):
			cmds = append(cmds, l)
		case strings.HasPrefix(l, "#!define") || strings.HasPrefix(l, "modparam("):
			cfg = append(cfg, l)
		}
	}
	if len(cmds) != 2 || len(cfg) < 5 {
		t.Fatalf("README section changed shape: commands %q, config %q", cmds, cfg)
	}
	s := testsvc.StartPostgres(t)
	const readmeURL = "postgres://kamailio:kamailiorw@127.0.0.1:5432/kamailio"
	for _, c := range cmds {
		args := strings.Fields(strings.ReplaceAll(c, readmeURL, s.URL()))[1:]
		var out, errb bytes.Buffer
		if args[0] == "user" {
			if rc := userMain(append(args[1:], "secret"), strings.NewReader(""), &out, &errb); rc != 0 {
				t.Fatalf("%s: %d %s", c, rc, errb.String())
			}
			continue
		}
		if rc := run(args, &out, &errb); rc != 0 {
			t.Fatalf("%s: %d %s", c, rc, errb.String())
		}
	}
	if r, _ := s.Query("SELECT username FROM subscriber"); r != "alice\n" {
		t.Errorf("subscriber after the README's commands: %q", r)
	}
	conf := "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"auth.so\"\nloadmodule \"auth_db.so\"\n" +
		"loadmodule \"permissions.so\"\nloadmodule \"acc.so\"\nloadmodule \"sqlops.so\"\n" +
		"loadmodule \"app_lua.so\"\n" + strings.ReplaceAll(strings.Join(cfg, "\n"), readmeURL, s.URL()) +
		"\nmodparam(\"app_lua\", \"load\", \"script.lua\")\ncfgengine \"lua\"\n"
	dir := t.TempDir()
	p := filepath.Join(dir, "kemi.cfg")
	os.WriteFile(p, []byte(conf), 0o644)
	os.WriteFile(filepath.Join(dir, "script.lua"), []byte("function ksr_request_route()\n  KSR.sl.sl_send_reply(200, \"OK\")\nend\n"), 0o644)
	var out, errb bytes.Buffer
	if rc := run([]string{"check", "-f", p}, &out, &errb); rc != 0 {
		t.Fatalf("kemi check of the README's config: %d\n%s\n%s", rc, errb.String(), conf)
	}
}
