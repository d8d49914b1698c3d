package server_test

import (
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"kemi/core"
	"kemi/core/loader"
	"kemi/server"
)

type nopWriter struct{}

func (nopWriter) WriteTo([]byte, netip.AddrPort) error { return nil }

// BenchmarkOps_WorkerOptions is one OPTIONS through a worker (parse, the
// script, an sl reply): the router's and sl's statistics are on this
// path, so it shows their cost (issue 15 item 3) and that they allocate
// nothing.
func BenchmarkOps_WorkerOptions(b *testing.B) {
	s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg", FS: config("udp:127.0.0.1:5070"), LogOut: &syncBuf{}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w, err := s.Worker(netip.MustParseAddrPort("127.0.0.1:5070"))
	if err != nil {
		b.Fatal(err)
	}
	msg := options("sip:x@127.0.0.1:5070")
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	b.ReportAllocs()
	for b.Loop() {
		w.HandlePacket(msg, src, nopWriter{})
	}
}

// TestOps_StatsNoAllocPerMessage (issue 15 item 3): counting a message
// (core:rcv_requests, sl:sent_replies..., the script's run time)
// allocates nothing.
func TestOps_StatsNoAllocPerMessage(t *testing.T) {
	s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg", FS: config("udp:127.0.0.1:5070"), LogOut: &syncBuf{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Worker(netip.MustParseAddrPort("127.0.0.1:5070"))
	if err != nil {
		t.Fatal(err)
	}
	msg := options("sip:x@127.0.0.1:5070")
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	w.HandlePacket(msg, src, nopWriter{})
	if n := testing.AllocsPerRun(200, func() { w.HandlePacket(msg, src, nopWriter{}) }); n != 0 {
		t.Errorf("%v allocations per message", n)
	}
	var got int64
	for _, st := range s.Setup.RT.Stats("core:rcv_requests") {
		got = st.Value
	}
	if got != 202 {
		t.Errorf("core:rcv_requests = %d, want 202", got)
	}
	// The script's run time is in the request_route histogram, counted
	// in the same worker block (issue 15, metrics).
	var runs uint64
	for _, r := range s.Setup.RT.RouteStats() {
		if r.Kind.String() == "request_route" {
			runs = r.Count
			if r.Buckets[len(r.Buckets)-1] != r.Count || r.Sum <= 0 {
				t.Errorf("request_route histogram: buckets %v, count %d, sum %v", r.Buckets, r.Count, r.Sum)
			}
		}
	}
	if runs != 202 {
		t.Errorf("request_route runs = %d, want 202", runs)
	}
}

// TestOps_MetricsBudgetStopsAndErrors (issue 15, metrics): a runaway loop
// stopped by the budget counts as a budget stop and a script error of the
// request route, and a runtime error as an error only, in every engine.
func TestOps_MetricsBudgetStopsAndErrors(t *testing.T) {
	for _, e := range []struct{ mod, engine, file, src string }{
		{"app_lua", "lua", "s.lua", "function ksr_request_route()\n\tif KSR.is_OPTIONS() then while true do end end\n\terror(\"boom\")\nend\n"},
		{"app_jsdt", "jsdt", "s.js", "function ksr_request_route() {\n\tif (KSR.is_OPTIONS()) { while (true) {} }\n\tthrow new Error(\"boom\");\n}\n"},
		{"app_starlark", "starlark", "s.star", "def ksr_request_route():\n    if KSR.is_OPTIONS():\n        for i in range(1 << 40):\n            pass\n    fail(\"boom\")\n"},
	} {
		t.Run(e.engine, func(t *testing.T) {
			cfg := "#!KAMAILIO\ndebug=-5\nlog_stderror=yes\nloadmodule \"sl.so\"\nloadmodule \"" + e.mod + ".so\"\nmodparam(\"" + e.mod + "\", \"load\", \"" + e.file + "\")\ncfgengine \"" + e.engine + "\"\n"
			s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg",
				FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(cfg)}, e.file: {Data: []byte(e.src)}}, LogOut: &syncBuf{}}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			w, err := s.Worker(netip.MustParseAddrPort("127.0.0.1:5070"))
			if err != nil {
				t.Fatal(err)
			}
			src := netip.MustParseAddrPort("127.0.0.1:5999")
			w.HandlePacket(options("sip:x@127.0.0.1:5070"), src, nopWriter{})
			info := strings.Replace(string(options("sip:x@127.0.0.1:5070")), "OPTIONS", "INFO", -1)
			w.HandlePacket([]byte(info), src, nopWriter{})
			var got core.RouteStat
			for _, r := range s.Setup.RT.RouteStats() {
				if r.Kind == core.RequestRoute {
					got = r
				}
			}
			if got.Count != 2 || got.Errors != 2 || got.Budget != 1 {
				t.Errorf("request_route: runs %d, errors %d, budget stops %d; want 2, 2, 1", got.Count, got.Errors, got.Budget)
			}
		})
	}
}
