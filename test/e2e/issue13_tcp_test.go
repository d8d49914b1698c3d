package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startProxyCfg is startProxy with lines appended to the proxy's config
// (core params such as tcp_accept_aliases=yes).
func startProxyCfg(t *testing.T, ext, define, cfgLines string, uas1, uas2 int, extra ...string) *server {
	t.Helper()
	dir := t.TempDir()
	src := repo("test/e2e/testdata/proxy")
	cfg, err := os.ReadFile(filepath.Join(src, "kemi-"+ext+".cfg"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(src, "proxy."+ext))
	if err != nil {
		t.Fatal(err)
	}
	script = append(script, "\n"+fmt.Sprintf(define, uas1, uas2)...)
	cfg = append(cfg, "\n"+cfgLines...)
	for name, b := range map[string][]byte{"kemi.cfg": cfg, "proxy." + ext: script} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return startKemi(t, filepath.Join(dir, "kemi.cfg"), extra...)
}

// TestIssue13_TCPProxyFlows (issue 13 item 3): the proxy issue's call
// flows with the caller over TCP, sipp -t t1 (one connection) and -t tn
// (a connection per call), in every engine, the callees over UDP: a call
// (INVITE, 180, 200, ACK, BYE through tm; the callee checks the double
// Record-Route of the transport change), a CANCEL, a busy callee whose
// failure route tries the second one, a silent callee answered 408 by
// the failure route, and the callee's BYE, which reaches the caller on
// its own TCP connection (kemi opens none: the stop line says opened 0).
// The caller's Via carries alias with tcp_accept_aliases=yes; sipp's
// connection already comes from its Contact's port, so the alias is not
// what finds it here (TestIssue13_ViaAliasParam in server shows that).
func TestIssue13_TCPProxyFlows(t *testing.T) {
	needSipp(t)
	for _, e := range proxyEngines {
		t.Run(e.name, func(t *testing.T) {
			uas1, uas2 := freePort(t), freePort(t)
			s := startProxyCfg(t, e.ext, e.define, "tcp_accept_aliases=yes\n", uas1, uas2, "-l", "tcp:127.0.0.1:{PORT}")
			for _, mode := range tcpModes {
				t.Run(mode, func(t *testing.T) {
					t.Run("call-double-rr", func(t *testing.T) {
						u := startUAS(t, "uas-call-drr.xml", uas1)
						s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), 1, 1, tcpArgs(t, mode, "-s", "call")...)
						u.wait(t, "tcp to udp call")
					})
					t.Run("callee-bye", func(t *testing.T) {
						u := startUAS(t, "uas-call-bye.xml", uas1)
						s.sipp(t, repo("test/e2e/testdata/proxy/uac-call-byein.xml"), 1, 1, tcpArgs(t, mode, "-s", "call")...)
						u.wait(t, "callee's BYE to a tcp caller")
					})
					t.Run("cancel", func(t *testing.T) {
						u := startUAS(t, "uas-cancel.xml", uas1)
						s.sipp(t, repo("test/e2e/testdata/proxy/uac-cancel.xml"), 1, 1, tcpArgs(t, mode, "-s", "call")...)
						u.wait(t, "cancel")
					})
					t.Run("busy-then-second-callee", func(t *testing.T) {
						u1 := startUAS(t, "uas-busy.xml", uas1)
						u2 := startUAS(t, "uas-call.xml", uas2)
						s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), 1, 1, tcpArgs(t, mode, "-s", "busy")...)
						u1.wait(t, "busy callee")
						u2.wait(t, "second callee")
					})
					t.Run("silent-callee-408", func(t *testing.T) {
						u := startUAS(t, "uas-silent.xml", uas1)
						s.sipp(t, repo("test/e2e/testdata/proxy/uac-silent.xml"), 1, 1, tcpArgs(t, mode, "-s", "silent")...)
						u.wait(t, "silent callee")
					})
				})
			}
			s.stop()
			if strings.Contains(s.Log(), "script errors so far") {
				t.Errorf("script errors:\n%s", tail(s.Log(), 2000))
			}
			// The callees are on UDP, and the callee's BYE went on the
			// caller's own connection: kemi opened none.
			if !strings.Contains(s.Log(), "; streams: accepted ") || !strings.Contains(s.Log(), ", opened 0,") {
				t.Errorf("kemi opened TCP connections (the BYE to the caller did not use its aliased connection):\n%s", tail(s.Log(), 1500))
			}
		})
	}
}

// TestIssue13_UDPToTCPCallCalleeBye (issue 13 item 3): a UDP caller's
// call to a callee over TCP (double Record-Route), hung up by the callee:
// its BYE leaves on its TCP connection, follows the two Record-Routes and
// reaches the caller over UDP; in every engine, with the callee's sipp on
// one connection (t1) and on a connection per call (tn).
func TestIssue13_UDPToTCPCallCalleeBye(t *testing.T) {
	needSipp(t)
	for _, e := range proxyEngines {
		t.Run(e.name, func(t *testing.T) {
			uas1 := freeTCPPort(t)
			s := startProxy(t, e.ext, e.define, uas1, freePort(t), "-l", "tcp:127.0.0.1:{PORT}")
			for _, mode := range tcpModes {
				t.Run(mode, func(t *testing.T) {
					u := startUAS(t, "uas-call-bye.xml", uas1, "-t", mode, "-max_socket", "100")
					s.sipp(t, repo("test/e2e/testdata/proxy/uac-call-byein.xml"), 1, 1, "-s", "tcpcall")
					u.wait(t, "udp to tcp call, callee's BYE")
				})
			}
		})
	}
}

// uasScenario writes a copy of a scenario of testdata/registrar with
// replacements and returns its path relative to testdata/proxy, where
// startUAS looks.
func uasScenario(t *testing.T, name string, repl ...string) string {
	t.Helper()
	rel, err := filepath.Rel(repo("test/e2e/testdata/proxy"), scenario(t, name, repl...))
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestIssue13_TCPRegistrarCall (issue 13 item 3): the registrar's
// REGISTER and call flows over TCP, sipp -t t1 and -t tn, with Kamailio's
// Lua script and kemi's in every language: bob registers over TCP a
// Contact with transport=tcp where his callee sipp listens (TCP), alice
// calls him over TCP through lookup and tm, and ACK and BYE follow the
// Record-Route. Then carol registers over TCP a Contact where nothing
// listens and her connection closes (sipp exits): alice's call to her
// gets a clear final error (477, as Kamailio's sl_reply_error after a
// failed send) within seconds, nothing hangs, and the server goes on.
func TestIssue13_TCPRegistrarCall(t *testing.T) {
	needSipp(t)
	for _, rs := range registrarScripts {
		t.Run(rs.name, func(t *testing.T) {
			if rs.name == "kamailio-lua" {
				needKamailioScript(t, kamailioLua)
			}
			db := t.TempDir() + "/kemi.db"
			addUser(t, db, "alice@127.0.0.1", "alice-secret")
			addUser(t, db, "bob@127.0.0.1", "bob-secret")
			addUser(t, db, "carol@127.0.0.1", "carol-secret")
			s := startKemi(t, repo(rs.cfg), "-A", `AUTHDB="`+db+`"`, "-l", "tcp:127.0.0.1:{PORT}")
			uasTCP := uasScenario(t, "uas-call.xml", "Contact: <sip:callee@[local_ip]:[local_port]>",
				"Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>")
			for _, mode := range tcpModes {
				t.Run(mode, func(t *testing.T) {
					uport := freeTCPPort(t)
					u := startUAS(t, uasTCP, uport, "-t", "t1", "-max_socket", "100")
					contact := "<sip:bob@127.0.0.1:" + strconv.Itoa(uport) + ";transport=tcp>"
					sc := scenario(t, "register.xml", "USER", "bob", "CONTACT", contact, "EXPIRES", "600", "CODE", "200",
						"CHECK", xmlSafe(`<sip:bob@127\.0\.0\.1:`+strconv.Itoa(uport)+`;transport=tcp>`))
					s.sipp(t, sc, 1, 1, tcpArgs(t, mode, "-au", "bob", "-ap", "bob-secret")...)
					s.sipp(t, scenario(t, "uac-call.xml", "CALLER", "alice"), 1, 1,
						tcpArgs(t, mode, "-s", "bob", "-au", "alice", "-ap", "alice-secret")...)
					u.wait(t, "callee bob over tcp")

					dead := freeTCPPort(t)
					contact = "<sip:carol@127.0.0.1:" + strconv.Itoa(dead) + ";transport=tcp>"
					sc = scenario(t, "register.xml", "USER", "carol", "CONTACT", contact, "EXPIRES", "600", "CODE", "200",
						"CHECK", xmlSafe(`<sip:carol@127\.0\.0\.1:`+strconv.Itoa(dead)+`;transport=tcp>`))
					s.sipp(t, sc, 1, 1, tcpArgs(t, mode, "-au", "carol", "-ap", "carol-secret")...)
					start := time.Now()
					s.sipp(t, scenario(t, "uac-404.xml", "CALLER", "alice", `<recv response="404"/>`, `<recv response="477"/>`), 1, 1,
						tcpArgs(t, mode, "-s", "carol", "-au", "alice", "-ap", "alice-secret")...)
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("the call to carol's closed connection took %v to fail", d)
					}
				})
			}
			assertKeepalive(t, s)
		})
	}
}
