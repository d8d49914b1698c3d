package server_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"kemi/core"
	"kemi/core/loader"
	"kemi/server"
)

func opsServer(t *testing.T) (*server.Server, func(method string, params ...any) (json.RawMessage, string)) {
	t.Helper()
	cfg := "debug=2\nlog_stderror=yes\nloadmodule \"kex.so\"\nloadmodule \"jsonrpcs.so\"\nloadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"tmx.so\"\n" +
		"loadmodule \"usrloc.so\"\nloadmodule \"registrar.so\"\nloadmodule \"htable.so\"\nloadmodule \"app_lua.so\"\n" +
		"modparam(\"htable\", \"htable\", \"t=>size=4\")\nmodparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n"
	lua := "function ksr_request_route()\n\tif KSR.is_REGISTER() then KSR.registrar.save(\"location\", 0) return end\n\tKSR.sl.sl_send_reply(404, \"No\")\nend\n"
	s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg",
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(cfg)}, "s.lua": {Data: []byte(lua)}}, LogOut: &syncBuf{}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	call := func(method string, params ...any) (json.RawMessage, string) {
		if params == nil {
			params = []any{}
		}
		req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
		var r struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(s.RPC().Handle(req), &r); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if r.Error != nil {
			return nil, r.Error.Message
		}
		return r.Result, ""
	}
	return s, call
}

func register(user string) []byte {
	return []byte("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-" + user + "\r\n" +
		"From: <sip:" + user + "@127.0.0.1>;tag=1\r\nTo: <sip:" + user + "@127.0.0.1>\r\nCall-ID: " + user + "@test\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:" + user + "@127.0.0.1:5999>\r\nExpires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
}

// TestOps_RPCCoreStatsCfg (issue 15 items 2-3): core.*, stats.* and
// cfg.* answer with Kamailio's shapes and the counters follow traffic.
func TestOps_RPCCoreStatsCfg(t *testing.T) {
	s, call := opsServer(t)
	w, err := s.Worker(netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	out := &capture{}
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	w.HandlePacket(register("alice"), src, out)
	w.HandlePacket(options("sip:x@127.0.0.1"), src, out)
	w.HandlePacket([]byte("garbage\r\n\r\n"), src, out)
	if r, e := call("core.version"); e != "" || !strings.HasPrefix(string(r), `"kemi `) {
		t.Errorf("core.version: %s %s", r, e)
	}
	if r, _ := call("core.uptime"); !strings.Contains(string(r), `"up_since"`) || !strings.Contains(string(r), `"uptime"`) {
		t.Errorf("core.uptime: %s", r)
	}
	if r, _ := call("core.info"); !strings.Contains(string(r), `"version"`) {
		t.Errorf("core.info: %s", r)
	}
	var stats []string
	r, e := call("stats.get_statistics", "all")
	json.Unmarshal(r, &stats)
	joined := strings.Join(stats, "\n")
	for _, want := range []string{"core:rcv_requests = 2", "core:bad_msg_hdr = 1", "registrar:accepted_regs = 1",
		"sl:sent_replies = 1", "sl:4xx_replies = 1", "usrloc:registered_users = 1", "tmx:active_transactions = 0"} {
		if !strings.Contains(joined, want) {
			t.Errorf("stats all: no %q in\n%s%s", want, joined, e)
		}
	}
	r, _ = call("stats.get_statistics", "sl:")
	if strings.Contains(string(r), "core:") || !strings.Contains(string(r), "sl:6xx_replies = 0") {
		t.Errorf("stats sl: %s", r)
	}
	if r, _ := call("stats.get_statistics", "rcv_requests"); !strings.Contains(string(r), "core:rcv_requests = 2") {
		t.Errorf("stats by name: %s", r)
	}
	call("stats.reset_statistics", "all")
	if r, _ := call("stats.get_statistics", "core:rcv_requests", "usrloc:registered_users"); !strings.Contains(string(r), "core:rcv_requests = 0") || !strings.Contains(string(r), "registered_users = 1") {
		t.Errorf("after reset (gauges stay): %s", r)
	}
	if r, _ := call("cfg.get", "core", "debug"); string(r) != "2" {
		t.Errorf("cfg.get core debug: %s", r)
	}
	if _, e := call("cfg.set", "core", "debug", 3); e != "" {
		t.Errorf("cfg.set: %s", e)
	}
	if !s.Setup.RT.Log.Enabled(core.LDbg) {
		t.Errorf("debug level not in force after cfg.set core debug 3")
	}
	if _, e := call("cfg.set", "core", "nope", 1); !strings.Contains(e, "unknown") {
		t.Errorf("cfg.set core nope: %s", e)
	}
	if _, e := call("cfg.set", "core", "debug", "loud"); !strings.Contains(e, "-5 to 3") {
		t.Errorf("cfg.set core debug loud: %s", e)
	}
	var ps []map[string]any
	r, _ = call("core.psx")
	json.Unmarshal(r, &ps)
	if len(ps) == 0 || ps[0]["DSC"] == nil {
		t.Errorf("core.psx: %s", r)
	}
	if r, _ := call("app_lua.api_list"); !strings.Contains(string(r), `"msize"`) || !strings.Contains(string(r), `"sl_send_reply"`) {
		t.Errorf("app_lua.api_list: %.200s", r)
	}
	if r, _ := call("system.methodHelp", "ul.dump"); !strings.Contains(string(r), "Domains") {
		t.Errorf("system.methodHelp ul.dump: %s", r)
	}
}

// TestOps_RPCUsrlocHtable (issue 15 item 2): ul.* and htable.*.
func TestOps_RPCUsrlocHtable(t *testing.T) {
	s, call := opsServer(t)
	w, err := s.Worker(netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	out := &capture{}
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	w.HandlePacket(register("alice"), src, out)
	w.HandlePacket(register("bob"), src, out)
	r, _ := call("ul.dump")
	if !strings.Contains(string(r), `"AoR":"alice"`) || !strings.Contains(string(r), `"Address":"sip:bob@127.0.0.1:5999"`) {
		t.Errorf("ul.dump: %s", r)
	}
	if r, e := call("ul.lookup", "location", "sip:alice@127.0.0.1"); e != "" || !strings.Contains(string(r), "sip:alice@127.0.0.1:5999") {
		t.Errorf("ul.lookup: %s %s", r, e)
	}
	if _, e := call("ul.lookup", "nosuch", "alice"); !strings.Contains(e, "not found") {
		t.Errorf("ul.lookup unknown table: %s", e)
	}
	if _, e := call("ul.rm_contact", "location", "bob", "sip:bob@127.0.0.1:5999"); e != "" {
		t.Errorf("ul.rm_contact: %s", e)
	}
	if _, e := call("ul.lookup", "location", "bob"); !strings.Contains(e, "not found") {
		t.Errorf("bob after ul.rm_contact: %s", e)
	}
	if _, e := call("ul.rm", "location", "alice"); e != "" {
		t.Errorf("ul.rm: %s", e)
	}
	if _, e := call("ul.rm", "location", "alice"); !strings.Contains(e, "not found") {
		t.Errorf("ul.rm twice: %s", e)
	}
	if _, e := call("ul.flush"); e != "" {
		t.Errorf("ul.flush: %s", e)
	}

	call("htable.sets", "t", "a", "x")
	call("htable.seti", "t", "b", 5)
	if r, _ := call("htable.get", "t", "b"); string(r) != `{"item":{"name":"b","value":5}}` {
		t.Errorf("htable.get: %s", r)
	}
	if r, _ := call("htable.dump", "t"); !strings.Contains(string(r), `{"name":"a","type":"str","value":"x"}`) {
		t.Errorf("htable.dump: %s", r)
	}
	if _, e := call("htable.seti", "t", "b", "five"); !strings.Contains(e, "expected an integer") {
		t.Errorf("htable.seti five: %s", e)
	}
	call("htable.delete", "t", "a")
	if _, e := call("htable.get", "t", "a"); !strings.Contains(e, "not found") {
		t.Errorf("htable.get after delete: %s", e)
	}
	call("htable.flush", "t")
	if r, _ := call("htable.dump", "t"); string(r) != "[]" {
		t.Errorf("htable.dump after flush: %s", r)
	}
	if _, e := call("htable.get", "nosuch", "a"); !strings.Contains(e, `table "nosuch" not found`) {
		t.Errorf("unknown table: %s", e)
	}
	if r, _ := call("tm.stats"); !strings.Contains(string(r), `"current":0`) {
		t.Errorf("tm.stats: %s", r)
	}
}

// TestOps_RPCDebuggerModLevel (issue 15, logs): dbg.set_mod_level gives a
// module its own level at once (its debug lines show while the global
// level hides others'), dbg.get_mod_level reads it back or the global
// debug, and cfg.set core debug still moves the global level.
func TestOps_RPCDebuggerModLevel(t *testing.T) {
	log := &syncBuf{}
	cfg := "debug=0\nlog_stderror=yes\nloadmodule \"sl.so\"\nloadmodule \"debugger.so\"\nloadmodule \"app_lua.so\"\n" +
		"modparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n"
	s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg",
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(cfg)}, "s.lua": {Data: []byte("function ksr_request_route() end\n")}}, LogOut: log}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	call := func(method string, params ...any) string {
		req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
		return string(s.RPC().Handle(req))
	}
	lg := s.Setup.RT.Log
	if r := call("dbg.get_mod_level", "tm"); !strings.Contains(r, `"result":0`) {
		t.Errorf("dbg.get_mod_level tm before: %s", r)
	}
	if r := call("dbg.set_mod_level", "tm", 3); strings.Contains(r, "error") {
		t.Errorf("dbg.set_mod_level: %s", r)
	}
	lg.Log(core.LDbg, nil, "tm: a debug line of tm")
	lg.Log(core.LDbg, nil, "dispatcher: a debug line of dispatcher")
	if !strings.Contains(log.String(), "DEBUG: tm: a debug line of tm") || strings.Contains(log.String(), "dispatcher") {
		t.Errorf("per-module level not in force:\n%s", log.String())
	}
	if r := call("dbg.get_mod_level", "tm"); !strings.Contains(r, `"result":3`) {
		t.Errorf("dbg.get_mod_level tm: %s", r)
	}
	if r := call("dbg.set_mod_level", "tm", "loud"); !strings.Contains(r, "-5 to 3") {
		t.Errorf("dbg.set_mod_level tm loud: %s", r)
	}
	if r := call("cfg.set", "core", "debug", 3); strings.Contains(r, "error") {
		t.Errorf("cfg.set core debug 3: %s", r)
	}
	lg.Log(core.LDbg, nil, "dispatcher: now shown")
	if !strings.Contains(log.String(), "DEBUG: dispatcher: now shown") {
		t.Errorf("cfg.set core debug 3 not in force:\n%s", log.String())
	}
}
