package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// opsScript is the RPC tests' routing script: REGISTERs are saved as they
// come, other requests go statefully to the callee on port uas with a
// failure route; VERSION tags the script so a reload shows.
func opsScript(uas int, version string) string {
	return fmt.Sprintf(`-- kemi ops e2e script, version %[2]s
local version = "%[2]s"
counter = 0
function ksr_request_route()
	counter = counter + 1
	if KSR.is_REGISTER() then
		KSR.dbg("ops: REGISTER\n")
		KSR.statistics.update_stat("registers", 1)
		KSR.registrar.save("location", 0)
		return
	end
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.sl_send_reply(483, "Too Many Hops")
		return
	end
	if KSR.siputils.has_totag() > 0 then
		if KSR.rr.loose_route() > 0 then KSR.tm.t_relay() return end
		if KSR.is_ACK() then
			if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
			return
		end
		KSR.sl.sl_send_reply(404, "Not here")
		return
	end
	if KSR.is_INVITE() then KSR.rr.record_route() end
	KSR.setdsturi("sip:127.0.0.1:%[1]d")
	KSR.tm.t_on_failure("ksr_failure_route")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end

function ksr_failure_route()
	KSR.info("failure route of version " .. version .. "\n")
end
`, uas, version)
}

type opsServer struct {
	*server
	sock, script string
}

func startOps(t *testing.T, uas int, extra ...string) *opsServer {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "rpc.sock")
	script := filepath.Join(dir, "ops.lua")
	if err := os.WriteFile(script, []byte(opsScript(uas, "1")), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startKemi(t, repo("test/e2e/testdata/rpc/kemi.cfg"), append([]string{"-A", `RPCSOCK="` + sock + `"`, "-A", `SCRIPT="` + script + `"`}, extra...)...)
	return &opsServer{server: s, sock: sock, script: script}
}

// rpc runs `kemi rpc -s SOCK args...` and returns stdout, stderr and
// whether it exited 0.
func (s *opsServer) rpc(t *testing.T, args ...string) (string, string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kemiBin, append([]string{"rpc", "-s", s.sock}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err == nil
}

func (s *opsServer) mustRPC(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, ok := s.rpc(t, args...)
	if !ok {
		t.Fatalf("kemi rpc %v failed: %s%s", args, out, errs)
	}
	return out
}

// TestOps_RPC_OverDatagramSocket covers issue 15 items 1-4 against the
// real binary: core.version, the socket's mode, stats after traffic,
// ul.dump after a sipp REGISTER, cfg.set core debug, htable, unknown
// methods and garbage on the socket.
func TestOps_RPC_OverDatagramSocket(t *testing.T) {
	needSipp(t)
	s := startOps(t, freePort(t))
	if out := s.mustRPC(t, "core.version"); !strings.HasPrefix(out, `"kemi `) {
		t.Errorf("core.version: %s", out)
	}
	fi, err := os.Stat(s.sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket %s: %v %v, want a 0600 socket", s.sock, fi.Mode(), err)
	}
	var ps []map[string]any
	json.Unmarshal([]byte(s.mustRPC(t, "core.psx")), &ps)
	if len(ps) < 3 || ps[0]["PID"] == nil {
		t.Errorf("core.psx: %v", ps)
	}

	s.sipp(t, repo("test/e2e/testdata/rpc/register.xml"), 1, 1, "-s", "alice")
	dump := s.mustRPC(t, "ul.dump")
	if !strings.Contains(dump, `"AoR": "alice"`) || !strings.Contains(dump, "kemi-rpc-e2e") {
		t.Errorf("ul.dump after a REGISTER:\n%s", dump)
	}
	if out := s.mustRPC(t, "ul.lookup", "location", "alice@127.0.0.1"); !strings.Contains(out, `"Address": "sip:alice@127.0.0.1:`) {
		t.Errorf("ul.lookup: %s", out)
	}
	stats := s.mustRPC(t, "stats.get_statistics", "all")
	for _, want := range []string{`"core:rcv_requests = 1"`, `"registrar:accepted_regs = 1"`, `"usrloc:registered_users = 1"`, `"tmx:active_transactions = `, `"script:registers = 1"`} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats.get_statistics all: no %s in\n%s", want, stats)
		}
	}
	if out := s.mustRPC(t, "stats.get_statistics", "registrar:"); strings.Contains(out, "core:") || !strings.Contains(out, "registrar:rejected_regs = 0") {
		t.Errorf("stats.get_statistics registrar: %s", out)
	}
	s.mustRPC(t, "stats.reset_statistics", "core:")
	if out := s.mustRPC(t, "stats.get_statistics", "core:rcv_requests"); !strings.Contains(out, "core:rcv_requests = 0") {
		t.Errorf("after reset: %s", out)
	}
	s.mustRPC(t, "ul.rm", "location", "alice")
	if _, errs, ok := s.rpc(t, "ul.lookup", "location", "alice"); ok || !strings.Contains(errs, "not found") {
		t.Errorf("ul.lookup after ul.rm: %s", errs)
	}

	// cfg.set core debug: debug lines show at once.
	s.mustRPC(t, "cfg.set", "core", "debug", "3")
	if out := s.mustRPC(t, "cfg.get", "core", "debug"); strings.TrimSpace(out) != "3" {
		t.Errorf("cfg.get core debug: %s", out)
	}
	s.sipp(t, repo("test/e2e/testdata/rpc/register.xml"), 1, 1, "-s", "bob")
	if !logShows(s.server, "ops: REGISTER") {
		t.Errorf("no DEBUG line after cfg.set core debug 3")
	}
	if _, errs, ok := s.rpc(t, "cfg.set", "core", "debug", "9"); ok || !strings.Contains(errs, "-5 to 3") {
		t.Errorf("cfg.set core debug 9: %s", errs)
	}

	s.mustRPC(t, "htable.sets", "t", "k", "v")
	s.mustRPC(t, "htable.seti", "t", "n", "7")
	if out := s.mustRPC(t, "htable.dump", "t"); !strings.Contains(out, `"value": "v"`) || !strings.Contains(out, `"value": 7`) {
		t.Errorf("htable.dump: %s", out)
	}
	if out := s.mustRPC(t, "-t", "htable.listTables"); !strings.Contains(out, "name") {
		t.Errorf("htable.listTables -t: %s", out)
	}
	if _, errs, ok := s.rpc(t, "no.such_method"); ok || !strings.Contains(errs, "-32601") {
		t.Errorf("unknown method: %s", errs)
	}
	if out := s.mustRPC(t, "system.listMethods"); !strings.Contains(out, "ul.dump") || !strings.Contains(out, "app_lua.reload") {
		t.Errorf("system.listMethods: %s", out)
	}

	// Hostile input on the socket: malformed JSON and an oversized
	// datagram are answered with errors; the server keeps serving.
	local := filepath.Join(t.TempDir(), "c.sock")
	c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}, &net.UnixAddr{Name: s.sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1<<16)
	for _, req := range [][]byte{[]byte(`{"jsonrpc":"2.0","method":`), []byte(`{"jsonrpc":"2.0","method":"core.version","params":["` + strings.Repeat("a", 70000) + `"],"id":1}`)} {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			t.Fatalf("write %d bytes: %v", len(req), err)
		}
		n, err := c.Read(buf)
		if err != nil || !strings.Contains(string(buf[:n]), `"code":-32700`) {
			t.Errorf("%d-byte hostile request: %s %v", len(req), buf[:n], err)
		}
	}
	if out := s.mustRPC(t, "core.uptime"); !strings.Contains(out, "up_since") {
		t.Errorf("core.uptime after hostile input: %s", out)
	}
}

// TestOps_Reload_UnderCallLoad covers issue 15 item 5: app_lua.reload
// every second while sipp places calls through the server, with a broken
// script pushed in the middle that is refused (file:line in the answer)
// while calls continue; no call fails.
func TestOps_Reload_UnderCallLoad(t *testing.T) {
	sipp := needSipp(t)
	uasPort := freePort(t)
	s := startOps(t, uasPort)
	const calls, rate = 300, 20 // ~15 s of calls
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	u := &uas{done: make(chan error, 1), errFile: filepath.Join(t.TempDir(), "uas-err.log")}
	u.cmd = exec.CommandContext(ctx, sipp, "-sf", repo("test/e2e/testdata/proxy/uas-call.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", strconv.Itoa(calls), "-nostdin", "-buff_size", "4194304",
		"-trace_err", "-error_file", u.errFile)
	u.cmd.Stdout, u.cmd.Stderr = &u.out, &u.out
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { u.done <- u.cmd.Wait() }()
	defer u.cmd.Process.Kill()
	u.waitBound(t, uasPort, false)

	var wg sync.WaitGroup
	var uacOut string
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Each call lasts 200 ms (-d): see the pause in uac-call.xml.
		uacOut = s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), calls, 50, "-r", strconv.Itoa(rate), "-d", "200", "-s", "call")
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	reloads, refused := 0, 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 2; ; i++ {
		select {
		case <-done:
		case <-tick.C:
			if i == 6 {
				os.WriteFile(s.script, []byte("function ksr_request_route()\n\tif then\nend\n"), 0o644)
				_, errs, ok := s.rpc(t, "app_lua.reload")
				if ok || !strings.Contains(errs, s.script+":2") || !strings.Contains(errs, "running script stays") {
					t.Errorf("broken script: ok=%v %s", ok, errs)
				}
				refused++
				continue
			}
			os.WriteFile(s.script, []byte(opsScript(uasPort, strconv.Itoa(i))), 0o644)
			out := s.mustRPC(t, "app_lua.reload")
			if !strings.Contains(out, `"generation"`) {
				t.Errorf("reload %d: %s", i, out)
			}
			reloads++
			continue
		}
		break
	}
	if !regexp.MustCompile(`Successful call\s+\|\s+\d+\s+\|\s+`+strconv.Itoa(calls)+`\s`).MatchString(uacOut) ||
		!regexp.MustCompile(`Failed call\s+\|\s+\d+\s+\|\s+0\s`).MatchString(uacOut) {
		t.Errorf("calls failed under reloads:\n%s\ncallee: %s", tail(uacOut, 3000), u.failure())
	}
	if reloads < 5 || refused != 1 {
		t.Errorf("reloads %d, refused %d; want >= 5 and 1", reloads, refused)
	}
	stats := s.mustRPC(t, "stats.get_statistics", "core:", "sl:", "tmx:")
	t.Logf("after %d calls and %d reloads: %s", calls, reloads, stats)
	if !logShows(s.server, "reloaded "+s.script) {
		t.Errorf("no reload line in the log")
	}
}

// TestOps_Kamcli runs Debian's kamcli, unchanged, against kemi's datagram
// socket (issue 15 item 6): rpc core.version, ul show after a REGISTER,
// stats.
func TestOps_Kamcli(t *testing.T) {
	needSipp(t)
	kamcli, err := exec.LookPath("kamcli")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kamcli is not installed; make test installs it (scripts/deps.sh)")
		}
		t.Skip("kamcli is not installed (apt-get install -y kamcli)")
	}
	s := startOps(t, freePort(t))
	s.sipp(t, repo("test/e2e/testdata/rpc/register.xml"), 1, 1, "-s", "carol")
	dir := t.TempDir()
	ini := filepath.Join(dir, "kamcli.ini")
	os.WriteFile(ini, []byte("[main]\ndomain=127.0.0.1\n[ctl]\ntype=jsonrpc\n[jsonrpc]\ntransport=socket\n"+
		"srvaddr="+s.sock+"\nrcvaddr="+filepath.Join(dir, "reply.sock")+"\noutformat=json\n"), 0o644)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kamcli, append([]string{"--no-default-configs", "-c", ini}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("kamcli %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("rpc", "core.version"); !strings.Contains(out, "kemi ") {
		t.Errorf("kamcli rpc core.version:\n%s", out)
	}
	if out := run("ul", "show"); !strings.Contains(out, "carol") {
		t.Errorf("kamcli ul show:\n%s", out)
	}
	if out := run("ul", "show", "carol@127.0.0.1"); !strings.Contains(out, "sip:carol@") {
		t.Errorf("kamcli ul show carol:\n%s", out)
	}
	if out := run("stats"); !strings.Contains(out, "registrar:accepted_regs = 1") {
		t.Errorf("kamcli stats:\n%s", out)
	}
	if out := run("stats", "usrloc"); !strings.Contains(out, "usrloc:registered_users = 1") {
		t.Errorf("kamcli stats usrloc:\n%s", out)
	}
	if out := run("ps"); !strings.Contains(out, "udp receiver") {
		t.Errorf("kamcli ps:\n%s", out)
	}
	// The other commands docs/operations.md lists as working.
	for _, c := range []struct{ args, want string }{
		{"uptime", `"up_since"`}, {"rpcmethods", `"tm.t_uac_start"`}, {"srv info", `"version"`},
		{"srv version", `"kemi `}, {"srv rpclist", `"ul.dump"`}, {"jsonrpc core.version", `"kemi `},
		{"ul rm carol@127.0.0.1", `"result"`},
	} {
		if out := run(strings.Fields(c.args)...); !strings.Contains(out, c.want) {
			t.Errorf("kamcli %s: no %s in\n%s", c.args, c.want, out)
		}
	}
}

// TestOps_Reload_SIGHUP (issue 15 item 5): SIGHUP reloads the script; a
// broken one is refused in the log with file:line and the server keeps
// answering RPC.
func TestOps_Reload_SIGHUP(t *testing.T) {
	s := startOps(t, freePort(t))
	os.WriteFile(s.script, []byte(opsScript(5060, "2")), 0o644)
	s.cmd.Process.Signal(syscall.SIGHUP)
	if !logShows(s.server, "reloaded "+s.script+" (generation 2)") {
		t.Errorf("no reload after SIGHUP")
	}
	os.WriteFile(s.script, []byte("function ksr_request_route()\n\tif then\nend\n"), 0o644)
	s.cmd.Process.Signal(syscall.SIGHUP)
	if !logShows(s.server, "SIGHUP: reload refused, the running script stays: "+s.script+":2") {
		t.Errorf("broken script after SIGHUP not refused in the log")
	}
	if out := s.mustRPC(t, "core.version"); !strings.Contains(out, "kemi") {
		t.Errorf("core.version after SIGHUPs: %s", out)
	}
}

// TestOps_Metrics (issue 15, metrics): metrics_listen serves /metrics in
// Prometheus text format with Kamailio's statistics (xhttp_prom's names),
// a statistics module variable, kemi's script, malformed-message,
// transaction and connection metrics and Go runtime metrics; promtool
// accepts it when installed.
func TestOps_Metrics(t *testing.T) {
	needSipp(t)
	addr := "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	s := startOps(t, freePort(t), "-A", `METRICS="`+addr+`"`)
	s.sipp(t, repo("test/e2e/testdata/rpc/register.xml"), 1, 1, "-s", "dave")
	// A datagram that is no SIP message: counted by reason.
	if c, err := net.Dial("udp", s.addr); err == nil {
		c.Write([]byte("HELLO world\r\n\r\n"))
		c.Close()
	}
	logShows(s.server, "dropped malformed message")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{"kamailio_core_rcv_requests_total 1", "kamailio_registrar_accepted_regs_total 1",
		"# TYPE kamailio_usrloc_registered_users gauge", "kamailio_usrloc_registered_users 1", "go_goroutines ",
		"# TYPE kamailio_script_registers gauge", "kamailio_script_registers 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics: no %q", want)
		}
	}
	// kemi's own (issue 15, metrics): script run time per callback kind
	// and engine, errors and budget stops, malformed messages by reason,
	// transactions by state, connections and sockets by transport.
	for _, re := range []string{
		`kemi_script_duration_seconds_bucket\{callback="request_route",engine="lua",le="0\.001"\} [1-9]`,
		`kemi_script_duration_seconds_count\{callback="request_route",engine="lua"\} [1-9]`,
		`kemi_script_errors_total\{callback="request_route",engine="lua"\} 0`,
		`kemi_script_budget_stops_total\{callback="request_route",engine="lua"\} 0`,
		`kemi_malformed_messages_total\{reason="first_line"\} 1\n`,
		`kemi_malformed_messages_total\{reason="header"\} 0\n`,
		`kemi_transactions\{state="proceeding"\} 0\n`,
		`kemi_connections\{transport="tcp"\} 0\n`,
		`kemi_listen_sockets\{transport="udp"\} 1\n`,
		`kemi_udp_received_total [1-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("/metrics: nothing matches %s", re)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed; format not checked by it")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", tail(text, 4000))
		return
	}
	promScrape(t, addr)
}

// promScrape runs a real Prometheus server that scrapes kemi at addr on
// loopback and reads a counter back through its HTTP API.
func promScrape(t *testing.T, addr string) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed; make test installs it (scripts/deps.sh)")
		}
		t.Log("prometheus not installed; scrape not tested")
		return
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n"+
		"  - job_name: kemi\n    static_configs: [{targets: [\""+addr+"\"]}]\n"), 0o644)
	web := "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get("http://" + web + "/api/v1/query?query=kamailio_registrar_accepted_regs_total")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
		if strings.Contains(last, `"job":"kemi"`) && strings.Contains(last, `,"1"]`) {
			return
		}
	}
	t.Errorf("Prometheus did not read kamailio_registrar_accepted_regs_total = 1 from kemi: %s\n%s", last, tail(out.String(), 2000))
}

// TestOps_RPC_Fifo (issue 15 item 1): fifo_name serves JSON-RPC documents
// with reply_name, the answer written to that FIFO in fifo_reply_dir, as
// jsonrpcs' FIFO transport does.
func TestOps_RPC_Fifo(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "kemi_rpc.fifo")
	s := startOps(t, freePort(t), "-A", `FIFO="`+fifo+`"`, "-A", `FIFODIR="`+dir+`/"`)
	fi, err := os.Stat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("fifo %s: %v %v", fifo, fi.Mode(), err)
	}
	reply := filepath.Join(dir, "reply.fifo")
	if err := syscall.Mkfifo(reply, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(reply)
		got <- string(b)
	}()
	time.Sleep(100 * time.Millisecond)
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`{"jsonrpc": "2.0", "method": "core.version", "reply_name": "reply.fifo", "id": 1}` + "\n"))
	w.Close()
	select {
	case r := <-got:
		if !strings.Contains(r, `"result":"kemi `) {
			t.Errorf("FIFO answer: %s", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no answer on the reply FIFO; log:\n%s", s.Log())
	}
}

// TestOps_TM_UACStartAndList (issue 15, tm RPCs): tm.t_uac_start sends an
// OPTIONS from kemi to a sipp UAS (Kamailio's argument order: method,
// ruri, nexthop, socket, headers), which answers 200 and kemi logs it;
// tm.list shows a transaction waiting for a silent callee; bad arguments
// are refused with what was expected.
func TestOps_TM_UACStartAndList(t *testing.T) {
	needSipp(t)
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	s := startOps(t, silent.LocalAddr().(*net.UDPAddr).Port)

	uasPort := freePort(t)
	u := startUAS(t, "uas-options.xml", uasPort)
	ruri := "sip:ping@127.0.0.1:" + strconv.Itoa(uasPort)
	out := s.mustRPC(t, "tm.t_uac_start", "OPTIONS", ruri, ".", ".",
		"From: <sip:kemi@127.0.0.1>\r\nTo: <"+ruri+">\r\nX-Ping: rpc-test\r\n")
	if !strings.Contains(out, `"callid"`) || !strings.Contains(out, `"dst": "udp:127.0.0.1:`+strconv.Itoa(uasPort)+`"`) {
		t.Errorf("tm.t_uac_start: %s", out)
	}
	u.wait(t, "OPTIONS from tm.t_uac_start")
	if !logShows(s.server, "tm: local OPTIONS to "+ruri+": 200 Pong") {
		t.Errorf("the 200 to the local OPTIONS was not logged:\n%s", tail(s.Log(), 2000))
	}
	for _, bad := range [][]string{
		{"INVITE", ruri, ".", ".", "From: <sip:a@b>\nTo: <sip:c@d>"},
		{"OPTIONS", "not a uri", ".", ".", "From: <sip:a@b>\nTo: <sip:c@d>"},
		{"OPTIONS", ruri, ".", ".", "To: <sip:c@d>"},
		{"OPTIONS", ruri, ".", ".", "From: <sip:a@b>\nTo: <sip:c@d>\nVia: SIP/2.0/UDP 10.0.0.1"},
		{"OPTIONS", ruri, ".", "udp:127.0.0.1:1", "From: <sip:a@b>\r\nTo: <sip:c@d>\r\nX: a\rb"},
	} {
		if out, errs, ok := s.rpc(t, append([]string{"tm.t_uac_start"}, bad...)...); ok || !strings.Contains(errs, "tm.t_uac_start: ") {
			t.Errorf("tm.t_uac_start %q: want an error, got %s%s", bad, out, errs)
		}
	}

	// An INVITE to the silent callee stays in the table.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inv := "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + ";branch=z9hG4bK-tmlist-1\r\n" +
		"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: tm-list-1@e2e\r\nCSeq: 5 INVITE\r\n" +
		"Max-Forwards: 70\r\nContact: <sip:alice@" + c.LocalAddr().String() + ">\r\nContent-Length: 0\r\n\r\n"
	dst, _ := net.ResolveUDPAddr("udp", s.addr)
	if _, err := c.WriteTo([]byte(inv), dst); err != nil {
		t.Fatal(err)
	}
	var list string
	for i := 0; i < 50; i++ {
		list = s.mustRPC(t, "tm.list")
		if strings.Contains(list, "tm-list-1@e2e") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{`"callid": "tm-list-1@e2e"`, `"method": "INVITE"`, `"cseq": "5"`, `"uas_request": "yes"`, `"state": "proceeding"`, `"outgoings": 1`} {
		if !strings.Contains(list, want) {
			t.Errorf("tm.list: no %s in\n%s", want, list)
		}
	}
}

// TestOps_MetricsConnectionsByTransport (issue 15, metrics): while a
// WebSocket client is connected, /metrics (xhttp_prom over the same port)
// counts it under kemi_connections{transport="ws"}, and the HTTP
// connection asking under tcp.
func TestOps_MetricsConnectionsByTransport(t *testing.T) {
	needSipp(t)
	s := startWS(t, freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, _, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, "ws://"+s.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hc := &http.Client{Timeout: 5 * time.Second}
	res, err := hc.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`kemi_connections{transport="ws"} 1` + "\n", `kemi_connections{transport="tcp"} 1` + "\n",
		`kemi_connections{transport="wss"} 0` + "\n", `kemi_listen_sockets{transport="tcp"} 1` + "\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics: no %q in\n%.3000s", want, body)
		}
	}
}
