package e2e

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/exports/auth"
)

// TestHardening_DigestReplay_RetransmissionE2E: a UDP retransmission of
// a REGISTER that was accepted (the same bytes from the same socket: the
// same nonce and nc) is answered 200 again, as sipp's retransmissions
// under load need; the same bytes from another socket, and the same
// credentials with another Contact, are still challenged, and the binding
// is alice's only. Every registrar script and the embedded config.
func TestHardening_DigestReplay_RetransmissionE2E(t *testing.T) {
	cfgs := []struct{ name, cfg string }{{"embedded", ""}}
	for _, rs := range registrarScripts {
		if rs.name != "kamailio-lua" {
			cfgs = append(cfgs, struct{ name, cfg string }{rs.name, repo(rs.cfg)})
		}
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "kemi.db")
			addUser(t, db, "alice@127.0.0.1", "alice-secret")
			s := startKemi(t, c.cfg, "-A", `AUTHDB="`+db+`"`)

			conn, err := net.Dial("udp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			port := conn.LocalAddr().(*net.UDPAddr).Port
			contact := "<sip:alice@127.0.0.1:" + strconv.Itoa(port) + ">"
			callID := "retx-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			req := func(cseq int, contact, authz string) string {
				m := "REGISTER sip:" + s.addr + " SIP/2.0\r\n" +
					"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(port) + ";branch=z9hG4bK-retx" + strconv.Itoa(cseq) + ";rport\r\n" +
					"From: <sip:alice@" + s.addr + ">;tag=r1\r\n" +
					"To: <sip:alice@" + s.addr + ">\r\n" +
					"Call-ID: " + callID + "\r\n" +
					"CSeq: " + strconv.Itoa(cseq) + " REGISTER\r\n" +
					"Contact: " + contact + "\r\n" +
					"Expires: 600\r\n" +
					"Max-Forwards: 70\r\n"
				if authz != "" {
					m += "Authorization: " + authz + "\r\n"
				}
				return m + "Content-Length: 0\r\n\r\n"
			}
			chal := finalReplyOn(t, conn, req(1, contact, ""))
			nonce, realm := nonceParam.FindStringSubmatch(chal), realmParam.FindStringSubmatch(chal)
			if nonce == nil || realm == nil {
				t.Fatalf("challenge:\n%s", chal)
			}
			uri := "sip:" + s.addr
			ha1 := auth.HA1(auth.MD5, "alice", realm[1], "alice-secret")
			resp := auth.HashHex(auth.MD5, ha1+":"+nonce[1]+":00000001:retx:auth:"+auth.HashHex(auth.MD5, "REGISTER:"+uri))
			authz := `Digest username="alice", realm="` + realm[1] + `", nonce="` + nonce[1] +
				`", uri="` + uri + `", response="` + resp + `", algorithm=MD5, qop=auth, nc=00000001, cnonce="retx"`
			accepted := req(2, contact, authz)
			for i := 1; i <= 3; i++ {
				r := finalReplyOn(t, conn, accepted)
				if !strings.HasPrefix(statusLine([]byte(r)), "SIP/2.0 200 ") || !strings.Contains(r, contact) {
					t.Fatalf("copy %d of the accepted REGISTER:\n%s", i, r)
				}
			}
			// The same bytes from another socket: a replay.
			if r := finalReply(t, s.addr, accepted); !strings.HasPrefix(statusLine([]byte(r)), "SIP/2.0 401 ") {
				t.Errorf("the accepted REGISTER from another port: %q, want 401", statusLine([]byte(r)))
			}
			// Another Contact, same CSeq, nonce and nc, from alice's socket.
			mallory := "<sip:mallory@127.0.0.1:6666>"
			if r := finalReplyOn(t, conn, req(2, mallory, authz)); !strings.HasPrefix(statusLine([]byte(r)), "SIP/2.0 401 ") {
				t.Errorf("the same credentials with another Contact: %q, want 401", statusLine([]byte(r)))
			}
			reply := registerQuery(t, s.addr, "alice", "alice-secret")
			if !strings.HasPrefix(statusLine([]byte(reply)), "SIP/2.0 200 ") || !strings.Contains(reply, contact) ||
				strings.Contains(reply, "mallory") {
				t.Errorf("bindings after the retransmissions and replays:\n%s", reply)
			}
		})
	}
}

// finalReplyOn sends msg on conn and returns the first final reply.
func finalReplyOn(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(3 * time.Second)
	for {
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no final reply to:\n%s\n(%v)", msg, err)
		}
		if r := string(buf[:n]); !strings.HasPrefix(r, "SIP/2.0 1") {
			return r
		}
	}
}
