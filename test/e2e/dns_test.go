package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kemi/internal/resolve/dnstest"
)

// peer is a Go SIP UAS on 127.0.0.1 that answers every request with code
// and counts what it got.
type peer struct {
	pc   net.PacketConn
	port int
	code atomic.Int32
	got  atomic.Int32
}

func startPeer(t *testing.T, code int) *peer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{pc: pc, port: pc.LocalAddr().(*net.UDPAddr).Port}
	p.code.Store(int32(code))
	go func() {
		b := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			req := string(b[:n])
			if strings.HasPrefix(req, "SIP/2.0") || strings.HasPrefix(req, "ACK ") {
				continue
			}
			p.got.Add(1)
			pc.WriteTo([]byte(answer(req, int(p.code.Load()))), from)
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return p
}

// answer builds a reply to req: its Via, From, To (with a tag), Call-ID
// and CSeq.
func answer(req string, code int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, map[int]string{200: "OK", 503: "Service Unavailable"}[code])
	head, _, _ := strings.Cut(req, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n")[1:] {
		name, _, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v", "from", "f", "call-id", "i", "cseq":
			b.WriteString(l + "\r\n")
		case "to", "t":
			b.WriteString(l + ";tag=peer\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// sendMessage sends a MESSAGE for ruri through kemi and returns the status
// line of the final reply ("" when none came in 6 s).
func sendMessage(t *testing.T, kemi, ruri string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	msg := "MESSAGE " + ruri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-" + id + ";rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:alice@127.0.0.1>;tag=" + id + "\r\n" +
		"To: <" + ruri + ">\r\n" +
		"Call-ID: dns-" + id + "\r\n" +
		"CSeq: 1 MESSAGE\r\n" +
		"Content-Length: 0\r\n\r\n"
	to, _ := net.ResolveUDPAddr("udp", kemi)
	if _, err := c.WriteTo([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(6 * time.Second))
	for {
		n, _, err := c.ReadFrom(b)
		if err != nil {
			return ""
		}
		line, _, _ := strings.Cut(string(b[:n]), "\r\n")
		if !strings.HasPrefix(line, "SIP/2.0 1") {
			return line
		}
	}
}

// TestDNS_RFC3263NextHopAndFailover: a request for sip:bob@example.test
// goes to the SRV target of highest priority that the in-test DNS server
// names (dns_servers points kemi at it); with that target answering 503,
// or not listening (timeout), it goes to the next one (use_dns_failover);
// after the records' TTL a changed record is used.
func TestDNS_RFC3263NextHopAndFailover(t *testing.T) {
	a, b, c := startPeer(t, 200), startPeer(t, 200), startPeer(t, 200)
	dead := freePort(t)
	zone := func(first int) []string {
		return []string{
			fmt.Sprintf(`_sip._udp.example.test. 2 IN SRV 10 0 %d a.example.test.`, first),
			fmt.Sprintf(`_sip._udp.example.test. 2 IN SRV 20 0 %d b.example.test.`, b.port),
			`a.example.test. 2 IN A 127.0.0.1`,
			`b.example.test. 2 IN A 127.0.0.1`,
		}
	}
	dns := dnstest.Start(t, zone(a.port)...)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`#!KAMAILIO
debug=2
log_stderror=yes
children=2
dns_servers="%s"
dns_retr_time=1
dns_retr_no=1
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "app_lua.so"
modparam("tm", "fr_timer", 1500)
modparam("app_lua", "load", "dns.lua")
cfgengine "lua"
`, dns.Addr)
	script := `function ksr_request_route()
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end
`
	for name, body := range map[string]string{"kemi.cfg": cfg, "dns.lua": script} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startKemi(t, filepath.Join(dir, "kemi.cfg"))
	const ruri = "sip:bob@example.test"

	if got := sendMessage(t, s.addr, ruri); got != "SIP/2.0 200 OK" || a.got.Load() != 1 || b.got.Load() != 0 {
		t.Fatalf("first priority: got %q, peers a=%d b=%d, want 200 from a", got, a.got.Load(), b.got.Load())
	}

	a.code.Store(503)
	if got := sendMessage(t, s.addr, ruri); got != "SIP/2.0 200 OK" || a.got.Load() != 2 || b.got.Load() != 1 {
		t.Errorf("a answers 503: got %q, peers a=%d b=%d, want 200 from b after a's 503", got, a.got.Load(), b.got.Load())
	}
	if !logShows(s, "DNS failover") {
		t.Errorf("the log does not say it failed over")
	}

	// a not listening: its branch times out (fr_timer 1.5 s), then b.
	dns.Set(t, zone(dead)...)
	time.Sleep(2100 * time.Millisecond) // past the 2 s TTL
	t0 := time.Now()
	if got := sendMessage(t, s.addr, ruri); got != "SIP/2.0 200 OK" || b.got.Load() != 2 {
		t.Errorf("a down: got %q after %s, b=%d, want 200 from b", got, time.Since(t0), b.got.Load())
	}

	// TTL expiry: the first priority now names c.
	dns.Set(t, zone(c.port)...)
	time.Sleep(2100 * time.Millisecond)
	if got := sendMessage(t, s.addr, ruri); got != "SIP/2.0 200 OK" || c.got.Load() != 1 {
		t.Errorf("after the TTL: got %q, c=%d, want 200 from the changed record's c", got, c.got.Load())
	}
	if q := dns.Queries.Load(); q > 20 {
		t.Errorf("%d DNS queries for 4 requests, want the cache to answer most", q)
	}
}
