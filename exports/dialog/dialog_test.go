package dialog

import (
	"bytes"
	"fmt"
	"kemi/server/jsonrpc"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	_ "kemi/exports/pvx" // $var for get_profile_size
	"kemi/exports/rr"
	"kemi/exports/tm"
	"kemi/sip"
)

// clock is a stepped clock for the dialog timer.
type clock struct {
	now  int64
	fire []func(int64)
}

func (c *clock) Now() int64                  { return c.now }
func (c *clock) OnAdvance(f func(now int64)) { c.fire = append(c.fire, f) }
func (c *clock) advance(secs int64) {
	c.now += secs * 1e9
	for _, f := range c.fire {
		f(c.now)
	}
}

type sent struct {
	b  []byte
	to netip.AddrPort
}

type env struct {
	t     testing.TB
	ctx   *core.Ctx
	m     *Module
	clk   *clock
	mu    sync.Mutex
	sent  []sent
	log   *bytes.Buffer
	calls int
}

func setup(t testing.TB, params map[string]core.Value) *env {
	t.Helper()
	e := &env{t: t, clk: &clock{now: 1e9}, log: &bytes.Buffer{}}
	e.ctx = ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("dialog"), core.Known("pvx"))
	ps := map[string][]core.Value{"profiles_with_value": {core.Str("caller")}, "profiles_no_value": {core.Str("inbound ; outbound")}}
	for k, v := range params {
		ps[k] = []core.Value{v}
	}
	rt := e.ctx.RT
	rt.Params = map[string]map[string][]core.Value{"dialog": ps}
	rt.Log = &core.Logger{Level: core.LInfo, Out: e.log}
	rt.Clock = e.clk
	rt.Send = func(b []byte, _ core.Proto, to netip.AddrPort) error {
		e.mu.Lock()
		e.sent = append(e.sent, sent{bytes.Clone(b), to})
		e.mu.Unlock()
		return nil
	}
	if err := start(rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	e.m = Of(rt)
	return e
}

// invite puts an initial INVITE of call n from user into the context.
func (e *env) invite(n int, user string) {
	e.t.Helper()
	raw := ksrtest.Request(
		"INVITE sip:bob@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK"+fmt.Sprint(n),
		"From: <sip:"+user+"@example.org>;tag=f"+fmt.Sprint(n),
		"To: <sip:bob@example.com>",
		"Call-ID: call-"+fmt.Sprint(n),
		"CSeq: 10 INVITE",
		"Contact: <sip:"+user+"@192.0.2.10:5062>",
		"Content-Length: 0")
	e.put(raw)
}

func (e *env) put(raw []byte) {
	e.t.Helper()
	m := new(sip.Msg)
	if err := m.Parse(raw); err != nil {
		e.t.Fatal(err)
	}
	e.ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
}

// inDialog puts a request of call n; fromCaller picks the direction.
func (e *env) inDialog(n int, method string, fromCaller bool) {
	ft, tt := "f"+fmt.Sprint(n), "t"+fmt.Sprint(n)
	from, to := "<sip:alice@example.org>;tag="+ft, "<sip:bob@example.com>;tag="+tt
	if !fromCaller {
		from, to = "<sip:bob@example.com>;tag="+tt, "<sip:alice@example.org>;tag="+ft
	}
	e.put(ksrtest.Request(method+" sip:x@192.0.2.99 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKb"+fmt.Sprint(n),
		"From: "+from, "To: "+to, "Call-ID: call-"+fmt.Sprint(n), "CSeq: 11 "+method, "Content-Length: 0"))
}

// complete tells the module how call n's INVITE transaction ended.
func (e *env) complete(n int, code int) {
	req := e.ctx.Msg.Raw()
	rpl := ksrtest.Request(fmt.Sprintf("SIP/2.0 %d X", code),
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK"+fmt.Sprint(n),
		"From: <sip:alice@example.org>;tag=f"+fmt.Sprint(n),
		"To: <sip:bob@example.com>;tag=t"+fmt.Sprint(n),
		"Call-ID: call-"+fmt.Sprint(n), "CSeq: 10 INVITE",
		"Contact: <sip:bob@198.51.100.7:5080>", "Content-Length: 0")
	e.m.onComplete(&tm.Completion{Req: req, Reply: rpl, Code: code, Inv: true, Src: ksrtest.Src, Local: ksrtest.Local, Proto: core.UDP})
}

func (e *env) size(value string) int { return e.m.ProfileSize("caller", value) }

// The e2e's call limit in Go: a user's third concurrent call sees a
// profile size of 3 (the script replies 486), is forgotten when its
// request route ends without a transaction, and after a BYE a new call
// fits again.
func TestDialog_ProfileCallLimit(t *testing.T) {
	e := setup(t, nil)
	for n := 1; n <= 3; n++ {
		e.invite(n, "alice")
		if Manage(e.ctx) != 1 || SetProfile(e.ctx, "caller", "alice") != 1 {
			t.Fatalf("call %d: dlg_manage/set_dlg_profile failed", n)
		}
		if GetProfileSize(e.ctx, "caller", "alice", "$var(n)") != 1 {
			t.Fatal("get_profile_size failed")
		}
		if got := e.size("alice"); got != n {
			t.Fatalf("call %d: size %d", n, got)
		}
		if n < 3 {
			e.complete(n, 200) // answered (relayed; no tm in this test)
			e.m.requestDone(e.ctx)
		} else {
			e.m.requestDone(e.ctx) // replied 486 statelessly
		}
	}
	// requestDone forgot call 3 only: 1 and 2 are answered.
	if got := e.size("alice"); got != 2 {
		t.Fatalf("after the 486: size %d, want 2", got)
	}
	e.inDialog(1, "BYE", false)
	// The BYE's transaction completes.
	e.m.onComplete(&tm.Completion{Req: e.ctx.Msg.Raw(), Code: 200})
	if got := e.size("alice"); got != 1 {
		t.Fatalf("after BYE: size %d, want 1", got)
	}
	if e.size("") != 1 || e.m.ProfileSize("nope", "") != -1 {
		t.Fatal("profile size of all / unknown profile")
	}
}

func TestDialog_UnansweredForgottenOnFailure(t *testing.T) {
	e := setup(t, nil)
	e.invite(1, "alice")
	Manage(e.ctx)
	SetProfileStatic(e.ctx, "inbound")
	e.complete(1, 486)
	if all, _ := e.m.Active(); all != 0 || e.m.ProfileSize("inbound", "") != 0 {
		t.Fatalf("failed call still tracked: %d dialogs", all)
	}
}

func TestDialog_InDialogMatchByCookieAndTags(t *testing.T) {
	e := setup(t, nil)
	e.invite(1, "alice")
	Manage(e.ctx)
	did := e.m.byKey[key("call-1", "f1")].DID()
	e.complete(1, 200)
	for _, caller := range []bool{true, false} {
		e.inDialog(1, "INFO", caller)
		if IsKnown(e.ctx) != 1 {
			t.Fatalf("in-dialog request (from caller %v) not matched", caller)
		}
		got, _ := getDlgCtx(e.ctx, "dir", nil)
		want := map[bool]string{true: "downstream", false: "upstream"}[caller]
		if string(got) != want {
			t.Errorf("dir %q, want %q", got, want)
		}
	}
	e.inDialog(1, "ACK", true)
	Manage(e.ctx)
	if st, _ := getDlg(e.ctx, "state", nil); string(st) != "4" {
		t.Errorf("after ACK state %s, want 4", st)
	}
	// A wrong to-tag does not match.
	e.put(ksrtest.Request("INFO sip:x@192.0.2.99 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKz",
		"From: <sip:a@b>;tag=f1", "To: <sip:c@d>;tag=forged", "Call-ID: call-1", "CSeq: 1 INFO", "Content-Length: 0"))
	if IsKnown(e.ctx) == 1 {
		t.Error("forged to-tag matched")
	}
	if e, id, ok := parseDID(did); !ok || e >= 4096 || id == 0 {
		t.Errorf("did %q", did)
	}
	for _, bad := range []string{"", ".", "x.1", "1.", "123456789.1", "1.2.3"} {
		if _, _, ok := parseDID(bad); ok && bad != "1.2.3" {
			t.Errorf("parseDID(%q) accepted", bad)
		}
	}
}

func TestDialog_TimeoutSendsByeBothWays(t *testing.T) {
	e := setup(t, map[string]core.Value{"send_bye": core.Int(1)})
	e.invite(1, "alice")
	Manage(e.ctx)
	if SetTimeout(e.ctx, 5) != 1 {
		t.Fatal("dlg_set_timeout")
	}
	VarSets(e.ctx, "k", "v")
	e.complete(1, 200)
	e.clk.advance(4)
	if len(e.sent) != 0 {
		t.Fatalf("BYE before the timeout: %d sent", len(e.sent))
	}
	e.clk.advance(1)
	if len(e.sent) != 2 {
		t.Fatalf("%d messages sent at the timeout, want 2 BYEs", len(e.sent))
	}
	callee, caller := string(e.sent[0].b), string(e.sent[1].b)
	for _, c := range []struct {
		msg, line, from, to string
		dst                 netip.AddrPort
	}{
		{callee, "BYE sip:bob@198.51.100.7:5080 SIP/2.0", "From: <sip:alice@example.org>;tag=f1", "To: <sip:bob@example.com>;tag=t1", netip.MustParseAddrPort("198.51.100.7:5080")},
		{caller, "BYE sip:alice@192.0.2.10:5062 SIP/2.0", "From: <sip:bob@example.com>;tag=t1", "To: <sip:alice@example.org>;tag=f1", ksrtest.Src},
	} {
		if !strings.HasPrefix(c.msg, c.line+"\r\n") || !strings.Contains(c.msg, c.from+"\r\n") || !strings.Contains(c.msg, c.to+"\r\n") ||
			!strings.Contains(c.msg, "Call-ID: call-1\r\n") {
			t.Errorf("BYE:\n%s\nwant %s, %s, %s", c.msg, c.line, c.from, c.to)
		}
		var m sip.Msg
		if err := m.Parse([]byte(c.msg)); err != nil {
			t.Errorf("BYE does not parse: %v", err)
		}
	}
	if e.sent[0].to != netip.MustParseAddrPort("198.51.100.7:5080") || e.sent[1].to != ksrtest.Src {
		t.Errorf("BYEs went to %v and %v", e.sent[0].to, e.sent[1].to)
	}
	if all, _ := e.m.Active(); all != 0 || e.m.Expired.Load() != 1 {
		t.Errorf("after the timeout %d dialogs, %d expired", all, e.m.Expired.Load())
	}
	// A reply to our BYE is claimed.
	var r sip.Msg
	_ = r.Parse(append(bytes.Replace(e.sent[0].b[:bytes.Index(e.sent[0].b, []byte("\r\n"))+2], []byte("BYE sip:bob@198.51.100.7:5080 SIP/2.0"), []byte("SIP/2.0 200 OK"), 1), e.sent[0].b[bytes.Index(e.sent[0].b, []byte("\r\n"))+2:]...))
	rc := &core.Ctx{RT: e.ctx.RT}
	rc.Reset(&r, ksrtest.Src, ksrtest.Local, core.UDP)
	if !replyHook(rc) {
		t.Error("the reply to our BYE was not claimed")
	}
}

func TestDialog_NoByeWithoutSendBye(t *testing.T) {
	e := setup(t, map[string]core.Value{"default_timeout": core.Int(2)})
	e.invite(1, "alice")
	Manage(e.ctx)
	e.complete(1, 200)
	e.clk.advance(3)
	if len(e.sent) != 0 {
		t.Fatal("BYE sent with send_bye 0")
	}
	if all, _ := e.m.Active(); all != 0 {
		t.Fatal("timed-out dialog kept")
	}
}

func TestDialog_FlagsVarsAndPVs(t *testing.T) {
	e := setup(t, nil)
	e.invite(1, "alice")
	if VarSets(e.ctx, "x", "y") != -1 || !VarGet(e.ctx, "x").IsNull() {
		t.Fatal("var_sets without a dialog")
	}
	Manage(e.ctx)
	if SetFlag(e.ctx, 3) != 1 || IsFlagSet(e.ctx, 3) != 1 || ResetFlag(e.ctx, 3) != 1 || IsFlagSet(e.ctx, 3) != -1 || SetFlag(e.ctx, 32) != -1 {
		t.Fatal("flags")
	}
	if VarSets(e.ctx, "x", "y") != 1 || VarGet(e.ctx, "x").S != "y" || VarIsNull(e.ctx, "x") != -1 {
		t.Fatal("var_sets/var_get")
	}
	if err := setDlgVar(e.ctx, "z", core.Str("1")); err != nil {
		t.Fatal(err)
	}
	if v, ok := getDlgVar(e.ctx, "z", nil); !ok || string(v) != "1" {
		t.Fatal("$dlg_var")
	}
	VarRm(e.ctx, "x")
	if VarGetw(e.ctx, "x").S != "<null>" || VarGete(e.ctx, "x").S != "" {
		t.Fatal("var_rm")
	}
	for i := 0; i < MaxVars+5; i++ {
		VarSets(e.ctx, fmt.Sprint("v", i), "x")
	}
	if VarSets(e.ctx, "one-too-many", "x") != -1 || VarSets(e.ctx, "z", strings.Repeat("x", MaxVarBytes+1)) != -1 {
		t.Fatal("variable bounds")
	}
	if v, _ := getDlg(e.ctx, "callid", nil); string(v) != "call-1" {
		t.Fatalf("$dlg(callid) %q", v)
	}
	if v, _ := getDlg(e.ctx, "state", nil); string(v) != "1" {
		t.Fatalf("$dlg(state) %q", v)
	}
	if IsInProfile(e.ctx, "caller", "") != -1 || SetProfile(e.ctx, "caller", "a") != 1 || IsInProfile(e.ctx, "caller", "a") != 1 ||
		IsInProfile(e.ctx, "caller", "b") != -1 || UnsetProfile(e.ctx, "caller", "a") != 1 || SetProfile(e.ctx, "nope", "") != -1 {
		t.Fatal("profiles")
	}
	if SetProperty(e.ctx, "timeout-noreset") != 1 || SetProperty(e.ctx, "bogus") != -1 {
		t.Fatal("dlg_set_property")
	}
}

func TestDialog_MaxDialogsBound(t *testing.T) {
	e := setup(t, map[string]core.Value{"max_dialogs": core.Int(10)})
	ok := 0
	for n := 0; n < 20; n++ {
		e.invite(n, "u")
		if Manage(e.ctx) == 1 {
			ok++
		}
	}
	if ok != 10 || e.m.Refused.Load() != 10 {
		t.Fatalf("%d dialogs made, %d refused; want 10 and 10", ok, e.m.Refused.Load())
	}
}

func TestDialog_RPC(t *testing.T) {
	e := setup(t, map[string]core.Value{"send_bye": core.Int(1)})
	e.invite(1, "alice")
	Manage(e.ctx)
	SetProfile(e.ctx, "caller", "alice")
	e.complete(1, 200)
	l, err := rpcList(e.ctx.RT, nil)
	if err != nil || len(l.([]RPCDialog)) != 1 || l.([]RPCDialog)[0].Profiles[0] != "caller=alice" {
		t.Fatalf("dlg.list %+v %v", l, err)
	}
	s, _ := rpcProfileGetSize(e.ctx.RT, []core.Value{core.Str("caller"), core.Str("alice")})
	if s.(map[string]any)["count"] != 1 {
		t.Fatalf("profile_get_size %v", s)
	}
	st, _ := rpcStatsActive(e.ctx.RT, nil)
	if st.(map[string]int)["answering"] != 1 {
		t.Fatalf("stats_active %v", st)
	}
	d := l.([]RPCDialog)[0]
	if _, err := rpcEndDlg(e.ctx.RT, []core.Value{core.Int(int64(d.HEntry)), core.Int(int64(d.HID))}); err != nil {
		t.Fatal(err)
	}
	if len(e.sent) != 2 || e.size("alice") != 0 {
		t.Fatalf("end_dlg: %d sent, size %d", len(e.sent), e.size("alice"))
	}
	if _, err := rpcEndDlg(e.ctx.RT, []core.Value{core.Str("x"), core.Str("1")}); err == nil {
		t.Fatal("end_dlg took a bad id")
	}
}

// Memory per dialog with 50000 answered dialogs, each in a profile with a
// value and with one variable.
func TestDialog_Memory50000(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := setup(t, map[string]core.Value{"max_dialogs": core.Int(60000)})
	const n = 50000
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = ksrtest.Request(
			"INVITE sip:bob@example.com SIP/2.0",
			"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK"+fmt.Sprint(i),
			"From: <sip:user"+fmt.Sprint(i%1000)+"@example.org>;tag=f"+fmt.Sprint(i),
			"To: <sip:bob@example.com>", "Call-ID: call-"+fmt.Sprint(i)+"@192.0.2.10", "CSeq: 10 INVITE",
			"Contact: <sip:u@192.0.2.10:5062>", "Content-Length: 0")
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		e.put(raws[i])
		if Manage(e.ctx) != 1 {
			t.Fatal("dlg_manage")
		}
		SetProfile(e.ctx, "caller", "user"+fmt.Sprint(i%1000))
		VarSets(e.ctx, "acct", "12345")
		e.complete(i, 200)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d dialogs: %.0f bytes of heap per dialog", n, per)
	if all, _ := e.m.Active(); all != n {
		t.Fatalf("%d dialogs", all)
	}
	if per > 2048 {
		t.Errorf("%.0f bytes per dialog, want at most 2048", per)
	}
	runtime.KeepAlive(raws)
}

func TestDialog_GetByCallIDAndTags(t *testing.T) {
	e := setup(t, map[string]core.Value{"send_bye": core.Int(1)})
	e.invite(1, "alice")
	Manage(e.ctx)
	e.complete(1, 200)
	e.put(ksrtest.Invite()) // another message, no dialog of its own
	if SetVar(e.ctx, "call-1", "t1", "f1", "k", "v") != 1 || GetVar(e.ctx, "call-1", "f1", "t1", "k").S != "v" ||
		!GetVar(e.ctx, "call-1", "f1", "bad", "k").IsNull() || Get(e.ctx, "call-1", "f1", "bad") != -1 {
		t.Fatal("dlg_set_var / dlg_get_var / dlg_get by tags")
	}
	if Get(e.ctx, "call-1", "f1", "t1") != 1 || Bye(e.ctx, "callee") != 1 || len(e.sent) != 1 {
		t.Fatalf("dlg_get then dlg_bye(callee): %d sent", len(e.sent))
	}
}

// Following transactions that are not about a dialog (an OPTIONS, an
// INVITE without dlg_manage) allocates nothing.
func TestDialog_OnCompleteOfOtherTransactionsAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	e := setup(t, nil)
	opt := ksrtest.Request("OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKo",
		"From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: o1", "CSeq: 1 OPTIONS", "Content-Length: 0")
	inv := ksrtest.Invite()
	rpl := ksrtest.Request("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKo",
		"From: <sip:a@b>;tag=1", "To: <sip:c@d>;tag=2", "Call-ID: o1", "CSeq: 1 OPTIONS", "Content-Length: 0")
	e.m.onComplete(&tm.Completion{Req: inv, Reply: rpl, Code: 200, Inv: true}) // warm the pool
	n := testing.AllocsPerRun(200, func() {
		e.m.onComplete(&tm.Completion{Req: opt, Reply: rpl, Code: 200})
		e.m.onComplete(&tm.Completion{Req: inv, Reply: rpl, Code: 200, Inv: true})
	})
	if n > 0 {
		t.Errorf("%v allocations per run", n)
	}
}

// dlg_match_mode 0 matches by the Route cookie only: the right cookie
// and tags match, no cookie or a cookie of another dialog does not (nor
// a forged cookie with the wrong tags); mode 2 adds no cookie to the
// Record-Route and matches by tags.
func TestDialog_MatchModes(t *testing.T) {
	e := setup(t, map[string]core.Value{"dlg_match_mode": core.Int(0)})
	e.invite(1, "alice")
	Manage(e.ctx)
	d1 := e.m.byKey[key("call-1", "f1")].DID()
	e.complete(1, 200)
	e.invite(2, "alice")
	Manage(e.ctx)
	d2 := e.m.byKey[key("call-2", "f2")].DID()
	e.complete(2, 200)
	req := func(route string) {
		lines := []string{"BYE sip:bob@198.51.100.7:5080 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKm"}
		if route != "" {
			lines = append(lines, "Route: <sip:192.0.2.1:5060;lr;did="+route+">")
		}
		lines = append(lines, "From: <sip:alice@example.org>;tag=f1", "To: <sip:bob@example.com>;tag=t1",
			"Call-ID: call-1", "CSeq: 11 BYE", "Content-Length: 0")
		e.put(ksrtest.Request(lines...))
	}
	for _, c := range []struct {
		did  string
		want int
	}{{d1, 1}, {"", -1}, {d2, -1}, {"ffff.ffff", -1}, {"zz", -1}} {
		req(c.did)
		if got := IsKnown(e.ctx); got != c.want {
			t.Errorf("cookie %q: is_known_dlg %d, want %d", c.did, got, c.want)
		}
	}

	for mode, want := range map[int]bool{1: true, 2: false} {
		e := setup(t, map[string]core.Value{"dlg_match_mode": core.Int(int64(mode))})
		e.invite(1, "alice")
		Manage(e.ctx)
		if rr.RecordRoute(e.ctx) != 1 {
			t.Fatal("record_route")
		}
		out := ksrtest.Serialize(e.ctx)
		if got := strings.Contains(out, ";did="); got != want {
			t.Errorf("mode %d: cookie in the Record-Route %v, want %v:\n%s", mode, got, want, out)
		}
	}
}

// An INVITE too big to keep gets no dialog, so max_dialogs bounds memory.
func TestHardening_DialogRefusesOversizedInvite(t *testing.T) {
	e := setup(t, nil)
	e.put(ksrtest.Invite("X-Pad: x")) // sanity: a normal one works
	if Manage(e.ctx) != 1 {
		t.Fatal("dlg_manage of a plain INVITE")
	}
	big := strings.Repeat("a", MaxDialogBytes)
	e.put(ksrtest.Request("INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKbig",
		"From: <sip:alice@example.org>;tag=big", "To: <sip:bob@example.com>", "Call-ID: "+big, "CSeq: 1 INVITE",
		"Contact: <sip:a@192.0.2.10>", "Content-Length: 0"))
	if Manage(e.ctx) != -1 {
		t.Fatal("an oversized INVITE got a dialog")
	}
	if all, _ := e.m.Active(); all != 1 {
		t.Fatalf("%d dialogs", all)
	}
}

// TestDialog_RPCNames_Kamailio (issue 16 item 2): the RPC server answers
// dialog's commands under Kamailio's names (dlg.*, the spec's rpc_prefix),
// and not under the module's name.
func TestDialog_RPCNames_Kamailio(t *testing.T) {
	e := setup(t, nil)
	e.invite(1, "alice")
	Manage(e.ctx)
	SetProfile(e.ctx, "caller", "alice")
	e.complete(1, 200)
	ms := jsonrpc.New(e.ctx.RT)
	for _, c := range []struct{ method, params, want string }{
		{"dlg.list", `[]`, `"call-id":"call-1"`},
		{"dlg.dlg_list", `["call-1"]`, `"call-id":"call-1"`},
		{"dlg.profile_get_size", `["caller","alice"]`, `"count":1`},
		{"dlg.stats_active", `[]`, `"answering":1`},
		{"dlg.end_dlg", `[1,2]`, `no answered dialog 1:2`},
		{"dialog.list", `[]`, `Method Not Found`},
	} {
		out := string(ms.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"` + c.method + `","params":` + c.params + `}`)))
		if !strings.Contains(out, c.want) {
			t.Errorf("%s %s: %s, want it to contain %s", c.method, c.params, out, c.want)
		}
	}
}
