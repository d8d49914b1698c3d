package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startCalls starts kemi on testdata/dialog's config of one engine, with
// its JSON-lines acc file in a temporary folder, and returns the server
// and the file's path.
func startCalls(t *testing.T, ext string) (*server, string) {
	t.Helper()
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "acc.jsonl")
	cfg, err := os.ReadFile(repo("testdata/dialog/kemi-" + ext + ".cfg"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(repo("testdata/dialog/calls." + ext))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"kemi.cfg":     []byte(strings.ReplaceAll(string(cfg), "JSONFILE", jsonPath)),
		"calls." + ext: script,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return startKemi(t, filepath.Join(dir, "kemi.cfg")), jsonPath
}

// callsUAS runs a sipp callee from testdata (dispatcher/uas.xml answers
// 200 and takes the BYE; dialog/uas-busy.xml answers 486) for n calls.
func callsUAS(t *testing.T, scenario string, port, n int) *uas {
	t.Helper()
	sipp := needSipp(t)
	u := &uas{done: make(chan error, 1), errFile: filepath.Join(t.TempDir(), "uas-err.log")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	u.cmd = exec.CommandContext(ctx, sipp, "-sf", repo("testdata/"+scenario), "-i", "127.0.0.1",
		"-p", strconv.Itoa(port), "-m", strconv.Itoa(n), "-nostdin", "-trace_err", "-error_file", u.errFile,
		"-buff_size", "4194304")
	u.cmd.Stdout, u.cmd.Stderr = &u.out, &u.out
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { u.done <- u.cmd.Wait() }()
	t.Cleanup(func() {
		if u.cmd.ProcessState == nil {
			u.cmd.Process.Kill()
		}
	})
	u.waitBound(t, port, false)
	return u
}

// caller runs a sipp caller scenario of testdata/dialog to service, with
// the callee's port as -key dst.
func (s *server) caller(t *testing.T, scenario, service string, dst, calls, limit int, extra ...string) string {
	t.Helper()
	args := append([]string{"-s", service, "-key", "dst", "sip:127.0.0.1:" + strconv.Itoa(dst)}, extra...)
	return s.sipp(t, repo("testdata/dialog/"+scenario), calls, limit, args...)
}

// accRecords reads the JSON-lines file; every line must be one whole
// JSON object.
func accRecords(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %d %q: %v", path, len(out)+1, sc.Text(), err)
		}
		r := map[string]string{}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				r[k] = x
			case float64:
				r[k] = strconv.FormatInt(int64(x), 10)
			}
		}
		out = append(out, r)
	}
	return out
}

// TestDialog_ProfileLimitsCallerToTwoCalls: with two calls of a caller up
// (a 3 s pause before their BYE), the third gets the script's 486 (its
// profile size is 3); after the BYEs a new call goes through. In every
// engine.
func TestDialog_ProfileLimitsCallerToTwoCalls(t *testing.T) {
	for _, ext := range []string{"lua", "js", "star"} {
		t.Run(ext, func(t *testing.T) {
			s, _ := startCalls(t, ext)
			port := freePort(t)
			u := callsUAS(t, "dispatcher/uas.xml", port, 3)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.caller(t, "uac.xml", "bob", port, 2, 2, "-d", "3000")
			}()
			time.Sleep(1000 * time.Millisecond) // both calls up
			s.caller(t, "uac-486.xml", "bob", port, 1, 1)
			wg.Wait()
			s.caller(t, "uac.xml", "bob", port, 1, 1)
			u.wait(t, "callee of 3 calls")
		})
	}
}

// TestDialog_TimeoutByeBothSides: a call to "short" gets dlg_set_timeout(3)
// and, with send_bye, kemi ends it after 3 s with a BYE to the caller and
// one to the callee, both answered 200 (each sipp fails without its BYE).
func TestDialog_TimeoutByeBothSides(t *testing.T) {
	s, path := startCalls(t, "js")
	port := freePort(t)
	u := callsUAS(t, "dispatcher/uas.xml", port, 1)
	start := time.Now()
	s.caller(t, "uac-held.xml", "short", port, 1, 1)
	if d := time.Since(start); d < 2500*time.Millisecond || d > 6*time.Second {
		t.Errorf("the call lasted %v, want about 3s", d)
	}
	u.wait(t, "callee of the timed-out call")
	s.stop()
	var cdr map[string]string
	for _, r := range accRecords(t, path) {
		if r["type"] == "cdr" {
			cdr = r
		}
	}
	if cdr == nil || cdr["duration"] != "3" || cdr["caller"] != "caller" {
		t.Errorf("CDR of the timed-out call: %v, want duration 3 and caller=caller", cdr)
	}
}

// TestAcc_AnsweredBusyUnansweredRecords: with Kamailio's acc flags
// (log_flag 1, log_missed_flag 2, failed_transaction_flag 3) and
// log_extra, an answered call, a busy one and an unanswered one each
// write exactly the records expected, field by field, to the JSON file
// and the log.
func TestAcc_AnsweredBusyUnansweredRecords(t *testing.T) {
	s, path := startCalls(t, "star")
	port := freePort(t)
	u := callsUAS(t, "dispatcher/uas.xml", port, 1)
	s.caller(t, "uac.xml", "bob", port, 1, 1)
	u.wait(t, "answered callee")
	b := callsUAS(t, "dialog/uas-busy.xml", port, 1)
	s.caller(t, "uac-486.xml", "busy", port, 1, 1)
	b.wait(t, "busy callee")
	s.caller(t, "uac-408.xml", "nobody", freePort(t), 1, 1)
	s.stop()
	recs := accRecords(t, path)
	// dst_user is $rU: the BYE's Request-URI is the callee's Contact
	// (sip:uas@...) once loose_route took our Route.
	type want struct{ typ, method, code, reason, user, ruser string }
	wants := []want{
		{"answered", "INVITE", "200", "OK", "bob", "bob"},
		{"cdr", "", "", "", "", ""},
		{"answered", "BYE", "200", "OK", "bob", "uas"},
		{"answered", "INVITE", "486", "Busy Here", "busy", "busy"},
		{"missed", "INVITE", "486", "Busy Here", "busy", "busy"},
		{"answered", "INVITE", "408", "Request Timeout", "nobody", "nobody"},
		{"missed", "INVITE", "408", "Request Timeout", "nobody", "nobody"},
	}
	if len(recs) != len(wants) {
		t.Fatalf("%d records, want %d:\n%v", len(recs), len(wants), recs)
	}
	for i, w := range wants {
		r := recs[i]
		if w.typ == "cdr" {
			if r["type"] != "cdr" || r["caller"] != "caller" || r["call_id"] != recs[0]["call_id"] || r["duration"] == "" || r["start_time"] == "" || r["end_time"] == "" {
				t.Errorf("record %d: %v, want the CDR of call 1", i, r)
			}
			continue
		}
		exp := map[string]string{"type": w.typ, "method": w.method, "code": w.code, "reason": w.reason,
			"src_user": "caller", "src_domain": "127.0.0.1", "src_ip": "127.0.0.1",
			"dst_ouser": w.user, "dst_user": w.ruser, "dst_domain": "127.0.0.1"}
		for k, v := range exp {
			if r[k] != v {
				t.Errorf("record %d (%s %s %s): %s = %q, want %q", i, w.typ, w.method, w.code, k, r[k], v)
			}
		}
		if r["call_id"] == "" || r["from_tag"] == "" || r["time"] == "" || r["to_tag"] == "" {
			t.Errorf("record %d: call_id, from_tag, to_tag or time missing: %v", i, r)
		}
		if len(r) != len(exp)+4 {
			t.Errorf("record %d has fields %v, want exactly %v and call_id, from_tag, to_tag, time", i, r, exp)
		}
	}
	log := s.Log()
	for _, line := range []string{"ACC: transaction answered: timestamp=", ";code=200;reason=OK;src_user=caller;src_domain=127.0.0.1;src_ip=127.0.0.1;dst_ouser=bob;dst_user=bob;dst_domain=127.0.0.1",
		"ACC: call missed: timestamp=", ";code=486;reason=Busy Here;", ";code=408;reason=Request Timeout;", "ACC: CDR: start_time="} {
		if !strings.Contains(log, line) {
			t.Errorf("log lacks %q", line)
		}
	}
}

// TestAcc_SigtermUnderLoadLosesNone: calls at full speed, SIGTERM to kemi
// in the middle; every INVITE whose 200 reached the caller has its record
// in the JSON file, and every line of the file is whole.
func TestAcc_SigtermUnderLoadLosesNone(t *testing.T) {
	s, path := startCalls(t, "lua")
	port := freePort(t)
	callsUAS(t, "dispatcher/uas.xml", port, 100000)
	sipp := needSipp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, "-sf", repo("testdata/dialog/uac.xml"), "-m", "100000", "-l", "200", "-r", "400",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-nostdin", "-recv_timeout", "2000", "-timeout", "5s",
		"-buff_size", "4194304", "-s", "bob", "-key", "dst", "sip:127.0.0.1:"+strconv.Itoa(port), s.addr)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.stop()
	_ = cmd.Wait()
	// sipp's screen: "200 <----------  E-RTD1 N   retrans   timeouts
	// unexpected"; the INVITE's 200 is the first 200 line.
	got200 := -1
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "200" || !strings.HasPrefix(f[1], "<--") {
			continue
		}
		for _, x := range f[2:] {
			if n, err := strconv.Atoi(x); err == nil {
				got200 = n
				break
			}
		}
		break
	}
	if got200 <= 0 {
		t.Fatalf("no 200 count on the caller's screen:\n%s", tail(out.String(), 3000))
	}
	invites := 0
	for _, r := range accRecords(t, path) {
		if r["method"] == "INVITE" && r["code"] == "200" {
			invites++
		}
	}
	t.Logf("caller saw %d answered INVITEs; %d records of them", got200, invites)
	if invites < got200 {
		t.Errorf("%d records of answered INVITEs, but the caller saw %d 200s: records lost", invites, got200)
	}
}
