package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/exports/auth"
)

// TestHardening_DigestReplay_E2E is issue 10's "Digest replay" against the
// real binary and the shipped configs: sipp registers alice (qop=auth,
// nc, cnonce), the REGISTER it sent with credentials is taken from its
// message trace, and an eavesdropper replays it as it was and changed
// (Contact, Call-ID, Request-URI, Contact: * with Expires: 0). Every
// replay must be challenged, and alice's binding must be as sipp left it.
func TestHardening_DigestReplay_E2E(t *testing.T) {
	needSipp(t)
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

			// alice registers with sipp; its trace holds what went out.
			cport := freePort(t)
			contact := "<sip:alice@127.0.0.1:" + strconv.Itoa(cport) + ">"
			trace := filepath.Join(t.TempDir(), "messages.log")
			sc := scenario(t, "register.xml", "USER", "alice", "CONTACT", contact,
				"EXPIRES", "600", "CODE", "200", "CHECK", xmlSafe(`Contact: *`+regexp.QuoteMeta(contact)))
			s.sipp(t, sc, 1, 1, "-au", "alice", "-ap", "alice-secret", "-trace_msg", "-message_file", trace)
			captured := capturedRegister(t, trace)
			if !strings.Contains(captured, "qop=auth") || !strings.Contains(captured, "nc=") {
				t.Fatalf("sipp's credentials lack qop or nc:\n%s", captured)
			}

			for _, r := range []struct {
				name string
				edit func(string) string
			}{
				{"as-sent", func(m string) string { return m }},
				{"other-contact", func(m string) string {
					return replaceHeader(m, "Contact", "<sip:mallory@127.0.0.1:6666>")
				}},
				{"other-call-id", func(m string) string { return replaceHeader(m, "Call-ID", "mallory-"+strconv.Itoa(cport)) }},
				{"other-request-uri", func(m string) string {
					return strings.Replace(m, "REGISTER sip:"+s.addr+" ", "REGISTER sip:mallory@"+s.addr+" ", 1)
				}},
				{"contact-star-expires-0", func(m string) string {
					return replaceHeader(replaceHeader(m, "Contact", "*"), "Expires", "0")
				}},
			} {
				msg := r.edit(captured)
				msg = replaceHeader(msg, "Via", "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-replay-"+r.name+";rport")
				reply := finalReply(t, s.addr, msg)
				if code := statusLine([]byte(reply)); !strings.HasPrefix(code, "SIP/2.0 401 ") && !strings.HasPrefix(code, "SIP/2.0 403 ") {
					t.Errorf("replay %s: %q, want 401 or 403\n%s", r.name, code, reply)
				}
			}

			// alice's binding is still there, and mallory's never was.
			reply := registerQuery(t, s.addr, "alice", "alice-secret")
			if !strings.HasPrefix(statusLine([]byte(reply)), "SIP/2.0 200 ") || !strings.Contains(reply, contact) ||
				strings.Contains(reply, "mallory") {
				t.Errorf("bindings after the replays:\n%s", reply)
			}
		})
	}
}

// capturedRegister returns the REGISTER with credentials from sipp's
// message trace.
func capturedRegister(t *testing.T, trace string) string {
	t.Helper()
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
		block = strings.TrimLeft(block, "\n")
		if strings.HasPrefix(block, "REGISTER ") && strings.Contains(block, "Authorization: ") {
			// The trace has the message up to its empty body.
			lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
			return strings.Join(lines, "\r\n") + "\r\n\r\n"
		}
	}
	t.Fatalf("no REGISTER with credentials in sipp's trace:\n%s", b)
	return ""
}

// replaceHeader replaces the value of the first header named name.
func replaceHeader(msg, name, value string) string {
	lines := strings.Split(msg, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
			lines[i] = name + ": " + value
			return strings.Join(lines, "\r\n")
		}
	}
	t := strings.TrimSuffix(msg, "\r\n\r\n")
	return t + "\r\n" + name + ": " + value + "\r\n\r\n"
}

// finalReply sends msg and returns the first final reply.
func finalReply(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(3 * time.Second)
	for {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no final reply to:\n%s\n(%v)", msg, err)
		}
		if r := string(buf[:n]); !strings.HasPrefix(r, "SIP/2.0 1") {
			return r
		}
	}
}

var (
	nonceParam = regexp.MustCompile(`nonce="([^"]+)"`)
	realmParam = regexp.MustCompile(`realm="([^"]+)"`)
)

// registerQuery sends a REGISTER without Contact (a query) for user,
// answers the challenge as a qop=auth client does and returns the reply.
func registerQuery(t *testing.T, addr, user, password string) string {
	t.Helper()
	callID := "query-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	req := func(cseq int, authz string) string {
		m := "REGISTER sip:" + addr + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5998;branch=z9hG4bK-q" + strconv.Itoa(cseq) + callID + ";rport\r\n" +
			"From: <sip:" + user + "@" + addr + ">;tag=q1\r\n" +
			"To: <sip:" + user + "@" + addr + ">\r\n" +
			"Call-ID: " + callID + "\r\n" +
			"CSeq: " + strconv.Itoa(cseq) + " REGISTER\r\n" +
			"Max-Forwards: 70\r\n"
		if authz != "" {
			m += "Authorization: " + authz + "\r\n"
		}
		return m + "Content-Length: 0\r\n\r\n"
	}
	chal := finalReply(t, addr, req(1, ""))
	nonce, realm := nonceParam.FindStringSubmatch(chal), realmParam.FindStringSubmatch(chal)
	if nonce == nil || realm == nil || !strings.Contains(chal, `qop="auth"`) {
		t.Fatalf("challenge:\n%s", chal)
	}
	uri := "sip:" + addr
	ha1 := auth.HA1(auth.MD5, user, realm[1], password)
	resp := auth.HashHex(auth.MD5, ha1+":"+nonce[1]+":00000001:e2e:auth:"+auth.HashHex(auth.MD5, "REGISTER:"+uri))
	return finalReply(t, addr, req(2, `Digest username="`+user+`", realm="`+realm[1]+`", nonce="`+nonce[1]+
		`", uri="`+uri+`", response="`+resp+`", algorithm=MD5, qop=auth, nc=00000001, cnonce="e2e"`))
}
