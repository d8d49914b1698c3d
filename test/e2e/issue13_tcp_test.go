package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
