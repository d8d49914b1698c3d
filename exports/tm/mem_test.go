package tm

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/internal/memguard"
)

func setGuard(r *rig, g *memguard.Guard) { r.tm.guard, r.tm.tab.guard = g, g }

// Item 3 of issue 10: over the memory budget a request that would create a
// transaction gets a stateless 503 with Retry-After and is not forwarded;
// a retransmission of a transaction that exists is still answered from it.
func TestHardening_MemBudgetRefusesNewTransactions(t *testing.T) {
	r := newRig(t)
	g := &memguard.Guard{}
	g.SetBudget(64 << 20)
	g.SetUsed(1 << 20)
	setGuard(r, g)

	// Under the budget: admitted.
	old := invite("z9hG4bK-mem-old")
	r.in(old, uac)
	r.expect("INVITE under budget", "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 100 Trying -> "+uac.String())

	// Over it: refused, statelessly, with Retry-After.
	g.SetUsed(60 << 20)
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = "sip:" + uas.String()
		if n := Relay(ctx); n != 0 {
			t.Errorf("t_relay over budget = %d, want 0 (answered, stop)", n)
		}
	}
	r.in(invite("z9hG4bK-mem-new"), uac)
	r.expect("INVITE over budget", "SIP/2.0 503 Service Unavailable -> "+uac.String())
	rep := r.last(uac)
	if got := header(t, rep, "Retry-After"); got != "5" {
		t.Errorf("503 Retry-After = %q, want 5\n%s", got, rep)
	}
	if len(rep) > 600 {
		t.Errorf("503 is %d bytes, want a small reply:\n%s", len(rep), rep)
	}
	if n := r.tm.Live(); n != 1 {
		t.Errorf("live transactions = %d, want 1 (the refused one made none)", n)
	}
	if n := g.Refused.Load(); n != 1 {
		t.Errorf("refused counter = %d, want 1", n)
	}
	if !strings.Contains(r.log.String(), "memory budget") {
		t.Errorf("no log line for the refusal:\n%s", r.log.String())
	}

	// A retransmission of the admitted INVITE gets its 100 again.
	r.in(old, uac)
	r.expect("retransmission over budget", "SIP/2.0 100 Trying -> "+uac.String())

	// t_newtran is refused the same way.
	r.route = func(ctx *core.Ctx) {
		if n := NewTran(ctx); n != 0 {
			t.Errorf("t_newtran over budget = %d, want 0", n)
		}
	}
	r.in(options("z9hG4bK-mem-opt"), uac)
	r.expect("t_newtran over budget", "SIP/2.0 503 Service Unavailable -> "+uac.String())

	// A flood logs one line a second, not one per request.
	for i := 0; i < 50; i++ {
		r.in(options("z9hG4bK-mem-flood"+strings.Repeat("x", i)), uac)
	}
	r.sent()
	if n := strings.Count(r.log.String(), "memory budget"); n > 2 {
		t.Errorf("%d log lines for 52 refusals, want at most 2:\n%s", n, r.log.String())
	}
	if n := g.Refused.Load(); n != 52 {
		t.Errorf("refused counter = %d, want 52", n)
	}

	// Back under: admitted again.
	g.SetUsed(1 << 20)
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = "sip:" + uas.String()
		Relay(ctx)
	}
	r.in(invite("z9hG4bK-mem-later"), uac)
	r.expect("INVITE back under budget", "INVITE sip:bob@example.com SIP/2.0 -> "+uas.String(), "SIP/2.0 100 Trying -> "+uac.String())
}

// Charges between two samples count: a burst cannot run far past the mark
// before the sampler sees it.
func TestHardening_MemBudgetChargesBetweenSamples(t *testing.T) {
	r := newRig(t)
	g := &memguard.Guard{}
	g.SetBudget(1 << 20) // high-water 768 KB
	g.SetUsed(0)
	setGuard(r, g)
	big := bigInvite("z9hG4bK-charge-0", 40<<10)
	admitted := 0
	for i := 0; i < 100; i++ {
		r.in(bytes.Replace(big, []byte("z9hG4bK-charge-0"), []byte("z9hG4bK-charge-"+strconv.Itoa(i)), 1), uac)
	}
	for _, s := range r.sent() {
		if strings.HasPrefix(s, "INVITE ") {
			admitted++
		}
	}
	// Each charges about 2 x 40 KB: the mark is reached after about 10.
	if admitted < 5 || admitted > 12 {
		t.Errorf("%d INVITEs of 40 KB admitted under a 768 KB mark, want about 10", admitted)
	}
}

// Item 3 of issue 10: a cell freed after a large request does not keep the
// buffers that request grew; a cell of a normal request keeps its own.
func TestHardening_MemPoolDropsBigBuffers(t *testing.T) {
	r := newRig(t)
	setGuard(r, &memguard.Guard{})
	r.in(bigInvite("z9hG4bK-big", 60000), uac)
	fwd := r.last(uas)
	r.in(replyTo(t, fwd, 486, "Busy Here", "callee"), uas)
	r.in(ack(invite("z9hG4bK-big"), "callee"), uac)
	r.advance(time.Duration(RFCTimers().Wait) + time.Second)
	if n := r.tm.Live(); n != 0 {
		t.Fatalf("%d transactions live after the wait timer", n)
	}
	cells, nb := r.tm.tab.idleStats()
	if cells != 1 {
		t.Fatalf("pool has %d cells, want 1", cells)
	}
	if nb > 4*maxKeepBuf {
		t.Errorf("pooled cell keeps %d bytes of buffers after a 60 KB INVITE, want at most %d", nb, 4*maxKeepBuf)
	}
	c := r.tm.tab.idle[0]
	for name, b := range map[string][]byte{"base": c.base, "reply": c.reply, "out": c.br[:1][0].out} {
		if cap(b) > maxKeepBuf {
			t.Errorf("pooled cell keeps %s of %d bytes, want at most %d", name, cap(b), maxKeepBuf)
		}
	}

	// A normal call's buffers stay for the next one.
	r.tm.tab.trim()
	r.tm.tab.idle, r.tm.tab.idleBytes = nil, 0
	inv := invite("z9hG4bK-small")
	r.in(inv, uac)
	r.in(replyTo(t, r.last(uas), 486, "Busy Here", "callee"), uas)
	r.in(ack(inv, "callee"), uac)
	r.advance(time.Duration(RFCTimers().Wait) + time.Second)
	if _, nb := r.tm.tab.idleStats(); nb < len(inv) {
		t.Errorf("pooled cell of a small INVITE keeps %d bytes, want its buffers kept", nb)
	}
}

// Item 3 of issue 10: the pool is bounded in cells and bytes, and shrinks
// to idleFloor once a load has passed.
func TestHardening_MemPoolBounded(t *testing.T) {
	var tab table
	for i := 0; i < maxIdle+100; i++ {
		c := new(cell)
		c.base = make([]byte, 0, 1024)
		tab.put(c)
	}
	if n, _ := tab.idleStats(); n != maxIdle {
		t.Errorf("pool keeps %d cells, want %d", n, maxIdle)
	}
	tab.trim()
	if n, nb := tab.idleStats(); n != idleFloor || nb != idleFloor*1024 {
		t.Errorf("after trim: %d cells, %d bytes; want %d, %d", n, nb, idleFloor, idleFloor*1024)
	}
	var tb table
	for i := 0; i < 1000; i++ {
		c := new(cell)
		c.base = make([]byte, 0, maxKeepBuf)
		c.reply = make([]byte, 0, maxKeepBuf)
		tb.put(c)
	}
	if _, nb := tb.idleStats(); nb > maxIdleBytes {
		t.Errorf("pool keeps %d bytes, want at most %d", nb, maxIdleBytes)
	}
	// A small budget lowers the byte bound to an eighth of it.
	small := table{guard: &memguard.Guard{}}
	small.guard.SetBudget(8 << 20)
	for i := 0; i < 1000; i++ {
		c := new(cell)
		c.base = make([]byte, 0, maxKeepBuf)
		small.put(c)
	}
	if _, nb := small.idleStats(); nb > 1<<20 {
		t.Errorf("pool under an 8 MB budget keeps %d bytes, want at most 1 MB", nb)
	}
	// get takes bytes off the count.
	for {
		if tb.get() == nil {
			break
		}
		if n, _ := tb.idleStats(); n == 0 {
			break
		}
	}
	if n, nb := tb.idleStats(); n != 0 || nb != 0 {
		t.Errorf("emptied pool reports %d cells, %d bytes", n, nb)
	}
}

// Admission costs nothing per message.
func TestHardening_MemAdmitNoAlloc(t *testing.T) {
	g := &memguard.Guard{}
	g.SetBudget(64 << 20)
	if n := testing.AllocsPerRun(1000, func() { g.Charge(100); _ = g.Admit() }); n != 0 {
		t.Errorf("Admit+Charge allocate %v times, want 0", n)
	}
}

func bigInvite(branch string, size int) []byte {
	inv := string(invite(branch))
	pad := "X-Pad: " + strings.Repeat("a", size-len(inv)) + "\r\n"
	return []byte(strings.Replace(inv, "Contact:", pad+"Contact:", 1))
}

func options(branch string) []byte {
	s := strings.Replace(string(invite(branch)), "INVITE sip:", "OPTIONS sip:", 1)
	return []byte(strings.Replace(s, "314159 INVITE", "314159 OPTIONS", 1))
}
