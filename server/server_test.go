package server_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"kemi/core"
	"kemi/core/loader"
	_ "kemi/engines/all"
	_ "kemi/exports/all"
	"kemi/server"
)

const script = `
function ksr_request_route()
	if KSR.is_myself_ruri() then
		KSR.sl.sl_send_reply(200, "Mine")
	else
		KSR.sl.sl_send_reply(404, "Not Mine")
	end
end
`

func config(listen string) fstest.MapFS {
	cfg := "#!KAMAILIO\ndebug=2\nlog_stderror=yes\nalias=proxy.example.com\n"
	if listen != "" {
		cfg += "listen=" + listen + "\n"
	}
	cfg += "loadmodule \"sl.so\"\nloadmodule \"app_lua.so\"\nmodparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n"
	return fstest.MapFS{"kamailio.cfg": {Data: []byte(cfg)}, "s.lua": {Data: []byte(script)}}
}

func options(ruri string) []byte {
	return []byte("OPTIONS " + ruri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-srv\r\n" +
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:t@127.0.0.1>\r\n" +
		"Call-ID: srv@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
}

type syncBuf struct {
	mu sync.Mutex
	strings.Builder
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Builder.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Builder.String()
}

// TestServer_ServeAnswersAndStopsOnContext (issue 12, server package):
// New binds the config's socket and wires the runtime before the modules
// start; Serve answers through it until its context ends, returns nil and
// prints the counters; Close runs the modules' stop hooks, twice is fine.
func TestServer_ServeAnswersAndStopsOnContext(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	var log syncBuf
	s, err := server.New(server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", FS: config("udp:127.0.0.1:" + strconv.Itoa(port)), LogOut: &log,
	}})
	if err != nil {
		t.Fatal(err)
	}
	rt := s.Setup.RT
	if rt.Send == nil || rt.SendFrom == nil || rt.Myself == nil || rt.NewVM == nil {
		t.Fatalf("runtime not wired: Send %v SendFrom %v Myself %v NewVM %v", rt.Send != nil, rt.SendFrom != nil, rt.Myself != nil, rt.NewVM != nil)
	}
	stopped := make(chan struct{})
	rt.OnStop(func() { close(stopped) })
	if got := s.Addrs(); len(got) != 1 || got[0].Port() != uint16(port) {
		t.Fatalf("Addrs() = %v, want one socket on port %d", got, port)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct{ ruri, want string }{
		{"sip:127.0.0.1:" + strconv.Itoa(port), "SIP/2.0 200 Mine"},
		{"sip:proxy.example.com", "SIP/2.0 200 Mine"},
		{"sip:elsewhere.example.org", "SIP/2.0 404 Not Mine"},
	} {
		c.Write(options(tc.ruri))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%s: no reply: %v; log:\n%s", tc.ruri, err, log.String())
		}
		if line, _, _ := strings.Cut(string(buf[:n]), "\r\n"); line != tc.want {
			t.Errorf("%s: got %q, want %q", tc.ruri, line, tc.want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	select {
	case <-stopped:
		t.Fatal("stop hooks ran before Close")
	default:
	}
	s.Close()
	s.Close()
	<-stopped
	for _, want := range []string{"listening on udp:127.0.0.1:" + strconv.Itoa(port), "memory budget", "stopping", "stopped; messages 3"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Error("Serve after Close: nil error")
	}
}

// TestServer_OfflineBindsNothing (issue 12): an offline server binds no
// socket, keeps the is_myself policy the loader built from listen and
// alias (what kemi test and the scenario suite run through), and hands
// what timers send to Out.
func TestServer_OfflineBindsNothing(t *testing.T) {
	var got [][]byte
	s, err := server.New(server.Options{Offline: true,
		Out:     func(b []byte, _ core.Proto, _ netip.AddrPort) { got = append(got, b) },
		Options: loader.Options{Path: "kamailio.cfg", FS: config("udp:192.0.2.7:5070"), LogOut: &syncBuf{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Addrs()) != 0 {
		t.Errorf("offline server bound %v", s.Addrs())
	}
	rt := s.Setup.RT
	for _, c := range []struct {
		host string
		port int
		want bool
	}{{"192.0.2.7", 5070, true}, {"192.0.2.7", 5060, false}, {"PROXY.example.com", 0, true}, {"127.0.0.1", 5070, false}} {
		if rt.Myself([]byte(c.host), c.port) != c.want {
			t.Errorf("Myself(%s, %d) = %v, want %v", c.host, c.port, !c.want, c.want)
		}
	}
	if rt.SendFrom != nil {
		t.Error("offline SendFrom is set; held replies must go out in the worker")
	}
	if err := rt.Send([]byte("x"), core.UDP, netip.MustParseAddrPort("127.0.0.1:1")); err != nil || len(got) != 1 {
		t.Errorf("Send: %v, Out got %d messages", err, len(got))
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Error("Serve on an offline server: nil error")
	}
}

// TestServer_ListenErrorClosesSockets: a second listen address that
// cannot be bound fails New, naming it, and frees the first.
func TestServer_ListenErrorClosesSockets(t *testing.T) {
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	free := pc.LocalAddr().String()
	pc.Close()
	_, err = server.New(server.Options{Options: loader.Options{
		Path: "kamailio.cfg", FS: config(""), LogOut: &syncBuf{},
		Listens: []string{"udp:" + free, "udp:" + taken.LocalAddr().String()},
	}})
	if err == nil || !strings.Contains(err.Error(), taken.LocalAddr().String()) {
		t.Fatalf("New with a taken port: %v, want an error naming it", err)
	}
	again, err := net.ListenPacket("udp", free)
	if err != nil {
		t.Fatalf("the first socket stayed open: %v", err)
	}
	again.Close()
}

type capture struct{ got []string }

func (c *capture) WriteTo(b []byte, _ netip.AddrPort) error {
	c.got = append(c.got, strings.SplitN(string(b), "\r\n", 2)[0])
	return nil
}

// TestOps_ReloadSwapsBetweenMessages (issue 15 item 5): app_lua.reload
// over the RPC registry compiles first; a broken script is refused with
// its file:line and the running one keeps answering; a good one is run
// from the worker's next message, with fresh globals.
func TestOps_ReloadSwapsBetweenMessages(t *testing.T) {
	fsys := config("udp:127.0.0.1:5070")
	counting := func(reason string) []byte {
		return []byte("n = 0\nfunction ksr_request_route()\n\tn = n + 1\n\tKSR.sl.sl_send_reply(200, \"" + reason + " \" .. n)\nend\n")
	}
	fsys["s.lua"].Data = counting("Old")
	s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: &syncBuf{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	local := netip.MustParseAddrPort("127.0.0.1:5070")
	w, err := s.Worker(local)
	if err != nil {
		t.Fatal(err)
	}
	out := &capture{}
	send := func() string {
		w.HandlePacket(options("sip:x@127.0.0.1:5070"), netip.MustParseAddrPort("127.0.0.1:5999"), out)
		return out.got[len(out.got)-1]
	}
	send()
	if got := send(); got != "SIP/2.0 200 Old 2" {
		t.Fatalf("before reload: %q", got)
	}
	rpc := func(method string) string {
		return string(s.RPC().Handle([]byte(`{"jsonrpc":"2.0","method":"` + method + `","id":1}`)))
	}

	fsys["s.lua"].Data = []byte("function ksr_request_route()\n\tif then\nend\n")
	if got := rpc("app_lua.reload"); !strings.Contains(got, `"error"`) || !strings.Contains(got, "s.lua:2") || !strings.Contains(got, "running script stays") {
		t.Errorf("broken script: %s", got)
	}
	if got := send(); got != "SIP/2.0 200 Old 3" {
		t.Errorf("after a refused reload: %q", got)
	}
	fsys["s.lua"].Data = counting("New")
	if got := rpc("app_lua.reload"); !strings.Contains(got, `"generation":2`) {
		t.Errorf("good script: %s", got)
	}
	if got := send(); got != "SIP/2.0 200 New 1" {
		t.Errorf("after reload: %q (want the new script with fresh globals)", got)
	}
	if got := rpc("app_jsdt.reload"); !strings.Contains(got, "-32601") {
		t.Errorf("app_jsdt.reload on a Lua server (app_jsdt not loaded): %s", got)
	}
}

// TestOps_ReloadJSAndStarlark (issue 15 item 5): app_jsdt.reload and
// app_starlark.reload refuse a broken script with file:line and swap a
// good one, as app_lua.reload does.
func TestOps_ReloadJSAndStarlark(t *testing.T) {
	for _, e := range []struct{ module, engine, file, good, broken, line string }{
		{"app_jsdt", "jsdt", "s.js", "function ksr_request_route() { KSR.sl.sl_send_reply(200, \"%s\"); }\n", "function ksr_request_route() {\n\tif (\n}\n", "s.js:"},
		{"app_starlark", "starlark", "s.star", "def ksr_request_route():\n    KSR.sl.sl_send_reply(200, \"%s\")\n", "def ksr_request_route():\n    if\n", "s.star:2"},
	} {
		t.Run(e.module, func(t *testing.T) {
			cfg := "debug=2\nlog_stderror=yes\nloadmodule \"sl.so\"\nloadmodule \"" + e.module + ".so\"\nmodparam(\"" + e.module + "\", \"load\", \"" + e.file + "\")\ncfgengine \"" + e.engine + "\"\n"
			fsys := fstest.MapFS{"kamailio.cfg": {Data: []byte(cfg)}, e.file: {Data: []byte(strings.Replace(e.good, "%s", "Old", 1))}}
			s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: &syncBuf{}}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			w, err := s.Worker(netip.MustParseAddrPort("127.0.0.1:5060"))
			if err != nil {
				t.Fatal(err)
			}
			out := &capture{}
			send := func() string {
				w.HandlePacket(options("sip:x@127.0.0.1"), netip.MustParseAddrPort("127.0.0.1:5999"), out)
				return out.got[len(out.got)-1]
			}
			rpc := func(method string) string {
				return string(s.RPC().Handle([]byte(`{"jsonrpc":"2.0","method":"` + method + `","id":1}`)))
			}
			fsys[e.file].Data = []byte(e.broken)
			if got := rpc(e.module + ".reload"); !strings.Contains(got, `"error"`) || !strings.Contains(got, e.line) {
				t.Errorf("broken script: %s", got)
			}
			if got := send(); got != "SIP/2.0 200 Old" {
				t.Errorf("after a refused reload: %q", got)
			}
			fsys[e.file].Data = []byte(strings.Replace(e.good, "%s", "New", 1))
			if got := rpc(e.module + ".reload"); !strings.Contains(got, `"generation":2`) {
				t.Errorf("good script: %s", got)
			}
			if got := send(); got != "SIP/2.0 200 New" {
				t.Errorf("after reload: %q", got)
			}
		})
	}
}
