package acc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	_ "kemi/exports/kcore" // $si
	_ "kemi/exports/pv"    // $fU ... in log_extra
	"kemi/exports/tm"
)

const kamExtra = "src_user=$fU;src_domain=$fd;src_ip=$si;dst_ouser=$tU;dst_user=$rU;dst_domain=$rd"

func setup(t *testing.T, params map[string]core.Value) (*core.Ctx, *bytes.Buffer, string) {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("acc"))
	path := filepath.Join(t.TempDir(), "acc.jsonl")
	ps := map[string][]core.Value{"json_file": {core.Str(path)}}
	for k, v := range params {
		ps[k] = []core.Value{v}
	}
	ctx.RT.Params = map[string]map[string][]core.Value{"acc": ps}
	out := &bytes.Buffer{}
	ctx.RT.Log = &core.Logger{Level: core.LDbg, Out: out}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.RT.Stop)
	return ctx, out, path
}

func readJSON(t *testing.T, path string) []map[string]string {
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
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		r := map[string]string{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				r[k] = s
			}
		}
		out = append(out, r)
	}
	return out
}

func reply(code int, reason string) []byte {
	return ksrtest.Request(
		"SIP/2.0 "+itoa(code)+" "+reason,
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport=5062",
		"From: Alice <sip:alice@example.org>;tag=1928301774",
		"To: Bob <sip:bob@example.com>;tag=b0b",
		"Call-ID: a84b4c76e66710@pc33.example.org",
		"CSeq: 314159 INVITE",
		"Content-Length: 0")
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10)))
}

func complete(ctx *core.Ctx, code int, reason string, flags uint64) {
	Of(ctx.RT).onComplete(&tm.Completion{Req: ksrtest.Invite(), Reply: reply(code, reason), Code: code,
		Flags: flags, Src: ksrtest.Src, Local: ksrtest.Local, Proto: core.UDP, Inv: true})
}

// Kamailio's default config: log_flag 1, log_missed_flag 2,
// failed_transaction_flag 3, its log_extra.
var kamParams = map[string]core.Value{"log_flag": core.Int(1), "log_missed_flag": core.Int(2),
	"failed_transaction_flag": core.Int(3), "log_extra": core.Str(kamExtra)}

func TestAcc_AnsweredBusyMissedRecordsFieldByField(t *testing.T) {
	ctx, log, path := setup(t, kamParams)
	const acc, missed, failed = 1 << 1, 1 << 2, 1 << 3
	complete(ctx, 200, "OK", acc|missed|failed)
	complete(ctx, 486, "Busy Here", acc|missed|failed) // answered (failed flag) and missed
	complete(ctx, 487, "Request Terminated", missed)   // missed only
	complete(ctx, 404, "Not Found", acc)               // no failed flag: nothing
	complete(ctx, 200, "OK", 0)                        // no flag: nothing
	recs := readJSON(t, path)
	want := []struct{ typ, code, reason string }{{"answered", "200", "OK"}, {"answered", "486", "Busy Here"},
		{"missed", "486", "Busy Here"}, {"missed", "487", "Request Terminated"}}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		exp := map[string]string{"type": w.typ, "method": "INVITE", "from_tag": "1928301774", "to_tag": "b0b",
			"call_id": "a84b4c76e66710@pc33.example.org", "code": w.code, "reason": w.reason,
			"src_user": "alice", "src_domain": "example.org", "src_ip": ksrtest.Src.Addr().String(),
			"dst_ouser": "bob", "dst_user": "bob", "dst_domain": "example.com"}
		for k, v := range exp {
			if r[k] != v {
				t.Errorf("record %d %s = %q, want %q", i, k, r[k], v)
			}
		}
		if len(r) != len(exp) {
			t.Errorf("record %d has fields %v, want exactly %v", i, r, exp)
		}
	}
	l := log.String()
	if !strings.Contains(l, "ACC: transaction answered: timestamp=") ||
		!strings.Contains(l, ";method=INVITE;from_tag=1928301774;to_tag=b0b;call_id=a84b4c76e66710@pc33.example.org;code=200;reason=OK;src_user=alice;src_domain=example.org;src_ip=") ||
		!strings.Contains(l, "ACC: call missed: timestamp=") {
		t.Errorf("log lacks Kamailio's ACC lines:\n%s", l)
	}
}

func TestAcc_LogRequestAndRequest(t *testing.T) {
	ctx, _, path := setup(t, nil)
	if LogRequest(ctx, "200 OK") != 1 || Request(ctx, "Missed", "missed_calls") != 1 {
		t.Fatal("acc_log_request / acc_request failed")
	}
	recs := readJSON(t, path)
	if len(recs) != 2 || recs[0]["type"] != "request" || recs[0]["code"] != "200" || recs[0]["reason"] != "OK" ||
		recs[0]["to_tag"] != "" || recs[1]["table"] != "missed_calls" || recs[1]["code"] != "" || recs[1]["reason"] != "Missed" {
		t.Fatalf("records %v", recs)
	}
}

func TestAcc_JSONEscapesHostileValues(t *testing.T) {
	r := &Record{Text: TextRequest, Reason: "a\"b\\c\x00\r\n\xff", Extra: [][2]string{{"type", "x"}}}
	var m map[string]any
	line := AppendJSON(nil, r)
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if m["type"] != "request" || m["x_type"] != "x" || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("%q", line)
	}
}

func TestAcc_BadParamsRefused(t *testing.T) {
	for _, p := range []map[string]core.Value{{"log_extra": core.Str("novalue")}, {"log_flag": core.Int(64)}} {
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("acc"))
		ps := map[string][]core.Value{}
		for k, v := range p {
			ps[k] = []core.Value{v}
		}
		ctx.RT.Params = map[string]map[string][]core.Value{"acc": ps}
		if err := start(ctx.RT); err == nil {
			t.Errorf("%v: start accepted it", p)
		}
	}
}

func TestAcc_CdrEnableWithoutDialogSaysSo(t *testing.T) {
	_, log, _ := setup(t, map[string]core.Value{"cdr_enable": core.Int(1)})
	if !strings.Contains(log.String(), "module dialog is not loaded: no CDRs are written") {
		t.Fatalf("log: %s", log.String())
	}
}
