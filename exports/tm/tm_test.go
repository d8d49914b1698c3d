package tm

import (
	"bytes"
	"kemi/exports/sl"
	"net/netip"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/hdr"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/textops"
	"kemi/sip"
)

var (
	uac   = netip.MustParseAddrPort("192.0.2.10:5062")
	proxy = netip.MustParseAddrPort("192.0.2.1:5060")
	uas   = netip.MustParseAddrPort("192.0.2.20:5070")
	uas2  = netip.MustParseAddrPort("192.0.2.21:5070")
)

// fnVM is a core.VM whose routes are Go functions.
type fnVM map[string]func(ctx *core.Ctx)

func (v fnVM) Call(ctx *core.Ctx, name string) error {
	f, ok := v[name]
	if !ok {
		return core.ErrNoCallback
	}
	f(ctx)
	return nil
}
func (v fnVM) Close() {}

// rig is one proxy: a TM on a fake clock, a recorder for everything sent
// (from workers and timers alike) and a script of Go routes.
type rig struct {
	t     testing.TB
	clock *FakeClock
	tm    *TM
	rt    *core.Runtime
	rec   *ksrtest.Recorder
	vm    fnVM
	// route runs as the request route of every request.
	route func(ctx *core.Ctx)
	ctx   core.Ctx
	msg   sip.Msg
	seen  int
	buf   []byte
	log   bytes.Buffer
}

func newRig(t testing.TB) *rig {
	r := &rig{t: t, clock: &FakeClock{}, rec: ksrtest.NewRecorder(), vm: fnVM{}}
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	r.rt = &core.Runtime{Reg: reg, Log: &core.Logger{Level: 3, Out: &r.log}}
	r.rt.Send = func(b []byte, p core.Proto, to netip.AddrPort) error { return r.rec.SendTo(b, p, to) }
	r.rt.NewVM = func() (core.VM, error) { return r.vm, nil }
	r.tm = New(r.rt, r.clock, RFCTimers())
	Attach(r.rt, r.tm)
	dst := "sip:" + uas.String()
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = dst
		if Relay(ctx) < 0 {
			t.Errorf("t_relay failed")
		}
	}
	r.ctx.RT, r.ctx.Out, r.ctx.VM = r.rt, r.rec, r.vm
	r.ctx.Scratch = make([]byte, 0, 4096)
	return r
}

// in delivers a message from src as a worker would: the request route for
// requests, the reply hooks for replies.
func (r *rig) in(raw []byte, src netip.AddrPort) {
	r.t.Helper()
	r.buf = append(r.buf[:0], raw...)
	r.deliver(&r.ctx, &r.msg, r.buf, src)
}

// deliver parses b into m and hands it to ctx as a worker would.
func (r *rig) deliver(ctx *core.Ctx, m *sip.Msg, b []byte, src netip.AddrPort) {
	r.t.Helper()
	if err := m.Parse(b); err != nil {
		r.t.Fatalf("parse: %v\n%s", err, b)
	}
	ctx.Reset(m, src, proxy, core.UDP)
	if m.IsRequest() {
		r.route(ctx)
		return
	}
	for _, h := range r.rt.ReplyHooks() {
		if h(ctx) {
			return
		}
	}
	r.t.Errorf("reply not taken by tm: %s", firstLine(b))
}

// sent returns what was sent since the last call, as "first line -> to".
func (r *rig) sent() []string {
	var out []string
	for _, s := range r.rec.Sent[r.seen:] {
		out = append(out, firstLine(s.B)+" -> "+s.To.String())
	}
	r.seen = len(r.rec.Sent)
	return out
}

func (r *rig) expect(what string, want ...string) {
	r.t.Helper()
	got := r.sent()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		r.t.Errorf("%s: sent\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// last returns the last message sent to dst.
func (r *rig) last(dst netip.AddrPort) []byte {
	for i := len(r.rec.Sent) - 1; i >= 0; i-- {
		if r.rec.Sent[i].To == dst {
			return r.rec.Sent[i].B
		}
	}
	r.t.Fatalf("nothing sent to %s", dst)
	return nil
}

// advance moves the fake clock in small steps, firing timers as they fall due.
func (r *rig) advance(d time.Duration) {
	const step = 10 * time.Millisecond
	for d > 0 {
		s := min(step, d)
		r.clock.Add(s)
		d -= s
		r.tm.Tick(r.clock.Now())
	}
}

func firstLine(b []byte) string {
	l, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(l)
}

// replyTo builds the reply a UAS sends to a request it got.
func replyTo(t testing.TB, req []byte, code int, reason, toTag string) []byte {
	t.Helper()
	var m sip.Msg
	if err := m.Parse(req); err != nil {
		t.Fatal(err)
	}
	opt := &sip.ReplyOptions{ToTag: []byte(toTag)}
	return sip.AppendReply(nil, &m, code, reason, opt)
}

func header(t *testing.T, b []byte, name string) string {
	t.Helper()
	var m sip.Msg
	if err := m.Parse(b); err != nil {
		t.Fatal(err)
	}
	return string(m.Header(name))
}

func invite(branch string) []byte {
	return []byte(strings.Replace(string(ksrtest.Invite()), "z9hG4bK776asdhds", branch, 1))
}

func ack(inv []byte, toTag string) []byte {
	s := strings.Replace(string(inv), "INVITE sip:", "ACK sip:", 1)
	s = strings.Replace(s, "314159 INVITE", "314159 ACK", 1)
	return []byte(strings.Replace(s, "To: Bob <sip:bob@example.com>", "To: Bob <sip:bob@example.com>;tag="+toTag, 1))
}

func cancel(inv []byte) []byte {
	s := strings.Replace(string(inv), "INVITE sip:", "CANCEL sip:", 1)
	return []byte(strings.Replace(s, "314159 INVITE", "314159 CANCEL", 1))
}

func TestInviteAnswered(t *testing.T) {
	r := newRig(t)
	inv := invite("z9hG4bK-a1")
	r.in(inv, uac)
	r.expect("INVITE", "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 100 Trying -> "+uac.String())
	fwd := r.last(uas)
	if v := header(t, fwd, "Via"); !strings.HasPrefix(v, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK") {
		t.Errorf("forwarded INVITE's top Via = %q, want ours", v)
	}
	if !bytes.Contains(fwd, []byte("branch=z9hG4bK-a1;received=192.0.2.10;rport=5062")) {
		t.Errorf("forwarded INVITE lacks received/rport on the UAC's Via:\n%s", fwd)
	}

	// A retransmitted INVITE gets the 100 again and is not forwarded.
	r.in(inv, uac)
	r.expect("retransmitted INVITE", "SIP/2.0 100 Trying -> "+uac.String())

	r.in(replyTo(t, fwd, 100, "Trying", "x"), uas)
	r.expect("100 from the UAS is not forwarded")
	r.in(replyTo(t, fwd, 180, "Ringing", "callee"), uas)
	r.expect("180", "SIP/2.0 180 Ringing -> "+uac.String())
	up := r.last(uac)
	if v := header(t, up, "Via"); strings.Contains(v, "192.0.2.1:5060") {
		t.Errorf("180 went upstream with our Via: %q", v)
	}
	r.in(inv, uac)
	r.expect("INVITE retransmitted after 180", "SIP/2.0 180 Ringing -> "+uac.String())

	ok := replyTo(t, fwd, 200, "OK", "callee")
	r.in(ok, uas)
	r.expect("200", "SIP/2.0 200 OK -> "+uac.String())
	r.in(ok, uas)
	r.expect("retransmitted 200 goes upstream too", "SIP/2.0 200 OK -> "+uac.String())

	// Timer A stopped at the 180; nothing more is sent; the cell goes after
	// the wait time.
	r.advance(10 * time.Second)
	r.expect("after the 200")
	r.advance(time.Duration(RFCTimers().Wait))
	if n := r.tm.Live(); n != 0 {
		t.Errorf("%d transactions live after the wait timer, want 0", n)
	}
	if n := r.tm.wheel.size(); n != 0 {
		t.Errorf("%d timers armed after the transaction ended, want 0", n)
	}
}

func TestInviteRetransmissionsAndTimeout(t *testing.T) {
	r := newRig(t)
	inv := invite("z9hG4bK-a2")
	r.in(inv, uac)
	r.sent()
	// Timer A: T1, 2T1, 4T1 ... until fr_timer (Timer B) at 30 s.
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, d := range want {
		r.advance(d)
		r.expect("retransmission "+string(rune('1'+i)), "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String())
	}
	r.advance(14490 * time.Millisecond) // 29.99 s
	r.expect("just before timer B")
	r.advance(20 * time.Millisecond)
	r.expect("timer B: 408 upstream", "SIP/2.0 408 Request Timeout -> "+uac.String())

	// Timer G: the 408 again after T1, 2T1 ... until the ACK.
	r.advance(500 * time.Millisecond)
	r.expect("timer G", "SIP/2.0 408 Request Timeout -> "+uac.String())
	r.advance(time.Second)
	r.expect("timer G doubled", "SIP/2.0 408 Request Timeout -> "+uac.String())
	to := header(t, r.last(uac), "To")
	tag := to[strings.Index(to, "tag=")+4:]
	r.in(ack(inv, tag), uac)
	r.expect("ACK absorbed")
	r.advance(10 * time.Second)
	r.expect("nothing after the ACK")
	r.advance(time.Duration(RFCTimers().Wait))
	if n := r.tm.Live(); n != 0 {
		t.Errorf("%d transactions live, want 0", n)
	}
}

func TestNonInvite(t *testing.T) {
	r := newRig(t)
	bye := []byte(strings.Replace(strings.Replace(string(invite("z9hG4bK-b1")), "INVITE sip:", "BYE sip:", 1), "314159 INVITE", "314160 BYE", 1))
	r.in(bye, uac)
	r.expect("BYE", "BYE sip:bob@example.com SIP/2.0 -> "+uas.String())
	// Timer E: T1, 2T1, 4T1, then capped at T2 = 4 s.
	for _, d := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		r.advance(d)
		r.expect("timer E", "BYE sip:bob@example.com SIP/2.0 -> "+uas.String())
	}
	r.in(bye, uac)
	r.expect("retransmitted BYE before any reply: absorbed")
	fwd := r.last(uas)
	r.in(replyTo(t, fwd, 200, "OK", "t"), uas)
	r.expect("200", "SIP/2.0 200 OK -> "+uac.String())
	r.in(bye, uac)
	r.expect("retransmitted BYE: the 200 again", "SIP/2.0 200 OK -> "+uac.String())
	r.advance(time.Duration(RFCTimers().Wait) + time.Second)
	r.expect("nothing more")
	if n := r.tm.Live(); n != 0 {
		t.Errorf("%d transactions live after timer J, want 0", n)
	}
}

func TestNonInviteTimeout(t *testing.T) {
	r := newRig(t)
	msg := []byte(strings.Replace(strings.Replace(string(invite("z9hG4bK-o1")), "INVITE sip:", "OPTIONS sip:", 1), "314159 INVITE", "1 OPTIONS", 1))
	r.in(msg, uac)
	r.expect("OPTIONS", "OPTIONS sip:bob@example.com SIP/2.0 -> "+uas.String())
	r.advance(30 * time.Second)
	got := r.sent()
	if len(got) == 0 || got[len(got)-1] != "SIP/2.0 408 Request Timeout -> "+uac.String() {
		t.Errorf("timer F: last sent %q, want a 408 upstream", got)
	}
}

func TestInviteRejected(t *testing.T) {
	r := newRig(t)
	inv := invite("z9hG4bK-a3")
	r.in(inv, uac)
	r.sent()
	fwd := r.last(uas)
	busy := replyTo(t, fwd, 486, "Busy Here", "callee")
	r.in(busy, uas)
	r.expect("486", "ACK sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 486 Busy Here -> "+uac.String())
	a := r.last(uas)
	if got := header(t, a, "To"); !strings.HasSuffix(got, ";tag=callee") {
		t.Errorf("hop-by-hop ACK To = %q, want the 486's tag", got)
	}
	if got, want := header(t, a, "Via"), header(t, fwd, "Via"); got != want {
		t.Errorf("ACK Via = %q, want the INVITE's top Via %q", got, want)
	}
	if got := header(t, a, "CSeq"); got != "314159 ACK" {
		t.Errorf("ACK CSeq = %q", got)
	}
	r.in(busy, uas)
	r.expect("retransmitted 486: ACK again, nothing upstream", "ACK sip:bob@example.com SIP/2.0 -> "+uas.String())
	r.in(inv, uac)
	r.expect("retransmitted INVITE: the 486 again", "SIP/2.0 486 Busy Here -> "+uac.String())
	r.in(ack(inv, "callee"), uac)
	r.expect("upstream ACK absorbed")
	r.advance(time.Minute)
	r.expect("no timer G after the ACK")
	if n := r.tm.Live(); n != 0 {
		t.Errorf("%d transactions live, want 0", n)
	}
	if n := r.tm.wheel.size(); n != 0 {
		t.Errorf("%d timers armed after the transaction ended, want 0", n)
	}
}

func TestCancel(t *testing.T) {
	r := newRig(t)
	inv := invite("z9hG4bK-c1")
	r.in(inv, uac)
	r.sent()
	fwd := r.last(uas)
	r.in(replyTo(t, fwd, 180, "Ringing", "callee"), uas)
	r.sent()
	r.in(cancel(inv), uac)
	r.expect("CANCEL", "SIP/2.0 200 OK -> "+uac.String(), "CANCEL sip:bob@example.com SIP/2.0 -> "+uas.String())
	c := r.last(uas)
	if got, want := header(t, c, "Via"), header(t, fwd, "Via"); got != want {
		t.Errorf("CANCEL Via = %q, want the branch's %q", got, want)
	}
	if got := header(t, c, "CSeq"); got != "314159 CANCEL" {
		t.Errorf("CANCEL CSeq = %q", got)
	}
	r.in(replyTo(t, c, 200, "OK", "callee"), uas)
	r.expect("200 to our CANCEL absorbed")
	r.advance(2 * time.Second)
	r.expect("no CANCEL retransmission after its 200")
	r.in(replyTo(t, fwd, 487, "Request Terminated", "callee"), uas)
	r.expect("487", "ACK sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 487 Request Terminated -> "+uac.String())
}

func TestCancelBeforeProvisional(t *testing.T) {
	r := newRig(t)
	inv := invite("z9hG4bK-c2")
	r.in(inv, uac)
	r.sent()
	fwd := r.last(uas)
	r.in(cancel(inv), uac)
	r.expect("CANCEL waits for a provisional", "SIP/2.0 200 OK -> "+uac.String())
	r.in(replyTo(t, fwd, 180, "Ringing", "callee"), uas)
	got := r.sent()
	if len(got) == 0 || got[0] != "CANCEL sip:bob@example.com SIP/2.0 -> "+uas.String() {
		t.Errorf("after the 180: sent %q, want the CANCEL first", got)
	}
}

func TestCancelTimeoutGives487(t *testing.T) {
	r := newRig(t)
	inv := invite("z9hG4bK-c3")
	r.in(inv, uac)
	r.sent()
	fwd := r.last(uas)
	r.in(replyTo(t, fwd, 180, "Ringing", "callee"), uas)
	r.in(cancel(inv), uac)
	r.sent()
	// The UAS never answers: the CANCEL is retransmitted, then fr_inv_timer
	// ends the branch and the caller gets 487, not 408.
	r.advance(121 * time.Second)
	got := r.sent()
	if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "SIP/2.0 487 Request Terminated -> "+uac.String()) {
		t.Errorf("sent %q, want a 487 upstream", got)
	}
}

func TestParallelForkAndBestResponse(t *testing.T) {
	r := newRig(t)
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = "sip:" + uas.String()
		ctx.Branches = append(ctx.Branches, core.Branch{URI: "sip:bob@" + uas2.String()})
		Relay(ctx)
	}
	inv := invite("z9hG4bK-p1")
	r.in(inv, uac)
	r.expect("two branches", "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String(),
		"INVITE sip:bob@192.0.2.21:5070 SIP/2.0 -> "+uas2.String(), "SIP/2.0 100 Trying -> "+uac.String())
	f1, f2 := r.rec.Sent[0].B, r.rec.Sent[1].B
	if header(t, f1, "Via") == header(t, f2, "Via") {
		t.Error("both branches have the same Via branch")
	}
	r.in(replyTo(t, f1, 404, "Not Found", "a"), uas)
	r.expect("404 waits for the other branch", "ACK sip:bob@example.com SIP/2.0 -> "+uas.String())
	r.in(replyTo(t, f2, 486, "Busy Here", "b"), uas2)
	r.expect("best of 404 and 486", "ACK sip:bob@192.0.2.21:5070 SIP/2.0 -> "+uas2.String(), "SIP/2.0 404 Not Found -> "+uac.String())
}

func TestForkFirst2xxCancelsOthers(t *testing.T) {
	r := newRig(t)
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = "sip:" + uas.String()
		ctx.Branches = append(ctx.Branches, core.Branch{URI: "sip:bob@" + uas2.String()})
		Relay(ctx)
	}
	r.in(invite("z9hG4bK-p2"), uac)
	r.sent()
	f1, f2 := r.rec.Sent[0].B, r.rec.Sent[1].B
	r.in(replyTo(t, f2, 180, "Ringing", "b"), uas2)
	r.sent()
	r.in(replyTo(t, f1, 200, "OK", "a"), uas)
	r.expect("200 and a CANCEL to the ringing branch", "SIP/2.0 200 OK -> "+uac.String(), "CANCEL sip:bob@192.0.2.21:5070 SIP/2.0 -> "+uas2.String())
}

func TestBest(t *testing.T) {
	for _, c := range []struct {
		codes []int
		want  int
	}{
		{[]int{486, 603, 404}, 603},
		{[]int{500, 404, 302}, 302},
		{[]int{404, 407, 480}, 407},
		{[]int{408, 486}, 486},
	} {
		var cl cell
		for _, code := range c.codes {
			i := cl.addBranch()
			cl.br[i].final = code
			cl.br[i].local = code == 408
		}
		tm := &TM{mode: 3}
		if got := cl.br[tm.best(&cl)].final; got != c.want {
			t.Errorf("best of %v = %d, want %d", c.codes, got, c.want)
		}
	}
}

func TestSerialForkInFailureRoute(t *testing.T) {
	r := newRig(t)
	ran := 0
	r.vm["failure"] = func(ctx *core.Ctx) {
		ran++
		if ctx.Route != core.FailureRoute {
			t.Errorf("failure route runs as route %d", ctx.Route)
		}
		if CheckStatus(ctx, "486") < 0 {
			t.Errorf("t_check_status(486) false in the failure route; code %d", GetStatusCode(ctx))
		}
		if BranchReplied(ctx) < 0 || BranchTimeout(ctx) > 0 {
			t.Error("t_branch_replied / t_branch_timeout wrong for a 486")
		}
		ctx.DstURI = "sip:" + uas2.String()
		if Relay(ctx) != 1 {
			t.Error("t_relay in the failure route failed")
		}
	}
	r.route = func(ctx *core.Ctx) {
		OnFailure(ctx, "failure")
		ctx.DstURI = "sip:" + uas.String()
		Relay(ctx)
	}
	r.in(invite("z9hG4bK-s1"), uac)
	r.sent()
	f1 := r.last(uas)
	r.in(replyTo(t, f1, 486, "Busy Here", "a"), uas)
	r.expect("486: ACK, then the second callee", "ACK sip:bob@example.com SIP/2.0 -> "+uas.String(), "INVITE sip:bob@example.com SIP/2.0 -> "+uas2.String())
	if ran != 1 {
		t.Fatalf("failure route ran %d times", ran)
	}
	f2 := r.last(uas2)
	if header(t, f1, "Via") == header(t, f2, "Via") {
		t.Error("the serial branch reuses the first branch's Via branch")
	}
	r.in(replyTo(t, f2, 200, "OK", "b"), uas2)
	r.expect("the second callee answers", "SIP/2.0 200 OK -> "+uac.String())
}

func TestTimeoutRunsFailureRouteOnTimerVM(t *testing.T) {
	r := newRig(t)
	r.vm["failure"] = func(ctx *core.Ctx) {
		if BranchTimeout(ctx) < 0 {
			t.Error("t_branch_timeout false after fr_inv_timer")
		}
		Reply(ctx, 408, "Timeout in failure route")
	}
	r.route = func(ctx *core.Ctx) {
		OnFailure(ctx, "failure")
		SetFr(ctx, 2000, 1000)
		ctx.DstURI = "sip:" + uas.String()
		Relay(ctx)
	}
	r.in(invite("z9hG4bK-t1"), uac)
	r.sent()
	r.in(replyTo(t, r.last(uas), 180, "Ringing", "a"), uas)
	r.sent()
	r.advance(1990 * time.Millisecond)
	r.expect("before fr_inv_timer")
	r.advance(20 * time.Millisecond)
	r.expect("fr_inv_timer: CANCEL to the branch, 408 from the failure route",
		"CANCEL sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 408 Timeout in failure route -> "+uac.String())
}

func TestRelayBadDestination(t *testing.T) {
	r := newRig(t)
	res := 0
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = "sip:unknown.invalid"
		res = Relay(ctx)
	}
	r.in(invite("z9hG4bK-u1"), uac)
	if res != -1 {
		t.Errorf("t_relay to a name = %d, want -1", res)
	}
	r.expect("nothing sent")
	if n := r.tm.Live(); n != 0 {
		t.Errorf("%d transactions left after a failed relay, want 0", n)
	}
}

func TestNewTranReply(t *testing.T) {
	r := newRig(t)
	r.route = func(ctx *core.Ctx) {
		if HasTransaction(ctx) {
			t.Error("a transaction before t_newtran")
		}
		if NewTran(ctx) == 1 {
			if !HasTransaction(ctx) {
				t.Error("no transaction after t_newtran")
			}
			Reply(ctx, 404, "Nobody")
		}
	}
	inv := invite("z9hG4bK-n1")
	r.in(inv, uac)
	// Issue 11: no 100 Trying before a final reply sent at once, as in
	// Kamailio (t_newtran sends none; t_relay does).
	r.expect("t_newtran + t_reply", "SIP/2.0 404 Nobody -> "+uac.String())
	r.in(inv, uac)
	r.expect("retransmission replays", "SIP/2.0 404 Nobody -> "+uac.String())
}

// Kamailio's basic script answers a failed lookup with t_newtran and then
// sl's send_reply: the reply must go through the transaction, so that a
// retransmitted INVITE gets it again instead of waiting in silence.
func TestNewTranThenSlSendReply(t *testing.T) {
	r := newRig(t)
	r.route = func(ctx *core.Ctx) {
		if NewTran(ctx) == 1 {
			sl.SendReplyAny(ctx, 404, "Not Found")
		}
	}
	inv := invite("z9hG4bK-n2")
	r.in(inv, uac)
	r.expect("t_newtran + send_reply", "SIP/2.0 404 Not Found -> "+uac.String())
	r.in(inv, uac)
	r.expect("retransmission replays", "SIP/2.0 404 Not Found -> "+uac.String())
}

// Issue 11: after t_newtran, t_relay sends the 100 Trying (once), as
// Kamailio's t_relay does for a transaction without a reply yet.
func TestNewTranThenRelay_TryingOnce(t *testing.T) {
	r := newRig(t)
	dst := "sip:" + uas.String()
	r.route = func(ctx *core.Ctx) {
		if NewTran(ctx) == 1 {
			ctx.DstURI = dst
			if Relay(ctx) < 0 {
				t.Error("t_relay failed")
			}
		}
	}
	inv := invite("z9hG4bK-n3")
	r.in(inv, uac)
	r.expect("t_newtran + t_relay", "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 100 Trying -> "+uac.String())
	r.in(inv, uac)
	r.expect("retransmission gets the 100", "SIP/2.0 100 Trying -> "+uac.String())
}

// Issue 11: a hop-by-hop CANCEL or ACK carries the Max-Forwards of the
// INVITE it follows (as sent on the branch), not 70.
func TestHopByHop_MaxForwardsOfInvite(t *testing.T) {
	mf33 := func(branch string) []byte {
		return []byte(strings.Replace(string(invite(branch)), "Contact: <sip:alice", "Max-Forwards: 33\r\nContact: <sip:alice", 1))
	}
	r := newRig(t)
	inv := mf33("z9hG4bK-mf1")
	r.in(inv, uac)
	r.sent()
	fwd := r.last(uas)
	if got := header(t, fwd, "Max-Forwards"); got != "33" {
		t.Fatalf("forwarded INVITE Max-Forwards = %q", got)
	}
	r.in(replyTo(t, fwd, 180, "Ringing", "callee"), uas)
	r.in(cancel(inv), uac)
	r.sent()
	if got := header(t, r.last(uas), "Max-Forwards"); got != "33" {
		t.Errorf("CANCEL Max-Forwards = %q, want the INVITE's 33", got)
	}

	r = newRig(t)
	inv = mf33("z9hG4bK-mf2")
	r.in(inv, uac)
	r.sent()
	fwd = r.last(uas)
	r.in(replyTo(t, fwd, 486, "Busy Here", "callee"), uas)
	r.sent()
	a := r.last(uas)
	if !bytes.HasPrefix(a, []byte("ACK ")) || header(t, a, "Max-Forwards") != "33" {
		t.Errorf("ACK Max-Forwards = %q, want the INVITE's 33:\n%s", header(t, a, "Max-Forwards"), a)
	}

	// Without one in the INVITE, 70.
	r = newRig(t)
	inv = invite("z9hG4bK-mf3")
	r.in(inv, uac)
	r.sent()
	r.in(replyTo(t, r.last(uas), 486, "Busy Here", "callee"), uas)
	r.sent()
	if got := header(t, r.last(uas), "Max-Forwards"); got != "70" {
		t.Errorf("ACK Max-Forwards = %q, want 70", got)
	}
}

// Issue 11: tm's local replies (100, 408, 487...) carry the Server line
// of server_header, and none with server_signature=no.
func TestLocalReplies_ServerHeader(t *testing.T) {
	for _, sig := range []core.Signature{{Server: "Server: Edge 1"}, {Off: true}} {
		r := newRig(t)
		r.rt.Signature = sig
		inv := invite("z9hG4bK-sh1")
		r.in(inv, uac)
		r.sent()
		r.advance(time.Minute) // timer C/fr_inv: 408 upstream
		n := 0
		for _, s := range r.rec.Sent {
			if !bytes.HasPrefix(s.B, []byte("SIP/2.0 ")) {
				continue
			}
			n++
			srv := header(t, s.B, "Server")
			if want := strings.TrimPrefix(sig.Server, "Server: "); srv != want {
				t.Errorf("%+v: %s: Server %q, want %q", sig, firstLine(s.B), srv, want)
			}
		}
		if n < 2 {
			t.Errorf("%+v: %d local replies, want the 100 and the 408", sig, n)
		}
	}
}

func TestBranchParse(t *testing.T) {
	b := appendBranch(nil, 0x0123456789abcdef, 11)
	id, idx, ok := parseBranch(b)
	if !ok || id != 0x0123456789abcdef || idx != 11 {
		t.Errorf("parseBranch(%s) = %x, %d, %v", b, id, idx, ok)
	}
	for _, bad := range []string{"z9hG4bK776asdhds", "z9hG4bK0123456789abcdefX1", "z9hG4bK0123456789abcdeg.1"} {
		if _, _, ok := parseBranch([]byte(bad)); ok {
			t.Errorf("parseBranch(%q) accepted", bad)
		}
	}
}

func TestNoAllocsPerCall(t *testing.T) {
	r := newRig(t)
	r.rec = ksrtest.Discard
	r.ctx.Out = r.rec
	r.rt.Send = func([]byte, core.Proto, netip.AddrPort) error { return nil }
	inv := invite("z9hG4bK-alloc")
	var fwd []byte
	{
		rec := ksrtest.NewRecorder()
		r.ctx.Out = rec
		r.in(inv, uac)
		fwd = rec.Sent[0].B
		r.ctx.Out = r.rec
	}
	ok := replyTo(t, fwd, 200, "OK", "x")
	r.in(ok, uas)
	r.advance(time.Duration(RFCTimers().Wait) + time.Second)
	var buf []byte
	allocs := testing.AllocsPerRun(200, func() {
		buf = append(buf[:0], inv...)
		r.msg.Parse(buf)
		r.ctx.Reset(&r.msg, uac, proxy, core.UDP)
		r.route(&r.ctx)
		buf = append(buf[:0], ok...)
		r.msg.Parse(buf)
		r.ctx.Reset(&r.msg, uas, proxy, core.UDP)
		r.tm.Hook(&r.ctx)
		r.advance(time.Duration(RFCTimers().Wait) + 20*time.Millisecond)
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per call (INVITE relayed, 200 back, freed), want 0", allocs)
	}
}

func TestBranchRouteAndPrecheck(t *testing.T) {
	r := newRig(t)
	var seen []int
	r.vm["branch"] = func(ctx *core.Ctx) {
		if ctx.Route != core.BranchRoute {
			t.Errorf("branch route runs as route %d", ctx.Route)
		}
		i := GetBranchIndex(ctx)
		seen = append(seen, i)
		if i == 1 {
			ctx.SetDrop() // the second branch is dropped by the script
		}
	}
	r.route = func(ctx *core.Ctx) {
		if Precheck(ctx) > 0 {
			CheckTrans(ctx)
			return
		}
		OnBranch(ctx, "branch")
		if IsSet(ctx, "branch_route") < 0 {
			t.Error("t_is_set(branch_route) false after t_on_branch")
		}
		ctx.DstURI = "sip:" + uas.String()
		ctx.Branches = append(ctx.Branches, core.Branch{URI: "sip:bob@" + uas2.String()})
		Relay(ctx)
	}
	inv := invite("z9hG4bK-br1")
	r.in(inv, uac)
	r.expect("one branch sent, the dropped one not", "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 100 Trying -> "+uac.String())
	if len(seen) != 2 || seen[0] != 0 || seen[1] != 1 {
		t.Errorf("branch route saw indexes %v, want [0 1]", seen)
	}
	r.in(inv, uac)
	r.expect("t_precheck_trans then t_check_trans replays", "SIP/2.0 100 Trying -> "+uac.String())
}

func TestBranchFailureRoute(t *testing.T) {
	r := newRig(t)
	var codes []int
	r.vm["bf"] = func(ctx *core.Ctx) { codes = append(codes, GetStatusCode(ctx)) }
	r.route = func(ctx *core.Ctx) {
		OnBranchFailure(ctx, "bf")
		ctx.DstURI = "sip:" + uas.String()
		ctx.Branches = append(ctx.Branches, core.Branch{URI: "sip:bob@" + uas2.String()})
		Relay(ctx)
	}
	r.in(invite("z9hG4bK-bf1"), uac)
	f1, f2 := r.rec.Sent[0].B, r.rec.Sent[1].B
	r.in(replyTo(t, f1, 480, "Unavailable", "a"), uas)
	r.in(replyTo(t, f2, 486, "Busy Here", "b"), uas2)
	if len(codes) != 2 || codes[0] != 480 || codes[1] != 486 {
		t.Errorf("branch failure route saw %v, want [480 486]", codes)
	}
	if got := r.sent(); got[len(got)-1] != "SIP/2.0 480 Unavailable -> "+uac.String() {
		t.Errorf("sent %q, want the 480 upstream last", got)
	}
}

func TestReplyHeadersAndBody(t *testing.T) {
	r := newRig(t)
	r.route = func(ctx *core.Ctx) {
		NewTran(ctx)
		hdr.AppendToReply(ctx, "X-Why: testing\r\n")
		textops.SetReplyBody(ctx, "hello", "text/plain")
		Reply(ctx, 480, "Later")
	}
	r.in(invite("z9hG4bK-hb1"), uac)
	b := r.last(uac)
	for _, want := range []string{"SIP/2.0 480 Later\r\n", "X-Why: testing\r\n", "Content-Type: text/plain\r\n", "Content-Length: 5\r\n\r\nhello"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("t_reply lacks %q:\n%s", want, b)
		}
	}
}

func TestRelayToProtoAddr(t *testing.T) {
	r := newRig(t)
	res := 0
	r.route = func(ctx *core.Ctx) { res = RelayToProtoAddr(ctx, "udp", "192.0.2.21", 5070) }
	r.in(invite("z9hG4bK-pa1"), uac)
	if res != 1 {
		t.Fatalf("t_relay_to_proto_addr = %d, want 1", res)
	}
	r.expect("to the given address", "INVITE sip:bob@example.com SIP/2.0 -> "+uas2.String(), "SIP/2.0 100 Trying -> "+uac.String())
	r.route = func(ctx *core.Ctx) { res = RelayToProtoAddr(ctx, "tcp", "192.0.2.21", 5070) }
	r.in(invite("z9hG4bK-pa2"), uac)
	if res != -1 {
		t.Errorf("t_relay_to_proto_addr over tcp = %d, want -1", res)
	}
}

func TestTimerHWithoutAck(t *testing.T) {
	r := newRig(t)
	r.in(invite("z9hG4bK-h1"), uac)
	r.sent()
	r.in(replyTo(t, r.last(uas), 486, "Busy Here", "callee"), uas)
	r.sent()
	// No ACK comes: timer G resends the 486 (T1, 2T1, 4T1, then T2) until
	// timer H (64*T1 = 32 s) ends the transaction.
	r.advance(31900 * time.Millisecond)
	n := len(r.sent())
	if n < 8 {
		t.Errorf("timer G sent the 486 %d times in 32 s, want at least 8", n)
	}
	r.advance(200 * time.Millisecond)
	if l := r.tm.Live(); l != 0 {
		t.Errorf("%d transactions live after timer H, want 0", l)
	}
	r.advance(10 * time.Second)
	r.expect("nothing after timer H")
}
