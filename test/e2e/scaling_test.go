package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
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
// three nodes (db_mode 1 and 3), then resumed: no node crashes, REGISTERs whose binding
// could not be written get 500 (never 200), the nodes write again by
// themselves, and every binding registered before the outage, or
// answered 200 at any time, is in Redis afterwards.
func TestScaling_RedisOutage(t *testing.T) {
	// The three cases run side by side (each its own Redis and nodes):
	// they mostly wait out their outage.
	for _, mode := range []int{1, 3} {
		t.Run("db_mode="+strconv.Itoa(mode), func(t *testing.T) { t.Parallel(); redisOutage(t, mode, false) })
	}
	// Stopped and started empty (no persistence): the nodes write every
	// binding they hold again.
	t.Run("db_mode=1/restarted-empty", func(t *testing.T) { t.Parallel(); redisOutage(t, 1, true) })
}

func redisOutage(t *testing.T, mode int, restart bool) {
	srv := testsvc.StartRedis(t)
	url := srv.URL(0)
	nodes := []*server{startShared(t, url, mode, "-A", "NOAUTH=1"), startShared(t, url, mode, "-A", "NOAUTH=1"), startShared(t, url, mode, "-A", "NOAUTH=1")}
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
	if restart {
		srv.Stop()
		time.Sleep(10 * time.Second)
		srv.Start()
	} else {
		srv.Pause()
		time.Sleep(10 * time.Second)
		srv.Resume()
	}
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
	for _, code := range codes {
		switch code {
		case 200:
			n200++
		case 500:
			n500++
		default:
			nother++
		}
	}
	// What was answered 200 (or registered before) is in Redis; after a
	// restart empty, once the nodes wrote their bindings again.
	findLost := func() []string {
		var lost []string
		for user, code := range codes {
			if code == 200 {
				if v, _ := srv.Do("EXISTS", "kemi:ul:location:"+user); v != "1" {
					lost = append(lost, user)
				}
			}
		}
		for i := range 30 {
			if v, _ := srv.Do("EXISTS", "kemi:ul:location:pre"+strconv.Itoa(i)); v != "1" {
				lost = append(lost, "pre"+strconv.Itoa(i))
			}
		}
		return lost
	}
	lost := findLost()
	for deadline := time.Now().Add(10 * time.Second); len(lost) > 0 && restart && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		lost = findLost()
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

// kamailio is a running Kamailio 5.6.
type kamailio struct {
	cmd  *exec.Cmd
	addr string
	log  *lockedBuf
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// needKamailio skips without /usr/sbin/kamailio, but fails under CI=true.
func needKamailio(t *testing.T, modules ...string) {
	t.Helper()
	for _, p := range append([]string{"/usr/sbin/kamailio"}, modules...) {
		if !strings.HasPrefix(p, "/") {
			p = "/usr/lib/x86_64-linux-gnu/kamailio/modules/" + p
		}
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing; scripts/deps.sh installs it: %v", p, err)
			}
			t.Skipf("%s is missing", p)
		}
	}
}

// startKamailio runs Kamailio on cfg in the foreground on a free port and
// waits until it answers.
func startKamailio(t *testing.T, cfg string, defines ...string) *kamailio {
	t.Helper()
	port := freePort(t)
	k := &kamailio{addr: "127.0.0.1:" + strconv.Itoa(port), log: &lockedBuf{}}
	dir := t.TempDir()
	args := []string{"-f", cfg, "-DD", "-E", "-m", "64", "-M", "8", "-Y", dir, "-P", filepath.Join(dir, "k.pid"),
		"-l", "udp:" + k.addr, "-A", "KAMAILIO"}
	for _, d := range defines {
		args = append(args, "-A", d)
	}
	k.cmd = exec.Command("/usr/sbin/kamailio", args...)
	k.cmd.Stdout, k.cmd.Stderr = k.log, k.log
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { k.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		k.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			k.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", tail(k.log.String(), 4000))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("kamailio exited at start:\n%s", tail(k.log.String(), 4000))
		default:
		}
		if _, err := udpExchange(t, k.addr, options("nobody", k.addr, 70), 300*time.Millisecond); err == nil {
			return k
		}
	}
	t.Fatalf("kamailio did not answer within 15 s:\n%s", tail(k.log.String(), 4000))
	return nil
}

// lookupVia sends OPTIONS sip:user@addr and returns the status line
// (interop.lua answers "200 Found <contact>" or "404 Not Found").
func lookupVia(t *testing.T, addr, user string) string {
	t.Helper()
	b, err := udpExchange(t, addr, options(user, addr, 70), 3*time.Second)
	if err != nil {
		t.Fatalf("OPTIONS %s via %s: %v", user, addr, err)
	}
	return statusLine(b)
}

// registerVia sends an unauthenticated REGISTER of user with contact and
// expires and wants 200.
func registerVia(t *testing.T, addr, user, contact string, expires int) {
	t.Helper()
	msg := strings.Replace(string(registerMsg(user, addr, expires)), "<sip:"+user+"@127.0.0.1:5999>", contact, 1)
	b, err := udpExchange(t, addr, []byte(msg), 3*time.Second)
	if err != nil {
		t.Fatalf("REGISTER %s via %s: %v", user, addr, err)
	}
	if l := statusLine(b); !strings.HasPrefix(l, "SIP/2.0 200 ") {
		t.Fatalf("REGISTER %s via %s: %q, want 200", user, addr, l)
	}
}

// TestScaling_SQLKamailioInterop: Kamailio 5.6 (db_postgres / db_mysql,
// usrloc db_mode 3) and two kemi nodes register into the same location
// table, created by Kamailio's own schema files, in PostgreSQL and in
// MariaDB: each sees the other's bindings, removals included, and a
// binding Kamailio wrote and kemi refreshed is still Kamailio's.
func TestScaling_SQLKamailioInterop(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		mod := "db_postgres.so"
		if s.Engine == "mysql" {
			mod = "db_mysql.so"
		}
		needKamailio(t, mod, "app_lua.so")
		s.LoadKamailioSchema("usrloc")
		cfg := repo("test/e2e/testdata/scaling/interop.cfg")
		defs := []string{`DBURL="` + s.URL() + `"`, `DBMOD="` + mod + `"`, "DBMODE=3",
			`LUA="` + repo("test/e2e/testdata/scaling/interop.lua") + `"`}
		var kemiArgs []string
		for _, d := range defs {
			kemiArgs = append(kemiArgs, "-A", d)
		}
		k1 := startKemi(t, cfg, kemiArgs...)
		k2 := startKemi(t, cfg, kemiArgs...)
		kam := startKamailio(t, cfg, defs...)

		registerVia(t, k1.addr, "alice", "<sip:alice@127.0.0.1:5061>", 600)
		for _, addr := range []string{k2.addr, kam.addr} {
			if l := lookupVia(t, addr, "alice"); !strings.Contains(l, "200 Found sip:alice@127.0.0.1:5061") {
				t.Fatalf("lookup of kemi's alice via %s: %q", addr, l)
			}
		}
		registerVia(t, kam.addr, "bob", "<sip:bob@127.0.0.1:5062>", 600)
		for _, addr := range []string{k1.addr, k2.addr} {
			if l := lookupVia(t, addr, "bob"); !strings.Contains(l, "200 Found sip:bob@127.0.0.1:5062") {
				t.Fatalf("lookup of Kamailio's bob via %s: %q", addr, l)
			}
		}
		// kemi refreshes Kamailio's binding; Kamailio removes kemi's.
		registerVia(t, k2.addr, "bob", "<sip:bob@127.0.0.1:5062>", 300)
		if l := lookupVia(t, kam.addr, "bob"); !strings.Contains(l, "200 Found") {
			t.Fatalf("Kamailio lost bob after kemi refreshed him: %q", l)
		}
		if out, _ := s.Query("SELECT COUNT(*) FROM location WHERE username = 'bob'"); strings.TrimSpace(out) != "1" {
			t.Fatalf("bob has %q rows after the refresh, want 1", out)
		}
		registerVia(t, kam.addr, "alice", "<sip:alice@127.0.0.1:5061>", 0)
		for _, addr := range []string{k1.addr, k2.addr} {
			if l := lookupVia(t, addr, "alice"); !strings.Contains(l, "404") {
				t.Fatalf("lookup of alice via %s after Kamailio removed her: %q", addr, l)
			}
		}
		registerVia(t, k1.addr, "bob", "<sip:bob@127.0.0.1:5062>", 0)
		if l := lookupVia(t, kam.addr, "bob"); !strings.Contains(l, "404") {
			t.Fatalf("Kamailio still finds bob after kemi removed him: %q", l)
		}
	})
}

// TestScaling_ReadmeTwoNodes: the README's two-node setup as written (its
// config lines, with the Redis address of the test), with interop.lua's
// routing: a phone registered on node 1 is found through node 2, and
// its unregistration through node 2 is seen on node 1.
func TestScaling_ReadmeTwoNodes(t *testing.T) {
	b, err := os.ReadFile(repo("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := string(b)
	i := strings.Index(sec, "## Several nodes: Redis or PostgreSQL")
	if i < 0 {
		t.Fatal("README has no section on several nodes")
	}
	sec = sec[i:]
	start := strings.Index(sec, "```\n")
	end := strings.Index(sec[start+4:], "```")
	if start < 0 || end < 0 {
		t.Fatal("README's several-nodes section has no config block")
	}
	frag := sec[start+4 : start+4+end]
	if !strings.Contains(frag, `"redis://10.0.0.5:6379/0"`) {
		t.Fatalf("README's config block changed shape:\n%s", frag)
	}
	srv := testsvc.StartRedis(t)
	frag = strings.ReplaceAll(frag, "redis://10.0.0.5:6379/0", srv.URL(0))
	cfg := "#!KAMAILIO\ndebug=2\nlog_stderror=yes\nchildren=2\n" + frag +
		"loadmodule \"sl.so\"\nloadmodule \"pv.so\"\nloadmodule \"app_lua.so\"\n" +
		"modparam(\"app_lua\", \"load\", \"" + repo("test/e2e/testdata/scaling/interop.lua") + "\")\ncfgengine \"lua\"\n"
	p := filepath.Join(t.TempDir(), "registrar.cfg")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n1, n2 := startKemi(t, p), startKemi(t, p)
	registerVia(t, n1.addr, "alice", "<sip:alice@127.0.0.1:5061>", 600)
	if l := lookupVia(t, n2.addr, "alice"); !strings.Contains(l, "200 Found sip:alice@127.0.0.1:5061") {
		t.Fatalf("node 2 after alice registered on node 1: %q", l)
	}
	registerVia(t, n2.addr, "alice", "<sip:alice@127.0.0.1:5061>", 0)
	if l := lookupVia(t, n1.addr, "alice"); !strings.Contains(l, "404") {
		t.Fatalf("node 1 after alice unregistered on node 2: %q", l)
	}
}
