package e2e

import (
	"context"
	"fmt"
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

// treeTicks is the user+system CPU of pid and of its child processes
// still running (Kamailio's workers), in clock ticks.
func treeTicks(t *testing.T, pid int) int64 {
	t.Helper()
	var total int64
	read := func(p string) (ppid int, ticks int64, ok bool) {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, 0, false
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// f[0] is state (field 3); utime, stime are fields 14, 15.
		ppid, _ = strconv.Atoi(f[1])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return ppid, u + st, true
	}
	if _, ticks, ok := read(fmt.Sprintf("/proc/%d/stat", pid)); ok {
		total += ticks
	}
	m, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range m {
		if ppid, ticks, ok := read(p); ok && ppid == pid {
			total += ticks
		}
	}
	return total
}

// redisInfo reads INFO SECTION as field -> value.
func redisInfo(t *testing.T, srv *testsvc.Redis, section string) map[string]string {
	t.Helper()
	s, err := srv.Do("INFO", section)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// redisCalls sums cmdstat_*:calls=N as command -> N.
func redisCalls(t *testing.T, srv *testsvc.Redis) map[string]int64 {
	out := map[string]int64{}
	for k, v := range redisInfo(t, srv, "commandstats") {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
		n, _ := strconv.ParseInt(calls, 10, 64)
		out[name] = n
	}
	return out
}

type perfResult struct {
	regs       int
	cpuPerReg  time.Duration
	cmds       map[string]int64
	inBytes    int64
	outBytes   int64
	memPerAoR  int64
	roundTrips float64
}

// TestScaling_PerfRegister (KEMI_PERF=1): REGISTER with digest auth on
// three kemi nodes sharing one Redis, next to three Kamailio 5.6 with
// db_redis usrloc on the same config and script (perf.cfg, perf.lua):
// CPU per registration, Redis commands, round trips and bytes per
// registration, Redis memory per AoR.
func TestScaling_PerfRegister(t *testing.T) {
	if os.Getenv("KEMI_PERF") != "1" {
		t.Skip("KEMI_PERF=1 runs the REGISTER measurement (about a minute)")
	}
	needSipp(t)
	needKamailio(t, "db_redis.so", "app_lua.so", "auth.so")
	perUser := 1500
	if v, _ := strconv.Atoi(os.Getenv("KEMI_PERF_N")); v > 0 {
		perUser = v
	}
	rate := 300
	mode := 3
	if v, err := strconv.Atoi(os.Getenv("KEMI_PERF_MODE")); err == nil {
		mode = v
	}
	srv := testsvc.StartRedis(t)
	cfg := repo("test/e2e/testdata/scaling/perf.cfg")
	defs := []string{`DBURL="` + srv.URL(0) + `"`, `DBMOD="db_redis.so"`, "DBMODE=" + strconv.Itoa(mode),
		`LUA="` + repo("test/e2e/testdata/scaling/perf.lua") + `"`, "REDIS"}
	tmpl, err := os.ReadFile(repo("test/e2e/testdata/registrar/register.xml"))
	if err != nil {
		t.Fatal(err)
	}
	scen := func(prefix string) string {
		s := strings.NewReplacer("USER", prefix+"u[call_number]", "CONTACT", "<sip:"+prefix+"u[call_number]@127.0.0.1:5999>",
			"EXPIRES", "3600", `"CODE"`, `"200"`, "CHECK", "200").Replace(string(tmpl))
		p := filepath.Join(t.TempDir(), prefix+".xml")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	run := func(name string, addrs []string, pids []int) perfResult {
		srv.Do("FLUSHALL")
		srv.Do("HSET", "version:entry::location", "table_version", "9")
		srv.Do("CONFIG", "RESETSTAT")
		mem0, _ := strconv.ParseInt(redisInfo(t, srv, "memory")["used_memory"], 10, 64)
		var cpu0 int64
		for _, p := range pids {
			cpu0 += treeTicks(t, p)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i, addr := range addrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
				defer cancel()
				out, _ := exec.CommandContext(ctx, "sipp", "-sf", scen(fmt.Sprintf("%s%d", name, i)), "-m", strconv.Itoa(perUser),
					"-r", strconv.Itoa(rate), "-l", "200", "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-au", "perf", "-ap", "secret",
					"-nostdin", "-recv_timeout", "5000", "-buff_size", "4194304", addr).CombinedOutput()
				for _, line := range strings.Split(string(out), "\n") {
					if strings.Contains(line, "Successful call") {
						f := strings.Fields(line)
						n, _ := strconv.Atoi(f[len(f)-1])
						mu.Lock()
						ok += n
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		var cpu1 int64
		for _, p := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", p)); err != nil {
				t.Fatalf("%s: process %d is gone after the load", name, p)
			}
			cpu1 += treeTicks(t, p)
		}
		stats := redisInfo(t, srv, "stats")
		mem1, _ := strconv.ParseInt(redisInfo(t, srv, "memory")["used_memory"], 10, 64)
		in, _ := strconv.ParseInt(stats["total_net_input_bytes"], 10, 64)
		outb, _ := strconv.ParseInt(stats["total_net_output_bytes"], 10, 64)
		r := perfResult{regs: ok, cmds: redisCalls(t, srv), inBytes: in, outBytes: outb}
		if ok > 0 {
			r.cpuPerReg = time.Duration((cpu1 - cpu0) * int64(10*time.Millisecond) / int64(ok))
			r.memPerAoR = (mem1 - mem0) / int64(ok)
		}
		return r
	}
	report := func(name string, r perfResult) {
		var total int64
		var parts []string
		for c, n := range r.cmds {
			if c == "info" || c == "config|resetstat" || c == "hset" && n <= 1 {
				continue
			}
			total += n
			parts = append(parts, fmt.Sprintf("%s %.2f", c, float64(n)/float64(max(r.regs, 1))))
		}
		t.Logf("%s: %d registrations; CPU %v per registration; Redis: %.2f commands, %d B in, %d B out per registration (%s); memory %d B per AoR",
			name, r.regs, r.cpuPerReg, float64(total)/float64(max(r.regs, 1)), r.inBytes/int64(max(r.regs, 1)),
			r.outBytes/int64(max(r.regs, 1)), strings.Join(parts, ", "), r.memPerAoR)
	}

	var kemiArgs []string
	for _, d := range defs {
		kemiArgs = append(kemiArgs, "-A", d)
	}
	var addrs []string
	var pids []int
	var nodes []*server
	// KEMI_PERF_PROFILE=DIR: each kemi node writes a CPU profile of
	// the run to DIR/kemi-N.prof (go tool pprof).
	prof := os.Getenv("KEMI_PERF_PROFILE")
	for i := range 3 {
		if prof != "" {
			t.Setenv("KEMI_CPUPROFILE", filepath.Join(prof, fmt.Sprintf("kemi-%d.prof", i)))
		}
		s := startKemi(t, cfg, kemiArgs...)
		nodes = append(nodes, s)
		addrs, pids = append(addrs, s.addr), append(pids, s.cmd.Process.Pid)
	}
	if prof != "" {
		os.Unsetenv("KEMI_CPUPROFILE")
	}
	k := run("kemi", addrs, pids)
	for _, s := range nodes {
		s.stop()
	}
	report(fmt.Sprintf("kemi x3 (db_mode %d)", mode), k)
	// Round trips: each command outside MULTI is one; a MULTI..EXEC is one.
	var queued int64
	for c, n := range k.cmds {
		if c == "del" || c == "hdel" || c == "hset" || c == "expireat" || c == "publish" || c == "multi" {
			queued += n
		}
	}
	var all int64
	for c, n := range k.cmds {
		if c != "info" && c != "config|resetstat" {
			all += n
		}
	}
	t.Logf("kemi: %.2f Redis round trips per registration", float64(all-queued)/float64(max(k.regs, 1)))

	addrs, pids = nil, nil
	for range 3 {
		kam := startKamailio(t, cfg, defs...)
		addrs, pids = append(addrs, kam.addr), append(pids, kam.cmd.Process.Pid)
	}
	kr := run("kam", addrs, pids)
	report(fmt.Sprintf("Kamailio 5.6 x3 (db_redis, db_mode %d)", mode), kr)
	if k.regs < 3*perUser*9/10 || kr.regs < 3*perUser*9/10 {
		t.Fatalf("too few registrations: kemi %d, Kamailio %d of %d", k.regs, kr.regs, 3*perUser)
	}
	ratio := float64(k.cpuPerReg) / float64(kr.cpuPerReg)
	t.Logf("CPU per registration, kemi / Kamailio: %.2f", ratio)
	if ratio > 0.7 {
		t.Errorf("kemi's CPU per registration is %.2f of Kamailio's, want at most 0.7", ratio)
	}
}

// TestScaling_PerfCalls (KEMI_PERF=1): CPU per call attempt on one kemi
// node (kemi-shared.cfg: auth, lookup from Redis in db_mode 3, tm, rr):
// INVITE challenged and answered, relayed to a registered sipp UAS,
// ACK and BYE along the Route set; 2000 calls at 200 calls/s.
func TestScaling_PerfCalls(t *testing.T) {
	if os.Getenv("KEMI_PERF") != "1" {
		t.Skip("KEMI_PERF=1 runs the call measurement")
	}
	needSipp(t)
	const calls = 2000
	mode := 3
	if v, err := strconv.Atoi(os.Getenv("KEMI_PERF_MODE")); err == nil {
		mode = v
	}
	srv := testsvc.StartRedis(t)
	authdb := filepath.Join(t.TempDir(), "kemi.db")
	addUser(t, authdb, "alice@127.0.0.1", "alice-secret")
	addUser(t, authdb, "bob@127.0.0.1", "bob-secret")
	n := startShared(t, srv.URL(0), mode, "-A", `AUTHDB="`+authdb+`"`)
	uport := freePort(t)
	u := startUAS(t, "../registrar/uas-call.xml", uport, "-m", strconv.Itoa(calls))
	register(t, n, "alice", "alice-secret", "<sip:alice@127.0.0.1:"+strconv.Itoa(uport)+">", 3600, 200, "200")
	srv.Do("CONFIG", "RESETSTAT")
	cpu0 := treeTicks(t, n.cmd.Process.Pid)
	start := time.Now()
	// sipp's own timing fails a few calls at this rate (a 200 before
	// its 180); the CPU is divided by the attempts.
	out, _ := n.sippFrom(t, "127.0.0.1", scenario(t, "uac-call.xml", "CALLER", "bob"), calls, "-s", "alice", "-au", "bob", "-ap", "bob-secret", "-r", "200", "-l", "100")
	cpu1 := treeTicks(t, n.cmd.Process.Pid)
	u.cmd.Process.Kill()
	ok := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Successful call") {
			f := strings.Fields(line)
			ok, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	if ok < calls*9/10 {
		t.Fatalf("only %d of %d calls succeeded:\n%s", ok, calls, tail(out, 3000))
	}
	per := time.Duration((cpu1 - cpu0) * int64(10*time.Millisecond) / calls)
	t.Logf("kemi (db_mode %d): %d of %d calls succeeded in %v; CPU %v per call attempt (INVITE challenged with 407, then relayed by lookup with its 180 and 200, ACK and BYE relayed); Redis commands per call %.2f",
		mode, ok, calls, time.Since(start).Round(time.Millisecond), per, float64(redisCommandsE2E(t, srv))/float64(max(ok, 1)))
}

func redisCommandsE2E(t *testing.T, srv *testsvc.Redis) int64 {
	var n int64
	for c, k := range redisCalls(t, srv) {
		if c != "info" && c != "config|resetstat" {
			n += k
		}
	}
	return n
}
