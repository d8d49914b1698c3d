package e2e

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// trap listens where a reflected reply would land: 127.0.0.9 on a port of
// its own. Every datagram it gets is a failure.
type trap struct {
	c    net.PacketConn
	port int
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.9:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.9 (loopback /8 not routed here?): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &trap{c: c, port: c.LocalAddr().(*net.UDPAddr).Port}
}

// empty fails the test when anything arrived at the trap within wait.
func (tr *trap) empty(t *testing.T, what string, wait time.Duration) {
	t.Helper()
	buf := make([]byte, 65536)
	tr.c.SetReadDeadline(time.Now().Add(wait))
	n, from, err := tr.c.ReadFrom(buf)
	if err == nil {
		t.Errorf("%s: a datagram of %d bytes from %s reached 127.0.0.9:%d (the Via maddr): %q",
			what, n, from, tr.port, statusLine(buf[:n]))
		return
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatal(err)
	}
}

// client is a UDP socket on 127.0.0.1 that sends raw requests and counts
// the bytes it sends and gets back.
type client struct {
	c        net.PacketConn
	to       *net.UDPAddr
	sent     int
	received int
}

func newClient(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return &client{c: c, to: to}
}

// do sends msg (LOCAL replaced by the client's address) and returns every
// datagram that comes back within wait.
func (cl *client) do(t *testing.T, msg string, wait time.Duration) []string {
	t.Helper()
	msg = strings.ReplaceAll(msg, "LOCAL", cl.c.LocalAddr().String())
	if _, err := cl.c.WriteTo([]byte(msg), cl.to); err != nil {
		t.Fatal(err)
	}
	cl.sent += len(msg)
	var got []string
	buf := make([]byte, 65536)
	cl.c.SetReadDeadline(time.Now().Add(wait))
	for {
		n, _, err := cl.c.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got
			}
			t.Fatal(err)
		}
		cl.received += n
		got = append(got, string(buf[:n]))
	}
}

var seq int

// rawRequest builds a request whose top Via carries via (LOCAL, the
// client's address, is filled in by client.do) and the extra headers.
func rawRequest(method, ruri, from, via, extra string) string {
	seq++
	id := strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.Itoa(seq)
	return method + " " + ruri + " SIP/2.0\r\n" +
		"Via: " + via + ";branch=z9hG4bK-" + id + "\r\n" +
		"From: <" + from + ">;tag=" + id + "\r\n" +
		"To: <" + from + ">\r\n" +
		"Call-ID: hardening-" + id + "\r\n" +
		"CSeq: 1 " + method + "\r\n" +
		"Max-Forwards: 70\r\n" + extra +
		"Content-Length: 0\r\n\r\n"
}

// TestHardening_MaddrIgnored covers issue 10 item 1: OPTIONS, REGISTER
// (challenged, and saved without auth) and an INVITE answered by tm, all
// with maddr=127.0.0.9 in the top Via, get their replies at the socket
// they came from, and nothing reaches 127.0.0.9, with and without rport.
func TestHardening_MaddrIgnored(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kemi.db")
	addUser(t, db, "alice@127.0.0.1", "alice-secret")
	for _, tc := range []struct {
		name string
		cfg  string
		args []string
	}{
		{"seed", "testdata/seed/kamailio.cfg", nil},
		{"registrar-auth", "testdata/registrar/kemi-lua.cfg", []string{"-A", `AUTHDB="` + db + `"`}},
		{"registrar-noauth", "testdata/registrar/kemi-lua.cfg", []string{"-A", "NOAUTH"}},
		{"registrar-js", "testdata/registrar/kemi-js.cfg", []string{"-A", `AUTHDB="` + db + `"`}},
		{"registrar-starlark", "testdata/registrar/kemi-star.cfg", []string{"-A", `AUTHDB="` + db + `"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startKemi(t, repo(tc.cfg), tc.args...)
			tr := newTrap(t)
			cl := newClient(t, s.addr)
			maddr := ";maddr=127.0.0.9"
			// sent-by names the trap's port, so a reply that followed
			// maddr would land in the trap.
			sentBy := "SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(tr.port)
			reqs := []struct{ what, msg string }{
				{"OPTIONS with rport", rawRequest("OPTIONS", "sip:"+s.addr, "sip:probe@example.com", sentBy+maddr+";rport", "")},
				{"OPTIONS to a user, with rport", rawRequest("OPTIONS", "sip:nobody@"+s.addr, "sip:probe@example.com", sentBy+";rport"+maddr, "")},
				{"REGISTER with rport", rawRequest("REGISTER", "sip:127.0.0.1", "sip:alice@127.0.0.1", sentBy+maddr+";rport",
					"Contact: <sip:alice@LOCAL>\r\nExpires: 60\r\n")},
				{"REGISTER query with rport", rawRequest("REGISTER", "sip:127.0.0.1", "sip:alice@127.0.0.1", sentBy+maddr+";rport", "")},
				{"INVITE to nobody, with rport", rawRequest("INVITE", "sip:nobody@127.0.0.1", "sip:probe@example.com", sentBy+maddr+";rport",
					"Contact: <sip:probe@LOCAL>\r\n")},
			}
			for _, r := range reqs {
				got := cl.do(t, r.msg, 700*time.Millisecond)
				if len(got) == 0 {
					t.Errorf("%s: no reply at the source socket", r.what)
				}
				for _, g := range got {
					t.Logf("%s: %s", r.what, statusLine([]byte(g)))
				}
				tr.empty(t, r.what, 100*time.Millisecond)
			}
			if tc.name == "seed" {
				// The seed config does not force rport: without it the
				// reply goes to the source address and the sent-by port,
				// which is the trap's port on 127.0.0.1, never 127.0.0.9.
				back, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(tr.port))
				if err != nil {
					t.Skipf("127.0.0.1:%d is taken: %v", tr.port, err)
				}
				defer back.Close()
				cl.do(t, rawRequest("OPTIONS", "sip:"+s.addr, "sip:probe@example.com", sentBy+maddr, ""), 100*time.Millisecond)
				buf := make([]byte, 65536)
				back.SetReadDeadline(time.Now().Add(time.Second))
				if n, _, err := back.ReadFrom(buf); err != nil {
					t.Errorf("OPTIONS without rport: no reply at 127.0.0.1:%d (source address, sent-by port): %v", tr.port, err)
				} else {
					t.Logf("OPTIONS without rport: %s at 127.0.0.1:%d", statusLine(buf[:n]), tr.port)
				}
				tr.empty(t, "OPTIONS without rport", 100*time.Millisecond)
			}
		})
	}
}

// maxRatio is how many times its own size the replies to an
// unauthenticated request may be, counted once each (tm's RFC 3261
// 17.2.1 retransmissions of the same final reply are counted once).
const maxRatio = 4.0

// TestHardening_AmplificationRatio covers issue 10 item 2: with every
// shipped config (the seed's, the registrar's in each language with and
// without authentication, and the embedded default), no request that has
// not authenticated draws replies more than maxRatio times its size.
func TestHardening_AmplificationRatio(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kemi.db")
	addUser(t, db, "alice@127.0.0.1", "alice-secret")
	authdb := `AUTHDB="` + db + `"`
	type cfg struct {
		name, cfg string
		args      []string
	}
	cfgs := []cfg{
		{"seed", "testdata/seed/kamailio.cfg", nil},
		{"seed-sr", "testdata/seed/kamailio-sr.cfg", nil},
		{"default", "", nil},
	}
	for _, rs := range registrarScripts {
		if rs.name == "kamailio-lua" && !hasKamailioScript() {
			continue
		}
		// With NOAUTH the REGISTER is saved and the query after it lists
		// a binding as long as contact_max_size lets in.
		cfgs = append(cfgs, cfg{rs.name, rs.cfg, []string{"-A", authdb}},
			cfg{rs.name + "-noauth", rs.cfg, []string{"-A", "NOAUTH"}})
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			if c.cfg == "" {
				t.Setenv("KEMI_DB", db)
			}
			path := ""
			if c.cfg != "" {
				path = repo(c.cfg)
			}
			s := startKemi(t, path, c.args...)
			cl := newClient(t, s.addr)
			// Bindings point at a sink of their own, so what is relayed to
			// them is not counted as a reply.
			sink := newClient(t, s.addr).c.LocalAddr().String()
			via := "SIP/2.0/UDP LOCAL;rport"
			// 256 bytes: the longest Contact URI the NOAUTH configs take.
			uri := "sip:alice@" + sink + ";x="
			contact := "<" + uri + strings.Repeat("p", 256-len(uri)) + ">"
			// The smallest REGISTER query the configs answer: compact
			// headers, nothing optional.
			tiny := "REGISTER sip:127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP LOCAL;rport;branch=z9hG4bK" + strconv.Itoa(seq) +
				"\r\nf: <sip:alice@127.0.0.1>;tag=1\r\nt: <sip:alice@127.0.0.1>\r\ni: t" + strconv.Itoa(seq) +
				"\r\nCSeq: 1 REGISTER\r\nl: 0\r\n\r\n"
			reqs := []struct{ what, msg string }{
				{"OPTIONS keepalive", rawRequest("OPTIONS", "sip:"+s.addr, "sip:probe@example.com", via, "")},
				{"REGISTER", rawRequest("REGISTER", "sip:127.0.0.1", "sip:alice@127.0.0.1", via, "Contact: "+contact+"\r\nExpires: 60\r\n")},
				{"REGISTER query", rawRequest("REGISTER", "sip:127.0.0.1", "sip:alice@127.0.0.1", via, "")},
				{"REGISTER with 12 contacts", rawRequest("REGISTER", "sip:127.0.0.1", "sip:alice@127.0.0.1", via, "Contact: "+strings.Repeat("<sip:a@LOCAL>, ", 11)+"<sip:b@LOCAL>\r\n")},
				{"INVITE to nobody", rawRequest("INVITE", "sip:nobody@127.0.0.1", "sip:probe@example.com", via, "Contact: <sip:probe@LOCAL>\r\n")},
				{"INVITE from a local user", rawRequest("INVITE", "sip:bob@127.0.0.1", "sip:alice@127.0.0.1", via, "Contact: <sip:alice@LOCAL>\r\n")},
				{"MESSAGE to another domain", rawRequest("MESSAGE", "sip:x@example.org", "sip:probe@example.com", via, "")},
				{"SUBSCRIBE", rawRequest("SUBSCRIBE", "sip:alice@127.0.0.1", "sip:probe@example.com", via, "Event: presence\r\nContact: <sip:probe@LOCAL>\r\n")},
				{"OPTIONS with 20 Vias", rawRequest("OPTIONS", "sip:"+s.addr, "sip:probe@example.com", via+strings.Repeat("\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx", 19), "")},
				{"scanner", rawRequest("OPTIONS", "sip:100@127.0.0.1", "sip:100@example.com", via, "User-Agent: friendly-scanner\r\n")},
				{"smallest REGISTER query", tiny},
				{"REGISTER with a contact too long", rawRequest("REGISTER", "sip:127.0.0.1", "sip:alice@127.0.0.1", via, "Contact: <"+uri+strings.Repeat("p", 600)+">\r\n")},
			}
			for _, r := range reqs {
				sent := cl.sent
				got := cl.do(t, r.msg, 600*time.Millisecond)
				size := cl.sent - sent
				seen := map[string]bool{}
				total, status := 0, []string{}
				_, id, ok := strings.Cut(r.msg, "\r\nCall-ID: ")
				if !ok {
					_, id, _ = strings.Cut(r.msg, "\r\ni: ")
				}
				id, _, _ = strings.Cut(id, "\r\n")
				for _, g := range got {
					if seen[g] || !strings.Contains(g, "Call-ID: "+id+"\r\n") {
						continue // a retransmission, or a late reply to an earlier request
					}
					seen[g] = true
					total += len(g)
					status = append(status, statusLine([]byte(g)))
				}
				// kemi's own scripts leave the error reply to save (issue 10
				// brief item 4): a REGISTER it rejects gets one reply, not
				// save's and then sl_reply_error's 500. Kamailio's example
				// script still sends both.
				if strings.HasPrefix(c.name, "kemi-") && strings.HasPrefix(r.what, "REGISTER with ") && len(status) != 1 {
					t.Errorf("%s: got %d replies %q, want exactly one", r.what, len(status), status)
				}
				ratio := float64(total) / float64(size)
				t.Logf("%-28s %5d bytes in, %5d out (%.2fx) %q", r.what, size, total, ratio, status)
				if ratio > maxRatio {
					t.Errorf("%s: %d bytes drew %d bytes of replies (%.1fx, more than %.0fx): %q", r.what, size, total, ratio, maxRatio, status)
				}
			}
		})
	}
}

// hasKamailioScript reports whether Kamailio's example script is there.
func hasKamailioScript() bool {
	_, err := os.Stat(kamailioLua)
	return err == nil
}
