package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// engine is one routing-script language with its end-to-end config.
type engine struct {
	name   string // test name
	cfg    string // testdata/<dir>/kemi.cfg
	reason string // the 200's reason phrase its script sends
}

var engines = []engine{
	{"lua", "testdata/lua/kemi.cfg", "OK Lua"},
	{"js", "testdata/js/kemi.cfg", "OK JS"},
	{"starlark", "testdata/star/kemi.cfg", "OK Starlark"},
}

// optionsScenario writes options.xml with its placeholders filled in.
func optionsScenario(t *testing.T, maxfwd, code int, reason string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/options.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("MAXFWD", strconv.Itoa(maxfwd), "CODE", strconv.Itoa(code), "REASON", reason).Replace(string(b))
	p := filepath.Join(t.TempDir(), "options.xml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDefaultConfig is `make run`: the embedded registrar config and its
// Lua script, with the subscribers' database pointed at an empty file.
func TestDefaultConfig(t *testing.T) {
	t.Setenv("KEMI_DB", filepath.Join(t.TempDir(), "kemi.db"))
	s := startKemi(t, "")
	ping := func(maxfwd, code int, check string) {
		s.sipp(t, scenario(t, "request.xml", "METHOD", "OPTIONS", "RURI", "sip:"+s.addr,
			"MAXFWD", strconv.Itoa(maxfwd), "UA", "kemi-e2e", "CODE", strconv.Itoa(code), "CHECK", check), 1, 1)
	}
	ping(70, 200, `^SIP/2.0 200 Keepalive\r`)
	ping(0, 483, `^SIP/2.0 483 Too Many Hops\r`)
	s.sipp(t, scenario(t, "request.xml", "METHOD", "REGISTER", "RURI", "sip:"+s.addr,
		"MAXFWD", "70", "UA", "kemi-e2e", "CODE", "401", "CHECK", "WWW-Authenticate: Digest "), 1, 1)
}

// TestSeedLegacySr runs the seed page's own script, with the sr object.
func TestSeedLegacySr(t *testing.T) {
	s := startKemi(t, repo("testdata/seed/kamailio-sr.cfg"))
	s.sipp(t, optionsScenario(t, 70, 200, "OK Lua"), 5, 1)
	s.sipp(t, optionsScenario(t, 0, 483, "Too Many Hops"), 5, 1)
	if !strings.Contains(s.Log(), "register") {
		t.Errorf("the legacy modparam(app_lua, register) gave no notice; log:\n%s", s.Log())
	}
}

func TestEngines(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := startKemi(t, e.cfg)
			t.Run("options", func(t *testing.T) {
				s.sipp(t, optionsScenario(t, 70, 200, e.reason), 10, 1)
			})
			t.Run("maxforwards-zero", func(t *testing.T) {
				s.sipp(t, optionsScenario(t, 0, 483, "Too Many Hops"), 10, 1)
			})
			t.Run("load-10000", func(t *testing.T) {
				out := s.sipp(t, optionsScenario(t, 70, 200, e.reason), 10000, 100)
				if !strings.Contains(out, "Successful call") {
					t.Fatalf("no sipp summary:\n%s", tail(out, 2000))
				}
			})
			t.Run("garbage", func(t *testing.T) { garbage(t, s, e.reason) })
			t.Run("script-error", func(t *testing.T) {
				msg := []byte(strings.Replace(string(options("err", s.addr, 70)), "OPTIONS", "MESSAGE", 2))
				if r, err := udpExchange(t, s.addr, msg, 300*time.Millisecond); err == nil {
					t.Fatalf("a request whose script failed got a reply: %q", statusLine(r))
				}
				assertServed(t, s, e.reason)
				waitLog(t, s, "Call-ID")
				if !strings.Contains(s.Log(), "e2e.") {
					t.Errorf("script error log names no script file:line; log:\n%s", s.Log())
				}
			})
			t.Run("runaway-loop", func(t *testing.T) {
				msg := []byte(strings.Replace(string(options("loop", s.addr, 70)), "OPTIONS", "INFO", 2))
				if r, err := udpExchange(t, s.addr, msg, 2*time.Second); err == nil {
					t.Fatalf("a runaway request got a reply: %q", statusLine(r))
				}
				waitLog(t, s, "budget")
				assertServed(t, s, e.reason)
			})
		})
	}
}

// garbage sends datagrams that are not SIP, then checks the server still
// answers and counted them.
func garbage(t *testing.T, s *server, reason string) {
	random := make([]byte, 1200)
	rand.Read(random)
	full := options("trunc", s.addr, 70)
	big := make([]byte, 65507) // the largest UDP datagram IPv4 carries
	copy(big, "OPTIONS sip:big@127.0.0.1 SIP/2.0\r\nX-Pad: ")
	for i := 40; i < len(big); i++ {
		big[i] = 'a'
	}
	for _, msg := range [][]byte{random, full[:len(full)/2], []byte("\r\n\r\n"), big, []byte("SIP/2.0 abc\r\n\r\n")} {
		if r, err := udpExchange(t, s.addr, msg, 100*time.Millisecond); err == nil {
			t.Errorf("garbage got a reply: %q", statusLine(r))
		}
	}
	assertServed(t, s, reason)
	waitLog(t, s, "malformed")
}

// assertServed checks that a normal OPTIONS still gets its 200.
func assertServed(t *testing.T, s *server, reason string) {
	t.Helper()
	r, err := udpExchange(t, s.addr, options("ok", s.addr, 70), 2*time.Second)
	if err != nil {
		t.Fatalf("server stopped answering: %v", err)
	}
	if got, want := statusLine(r), "SIP/2.0 200 "+reason; got != want {
		t.Fatalf("reply %q, want %q", got, want)
	}
}

// waitLog waits briefly for text to show in the server's log.
func waitLog(t *testing.T, s *server, text string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		if strings.Contains(s.Log(), text) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log has no %q:\n%s", text, s.Log())
}
