// Package rtptest starts Debian's rtpengine daemon for tests: userspace
// forwarding only (--table=-1), on 127.0.0.1, with its ng and legacy UDP
// control listeners on free ports, stopped when the test ends. Without
// the binary a test is skipped, except under CI=true where it fails, so
// CI never passes by skipping (scripts/deps.sh installs rtpengine-daemon).
package rtptest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Bin is the daemon Debian's rtpengine-daemon package installs.
const Bin = "/usr/bin/rtpengine"

// Daemon is one running rtpengine.
type Daemon struct {
	NG, UDP  int // control ports on 127.0.0.1
	PortMin  int // RTP port range
	dir      string
	t        testing.TB
	mu       sync.Mutex
	cmd      *exec.Cmd
	log      *bytes.Buffer
	waitDone chan struct{}
}

// Need fails (CI=true) or skips the test when the daemon is missing.
func Need(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (package rtpengine-daemon; scripts/deps.sh installs it)", Bin)
		}
		t.Skipf("%s is missing (apt-get install rtpengine-daemon)", Bin)
	}
}

// FreePort returns a free UDP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Start runs a daemon and waits until it answers ping.
func Start(t testing.TB) *Daemon {
	t.Helper()
	Need(t)
	d := &Daemon{dir: t.TempDir(), t: t}
	t.Cleanup(d.Stop)
	// A port free when picked can be bound by another test before the
	// daemon binds it; a daemon that exits at start gets new ports.
	for i := 1; ; i++ {
		d.NG, d.UDP, d.PortMin = FreePort(t), FreePort(t), 20000+200*rand.Intn(100)
		err := d.start()
		if err == nil {
			return d
		}
		if !errors.Is(err, errExited) || i == 4 {
			t.Fatal(err)
		}
		t.Logf("rtptest: attempt %d: %v; trying other ports", i, err)
	}
}

var errExited = errors.New("exited at start")

// Start starts a stopped daemon again, on the same ports.
func (d *Daemon) Start() {
	d.t.Helper()
	if err := d.start(); err != nil {
		d.t.Fatal(err)
	}
}

func (d *Daemon) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return nil
	}
	d.log = new(bytes.Buffer)
	d.cmd = exec.Command(Bin, "--foreground", "--table=-1", "--interface=127.0.0.1",
		"--listen-ng=127.0.0.1:"+strconv.Itoa(d.NG), "--listen-udp=127.0.0.1:"+strconv.Itoa(d.UDP),
		"--pidfile="+filepath.Join(d.dir, "rtpengine.pid"), "--log-stderr", "--log-level=6",
		"--port-min="+strconv.Itoa(d.PortMin), "--port-max="+strconv.Itoa(d.PortMin+199),
		"--num-threads=2", "--delete-delay=0", "--config-file=none")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		d.cmd = nil
		return fmt.Errorf("rtptest: start %s: %v", Bin, err)
	}
	d.waitDone = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(d.cmd, d.waitDone)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if Ping(d.NG) {
			return nil
		}
		select {
		case <-d.waitDone:
			d.cmd = nil
			return fmt.Errorf("rtptest: rtpengine %w:\n%s", errExited, d.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("rtptest: rtpengine did not answer ping on %d:\n%s", d.NG, d.log)
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 5 s).
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.waitDone:
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
		<-d.waitDone
	}
	d.cmd = nil
}

// Log is what the daemon printed so far.
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log == nil {
		return ""
	}
	return d.log.String()
}

// Ping sends an ng ping to port and says whether "pong" came back.
func Ping(port int) bool {
	c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := fmt.Fprint(c, "p1 d7:command4:pinge"); err != nil {
		return false
	}
	b := make([]byte, 512)
	n, err := c.Read(b)
	return err == nil && bytes.Contains(b[:n], []byte("pong"))
}
