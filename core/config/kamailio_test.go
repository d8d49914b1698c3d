package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"kemi/core"
)

// The shape of Kamailio's default kamailio.cfg loads as it is, with the
// management modules and unused core parameters noticed, not refused.
func TestKamailioDefaultShape(t *testing.T) {
	const path = "testdata/kamailio-default.cfg"
	cfg, err := Load(path, Options{Module: fakeModule, ModuleNames: fakeModuleNames, Engine: fakeEngine})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantNotices := []string{
		path + ":16:1: import_file \"kamailio-local.cfg\": not found, skipped (tried testdata/kamailio-local.cfg, kamailio-local.cfg)",
		path + ":56:1: memdbg: Kamailio parameter not used by kemi, ignored",
		path + ":57:1: memlog: Kamailio parameter not used by kemi, ignored",
		path + ":86:1: enable_sctp: Kamailio parameter not used by kemi, ignored",
		path + ":111:1: loadmodule \"jsonrpcs.so\": not used by kemi (management interface; use kemi rpc), ignored with its modparams",
		path + ":112:1: loadmodule \"kex.so\": not used by kemi (core extensions for MI/RPC), ignored with its modparams",
		path + ":127:1: loadmodule \"ctl.so\": not used by kemi (management interface; use kemi rpc), ignored with its modparams",
		path + ":128:1: loadmodule \"cfg_rpc.so\": not used by kemi (runtime config over RPC), ignored with its modparams",
		path + ":130:1: loadmodule \"counters.so\": not used by kemi (statistics counters), ignored with its modparams",
	}
	if !reflect.DeepEqual(cfg.Notices, wantNotices) {
		t.Errorf("notices\n got %s\nwant %s", strings.Join(cfg.Notices, "\n     "), strings.Join(wantNotices, "\n     "))
	}
	var mods []string
	for _, m := range cfg.Modules {
		mods = append(mods, m.Name)
	}
	if got, want := strings.Join(mods, " "), "corex tm tmx sl rr pv maxfwd usrloc registrar textops textopsx siputils xlog sanity acc"; got != want {
		t.Errorf("modules\n got %s\nwant %s", got, want)
	}
	if got := global(t, cfg, "debug"); got != core.Int(2) {
		t.Errorf("debug = %v, want 2", got)
	}
	if got := len(cfg.ModParams); got != 14 { // 5 of them acc's, read unchanged
		t.Errorf("%d modparams, want 14: %+v", got, cfg.ModParams)
	}
	var routes []string
	for _, r := range cfg.Routes {
		routes = append(routes, r.Kind+"["+r.Name+"]")
	}
	wantRoutes := "request_route[] route[RELAY] route[REQINIT] route[WITHINDLG] route[REGISTRAR] route[PSTN] branch_route[MANAGE_BRANCH] reply_route[] onreply_route[MANAGE_REPLY] failure_route[MANAGE_FAILURE]"
	if got := strings.Join(routes, " "); got != wantRoutes {
		t.Errorf("routes\n got %s\nwant %s", got, wantRoutes)
	}
	if !strings.Contains(cfg.Routes[0].Body, "setflag(1      );") {
		t.Errorf("request_route body lacks the expanded FLT_ACC:\n%s", cfg.Routes[0].Body)
	}
	if !strings.Contains(cfg.Routes[7].Body, "$msg(len) > 16384") {
		t.Errorf("reply_route body lacks the expanded MSG_MAX_SIZE:\n%s", cfg.Routes[7].Body)
	}
}

// Every feature switched on from the command line, and one more from the
// optional kamailio-local.cfg.
func TestKamailioDefaultAllFeatures(t *testing.T) {
	const path = "testdata/kamailio-default.cfg"
	opt := Options{Module: fakeModule, ModuleNames: fakeModuleNames, Engine: fakeEngine}
	opt.ReadFile = func(p string) ([]byte, error) {
		if p == "testdata/kamailio-local.cfg" {
			return []byte("#!define WITH_NAT\nlisten=udp:127.0.0.1:5060\n"), nil
		}
		return os.ReadFile(p)
	}
	opt.Defines = map[string]string{}
	for _, d := range strings.Fields("WITH_DEBUG WITH_MYSQL WITH_AUTH WITH_USRLOCDB WITH_PSTN WITH_JSONRPC WITH_ANTIFLOOD WITH_TLS WITH_ACCDB") {
		opt.Defines[d] = ""
	}
	cfg, err := Load(path, opt)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := global(t, cfg, "debug"); got != core.Int(3) {
		t.Errorf("debug = %v, want 3", got)
	}
	if got := global(t, cfg, "pstn.gw_ip"); got != core.Str("") {
		t.Errorf("pstn.gw_ip = %#v, want empty string", got)
	}
	if len(cfg.Listens) != 1 || cfg.Listens[0].Pos.File != "testdata/kamailio-local.cfg" {
		t.Errorf("listen from kamailio-local.cfg: %+v", cfg.Listens)
	}
	params := map[string]string{}
	for _, mp := range cfg.ModParams {
		params[mp.Module+"."+mp.Name] = mp.Value.String()
	}
	for k, v := range map[string]string{
		"auth_db.db_url":         "mysql://kamailio:kamailiorw@localhost/kamailio",
		"usrloc.db_url":          "mysql://kamailio:kamailiorw@localhost/kamailio",
		"auth_db.calculate_ha1":  "1",
		"nathelper.received_avp": "$avp(RECEIVED)",
		"registrar.received_avp": "$avp(RECEIVED)",
		"usrloc.nat_bflag":       "6",
		"htable.htable":          "ipban=>size=8;autoexpire=300;",
	} {
		if params[k] != v {
			t.Errorf("%s = %q, want %q", k, params[k], v)
		}
	}
	var kinds []string
	for _, r := range cfg.Routes {
		if r.Kind == "event_route" {
			kinds = append(kinds, r.Name)
		}
	}
	if !reflect.DeepEqual(kinds, []string{"xhttp:request"}) {
		t.Errorf("event routes %q, want xhttp:request", kinds)
	}
	// debugger.so is a module of kemi's (per-module log levels) and
	// takes the config's cfgtrace.
	var debugger bool
	for _, m := range cfg.Modules {
		debugger = debugger || m.Name == "debugger"
	}
	if !debugger || params["debugger.cfgtrace"] != "1" {
		t.Errorf("debugger.so not loaded with its cfgtrace: %v", params["debugger.cfgtrace"])
	}
}

func BenchmarkParseKamailioDefault(b *testing.B) {
	src, err := os.ReadFile("testdata/kamailio-default.cfg")
	if err != nil {
		b.Fatal(err)
	}
	opt := Options{Module: fakeModule, ModuleNames: fakeModuleNames, Engine: fakeEngine, ReadFile: memFS(nil)}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("kamailio.cfg", src, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// Kamailio's misc/examples/kemi/kamailio-basic-kemi.cfg picks the engine
// through defines that expand to strings.
func TestKemiExampleShape(t *testing.T) {
	src := `#!KAMAILIO
#!ifdef WITH_CFGLUA
#!define KEMIENGINE "lua"
#!define KEMIMODULE "app_lua"
#!define KEMILOAD "/usr/local/etc/kamailio/kamailio-basic-kemi-lua.lua"
#!endif
#!ifdef WITH_CFGJSDT
#!define KEMIENGINE "jsdt"
#!define KEMIMODULE "app_jsdt"
#!define KEMILOAD "/usr/local/etc/kamailio/kamailio-basic-kemi-jsdt.js"
#!endif
#!ifndef KEMIENGINE
#!define KEMIENGINE "native"
#!endif
loadmodule "tm.so"
#!ifdef KEMIMODULE
loadmodule KEMIMODULE
modparam(KEMIMODULE, "load", KEMILOAD)
#!endif
cfgengine KEMIENGINE
#!ifdef WITH_CFGNATIVE
include_file "native.cfg"
#!endif
`
	files := map[string]string{"native.cfg": "request_route {\n\tsl_send_reply(\"404\", \"Not here\");\n}\n"}
	for _, tt := range []struct{ define, engine, script string }{
		{"WITH_CFGLUA", "lua", "/usr/local/etc/kamailio/kamailio-basic-kemi-lua.lua"},
		{"WITH_CFGJSDT", "jsdt", "/usr/local/etc/kamailio/kamailio-basic-kemi-jsdt.js"},
		{"WITH_CFGNATIVE", "", ""},
	} {
		opt := testOptions(files)
		opt.Defines = map[string]string{tt.define: ""}
		cfg, err := Parse("kemi.cfg", []byte(src), opt)
		if err != nil {
			t.Errorf("%s: %v", tt.define, err)
			continue
		}
		if cfg.Engine != tt.engine || cfg.EnginePos.String() != "kemi.cfg:20:1" {
			t.Errorf("%s: engine %q at %v", tt.define, cfg.Engine, cfg.EnginePos)
		}
		if tt.script != "" && (len(cfg.ModParams) != 1 || cfg.ModParams[0].Value.S != tt.script) {
			t.Errorf("%s: modparams %+v", tt.define, cfg.ModParams)
		}
		if tt.script == "" && (len(cfg.Routes) != 1 || cfg.Routes[0].Pos.String() != "native.cfg:1:1") {
			t.Errorf("%s: routes %+v", tt.define, cfg.Routes)
		}
	}
}
