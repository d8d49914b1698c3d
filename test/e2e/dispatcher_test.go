package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dsUAS is a sipp media server behind the dispatcher (testdata/dispatcher/
// uas.xml), answering calls and keepalives until stopped.
type dsUAS struct {
	port int
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

func startDSUAS(t *testing.T, port int) *dsUAS {
	t.Helper()
	sipp := needSipp(t)
	u := &dsUAS{port: port, done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	u.cmd = exec.CommandContext(ctx, sipp, "-sf", repo("testdata/dispatcher/uas.xml"), "-i", "127.0.0.1",
		"-p", strconv.Itoa(port), "-m", "10000000", "-nostdin", "-buff_size", "4194304")
	u.cmd.Stdout, u.cmd.Stderr = &u.out, &u.out
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { u.done <- u.cmd.Wait() }()
	t.Cleanup(func() { u.kill() })
	(&uas{done: u.done}).waitBound(t, port, false)
	return u
}

// kill ends the UAS at once, as a crash would.
func (u *dsUAS) kill() {
	if u.cmd.ProcessState == nil {
		u.cmd.Process.Kill()
		<-u.done
		u.done <- nil
	}
}

// stop ends the UAS and returns how many INVITEs it took (its screen:
// "----------> INVITE   N   retrans   timeouts   unexpected").
func (u *dsUAS) stop(t *testing.T) int {
	t.Helper()
	u.cmd.Process.Signal(os.Interrupt)
	select {
	case <-u.done:
		u.done <- nil
	case <-time.After(5 * time.Second):
		u.kill()
	}
	n := -1
	for _, line := range strings.Split(u.out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == "INVITE" && strings.HasPrefix(f[0], "---") {
			n, _ = strconv.Atoi(f[2])
		}
	}
	if n < 0 {
		t.Fatalf("UAS %d: no INVITE count on its screen:\n%s", u.port, tail(u.out.String(), 2000))
	}
	return n
}

// startLB writes a dispatcher.list over the three UAS ports and starts
// kemi on the load balancer config of one engine.
func startLB(t *testing.T, ext string, ports [3]int) *server {
	t.Helper()
	dir := t.TempDir()
	var list strings.Builder
	list.WriteString("# set 1: round robin / hash; set 2: weights\n")
	for _, p := range ports {
		fmt.Fprintf(&list, "1 sip:127.0.0.1:%d\n", p)
	}
	for i, w := range []int{50, 30, 20} {
		fmt.Fprintf(&list, "2 sip:127.0.0.1:%d 0 0 weight=%d;duid=ms%d\n", ports[i], w, i+1)
	}
	listPath := filepath.Join(dir, "dispatcher.list")
	cfg, err := os.ReadFile(repo("testdata/dispatcher/kemi-" + ext + ".cfg"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(repo("testdata/dispatcher/lb." + ext))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"dispatcher.list": []byte(list.String()),
		"kemi.cfg":        bytes.Replace(cfg, []byte("DSLIST"), []byte(listPath), 1),
		"lb." + ext:       script,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return startKemi(t, filepath.Join(dir, "kemi.cfg"))
}

// spread runs calls to service through the balancer with three fresh
// UASes and returns how many INVITEs each took.
func spread(t *testing.T, s *server, ports [3]int, service string, calls int) [3]int {
	t.Helper()
	var us [3]*dsUAS
	for i, p := range ports {
		us[i] = startDSUAS(t, p)
	}
	s.sipp(t, repo("testdata/dispatcher/uac.xml"), calls, 100, "-s", service)
	var got [3]int
	for i, u := range us {
		got[i] = u.stop(t)
	}
	return got
}

func within(got, want, pct int) bool {
	return got*100 >= want*(100-pct) && got*100 <= want*(100+pct)
}

// TestDispatcher_LoadBalancer covers issue 16's dispatcher tests with three
// sipp UASes behind a set, in every engine: round robin spreads 3000 calls
// evenly, weights 50/30/20 within 5%, the Call-ID hash over all three; a
// UAS killed under load is marked inactive by the keepalives (event
// dispatcher:dst-down run in the script) while calls fail over in the
// failure route, with no failed call after the first probe interval; the
// UAS back is marked active (dispatcher:dst-up) and takes calls again.
func TestDispatcher_LoadBalancer(t *testing.T) {
	needSipp(t)
	for _, e := range []string{"lua", "js", "star"} {
		t.Run(e, func(t *testing.T) {
			ports := [3]int{freePort(t), freePort(t), freePort(t)}
			s := startLB(t, e, ports)

			t.Run("round-robin-even", func(t *testing.T) {
				got := spread(t, s, ports, "rr", 3000)
				for i := range got {
					if !within(got[i], 1000, 2) {
						t.Errorf("round robin over 3000 calls: %v, want 1000 each (2%%)", got)
					}
				}
			})
			t.Run("weights-within-5pct", func(t *testing.T) {
				got := spread(t, s, ports, "weight", 3000)
				for i, want := range []int{1500, 900, 600} {
					if !within(got[i], want, 5) {
						t.Errorf("weights 50/30/20 over 3000 calls: %v, want 1500/900/600 within 5%%", got)
					}
				}
			})
			t.Run("callid-hash", func(t *testing.T) {
				got := spread(t, s, ports, "hash", 3000)
				for i := range got {
					if !within(got[i], 1000, 15) {
						t.Errorf("Call-ID hash over 3000 calls: %v, want about 1000 each", got)
					}
				}
			})
			t.Run("uas-killed-failover-and-back", func(t *testing.T) {
				failover(t, s, ports)
			})
		})
	}
}

func failover(t *testing.T, s *server, ports [3]int) {
	var us [3]*dsUAS
	for i, p := range ports {
		us[i] = startDSUAS(t, p)
	}
	dead := fmt.Sprintf("sip:127.0.0.1:%d", ports[1])
	// Load A: 200 calls a second; the second UAS dies half a second in.
	// Calls in its hands then (answered, BYE not yet through) are lost;
	// INVITEs sent to it time out (fr_timer 1 s) and fail over.
	sipp := needSipp(t)
	errFile := filepath.Join(t.TempDir(), "err.log")
	a := exec.Command(sipp, "-sf", repo("testdata/dispatcher/uac.xml"), "-m", "600", "-l", "50", "-r", "200",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-nostdin", "-recv_timeout", "4000", "-s", "rr",
		"-trace_err", "-error_file", errFile, "-buff_size", "4194304", s.addr)
	var aOut bytes.Buffer
	a.Stdout, a.Stderr = &aOut, &aOut
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Wait() }()
	time.Sleep(500 * time.Millisecond)
	us[1].kill()
	killed := time.Now()
	// Probing threshold 2 at 1 s, each keepalive waiting 1 s: inactive
	// within about 3 s of the kill (the failure route's "tp" marks count
	// too, so often sooner).
	down := "dispatcher event dispatcher:dst-down " + dead
	downAt := make(chan time.Duration, 1)
	go func() {
		if logWithin(s, down, 4*time.Second) {
			downAt <- time.Since(killed)
		}
		close(downAt)
	}()

	// After the first probe interval (1 s) no call may fail: load B.
	time.Sleep(time.Second)
	s.sipp(t, repo("testdata/dispatcher/uac.xml"), 1000, 50, "-s", "rr", "-r", "400")

	took, ok := <-downAt
	if !ok {
		t.Fatalf("no %q within 4 s of the kill", down)
	}
	if !strings.Contains(s.Log(), "failover to ") {
		t.Errorf("no call failed over in the failure route")
	}
	select {
	case <-aDone:
	case <-time.After(20 * time.Second):
		a.Process.Kill()
		t.Fatal("load A did not end")
	}
	failed := -1
	for _, line := range strings.Split(aOut.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 6 && f[0] == "Failed" && f[1] == "call" {
			failed, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	// Only calls in the dead UAS's hands at the kill may fail: at 200 calls
	// a second and a few ms per call, a handful.
	if failed < 0 || failed > 10 {
		t.Errorf("load A: %d failed calls, want only those in the killed UAS's hands (at most 10)\n%s", failed, tail(aOut.String(), 1500))
	}
	t.Logf("load A: %d calls lost in the killed UAS's hands; dst-down %s after the kill", failed, took.Round(10*time.Millisecond))

	// The UAS back: the next keepalive marks it active (dst-up) and it
	// takes its share again.
	us[1] = startDSUAS(t, ports[1])
	back := time.Now()
	up := "dispatcher event dispatcher:dst-up " + dead
	if !logWithin(s, up, 3*time.Second) {
		t.Fatalf("no %q within 3 s of the UAS coming back", up)
	}
	t.Logf("dst-up %s after the UAS came back", time.Since(back).Round(100*time.Millisecond))
	s.sipp(t, repo("testdata/dispatcher/uac.xml"), 300, 50, "-s", "rr")
	var got [3]int
	for i, u := range us {
		got[i] = u.stop(t)
	}
	if got[1] < 90 {
		t.Errorf("the UAS back took %d of 300 calls, want about 100 (all: %v)", got[1], got)
	}
}

// logWithin waits up to d for text in the server's log.
func logWithin(s *server, text string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if strings.Contains(s.Log(), text) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
