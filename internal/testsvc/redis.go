// Package testsvc starts the real servers the tests drive (Debian's
// redis-server, postgresql, mariadb-server) on 127.0.0.1 with free
// ports and throwaway data folders, and stops them when the test ends.
// Without the binary a test is skipped, except under CI=true where it
// fails, so CI never passes by skipping (scripts/deps.sh installs them).
package testsvc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// need fails (CI=true) or skips the test when bin is not on PATH and
// returns its path.
func need(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testsvc: %s is missing (package %s; scripts/deps.sh installs it)", bin, pkg)
		}
		t.Skipf("testsvc: %s is missing (apt-get install %s)", bin, pkg)
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// It picks at random below the kernel's ephemeral range (32768 up on
// Linux), where the ports the other tests' ":0" listeners and every
// outgoing connection get do not land; a server can still lose the port
// to another test in between, so the Start functions retry on a new one
// (startAttempts).
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		p := 10000 + rand.Intn(22000)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			return p
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAttempts is how many ports a Start function tries before it
// fails the test: a server that exits at start (most often because
// another test took its port between FreePort and the bind) is started
// again on a new port.
const startAttempts = 4

// pickPort is FreePort; a test replaces it to hand out a taken port.
var pickPort = FreePort

// Redis is one running redis-server, without persistence.
type Redis struct {
	Port int
	bin  string
	dir  string
	t    testing.TB

	mu       sync.Mutex
	cmd      *exec.Cmd
	log      *bytes.Buffer
	waitDone chan struct{}
}

// NeedRedis fails (CI=true) or skips the test when redis-server is missing.
func NeedRedis(t testing.TB) { t.Helper(); need(t, "redis-server", "redis-server") }

// StartRedis runs a redis-server on a free port and waits until it
// answers PING. It is stopped when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{bin: need(t, "redis-server", "redis-server"), dir: t.TempDir(), t: t}
	t.Cleanup(r.Stop)
	for i := 1; ; i++ {
		r.Port = pickPort(t)
		err := r.start()
		if err == nil {
			return r
		}
		if !errors.Is(err, errExited) || i == startAttempts {
			t.Fatal(err)
		}
		t.Logf("testsvc: attempt %d: %s; trying another port", i, lastLines(err.Error(), 4))
	}
}

// Addr is host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL is the db_url form Kamailio's db_redis takes: redis://HOST:PORT/DB.
func (r *Redis) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr(), db) }

// errExited marks a server that exited while starting (most often: its
// port was taken), as opposed to one that never answered.
var errExited = errors.New("exited at start")

// Start starts a stopped server again, on the same port. If the server
// exits at start (the port taken meanwhile), it tries again for a few
// seconds before failing the test.
func (r *Redis) Start() {
	r.t.Helper()
	var err error
	for i := 0; i < 10; i++ {
		if err = r.start(); err == nil || !errors.Is(err, errExited) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	r.log = new(bytes.Buffer)
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no",
		"--protected-mode", "yes", "--notify-keyspace-events", "")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		r.cmd = nil
		return fmt.Errorf("testsvc: start %s: %v", r.bin, err)
	}
	r.waitDone = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(r.cmd, r.waitDone)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if reply, err := r.Do("PING"); err == nil && reply == "PONG" {
			return nil
		}
		select {
		case <-r.waitDone:
			r.cmd = nil
			return fmt.Errorf("testsvc: redis-server on port %d %w:\n%s", r.Port, errExited, r.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("testsvc: redis-server did not answer PING on %d:\n%s", r.Port, r.log)
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s). Its data is
// gone: the server keeps nothing on disk.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.waitDone:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.waitDone
	}
	r.cmd = nil
}

// Pause stops the server process with SIGSTOP, keeping its data, so a
// test can make Redis unreachable without losing what it holds; Resume
// continues it.
func (r *Redis) Pause() { r.signal("STOP") }

// Resume continues a paused server.
func (r *Redis) Resume() { r.signal("CONT") }

func (r *Redis) signal(sig string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	exec.Command("kill", "-"+sig, strconv.Itoa(r.cmd.Process.Pid)).Run()
}

// Log is what the server printed so far.
func (r *Redis) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log == nil {
		return ""
	}
	return r.log.String()
}

// Do sends one command in RESP and returns the first line of the reply
// without its type byte (a simple string, an error, an integer or a
// bulk string's length): enough for tests to check and seed the server
// without a client library.
func (r *Redis) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.Addr(), 500*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("testsvc: empty reply")
	}
	switch line[0] {
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}
