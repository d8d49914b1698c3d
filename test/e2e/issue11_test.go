package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// issue11Server starts kemi with cfg lines and a Lua script answering
// every request: 400s from sanity_check, then 200 "myself" or 404 "not
// myself" after KSR.is_myself_ruri().
func issue11Server(t *testing.T, cfgLines string) *server {
	t.Helper()
	dir := t.TempDir()
	script := `function ksr_request_route()
	if KSR.sanity.sanity_check_defaults() < 0 then
		KSR.x.exit()
	end
	if KSR.is_myself_ruri() then
		KSR.sl.sl_send_reply(200, "myself")
	else
		KSR.sl.sl_send_reply(404, "not myself")
	end
end
`
	cfg := "#!KAMAILIO\ndebug=2\nlog_stderror=yes\nchildren=1\n" + cfgLines +
		"loadmodule \"sl.so\"\nloadmodule \"sanity.so\"\nloadmodule \"app_lua.so\"\n" +
		"modparam(\"app_lua\", \"load\", \"" + filepath.Join(dir, "s.lua") + "\")\ncfgengine \"lua\"\n"
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(script), 0o644)
	os.WriteFile(filepath.Join(dir, "kemi.cfg"), []byte(cfg), 0o644)
	return startKemi(t, filepath.Join(dir, "kemi.cfg"))
}

// Issue 11, alias forms and auto_aliases on a running server: 127.0.0.1
// resolves back to localhost (/etc/hosts), which is then ours on the
// listen port only; alias="host":port only on its port; alias=host on any.
func TestIssue11_AutoAliasesAndAliasFormsE2E(t *testing.T) {
	if !strings.Contains(readHosts(), "localhost") {
		t.Skip("no localhost in /etc/hosts")
	}
	s := issue11Server(t, "alias=\"b.example.com\":5090\nalias=udp:c.example.com\n")
	other := strconv.Itoa(s.port + 1)
	for _, c := range []struct{ host, want string }{
		{"localhost:" + strconv.Itoa(s.port), "SIP/2.0 200 myself"},
		{"localhost", "SIP/2.0 200 myself"},
		{"localhost:" + other, "SIP/2.0 404 not myself"},
		{"b.example.com:5090", "SIP/2.0 200 myself"},
		{"b.example.com:5091", "SIP/2.0 404 not myself"},
		{"c.example.com:7777", "SIP/2.0 200 myself"},
		{"d.example.com", "SIP/2.0 404 not myself"},
	} {
		got, err := udpExchange(t, s.addr, options("u", c.host, 70), 2*time.Second)
		if err != nil || statusLine(got) != c.want {
			t.Errorf("%s: %q %v, want %q", c.host, statusLine(got), err, c.want)
		}
	}
	s2 := issue11Server(t, "auto_aliases=no\n")
	got, err := udpExchange(t, s2.addr, options("u", "localhost:"+strconv.Itoa(s2.port), 70), 2*time.Second)
	if err != nil || statusLine(got) != "SIP/2.0 404 not myself" {
		t.Errorf("auto_aliases=no: %q %v", statusLine(got), err)
	}
}

func readHosts() string {
	b, _ := os.ReadFile("/etc/hosts")
	return string(b)
}

// Issue 11: a datagram whose Content-Length is larger than its body, and a
// CSeq "1x", reach the script over UDP and get sanity's 400s; the replies
// carry the configured Server line.
func TestIssue11_MalformedReachSanityAndServerHeaderE2E(t *testing.T) {
	s := issue11Server(t, "server_header=\"Server: Edge 1\"\n")
	short := strings.Replace(string(options("u", s.addr, 70)), "Content-Length: 0\r\n\r\n", "Content-Type: text/plain\r\nContent-Length: 500\r\n\r\nhello", 1)
	got, err := udpExchange(t, s.addr, []byte(short), 2*time.Second)
	if err != nil || statusLine(got) != "SIP/2.0 400 Content-Length mis-match" {
		t.Errorf("short body: %q %v", statusLine(got), err)
	}
	if !strings.Contains(string(got), "\r\nServer: Edge 1\r\n") {
		t.Errorf("reply lacks the configured Server line:\n%s", got)
	}
	bad := strings.Replace(string(options("u", s.addr, 70)), "CSeq: 1 OPTIONS", "CSeq: 1x OPTIONS", 1)
	got, err = udpExchange(t, s.addr, []byte(bad), 2*time.Second)
	if err != nil || statusLine(got) != "SIP/2.0 400 CSeq number is illegal" {
		t.Errorf("CSeq 1x: %q %v", statusLine(got), err)
	}

	s2 := issue11Server(t, "")
	got, err = udpExchange(t, s2.addr, options("u", s2.addr, 70), 2*time.Second)
	if err != nil || !strings.Contains(string(got), "\r\nServer: kemi (") {
		t.Errorf("default Server line missing: %v\n%s", err, got)
	}
	s3 := issue11Server(t, "server_signature=no\n")
	got, err = udpExchange(t, s3.addr, options("u", s3.addr, 70), 2*time.Second)
	if err != nil || strings.Contains(string(got), "Server:") {
		t.Errorf("server_signature=no still has a Server line: %v\n%s", err, got)
	}
}
