package dispatcher_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"kemi/core/loader"
	_ "kemi/engines/all"
	_ "kemi/exports/all"
	"kemi/exports/dispatcher"
)

// The dispatcher modparams of Kamailio's sample load balancer config
// (README.dispatcher, "Kamailio config script - sample dispatcher usage"),
// unchanged but for db_url: kemi reads the sets from list_file.
const kamailioParams = `modparam("dispatcher", "table_name", "dispatcher")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "xavp_dst", "_dsdst_")
modparam("dispatcher", "xavp_ctx", "_dsctx_")
modparam("dispatcher", "ds_ping_from", "sip:proxy@kamailio.org")
modparam("dispatcher", "ds_ping_interval", 60)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_timer_mode", 1)
`

func loadCfg(t *testing.T, params string) (*loader.Setup, error) {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(list, []byte("1 sip:127.0.0.1:7070 0 0 duid=xyz;maxload=20\n1 sip:127.0.0.1:7072 0 5\n1 sip:127.0.0.1:7074\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "#!KAMAILIO\nloadmodule \"tm.so\"\nloadmodule \"sl.so\"\nloadmodule \"dispatcher.so\"\nloadmodule \"app_lua.so\"\n" +
		"modparam(\"dispatcher\", \"list_file\", \"" + list + "\")\n" + params +
		"modparam(\"app_lua\", \"load\", \"lb.lua\")\ncfgengine \"lua\"\n"
	script := "function ksr_request_route()\n\tif KSR.dispatcher.ds_select_dst(1, 4) < 0 then KSR.sl.sl_send_reply(503, \"No destination\") end\nend\n"
	return loader.Load(loader.Options{Path: "kamailio.cfg", LogOut: &strings.Builder{}, FS: fstest.MapFS{
		"kamailio.cfg": {Data: []byte(cfg)},
		"lb.lua":       {Data: []byte(script)},
	}})
}

func TestKamailioConfig_DispatcherParamsReadUnchanged(t *testing.T) {
	s, err := loadCfg(t, kamailioParams)
	if err != nil {
		t.Fatal(err)
	}
	defer s.RT.Stop()
	m := dispatcher.Of(s.RT)
	if m == nil || len(m.List().Set(1).Dests) != 3 {
		t.Fatalf("sets: %+v", m)
	}
	if _, err := loadCfg(t, kamailioParams+`modparam("dispatcher", "db_url", "mysql://kamailio:kamailiorw@127.0.0.1:1/kamailio")`+"\n"); err == nil ||
		!strings.Contains(err.Error(), "dispatcher: loading the sets") {
		t.Errorf("db_url: %v", err)
	}
}
