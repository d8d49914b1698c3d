package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kemiCheck runs `kemi check -f cfg` on a config (and a Lua script
// script.lua beside it) and returns the exit code and what it printed.
func kemiCheck(t *testing.T, cfg string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "script.lua"), []byte("function ksr_request_route() end\n"), 0o644)
	path := filepath.Join(dir, "kemi.cfg")
	os.WriteFile(path, []byte(cfg), 0o644)
	var out, errb bytes.Buffer
	rc := run([]string{"check", "-f", path}, &out, &errb)
	return rc, out.String() + errb.String()
}

const luaCfg = "loadmodule \"app_lua.so\"\nmodparam(\"app_lua\", \"load\", \"script.lua\")\ncfgengine \"lua\"\n"

// Issue 11: the error for an unknown cfgengine names the engines linked in.
func TestCheck_UnknownCfgengineListsLinkedEngines(t *testing.T) {
	rc, out := kemiCheck(t, "cfgengine \"python\"\n")
	if rc == 0 || !strings.Contains(out, `kemi.cfg:1:1: cfgengine "python": unknown engine; this kemi has jsdt (js), lua, starlark`) {
		t.Errorf("rc %d:\n%s", rc, out)
	}
	if strings.Contains(out, "native") {
		t.Errorf("offers the native engine, which is not there:\n%s", out)
	}
}

// Issue 11: a malformed alias is an error at check, with file:line:col.
func TestCheck_MalformedAliasIsAnError(t *testing.T) {
	rc, out := kemiCheck(t, "alias=udp:host.example.com:50x60\n"+luaCfg)
	if rc == 0 || !strings.Contains(out, `kemi.cfg:1:7: alias "udp:host.example.com:50x60"`) {
		t.Errorf("rc %d:\n%s", rc, out)
	}
	rc, out = kemiCheck(t, "alias=udp:host.example.com:5060 \"b.example.com\":5070 c.example.com\n"+luaCfg)
	if rc != 0 {
		t.Errorf("rc %d:\n%s", rc, out)
	}
}

// Issue 11: a db_url kemi cannot use is a load error naming the parameter,
// not a silent switch to kemi's own database file, and the URL (with its
// password) is not printed.
func TestCheck_DBURLUnsupportedSchemeIsAnError(t *testing.T) {
	t.Setenv("KEMI_DB", filepath.Join(t.TempDir(), "kemi.db"))
	for _, c := range []struct{ mod, want string }{
		{"usrloc", `modparam("usrloc", "db_url", ...): scheme "oracle" not supported; kemi supports file:///path/to/kemi.db`},
		{"auth_db", `modparam("auth_db", "db_url", ...): scheme "oracle" not supported; kemi supports file:///path/to/kemi.db`},
	} {
		rc, out := kemiCheck(t, "loadmodule \"usrloc.so\"\nloadmodule \"auth.so\"\nloadmodule \"auth_db.so\"\n"+
			"modparam(\""+c.mod+"\", \"db_url\", \"oracle://kamailio:kamailiorw@localhost/kamailio\")\n"+luaCfg)
		if rc == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%s: rc %d:\n%s", c.mod, rc, out)
		}
		if strings.Contains(out, "kamailiorw") {
			t.Errorf("%s: the error shows the password:\n%s", c.mod, out)
		}
	}
	db := filepath.Join(t.TempDir(), "k.db")
	rc, out := kemiCheck(t, "loadmodule \"usrloc.so\"\nmodparam(\"usrloc\", \"db_url\", \"file://"+db+"\")\n"+luaCfg)
	if rc != 0 {
		t.Errorf("file:// db_url: rc %d:\n%s", rc, out)
	}
}
