package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"kemi/core"
)

func TestGlobalKinds(t *testing.T) {
	cfg := mustParse(t, strings.Join([]string{
		"debug=-1",
		"log_stderror=yes",
		"log_prefix=\"{$mt $hdr(CSeq) $ci} \"",
		"log_facility=LOG_LOCAL0",
		"log_name=\"kemi\"",
		"children=8",
		"port=5062",
		"auto_aliases=no",
		"mpath=\"/usr/lib/kamailio/modules/\"",
		"loadpath=\"/opt/mods/\"",
		"fork=on",
		"tcp_children=4",
		"tcp_connection_lifetime=3605",
		"tcp_max_connections=2048",
		"tcp_accept_aliases=1",
		"tcp_buf_write=true",
		"kemi.request_route_callback=\"my_request\"",
		"kemi.reply_route_callback = \"my_reply\"",
		"kemi.onsend_route_callback=\"my_onsend\"",
		"kemi.event_route_callback=\"my_event\"",
		"kemi.received_route_mode=1",
		"pstn.gw_ip = \"10.0.0.101\" desc \"My PSTN GW Address\"",
		"voicemail.srv_port = 5060 descr \"VoiceMail Port\"",
		"children = 2 ; debug = 3",
		"",
	}, "\n"))
	want := map[string]core.Value{
		"debug":                       core.Int(3),
		"log_stderror":                core.Bool(true),
		"log_prefix":                  core.Str("{$mt $hdr(CSeq) $ci} "),
		"log_facility":                core.Str("LOG_LOCAL0"),
		"log_name":                    core.Str("kemi"),
		"children":                    core.Int(2),
		"port":                        core.Int(5062),
		"auto_aliases":                core.Bool(false),
		"mpath":                       core.Str("/opt/mods/"),
		"fork":                        core.Bool(true),
		"tcp_children":                core.Int(4),
		"tcp_connection_lifetime":     core.Int(3605),
		"tcp_max_connections":         core.Int(2048),
		"tcp_accept_aliases":          core.Bool(true),
		"tcp_async":                   core.Bool(true),
		"kemi.request_route_callback": core.Str("my_request"),
		"kemi.reply_route_callback":   core.Str("my_reply"),
		"kemi.onsend_route_callback":  core.Str("my_onsend"),
		"kemi.event_route_callback":   core.Str("my_event"),
		"kemi.received_route_mode":    core.Int(1),
		"pstn.gw_ip":                  core.Str("10.0.0.101"),
		"voicemail.srv_port":          core.Int(5060),
	}
	for name, w := range want {
		if got := global(t, cfg, name); got != w {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	// Every assignment is kept in order; the first debug is still there.
	if cfg.Globals[0].Name != "debug" || cfg.Globals[0].Value != core.Int(-1) || cfg.Globals[0].Pos.String() != "x:1:1" {
		t.Errorf("first global = %+v, want debug=-1 at x:1:1", cfg.Globals[0])
	}
	if len(cfg.Notices) != 0 {
		t.Errorf("unexpected notices %q", cfg.Notices)
	}
}

func TestListenAndAlias(t *testing.T) {
	cfg := mustParse(t, strings.Join([]string{
		"listen=udp:127.0.0.1:5060",
		"listen=tcp:[::1]:5061 advertise 203.0.113.5:5071 name \"edge\"",
		"#!define MYIP 10.0.0.7",
		"listen=tls:MYIP:5061",
		"listen=127.0.0.2",
		"alias=\"sip.example.com\"",
		"alias=udp:example.org:5060",
		"listen=tls:127.0.0.3",
		"port=5070",
		"",
	}, "\n"))
	want := []Listen{
		{Proto: "udp", Host: "127.0.0.1", Port: 5060, Pos: Pos{"x", 1, 1}},
		{Proto: "tcp", Host: "::1", Port: 5061, AdvHost: "203.0.113.5", AdvPort: 5071, Name: "edge", Pos: Pos{"x", 2, 1}},
		{Proto: "tls", Host: "10.0.0.7", Port: 5061, Pos: Pos{"x", 4, 1}},
		{Host: "127.0.0.2", Port: 5070, Pos: Pos{"x", 5, 1}},
		{Proto: "tls", Host: "127.0.0.3", Port: 5061, Pos: Pos{"x", 8, 1}},
	}
	if !reflect.DeepEqual(cfg.Listens, want) {
		t.Errorf("listens\n got %+v\nwant %+v", cfg.Listens, want)
	}
	if w := []Alias{{Host: "sip.example.com", Pos: Pos{"x", 6, 7}}, {Proto: "udp", Host: "example.org", Port: 5060, Pos: Pos{"x", 7, 7}}}; !reflect.DeepEqual(cfg.Aliases, w) {
		t.Errorf("aliases %+v, want %+v", cfg.Aliases, w)
	}
}

func TestIgnoredParamsNoticeOnce(t *testing.T) {
	cfg := mustParse(t, "memdbg=5\nmemlog=5\nmemdbg=6\ndisable_tcp=yes\nxavp_via_params = [\n  a;\n]\nsip_warning=1\nchildren=2\n")
	want := []string{
		"x:1:1: memdbg: Kamailio parameter not used by kemi, ignored",
		"x:2:1: memlog: Kamailio parameter not used by kemi, ignored",
		"x:4:1: disable_tcp: Kamailio parameter not used by kemi, ignored",
		"x:5:1: xavp_via_params: Kamailio parameter not used by kemi, ignored",
		"x:8:1: sip_warning: Kamailio parameter not used by kemi, ignored",
	}
	if !reflect.DeepEqual(cfg.Notices, want) {
		t.Errorf("notices\n got %q\nwant %q", cfg.Notices, want)
	}
	if _, ok := cfg.Global("memdbg"); ok {
		t.Errorf("an ignored parameter was kept as a global")
	}
	if got := global(t, cfg, "children"); got != core.Int(2) {
		t.Errorf("children = %v after a multi-line ignored value", got)
	}
}

func TestGlobalErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"chidlren=4\n", `x:1:1: unknown global parameter "chidlren" (did you mean "children"?)`},
		{"  debgu = 3\n", `x:1:3: unknown global parameter "debgu" (did you mean "debug"?)`},
		{"frobnicate=1\n", `x:1:1: unknown global parameter "frobnicate"`},
		{"dns_server=\"127.0.0.1:53\"\n", `x:1:1: unknown global parameter "dns_server" (did you mean "dns_servers"?)`},
		{"dns_servers=\"dns.example:53\"\n", `x:1:13: dns_servers: expected IP:port or [IPv6]:port, got "dns.example:53"`},
		{"dns_cache_max_ttl=-1\n", `x:1:19: dns_cache_max_ttl: expected a number 0 or more, got -1`},
		{"kemi.request_route_callbak=\"x\"\n", `x:1:1: unknown global parameter "kemi.request_route_callbak" (did you mean "kemi.request_route_callback"?)`},
		{"children=abc\n", `x:1:10: children: expected a number, got "abc"`},
		{"children=\"4\"\n", `x:1:10: children: expected a number, got string "4"`},
		{"log_stderror=maybe\n", `x:1:14: log_stderror: expected yes or no, got "maybe"`},
		{"kemi.request_route_callback=ksr_x\n", `x:1:29: kemi.request_route_callback: expected a quoted function name, got "ksr_x"`},
		{"log_name=\"a\" b\n", `x:1:10: log_name: expected a string, got "\"a\" b"`},
		{"debug=\nchildren=1\n", `x:1:6: debug: missing value after =`},
		{"debug 3\n", `x:1:7: debug: expected = after the name, got "3"`},
		{"listen=udp:1.2.3.4:70000\n", `x:1:8: listen "udp:1.2.3.4:70000": port 70000 out of range 1-65535`},
		{"pstn.gw_ip = foo desc \"x\"\n", `x:1:14: pstn.gw_ip: expected a number or a string, got "foo"`},
		{"xyzzy\n", `x:1:1: unexpected "xyzzy"; expected a parameter assignment, loadmodule, modparam, cfgengine or a route block`},
		{"loadmodul \"tm.so\"\n", `x:1:1: unexpected "loadmodul"; expected a parameter assignment, loadmodule, modparam, cfgengine or a route block (did you mean "loadmodule"?)`},
		{"42\n{ a; }\ndebug=1\n", "x:1:1: unexpected \"42\"; expected a parameter assignment, loadmodule, modparam, cfgengine or a route block\nx:2:1: unexpected \"{\"; expected a parameter assignment, loadmodule, modparam, cfgengine or a route block"},
		// Errors do not stop the parse: every one is reported.
		{"chidlren=1\ndebug=x\nmemdbg=1\nport=y\n", "x:1:1: unknown global parameter \"chidlren\" (did you mean \"children\"?)\nx:2:7: debug: expected a number, got \"x\"\nx:4:6: port: expected a number, got \"y\""},
	}
	for _, tt := range tests {
		if got := errText(tt.src, testOptions(nil)); got != tt.want {
			t.Errorf("%q:\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

func TestLoadModule(t *testing.T) {
	cfg := mustParse(t, strings.Join([]string{
		`loadmodule "tm.so"`,
		`loadmodule "sl"`,
		`loadmodule "/usr/lib/x86_64-linux-gnu/kamailio/modules/rr.so"`,
		`loadmodulex "kemix.so"`,
		`loadmodule "tm.so"`,
		`loadmodule "mi_fifo.so"`,
		`loadmodule "mi_fifo.so"`,
		`loadmodule "jsonrpcs.so"`,
		`modparam("mi_fifo", "fifo_name", "/tmp/kamailio_fifo")`,
		`modparam("jsonrpcs", "pretty_format", 1)`,
		"",
	}, "\n"))
	var got []string
	for _, m := range cfg.Modules {
		got = append(got, m.Name+" "+m.File+" "+m.Pos.String())
	}
	want := []string{
		"tm tm.so x:1:1",
		"sl sl x:2:1",
		"rr /usr/lib/x86_64-linux-gnu/kamailio/modules/rr.so x:3:1",
		"kx kemix.so x:4:1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("modules\n got %q\nwant %q", got, want)
	}
	if cfg.Modules[0].Spec != fakeModule("tm") {
		t.Errorf("module spec not kept")
	}
	wantNotices := []string{
		`x:6:1: loadmodule "mi_fifo.so": not used by kemi (management interface), ignored with its modparams`,
		`x:8:1: loadmodule "jsonrpcs.so": not used by kemi (management interface; use kemi rpc), ignored with its modparams`,
	}
	if !reflect.DeepEqual(cfg.Notices, wantNotices) {
		t.Errorf("notices\n got %q\nwant %q", cfg.Notices, wantNotices)
	}
	if len(cfg.ModParams) != 0 {
		t.Errorf("modparams of ignored modules kept: %+v", cfg.ModParams)
	}
}

func TestModParam(t *testing.T) {
	cfg := mustParse(t, strings.Join([]string{
		`#!define FLB_NATB 6`,
		`loadmodule "tm.so"`,
		`loadmodule "sl.so"`,
		`loadmodule "registrar.so"`,
		`loadmodule "nathelper.so"`,
		`loadmodule "usrloc.so"`,
		`loadmodule "auth_db.so"`,
		`loadmodule "htable.so"`,
		`modparam("tm", "fr_timer", 30000)`,
		`modparam("sl", "default_reason", "Fine")`,
		`modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")`,
		`modparam("usrloc", "nat_bflag", FLB_NATB)`,
		`modparam("auth_db", "calculate_ha1", yes)`,
		`modparam("tm", "failure_reply_mode", -1);`,
		`modparam("htable", "htable", "a=>size=8;")`,
		`modparam("htable", "htable", "b=>size=4;")`,
		`modparam("usrloc", "db_url",`,
		`	"mysql://kamailio:kamailiorw@localhost/kamailio")`,
		`modparam("reg.*", "max_expires", 3600)`,
		"",
	}, "\n"))
	var got []string
	for _, mp := range cfg.ModParams {
		got = append(got, mp.Module+"."+mp.Name+"="+mp.Value.Kind.String()+":"+mp.Value.String()+" "+mp.Pos.String())
	}
	want := []string{
		"tm.fr_timer=int:30000 x:9:1",
		"sl.default_reason=str:Fine x:10:1",
		"nathelper.received_avp=str:$avp(RECEIVED) x:11:1",
		"registrar.received_avp=str:$avp(RECEIVED) x:11:1",
		"usrloc.nat_bflag=int:6 x:12:1",
		"auth_db.calculate_ha1=int:1 x:13:1",
		"tm.failure_reply_mode=int:-1 x:14:1",
		"htable.htable=str:a=>size=8; x:15:1",
		"htable.htable=str:b=>size=4; x:16:1",
		"usrloc.db_url=str:mysql://kamailio:kamailiorw@localhost/kamailio x:17:1",
		"registrar.max_expires=int:3600 x:19:1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("modparams\n got %q\nwant %q", got, want)
	}
}

func TestModuleErrors(t *testing.T) {
	head := "loadmodule \"tm.so\"\nloadmodule \"registrar.so\"\n"
	tests := []struct{ src, want string }{
		{"loadmodule \"tmm.so\"\n", `x:1:1: loadmodule "tmm.so": unknown module "tmm" (did you mean "tm"?)`},
		{"loadmodule \"/usr/lib/kamailio/modules/registar.so\"\n", `x:1:1: loadmodule "/usr/lib/kamailio/modules/registar.so": unknown module "registar" (did you mean "registrar"?)`},
		{"loadmodule \"mi_fif.so\"\n", `x:1:1: loadmodule "mi_fif.so": unknown module "mi_fif" (did you mean "mi_fifo"?)`},
		{"loadmodule \"carrierroute.so\"\n", `x:1:1: loadmodule "carrierroute.so": unknown module "carrierroute"`},
		// The modparams of a module that failed to load add no noise.
		{"loadmodule \"carrierroute.so\"\nmodparam(\"carrierroute\", \"db_url\", \"x\")\n", `x:1:1: loadmodule "carrierroute.so": unknown module "carrierroute"`},
		{"loadmodule tm\n", `x:1:1: loadmodule: expected a quoted module name like "tm.so", got "tm"`},
		{head + "modparam(\"tm\", \"fr_timr\", 1)\n", `x:3:1: modparam("tm", "fr_timr"): module "tm" has no parameter "fr_timr" (did you mean "fr_timer"?)`},
		{head + "modparam(\"tm\", \"fr_timer\", \"30000\")\n", `x:3:1: modparam("tm", "fr_timer"): tm.fr_timer expects int, got str "30000"`},
		{head + "modparam(\"registrar\", \"received_avp\", 5)\n", `x:3:1: modparam("registrar", "received_avp"): registrar.received_avp expects str, got int 5`},
		{head + "modparam(\"registrar|nathelper\", \"received_avp\", \"$avp(R)\")\n", `x:3:1: modparam("registrar|nathelper", "received_avp"): module "nathelper" is not loaded; add loadmodule "nathelper.so" before this line`},
		{head + "modparam(\"registrar|tn\", \"received_avp\", \"$avp(R)\")\n", `x:3:1: modparam("registrar|tn", "received_avp"): unknown module "tn" (did you mean "tm"?)`},
		{"modparam(\"tm\", \"fr_timer\", 1)\nloadmodule \"tm.so\"\n", `x:1:1: modparam("tm", "fr_timer"): module "tm" is not loaded; add loadmodule "tm.so" before this line`},
		{"modparam(\"mi_fifo\", \"fifo_name\", \"x\")\n", `x:1:1: modparam("mi_fifo", "fifo_name"): module "mi_fifo" is not loaded; add loadmodule "mi_fifo.so" before this line`},
		{head + "modparam(\"zz.*\", \"x\", 1)\n", `x:3:1: modparam("zz.*", "x"): "zz.*" matches no loaded module`},
		{head + "modparam(\"tm\", \"fr_timer\", FOO)\n", `x:3:28: modparam("tm", "fr_timer"): expected a number or a quoted string, got "FOO"`},
		{head + "modparam(\"tm\" \"fr_timer\", 1)\n", `x:3:27: modparam: expected a quoted parameter name, got "1"`},
		{head + "modparam(\"tm\", \"fr_timer\", 1\ndebug=1\n", `x:4:1: modparam("tm", "fr_timer"): expected ")", got "debug"`},
		{head + "modparam(tm, \"fr_timer\", 1)\n", `x:3:10: modparam: expected a quoted module name, got "tm"`},
		{head + "modparam \"tm\"\n", `x:3:10: modparam: expected "(", got string "tm"`},
	}
	for _, tt := range tests {
		if got := errText(tt.src, testOptions(nil)); got != tt.want {
			t.Errorf("%q:\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

func TestCfgEngine(t *testing.T) {
	tests := []struct {
		src, engine, err string
		names            []string // linked engines; nil for all three
	}{
		{src: "loadmodule \"app_lua.so\"\ncfgengine \"lua\"\n", engine: "lua"},
		{src: "loadmodule \"app_lua.so\"\ncfgengine = \"lua\"\n", engine: "lua"},
		{src: "loadmodule \"app_jsdt.so\"\ncfgengine \"js\"\n", engine: "jsdt"},
		{src: "loadmodule \"app_jsdt.so\"\ncfgengine \"jsdt\"\n", engine: "jsdt"},
		{src: "loadmodule \"app_starlark.so\"\ncfgengine \"starlark\"\n", engine: "starlark"},
		{src: "cfgengine \"native\"\n", engine: ""},
		{src: "cfgengine \"default\"\n", engine: ""},
		{src: "debug=2\ncfgengine \"lua\"\nloadmodule \"app_lua.so\"\n",
			err: `x:2:1: cfgengine "lua": load app_lua before this line (loadmodule "app_lua.so")`},
		{src: "loadmodule \"app_lua.so\"\n  cfgengine \"js\"\n",
			err: `x:2:3: cfgengine "js": load app_jsdt before this line (loadmodule "app_jsdt.so")`},
		{src: "cfgengine \"lau\"\n",
			err: `x:1:1: cfgengine "lau": unknown engine (did you mean "lua"?); this kemi has jsdt (js), lua, starlark`},
		{src: "cfgengine \"python\"\n",
			err: `x:1:1: cfgengine "python": unknown engine; this kemi has jsdt (js), lua, starlark`},
		{src: "cfgengine \"luax\"\n", names: []string{"lua"},
			err: `x:1:1: cfgengine "luax": unknown engine (did you mean "lua"?); this kemi has lua`},
		{src: "cfgengine \"starlark2\"\n", names: []string{},
			err: `x:1:1: cfgengine "starlark2": unknown engine; this kemi has none`},
		{src: "cfgengine lua\n",
			err: `x:1:1: cfgengine: expected a quoted engine name like "lua", got "lua"`},
		{src: "loadmodule \"app_lua.so\"\ncfgengine \"lua\"\ncfgengine \"native\"\n",
			err: `x:3:1: cfgengine "native": cfgengine already given at x:2:1`},
	}
	for _, tt := range tests {
		opt := testOptions(nil)
		if tt.names != nil {
			opt.EngineNames = func() []string { return tt.names }
		}
		cfg, err := Parse("x", []byte(tt.src), opt)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error\n got: %v\nwant: %s", tt.src, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if cfg.Engine != tt.engine {
			t.Errorf("%q: engine %q, want %q", tt.src, cfg.Engine, tt.engine)
		}
		if line := strings.Count(tt.src, "\n"); cfg.EnginePos.Line != line {
			t.Errorf("%q: engine pos %v, want line %d", tt.src, cfg.EnginePos, line)
		}
	}
}

// An engine missing from this build is still checked for module order
// by name, so a config names its engine the same way everywhere.
func TestCfgEngineWithoutLinkedEngine(t *testing.T) {
	opt := testOptions(nil)
	opt.Engine = func(string) *core.EngineInfo { return nil }
	if got := errText("cfgengine \"starlark\"\n", opt); got != `x:1:1: cfgengine "starlark": load app_starlark before this line (loadmodule "app_starlark.so")` {
		t.Errorf("got %s", got)
	}
	cfg, err := Parse("x", []byte("loadmodule \"app_jsdt.so\"\ncfgengine \"js\"\n"), opt)
	if err != nil || cfg.Engine != "jsdt" {
		t.Errorf("engine %q, err %v; want jsdt", cfg.Engine, err)
	}
}

func TestRoutes(t *testing.T) {
	src := strings.Join([]string{
		"#!define FLT_ACC 1",
		"request_route {",
		"\troute(REQINIT);",
		"\tif (is_method(\"INVITE\")) {",
		"\t\tsetflag(FLT_ACC); # do accounting }",
		"\t}",
		"}",
		"route[REQINIT] {",
		"  if ($ru =~ \"^sip:[{}]\" || $(ru{s.len}) > 10) { exit; } // }",
		"  /* } */ xlog(\"a\" \"b\");",
		"#!ifdef NOPE",
		"  drop;",
		"#!endif",
		"}",
		"route[\"QUOTED\"]{}",
		"reply_route { }",
		"onreply_route[MANAGE_REPLY] {",
		"}",
		"failure_route[MANAGE_FAILURE] { t_relay(); }",
		"branch_route[B1] { }",
		"onsend_route { }",
		"event_route[xhttp:request] { }",
		"event_route[tm:local-request] { }",
		"route { }",
		"onreply_route { }",
		"",
	}, "\n")
	opt := testOptions(nil)
	// route{} and onreply_route{} repeat request_route and reply_route.
	_, err := Parse("x", []byte(src), opt)
	wantErr := "x:24:1: route: defined twice (first at x:2:1)\nx:25:1: onreply_route: defined twice (first at x:16:1)"
	if err == nil || err.Error() != wantErr {
		t.Fatalf("error\n got: %v\nwant: %s", err, wantErr)
	}
	cfg, err := Parse("x", []byte(strings.Join(strings.Split(src, "\n")[:23], "\n")), opt)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cfg.Routes {
		got = append(got, r.Kind+"["+r.Name+"] "+r.Pos.String()+" body@"+r.BodyPos.String())
	}
	want := []string{
		"request_route[] x:2:1 body@x:2:16",
		"route[REQINIT] x:8:1 body@x:8:17",
		"route[QUOTED] x:15:1 body@x:15:17",
		"reply_route[] x:16:1 body@x:16:14",
		"onreply_route[MANAGE_REPLY] x:17:1 body@x:17:30",
		"failure_route[MANAGE_FAILURE] x:19:1 body@x:19:32",
		"branch_route[B1] x:20:1 body@x:20:19",
		"onsend_route[] x:21:1 body@x:21:15",
		"event_route[xhttp:request] x:22:1 body@x:22:29",
		"event_route[tm:local-request] x:23:1 body@x:23:32",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes\n got %q\nwant %q", got, want)
	}
	// Bodies keep their lines and columns (tabs become blanks), with
	// defines expanded and comments and skipped lines gone. What follows
	// an expansion or a joined string stays at its own column.
	wantBody := "\n route(REQINIT);\n if (is_method(\"INVITE\")) {\n  setflag(1      );\n }\n"
	if b := cfg.Routes[0].Body; b != wantBody {
		t.Errorf("request_route body\n got %q\nwant %q", b, wantBody)
	}
	wantBody = "\n  if ($ru =~ \"^sip:[{}]\" || $(ru{s.len}) > 10) { exit; }\n          xlog(\"ab\"   );\n\n\n\n"
	if b := cfg.Routes[1].Body; b != wantBody {
		t.Errorf("route[REQINIT] body\n got %q\nwant %q", b, wantBody)
	}
	if b := cfg.Routes[5].Body; b != " t_relay(); " {
		t.Errorf("failure_route body %q", b)
	}
}

func TestRouteBodyLinesMatchFile(t *testing.T) {
	src := "debug=1\nroute[R] {\n\tif (a) {\n\t\tb();\n\t}\n}\n"
	cfg := mustParse(t, src)
	r := cfg.Routes[0]
	lines := strings.Split(src, "\n")
	for k, bl := range strings.Split(r.Body, "\n") {
		if strings.TrimSpace(bl) == "" {
			continue
		}
		fileLine := lines[r.BodyPos.Line+k-1]
		if strings.TrimSpace(fileLine) != strings.TrimSpace(bl) {
			t.Errorf("body line %d %q is not file line %d %q", k+1, bl, r.BodyPos.Line+k, fileLine)
		}
	}
}

func TestRouteErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"route[R] {\n if (x) {\n", "x:1:1: route[R] at x:1:1: block is not closed (missing })"},
		{"route[R] debug=1\n", `x:1:10: route[R]: expected { to open the block, got "debug"`},
		{"route[R {\n}\n", `x:1:9: route[: expected "]", got "{"`},
		{"failure_route { }\n", "x:1:1: failure_route: needs a name, as in failure_route[NAME] { ... }"},
		{"request_route[X] { }\n", "x:1:1: request_route[X]: takes no name; write request_route { ... }"},
		{"route[] { }\n", "x:1:6: route[]: empty route name"},
		{"route[A] { }\nroute[A] { }\n", "x:2:1: route[A]: defined twice (first at x:1:1)"},
	}
	for _, tt := range tests {
		if got := errText(tt.src, testOptions(nil)); got != tt.want {
			t.Errorf("%q:\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

func TestErrorList(t *testing.T) {
	_, err := Parse("x", []byte("chidlren=1\nport=y\n"), testOptions(nil))
	list, ok := err.(ErrorList)
	if !ok || len(list) != 2 {
		t.Fatalf("error %T %v, want an ErrorList of 2", err, err)
	}
	if list[1].Pos != (Pos{File: "x", Line: 2, Col: 6}) || list[1].Msg != `port: expected a number, got "y"` {
		t.Errorf("second error %+v", list[1])
	}
	// A stream of garbage stops at a bounded list.
	_, err = Parse("x", []byte(strings.Repeat("nosuch=1\n", 500)), testOptions(nil))
	if list := err.(ErrorList); len(list) != maxErrors+1 || list[maxErrors].Msg != "too many errors" {
		t.Errorf("got %d errors, want %d ending in \"too many errors\"", len(list), maxErrors+1)
	}
}

func TestErrorsAs(t *testing.T) {
	_, err := Parse("x", []byte("port=y\n"), testOptions(nil))
	var e *Error
	if !errors.As(err, &e) || e.Pos.Line != 1 || e.Pos.Col != 6 {
		t.Errorf("errors.As: %v %+v", err, e)
	}
}

// A file included inside a route block adds its tokens to the body; the
// block's own lines keep their places.
func TestIncludeInsideRoute(t *testing.T) {
	files := map[string]string{
		"main.cfg": "route[R] {\n\tinclude_file \"part.cfg\"\n\tafter();\n}\n",
		"part.cfg": "\tpart_one();\n\tpart_two();\n",
	}
	cfg, err := Parse("main.cfg", []byte(files["main.cfg"]), testOptions(files))
	if err != nil {
		t.Fatal(err)
	}
	want := "\n part_one(); part_two();\n after();\n"
	if got := cfg.Routes[0].Body; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}

func TestMoreDirectiveErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"#!define A 1\n#!substdef \"/A/2/\"\n", `x:2:1: #!substdef A: already defined at x:1:1`},
		{"#!substdef \"/a.b/2/\"\n", `x:1:1: #!substdef: "a.b" is not a valid define name`},
		{"#!defenv 1X=HOME\n", `x:1:1: #!defenv: expected ID=ENVVAR or ENVVAR, got "1X=HOME"`},
		{"#!defexp A 1+1\n", `x:1:1: #!defexp is not supported by kemi; use #!define`},
		{"pstn.gw_ip = desc \"x\"\n", `x:1:1: pstn.gw_ip: missing value before desc`},
		{"loadmodule \"mi_fifo.so\"\nmodparam(\"mi_.*\", \"fifo_name\", \"/tmp/f\")\nmodparam(\"xx_.*\", \"a\", 1)\n", `x:3:1: modparam("xx_.*", "a"): "xx_.*" matches no loaded module`},
		{"loadmodule \"tm.so\"\nmodparam(\"t(m\", \"a\", 1)\n", "x:2:1: modparam(\"t(m\", \"a\"): bad module regexp \"t(m\": error parsing regexp: missing closing ): `^(t(m)$`"},
	}
	for _, tt := range tests {
		if got := errText(tt.src, testOptions(nil)); got != tt.want {
			t.Errorf("%q:\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

// A misspelt block keyword is one error; its body is skipped, not read as
// statements.
func TestMisspeltRouteKeyword(t *testing.T) {
	got := errText("reqest_route {\n\tif (x) { foo(); }\n}\ndebug=1\nroute[A] {}\n", testOptions(nil))
	want := `x:1:1: unexpected "reqest_route"; expected a parameter assignment, loadmodule, modparam, cfgengine or a route block (did you mean "request_route"?)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSocketBlock(t *testing.T) {
	cfg := mustParse(t, strings.Join([]string{
		"port=5070",
		"socket = {",
		"  bind = udp:10.0.0.1:5060;",
		"  advertise = 203.0.113.1:5080;",
		"  name = \"s1\";",
		"  workers = 4;",
		"}",
		"socket = { bind = tcp:[::1]; }",
		"",
	}, "\n"))
	want := []Listen{
		{Proto: "udp", Host: "10.0.0.1", Port: 5060, AdvHost: "203.0.113.1", AdvPort: 5080, Name: "s1", Pos: Pos{"x", 2, 1}},
		{Proto: "tcp", Host: "::1", Port: 5070, Pos: Pos{"x", 8, 1}},
	}
	if !reflect.DeepEqual(cfg.Listens, want) {
		t.Errorf("listens\n got %+v\nwant %+v", cfg.Listens, want)
	}
	tests := []struct{ src, want string }{
		{"socket = { advertise = 1.2.3.4:5060; }\n", "x:1:10: socket: missing bind = proto:addr:port"},
		{"socket = { bnd = udp:1.2.3.4; }\n", `x:1:12: socket: unknown attribute "bnd" (did you mean "bind"?)`},
		{"socket = { bind = udp:1.2.3.4:5060-5070; }\n", `x:1:19: socket: bind: listen "udp:1.2.3.4:5060-5070": port "5060-5070" is not a number`},
		{"socket = { name = s1; bind = udp:1.2.3.4; }\n", `x:1:19: socket: name: expected a quoted name, got "s1"`},
		{"socket = udp:1.2.3.4\n", `x:1:10: socket: expected { bind = proto:addr:port; ... }, got "udp:1.2.3.4"`},
		{"socket = { bind udp:1.2.3.4; }\n", `x:1:12: socket: expected name = value, got "bind udp:1.2.3.4"`},
	}
	for _, tt := range tests {
		if got := errText(tt.src, testOptions(nil)); got != tt.want {
			t.Errorf("%q:\n got: %s\nwant: %s", tt.src, got, tt.want)
		}
	}
}

// Issue 11: every alias form Kamailio reads, and a malformed one is a
// file:line:col error (kemi check) instead of a name that never matches.
func TestAliasForms_ParsedAndMalformedRejected(t *testing.T) {
	cfg := mustParse(t, "alias=udp:A.example.com:5080\nalias=\"b.example.com\":5090\nalias=c.example.com\n"+
		"alias=\"d.example.com\" tcp:e.example.com:5061 [::1]:5062\nalias=10.0.0.1:5060\nalias=\"::2\"\n")
	want := []Alias{
		{Proto: "udp", Host: "a.example.com", Port: 5080, Pos: Pos{"x", 1, 7}},
		{Host: "b.example.com", Port: 5090, Pos: Pos{"x", 2, 7}},
		{Host: "c.example.com", Pos: Pos{"x", 3, 7}},
		{Host: "d.example.com", Pos: Pos{"x", 4, 7}},
		{Proto: "tcp", Host: "e.example.com", Port: 5061, Pos: Pos{"x", 4, 23}},
		{Host: "::1", Port: 5062, Pos: Pos{"x", 4, 46}},
		{Host: "10.0.0.1", Port: 5060, Pos: Pos{"x", 5, 7}},
		{Host: "::2", Pos: Pos{"x", 6, 7}},
	}
	if !reflect.DeepEqual(cfg.Aliases, want) {
		t.Errorf("aliases\n got %+v\nwant %+v", cfg.Aliases, want)
	}
	for _, c := range []struct{ src, want string }{
		{"alias=udp:host:port\n", `x:1:7: alias "udp:host:port": port "port" is not a number`},
		{"alias=host:99999\n", "x:1:7: alias \"host:99999\": port 99999 out of range 1-65535"},
		{"alias=\"a b\":5060\n", `x:1:7: alias: string "a b" is not a host name or IP address; want [proto:]host[:port]`},
		{"alias=\"\"\n", `x:1:7: alias: string "" is not a host name or IP address`},
		{"alias=udp:\n", `x:1:7: alias "udp:": missing host`},
	} {
		_, err := Parse("x", []byte(c.src), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.src, err, c.want)
		}
	}
}
