package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kemi/internal/testsvc"
)

// Issue 18: several kemi nodes sharing their registrations in one Redis.

// startShared runs a node of testdata/scaling/kemi-shared.cfg with usrloc
// on dbURL in db_mode mode.
func startShared(t *testing.T, dbURL string, mode int, extra ...string) *server {
	t.Helper()
	args := append([]string{"-A", `ULURL="` + dbURL + `"`, "-A", "ULMODE=" + strconv.Itoa(mode),
		"-A", `LUA="` + repo("testdata/registrar/kemi.lua") + `"`}, extra...)
	return startKemi(t, repo("test/e2e/testdata/scaling/kemi-shared.cfg"), args...)
}

// TestScaling_ThreeNodesRedis: alice registers on node 1; bob's call
// through node 2 reaches her; she unregisters through node 3 and node 1
// answers 404 at once. Then node 1 is SIGKILLed and restarted: it serves
// the shared registrations at once. For db_mode 1 (the nodes' caches kept
// in step through pub/sub) and 3 (Redis read on every lookup).
func TestScaling_ThreeNodesRedis(t *testing.T) {
	needSipp(t)
	srv := testsvc.StartRedis(t)
	authdb := filepath.Join(t.TempDir(), "kemi.db")
	addUser(t, authdb, "alice@127.0.0.1", "alice-secret")
	addUser(t, authdb, "bob@127.0.0.1", "bob-secret")
	for _, mode := range []int{1, 3} {
		t.Run("db_mode="+strconv.Itoa(mode), func(t *testing.T) {
			url := srv.URL(mode)
			auth := []string{"-A", `AUTHDB="` + authdb + `"`}
			n1 := startShared(t, url, mode, auth...)
			n2 := startShared(t, url, mode, auth...)
			n3 := startShared(t, url, mode, auth...)

			uport := freePort(t)
			contact := "<sip:alice@127.0.0.1:" + strconv.Itoa(uport) + ">"
			u := startUAS(t, "../registrar/uas-call.xml", uport)
			register(t, n1, "alice", "alice-secret", contact, 600, 200, `<sip:alice@127\.0\.0\.1:`+strconv.Itoa(uport)+`>`)
			if mode == 1 {
				// The cache of node 2 learns it from node 1's PUBLISH.
				time.Sleep(200 * time.Millisecond)
			}
			n2.sipp(t, scenario(t, "uac-call.xml", "CALLER", "bob"), 1, 1, "-s", "alice", "-au", "bob", "-ap", "bob-secret")
			u.wait(t, "callee alice through node 2")

			// Unregistered through node 3; node 1 answers 404 right after.
			register(t, n3, "alice", "alice-secret", contact, 0, 200, `^SIP/2.0 200 `)
			start := time.Now()
			if mode == 1 {
				time.Sleep(100 * time.Millisecond)
			}
			n1.sipp(t, scenario(t, "uac-404.xml", "CALLER", "bob"), 1, 1, "-s", "alice", "-au", "bob", "-ap", "bob-secret")
			if d := time.Since(start); d > time.Second {
				t.Errorf("node 1 answered 404 after %v, want within a second", d)
			}

			// Registered again through node 2; node 1 SIGKILLed and
			// restarted serves her at once.
			uport = freePort(t)
			contact = "<sip:alice@127.0.0.1:" + strconv.Itoa(uport) + ">"
			register(t, n2, "alice", "alice-secret", contact, 600, 200, `<sip:alice@127\.0\.0\.1:`+strconv.Itoa(uport)+`>`)
			n1.cmd.Process.Kill()
			n1.cmd.Wait()
			n1 = startShared(t, url, mode, auth...)
			u = startUAS(t, "../registrar/uas-call.xml", uport)
			n1.sipp(t, scenario(t, "uac-call.xml", "CALLER", "bob"), 1, 1, "-s", "alice", "-au", "bob", "-ap", "bob-secret")
			u.wait(t, "callee alice through the restarted node 1")
		})
	}
}

// registerMsg is an unauthenticated REGISTER (the NOAUTH config).
func registerMsg(user, addr string, expires int) []byte {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	return []byte("REGISTER sip:" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-" + user + id + "\r\n" +
		"From: <sip:" + user + "@127.0.0.1>;tag=r1\r\n" +
		"To: <sip:" + user + "@127.0.0.1>\r\n" +
		"Call-ID: reg-" + user + "-" + id + "\r\n" +
		"CSeq: 1 REGISTER\r\n" +
		"Contact: <sip:" + user + "@127.0.0.1:5999>\r\n" +
		"Expires: " + strconv.Itoa(expires) + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n")
}

// regCode sends one REGISTER and returns the reply's status code (0
// when none came within wait).
func regCode(addr, user string, wait time.Duration) int {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return 0
	}
	defer c.Close()
	c.Write(registerMsg(user, addr, 600))
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0
		}
		f := strings.Fields(statusLine(buf[:n]))
		if len(f) >= 2 {
			if code, _ := strconv.Atoi(f[1]); code >= 200 {
				return code
			}
		}
	}
}

// TestScaling_RedisOutage: Redis paused for 10 s under REGISTER load on
// three nodes, then resumed: no node crashes, REGISTERs whose binding
// could not be written get 500 (never 200), the nodes write again by
// themselves, and every binding registered before the outage, or
// answered 200 at any time, is in Redis afterwards.
func TestScaling_RedisOutage(t *testing.T) {
	srv := testsvc.StartRedis(t)
	url := srv.URL(0)
	nodes := []*server{startShared(t, url, 1, "-A", "NOAUTH=1"), startShared(t, url, 1, "-A", "NOAUTH=1"), startShared(t, url, 1, "-A", "NOAUTH=1")}
	for i := range 30 {
		if code := regCode(nodes[i%3].addr, "pre"+strconv.Itoa(i), 3*time.Second); code != 200 {
			t.Fatalf("REGISTER pre%d before the outage: %d, want 200", i, code)
		}
	}

	var mu sync.Mutex
	codes := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user := fmt.Sprintf("load%d-%d", w, i)
				code := regCode(nodes[(w+i)%3].addr, user, 5*time.Second)
				mu.Lock()
				codes[user] = code
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	srv.Pause()
	time.Sleep(10 * time.Second)
	srv.Resume()
	resumed := time.Now()
	// Writing works again by itself within a few seconds.
	ok := false
	for time.Since(resumed) < 10*time.Second {
		if regCode(nodes[0].addr, "after-"+strconv.Itoa(int(time.Since(resumed).Milliseconds())), 3*time.Second) == 200 {
			ok = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if !ok {
		t.Fatal("no REGISTER answered 200 within 10 s of Redis coming back")
	}
	t.Logf("reconnected: a REGISTER answered 200 %v after Redis came back", time.Since(resumed).Round(time.Millisecond))
	for i, n := range nodes {
		if n.cmd.ProcessState != nil {
			t.Fatalf("node %d exited: %v", i+1, n.cmd.ProcessState)
		}
	}
	n200, n500, nother := 0, 0, 0
	var lost []string
	for user, code := range codes {
		switch code {
		case 200:
			n200++
			if v, _ := srv.Do("EXISTS", "kemi:ul:location:"+user); v != "1" {
				lost = append(lost, user)
			}
		case 500:
			n500++
		default:
			nother++
		}
	}
	for i := range 30 {
		if v, _ := srv.Do("EXISTS", "kemi:ul:location:pre"+strconv.Itoa(i)); v != "1" {
			lost = append(lost, "pre"+strconv.Itoa(i))
		}
	}
	t.Logf("REGISTERs under load: %d answered 200, %d answered 500, %d other or none", n200, n500, nother)
	if len(lost) > 0 {
		t.Errorf("answered 200 (or registered before the outage) but not in Redis: %v", lost)
	}
	if n500 == 0 {
		t.Error("no REGISTER was answered 500 while Redis was paused")
	}
	if n200 == 0 {
		t.Error("no REGISTER was answered 200 around the outage")
	}
	for i, n := range nodes {
		if !strings.Contains(n.Log(), "reconnected") {
			t.Errorf("node %d logged no reconnection", i+1)
		}
	}
}
