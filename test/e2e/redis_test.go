package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/internal/testsvc"
)

// TestRedis_PikeBanSharedAcrossNodes (issue 18 item 5): two kemi
// processes share the ipban table through one Redis (kemi's redis=
// attribute naming an ndb_redis server). A flood from 127.0.0.1 to node 1
// makes pike fail there and the script sets $sht(ipban=>$si) = 1, as
// Kamailio configs do; node 2, which saw none of the flood, then refuses
// the same source within a second. A sht_rm on node 1 (through its RPC-
// free script path: a request with X-Unban) lifts the ban on node 2.
func TestRedis_PikeBanSharedAcrossNodes(t *testing.T) {
	r := testsvc.StartRedis(t)
	dir := t.TempDir()
	script := `
function ksr_request_route()
	if KSR.hdr.is_present("X-Unban") > 0 then
		KSR.htable.sht_rm("ipban", KSR.pv.get("$si"))
		KSR.sl.sl_send_reply(200, "Unbanned")
		return
	end
	if KSR.pv.get("$sht(ipban=>$si)") ~= nil then
		KSR.sl.sl_send_reply(403, "Banned")
		return
	end
	if KSR.pike.pike_check_req() < 0 then
		KSR.pv.seti("$sht(ipban=>$si)", 1)
		KSR.sl.sl_send_reply(403, "Flood")
		return
	end
	KSR.sl.sl_send_reply(200, "OK")
end
`
	cfg := `#!KAMAILIO
debug=2
log_stderror=yes
children=2
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "hdr.so"
loadmodule "pike.so"
loadmodule "htable.so"
loadmodule "ndb_redis.so"
loadmodule "app_lua.so"
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", 16)
modparam("ndb_redis", "server", "name=srv;addr=127.0.0.1;port=` + strconv.Itoa(r.Port) + `;db=5")
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;redis=srv")
modparam("app_lua", "load", "` + filepath.Join(dir, "ban.lua") + `")
cfgengine "lua"
`
	if err := os.WriteFile(filepath.Join(dir, "ban.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kemi.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n1 := startKemi(t, filepath.Join(dir, "kemi.cfg"))
	n2 := startKemi(t, filepath.Join(dir, "kemi.cfg"))
	ask := func(s *server, extra string) string {
		msg := options("bob", s.addr, 70)
		if extra != "" {
			msg = []byte(strings.Replace(string(msg), "\r\n\r\n", "\r\n"+extra+"\r\n\r\n", 1))
		}
		b, err := udpExchange(t, s.addr, msg, 2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.addr, err)
		}
		return statusLine(b)
	}
	if got := ask(n2, ""); got != "SIP/2.0 200 OK" {
		t.Fatalf("node 2 before the flood: %s", got)
	}
	flooded := false
	for i := 0; i < 60 && !flooded; i++ {
		flooded = ask(n1, "") == "SIP/2.0 403 Flood"
	}
	if !flooded {
		t.Fatalf("pike on node 1 never fired; log:\n%s", n1.Log())
	}
	deadline := time.Now().Add(time.Second)
	for {
		got := ask(n2, "")
		if got == "SIP/2.0 403 Banned" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 2 still answers %q a second after node 1 banned the source", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := ask(n1, "X-Unban: 1"); got != "SIP/2.0 200 Unbanned" {
		t.Fatalf("unban on node 1: %s", got)
	}
	deadline = time.Now().Add(time.Second)
	for ask(n2, "") != "SIP/2.0 200 OK" {
		if time.Now().After(deadline) {
			t.Fatal("node 2 still bans a second after node 1 lifted the ban")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
