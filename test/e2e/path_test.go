package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeFilled copies testdata/path/name into dir with the replacements
// made and returns the copy's path.
func writeFilled(t *testing.T, dir, name string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/path", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.NewReplacer(repl...).Replace(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPath_EdgeProxyInFrontOfRegistrar is issue 14's path e2e: two kemi
// processes, an edge proxy (path module, add_path_received) in front of
// a registrar (use_path). sipp registers bob through the edge; the 200
// comes back with the edge's Path; a call to bob sent to the registrar
// reaches bob through the edge (its Via on top of the INVITE bob gets),
// and ACK and BYE follow the route set through both.
func TestPath_EdgeProxyInFrontOfRegistrar(t *testing.T) {
	needSipp(t)
	dir := t.TempDir()
	regCfg := "#!KAMAILIO\ndebug=3\nlog_stderror=yes\nchildren=1\n" +
		"loadmodule \"tm.so\"\nloadmodule \"sl.so\"\nloadmodule \"rr.so\"\nloadmodule \"pv.so\"\nloadmodule \"siputils.so\"\nloadmodule \"kemix.so\"\n" +
		"loadmodule \"usrloc.so\"\nloadmodule \"registrar.so\"\nloadmodule \"app_lua.so\"\n" +
		"modparam(\"registrar\", \"use_path\", 1)\nmodparam(\"registrar\", \"path_mode\", 2)\n" +
		"modparam(\"app_lua\", \"load\", \"registrar.lua\")\ncfgengine \"lua\"\n"
	writeFilled(t, dir, "registrar.lua")
	if err := os.WriteFile(filepath.Join(dir, "registrar.cfg"), []byte(regCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := startKemi(t, filepath.Join(dir, "registrar.cfg"))

	edgeDir := filepath.Join(dir, "edge")
	if err := os.Mkdir(edgeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFilled(t, edgeDir, "edge.lua", "{REGISTRAR}", reg.addr)
	edgeCfg := "#!KAMAILIO\ndebug=3\nlog_stderror=yes\nchildren=1\n" +
		"loadmodule \"tm.so\"\nloadmodule \"sl.so\"\nloadmodule \"rr.so\"\nloadmodule \"siputils.so\"\nloadmodule \"kemix.so\"\n" +
		"loadmodule \"path.so\"\nloadmodule \"app_lua.so\"\n" +
		"modparam(\"path\", \"use_received\", 1)\n" +
		"modparam(\"app_lua\", \"load\", \"edge.lua\")\ncfgengine \"lua\"\n"
	if err := os.WriteFile(filepath.Join(edgeDir, "edge.cfg"), []byte(edgeCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	edge := startKemi(t, filepath.Join(edgeDir, "edge.cfg"))

	bobPort := freePort(t)
	bobContact := "<sip:bob@127.0.0.1:" + strconv.Itoa(bobPort) + ">"
	pathRE := `Path: &lt;sip:127\.0\.0\.1:` + strconv.Itoa(edge.port) + `;lr;received=sip:127\.0\.0\.1:[0-9]+&gt;`
	// bob registers from the port it then answers on: the edge records
	// that source as received, and use_received sends the call there.
	edge.sipp(t, writeFilled(t, dir, "register.xml", "CONTACT", bobContact, "PATHCHECK", pathRE), 1, 1, "-p", strconv.Itoa(bobPort))

	uasFile := writeFilled(t, dir, "uas.xml", "EDGEVIA", `127\.0\.0\.1:`+strconv.Itoa(edge.port)+`;branch=`)
	rel, err := filepath.Rel(repo("test/e2e/testdata/proxy"), uasFile)
	if err != nil {
		t.Fatal(err)
	}
	u := startUAS(t, rel, bobPort)
	reg.sipp(t, writeFilled(t, dir, "uac.xml"), 1, 1)
	u.wait(t, "bob behind the edge")
	want := "lookup: ru=sip:bob@127.0.0.1:" + strconv.Itoa(bobPort) + " du=sip:127.0.0.1:" + strconv.Itoa(edge.port) + ";lr;received=sip:127.0.0.1:" + strconv.Itoa(bobPort)
	if !logShows(reg, want) {
		t.Errorf("the registrar did not send the call to the edge (Path's first hop); want %q in its log", want)
	}
}
