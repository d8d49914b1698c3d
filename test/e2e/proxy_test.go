package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// proxyEngines are the stateful proxy configs under testdata/proxy.
var proxyEngines = []struct{ name, ext, define string }{
	{"lua", "lua", "UAS1 = %d\nUAS2 = %d\n"},
	{"js", "js", "var UAS1 = %d;\nvar UAS2 = %d;\n"},
	{"star", "star", "UAS1 = %d\nUAS2 = %d\n"},
}

// startProxy copies the proxy config and script of one engine into a
// temporary folder, with the callees' ports defined at the end of the
// script (a script has no other way to learn them; appending keeps the
// script's line numbers), and starts kemi on it.
func startProxy(t *testing.T, ext, define string, uas1, uas2 int, extra ...string) *server {
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
	for name, b := range map[string][]byte{"kemi.cfg": cfg, "proxy." + ext: script} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return startKemi(t, filepath.Join(dir, "kemi.cfg"), extra...)
}

// uas is a sipp callee running one call in the background.
type uas struct {
	cmd     *exec.Cmd
	out     bytes.Buffer
	done    chan error
	errFile string
}

// failure is the end of sipp's output and its error file.
func (u *uas) failure() string {
	b, _ := os.ReadFile(u.errFile)
	return tail(u.out.String(), 1500) + "\nerrors:\n" + tail(string(b), 3000)
}

// startUAS runs sipp with a server scenario on 127.0.0.1:port for one call.
func startUAS(t *testing.T, scenario string, port int, extra ...string) *uas {
	t.Helper()
	sipp := needSipp(t)
	u := &uas{done: make(chan error, 1), errFile: filepath.Join(t.TempDir(), "uas-err.log")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	args := append([]string{"-sf", repo("test/e2e/testdata/proxy/" + scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-nostdin", "-trace_err",
		"-error_file", u.errFile}, extra...)
	u.cmd = exec.CommandContext(ctx, sipp, args...)
	u.cmd.Stdout, u.cmd.Stderr = &u.out, &u.out
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { u.done <- u.cmd.Wait() }()
	tcp := false
	for _, a := range extra {
		tcp = tcp || a == "t1" || a == "tn"
	}
	u.waitBound(t, port, tcp)
	return u
}

// waitBound waits until sipp listens on 127.0.0.1:port (UDP): binding the
// port ourselves fails then.
func (u *uas) waitBound(t *testing.T, port int, tcp bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-u.done:
			t.Fatalf("callee sipp exited before its call: %v\n%s", err, u.failure())
		default:
		}
		var c io.Closer
		var err error
		if tcp {
			c, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		} else {
			c, err = net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		}
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("callee sipp did not bind 127.0.0.1:%d within 5s", port)
}

// wait checks that the callee's call succeeded.
func (u *uas) wait(t *testing.T, what string) string {
	t.Helper()
	select {
	case err := <-u.done:
		if err != nil {
			t.Errorf("%s: callee sipp: %v\n%s", what, err, u.failure())
		}
	case <-time.After(30 * time.Second):
		u.cmd.Process.Kill()
		<-u.done
		t.Errorf("%s: callee sipp did not finish its call within 30s\n%s", what, u.failure())
	}
	return u.out.String()
}

// rawInvite sends an INVITE from a socket of its own (its Via names that
// socket, with rport) and returns the first final reply.
func rawInvite(t *testing.T, addr, user string, maxForwards int) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	id := user + strconv.FormatInt(time.Now().UnixNano(), 36)
	msg := "INVITE sip:" + user + "@" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-" + id + ";rport\r\n" +
		"From: <sip:caller@127.0.0.1>;tag=" + id + "\r\n" +
		"To: <sip:" + user + "@" + addr + ">\r\n" +
		"Call-ID: e2e-" + id + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:caller@" + local + ">\r\n" +
		"Max-Forwards: " + strconv.Itoa(maxForwards) + "\r\n" +
		"Content-Length: 0\r\n\r\n"
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("INVITE to %s: no final reply: %v", user, err)
		}
		if line := statusLine(buf[:n]); !strings.HasPrefix(line, "SIP/2.0 1") {
			return line
		}
	}
}

// logShows waits a little for text to reach the server's log, which is
// read on its own goroutine.
func logShows(s *server, text string) bool {
	for i := 0; i < 100; i++ {
		if strings.Contains(s.Log(), text) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestProxy runs the stateful proxy scenarios with real sipp callers and
// callees in every engine.
func TestProxy(t *testing.T) {
	needSipp(t)
	for _, e := range proxyEngines {
		t.Run(e.name, func(t *testing.T) {
			uas1, uas2 := freePort(t), freePort(t)
			s := startProxy(t, e.ext, e.define, uas1, uas2)

			t.Run("call", func(t *testing.T) {
				u := startUAS(t, "uas-call.xml", uas1)
				s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), 1, 1, "-s", "call")
				u.wait(t, "call")
			})
			t.Run("cancel", func(t *testing.T) {
				u := startUAS(t, "uas-cancel.xml", uas1)
				s.sipp(t, repo("test/e2e/testdata/proxy/uac-cancel.xml"), 1, 1, "-s", "call")
				u.wait(t, "cancel")
			})
			t.Run("busy-then-second-callee", func(t *testing.T) {
				u1 := startUAS(t, "uas-busy.xml", uas1)
				u2 := startUAS(t, "uas-call.xml", uas2)
				s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), 1, 1, "-s", "busy")
				u1.wait(t, "busy callee")
				u2.wait(t, "second callee")
				if !logShows(s, "failure route: status 486") {
					t.Errorf("the failure route did not log the 486")
				}
			})
			t.Run("silent-callee-408", func(t *testing.T) {
				u := startUAS(t, "uas-silent.xml", uas1)
				s.sipp(t, repo("test/e2e/testdata/proxy/uac-silent.xml"), 1, 1, "-s", "silent")
				u.wait(t, "silent callee")
			})
			t.Run("retransmission-absorbed", func(t *testing.T) {
				u := startUAS(t, "uas-call.xml", uas1)
				s.sipp(t, repo("test/e2e/testdata/proxy/uac-retrans.xml"), 1, 1, "-s", "retrans")
				out := u.wait(t, "retransmission")
				// The callee's screen: "----------> INVITE   1   0   0   0"
				// (messages, retransmissions, timeouts, unexpected).
				found := false
				for _, line := range strings.Split(out, "\n") {
					if f := strings.Fields(line); len(f) >= 4 && f[1] == "INVITE" && strings.HasPrefix(f[0], "---") {
						found = true
						if f[2] != "1" || f[3] != "0" {
							t.Errorf("the callee saw INVITE %s times, %s retransmissions; want 1 and 0: %q", f[2], f[3], line)
						}
					}
				}
				if !found {
					t.Errorf("no INVITE line on the callee's screen:\n%s", tail(out, 2000))
				}
			})
			t.Run("max-forwards", func(t *testing.T) {
				if got := rawInvite(t, s.addr, "call", 0); !strings.HasPrefix(got, "SIP/2.0 483") {
					t.Errorf("INVITE with Max-Forwards 0: got %q, want 483", got)
				}
			})
			t.Run("unknown-destination", func(t *testing.T) {
				if got := rawInvite(t, s.addr, "unknown", 70); !strings.HasPrefix(got, "SIP/2.0 500") {
					t.Errorf("INVITE to an unresolvable callee: got %q, want 500", got)
				}
				if !logShows(s, "callee.invalid") {
					t.Errorf("the log does not say why t_relay failed")
				}
			})
		})
	}
}
