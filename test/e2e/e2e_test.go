// Package e2e drives the real kemi binary with real sipp on 127.0.0.1.
// With CI=true a missing sipp fails the tests instead of skipping them.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var kemiBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kemi-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kemiBin = filepath.Join(dir, "kemi")
	build := exec.Command("go", "build", "-o", kemiBin, "kemi/cmd/kemi")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building kemi:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repo returns a path relative to the repository root.
func repo(p string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", p)
}

// needSipp returns sipp's path; it skips without sipp, but fails under CI.
func needSipp(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sipp is not installed; make test installs it (scripts/deps.sh)")
		}
		t.Skip("sipp is not installed (apt-get install -y sip-tester)")
	}
	return p
}

// freePort finds a UDP port on 127.0.0.1 that is free right now.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// server is a running kemi process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	port int
	addr string

	mu  sync.Mutex
	log bytes.Buffer
	// logw is the write end of the log pipe and logDone closes when the
	// reader has stored all of it, so that after stop the log is whole.
	logw    *io.PipeWriter
	logDone chan struct{}
}

// startKemi runs `kemi serve -f cfg -l udp:127.0.0.1:PORT` and waits until
// it listens. cfg "" runs the embedded default. Extra arguments follow,
// with {PORT} replaced by PORT.
//
// The port is free when picked but another test can bind it before kemi
// does; kemi then exits with "address already in use", and startKemi
// tries again on a new port (3 attempts).
func startKemi(t *testing.T, cfg string, extra ...string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		for _, a := range extra {
			if strings.Contains(a, "{PORT}") {
				port = freeTCPPort(t) // a tcp: or tls: listen shares the port
				break
			}
		}
		s, inUse := startKemiOn(t, port, cfg, extra...)
		if !inUse {
			return s
		}
		if attempt == 3 {
			t.Fatalf("kemi could not bind a free port in 3 attempts; log:\n%s", s.Log())
		}
		t.Logf("kemi: port %d taken before kemi bound it; trying another", port)
	}
}

// startKemiOn is one attempt of startKemi on port; inUse says kemi found
// a port taken (the server is stopped then).
func startKemiOn(t *testing.T, port int, cfg string, extra ...string) (s *server, inUse bool) {
	t.Helper()
	args := []string{"serve", "-l", "udp:127.0.0.1:" + strconv.Itoa(port)}
	if cfg != "" {
		args = append(args, "-f", cfg)
	}
	// {PORT} in an extra argument is the server's port: -l tcp:127.0.0.1:{PORT}
	// listens for TCP beside UDP on the same port.
	for _, a := range extra {
		args = append(args, strings.ReplaceAll(a, "{PORT}", strconv.Itoa(port)))
	}
	s = &server{t: t, port: port, addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.cmd = exec.Command(kemiBin, args...)
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	s.logw, s.logDone = pw, make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(s.logDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		once := false
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if !once && strings.Contains(sc.Text(), "listening on") {
				once = true
				close(ready)
			}
		}
	}()
	t.Cleanup(func() {
		s.stop()
		pw.Close()
		if t.Failed() {
			t.Logf("kemi log:\n%s", s.Log())
		}
	})
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-ready:
			return s, false
		case <-deadline:
			t.Fatalf("kemi did not start listening within 20s; log:\n%s", s.Log())
		case <-time.After(50 * time.Millisecond):
			if strings.Contains(s.Log(), "bind: address already in use") {
				s.stop()
				return s, true
			}
		}
	}
}

func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
		s.t.Errorf("kemi did not stop within 5s of SIGINT")
	}
	// Wait has copied the last output into the pipe; let the reader store it.
	s.logw.Close()
	<-s.logDone
}

// sipp runs a scenario against the server and returns its output; it fails
// the test when sipp reports failed calls.
func (s *server) sipp(t *testing.T, scenario string, calls, limit int, extra ...string) string {
	t.Helper()
	sipp := needSipp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	errFile := filepath.Join(t.TempDir(), "err.log")
	args := []string{"-sf", scenario, "-m", strconv.Itoa(calls), "-l", strconv.Itoa(limit), "-r", "1000000",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-nostdin", "-recv_timeout", "3000", "-trace_err",
		"-error_file", errFile,
		// sipp's own socket asks for 64 KiB; under full-speed load on a
		// shared machine it overflows while sipp is descheduled (measured:
		// every loss was in sipp's socket, the server's dropped nothing),
		// so the client gets room for the replies it asked for.
		"-buff_size", "4194304"}
	args = append(args, extra...)
	args = append(args, s.addr)
	cmd := exec.CommandContext(ctx, sipp, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// sipp's error file says which message broke a call.
		errs, _ := os.ReadFile(errFile)
		t.Fatalf("sipp %s: %v\n%s\nsipp's errors:\n%s", filepath.Base(scenario), err, tail(string(out), 3000), tail(string(errs), 4000))
	}
	return string(out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// udpExchange sends one datagram and waits for one reply.
func udpExchange(t *testing.T, addr string, msg []byte, wait time.Duration) ([]byte, error) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// options builds an OPTIONS request to user@addr.
func options(user, addr string, maxForwards int) []byte {
	return []byte("OPTIONS sip:" + user + "@" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-" + user + strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\n" +
		"From: <sip:test@127.0.0.1>;tag=t1\r\n" +
		"To: <sip:" + user + "@" + addr + ">\r\n" +
		"Call-ID: e2e-" + user + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: " + strconv.Itoa(maxForwards) + "\r\n" +
		"Content-Length: 0\r\n\r\n")
}

func statusLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}

// TestHarness_StartKemiSeesTakenPort: when another test binds the port
// startKemi picked before kemi does, the attempt reports it (and
// startKemi tries another port) instead of waiting out the start
// timeout and failing.
func TestHarness_StartKemiSeesTakenPort(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	s, inUse := startKemiOn(t, c.LocalAddr().(*net.UDPAddr).Port, "")
	if !inUse {
		t.Fatalf("kemi started on a taken port; log:\n%s", s.Log())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the taken port was seen after %v", d)
	}
}
