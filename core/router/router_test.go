package router

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/sip"
)

// fakeProgram runs a Go function as the script.
type fakeProgram struct{ run func(ctx *core.Ctx) error }

func (p *fakeProgram) Has(cb string) bool      { return cb == "ksr_request_route" }
func (p *fakeProgram) NewVM() (core.VM, error) { return &fakeVM{p}, nil }
func (v *fakeVM) Close()                       {}
func (v *fakeVM) Call(ctx *core.Ctx, cb string) error {
	if cb != "ksr_request_route" {
		return core.ErrNoCallback
	}
	return v.p.run(ctx)
}

type fakeVM struct{ p *fakeProgram }

type logBuf struct{ strings.Builder }

func newRouter(t *testing.T, run func(ctx *core.Ctx) error) (*Router, *logBuf) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	out := &logBuf{}
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: out}}
	r, err := New(rt, &fakeProgram{run: run})
	if err != nil {
		t.Fatal(err)
	}
	return r, out
}

const options = "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1\r\n" +
	"From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: panic-test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

func TestPanicCostsOneMessage(t *testing.T) {
	calls := 0
	r, log := newRouter(t, func(ctx *core.Ctx) error {
		calls++
		if calls == 1 {
			var m map[string]int
			m["x"] = 1 // a module bug
		}
		return nil
	})
	w, err := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	w.Handle([]byte(options), src, core.UDP)
	w.Handle([]byte(options), src, core.UDP)
	if calls != 2 || r.Panics.Load() != 1 {
		t.Fatalf("calls %d, panics %d: want the second message routed after the first panicked", calls, r.Panics.Load())
	}
	if !strings.Contains(log.String(), `Call-ID "panic-test"`) {
		t.Errorf("the panic log names no Call-ID:\n%s", log.String())
	}
}

func TestMalformedCounted(t *testing.T) {
	r, log := newRouter(t, func(ctx *core.Ctx) error { return nil })
	w, _ := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
	w.Handle([]byte("\x00\x01garbage"), netip.MustParseAddrPort("127.0.0.1:5999"), core.UDP)
	if r.Malformed.Load() != 1 || !strings.Contains(log.String(), "malformed") {
		t.Errorf("malformed %d, log:\n%s", r.Malformed.Load(), log.String())
	}
}

func TestRequestCallbackRequired(t *testing.T) {
	reg, _ := core.NewRegistry()
	rt := &core.Runtime{Reg: reg, Callbacks: map[string]string{"ksr_request_route": "my_route"}}
	if _, err := New(rt, &fakeProgram{}); err == nil || !strings.Contains(err.Error(), "my_route") {
		t.Errorf("New with a renamed, missing request callback: %v", err)
	}
}

func TestViaDestination(t *testing.T) {
	for _, c := range []struct{ via, want string }{
		{"SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1", "192.0.2.1:5070"},
		{"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", "192.0.2.1:5060"},
		{"SIP/2.0/UDP host.example;received=192.0.2.9;rport=6000;branch=z9hG4bK1", "192.0.2.9:6000"},
		{"SIP/2.0/UDP [2001:db8::1]:5080;branch=z9hG4bK1", "[2001:db8::1]:5080"},
	} {
		v, err := sip.ParseVia([]byte(c.via))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ViaDestination(&v)
		if !ok || got.String() != c.want {
			t.Errorf("ViaDestination(%s) = %v, %v; want %s", c.via, got, ok, c.want)
		}
		if n := testing.AllocsPerRun(50, func() { ViaDestination(&v) }); n != 0 {
			t.Errorf("ViaDestination allocates %v times", n)
		}
	}
	v, _ := sip.ParseVia([]byte("SIP/2.0/UDP host.example;branch=z9hG4bK1"))
	if _, ok := ViaDestination(&v); ok {
		t.Error("a Via naming a host, with no received=, gave a destination")
	}
}

// countWriter counts what the log got, keeping only its start.
type countWriter struct {
	n, entries int
	head       strings.Builder
}

func (c *countWriter) Write(b []byte) (int, error) {
	c.n += len(b)
	c.entries++ // the Logger writes one entry per call
	if c.head.Len() < 4<<20 {
		c.head.Write(b)
	}
	return len(b), nil
}

// A flood of malformed datagrams, script errors quoting a big header
// with a CR/LF, module error lines and module panics writes a bounded log;
// values are cut, no line is forged, and each kind notes how many lines it
// held back once the flood pauses.
func TestHardening_LogFloodBounded(t *testing.T) {
	evil, malformed := floodMsgs(strings.Repeat("A", 2000))
	n := 0
	r, _ := newRouter(t, func(ctx *core.Ctx) error {
		n++
		switch n % 3 {
		case 0:
			return fmt.Errorf("script.lua:7: bad header %s\r\nJan  1 00:00:00.000 ERROR: forged", ctx.Msg.Header("X-Big"))
		case 1:
			ctx.Log(core.LErr, "siputils: bad value "+core.LogValue(ctx.Msg.Header("X-Big"))+"\n")
			return nil
		default:
			panic("module bug with " + string(ctx.Msg.Header("X-Big")))
		}
	})
	out := &countWriter{}
	r.rt.Log.Out = out
	w, err := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	flood := func(rounds int, evil, malformed []byte) {
		for i := 0; i < rounds; i++ {
			w.Handle(malformed, src, core.UDP)
			w.Handle(evil, src, core.UDP)
		}
	}
	const rounds = 100_000
	start := time.Now()
	flood(rounds, evil, malformed)
	took := time.Since(start)
	// The limits refill: the next lines carry the notes. Values of 60 kB
	// are cut as 2 kB ones are.
	time.Sleep(time.Second)
	evil, malformed = floodMsgs(strings.Repeat("A", 60_000))
	flood(3, evil, malformed)
	t.Logf("%d messages in %v: %d bytes of log in %d entries", 2*rounds, took.Round(time.Millisecond), out.n, out.entries)
	if r.Malformed.Load() < rounds || r.ScriptErrors.Load() < rounds/3 || r.Panics.Load() < rounds/3 {
		t.Fatalf("malformed %d, script errors %d, panics %d: the flood did not go where meant",
			r.Malformed.Load(), r.ScriptErrors.Load(), r.Panics.Load())
	}
	if out.n > 1<<20 {
		t.Errorf("%d messages wrote %d bytes of log, want under 1 MB", 2*rounds, out.n)
	}
	// Unlimited, that would be 2 entries a message; limited, a burst and
	// a few a second for each of the 4 kinds.
	if max := 4 * (core.LogBurst + int(took.Seconds()+2)*core.LogPerSec); out.entries > max {
		t.Errorf("%d log entries, want at most %d", out.entries, max)
	}
	log := out.head.String()
	if strings.Contains(log, "\nJan  1 00:00:00.000 ERROR: forged") {
		t.Error("a CR/LF in a script error started a line of its own")
	}
	for _, l := range strings.Split(log, "\n") {
		if len(l) > core.LogValueMax+300 {
			t.Errorf("a %d-byte line: %.300s...", len(l), l)
			break
		}
	}
	if testing.Verbose() {
		t.Logf("log tail:\n%s", log[max(0, len(log)-3000):])
	}
	if !strings.Contains(log, "...[cut 59") {
		t.Errorf("no 60 kB value marked as cut:\n%.2000s", log[max(0, len(log)-2000):])
	}
	for _, what := range []string{"malformed-message lines", "script errors", "error lines", "internal errors"} {
		if !strings.Contains(log, " more "+what+" suppressed in the last ") {
			t.Errorf("no note of held-back %s", what)
		}
	}
}

// floodMsgs are an OPTIONS with the header X-Big: big, and a datagram
// that does not parse, quoting big in its Content-Length.
func floodMsgs(big string) (evil, malformed []byte) {
	evil = []byte("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1\r\n" +
		"From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: flood\r\nCSeq: 1 OPTIONS\r\n" +
		"X-Big: " + big + "\r\nContent-Length: 0\r\n\r\n")
	malformed = []byte("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: x" + big + "\r\n\r\n")
	return evil, malformed
}

// Item 3 of issue 10: a worker does not keep the Scratch buffer a large
// message grew; a small message's stays, and routing it allocates nothing.
func TestHardening_MemScratchCapped(t *testing.T) {
	big := false
	r, _ := newRouter(t, func(ctx *core.Ctx) error {
		if big {
			ctx.Scratch = append(ctx.Scratch[:0], make([]byte, 60000)...)
		} else {
			ctx.Scratch = append(ctx.Scratch[:0], "small"...)
		}
		return nil
	})
	w, err := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	big = true
	w.Handle([]byte(options), src, core.UDP)
	if c := cap(w.ctx.Scratch); c > maxScratch {
		t.Errorf("Scratch keeps %d bytes after a large message, want at most %d", c, maxScratch)
	}
	big = false
	msg := []byte(options)
	if n := testing.AllocsPerRun(100, func() { w.Handle(msg, src, core.UDP) }); n != 0 {
		t.Errorf("routing a small message allocates %v times", n)
	}
}

// TestHardening_MaddrIgnoredForForwardedReply covers issue 10 item 1 for
// replies forwarded statelessly: the next Via's maddr is no destination
// unless reply_to_via_maddr is on.
func TestHardening_MaddrIgnoredForForwardedReply(t *testing.T) {
	v, err := sip.ParseVia([]byte("SIP/2.0/UDP 192.0.2.1:5070;maddr=127.0.0.9;branch=z9hG4bK1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ViaDestination(&v); !ok || got.String() != "192.0.2.1:5070" {
		t.Errorf("ViaDestination = %v, %v; want 192.0.2.1:5070 (maddr ignored)", got, ok)
	}
	sip.SetReplyToViaMaddr(true)
	defer sip.SetReplyToViaMaddr(false)
	if got, ok := ViaDestination(&v); !ok || got.String() != "127.0.0.9:5070" {
		t.Errorf("with reply_to_via_maddr on: ViaDestination = %v, %v; want 127.0.0.9:5070", got, ok)
	}
}

type nopWriter struct{ n int }

func (w *nopWriter) WriteTo(b []byte, to netip.AddrPort) error { w.n++; return nil }

// TestStream_HandleAsRepliesWithoutAllocating (issue 13): a message over
// TCP (kemi test's HandleAs, the router's side of HandleStream) routes
// and replies over the stream without allocating, as UDP does, and the
// reply goes to the stream writer.
func TestStream_HandleAsRepliesWithoutAllocating(t *testing.T) {
	r, _ := newRouter(t, func(ctx *core.Ctx) error {
		if ctx.ConnID != 7 || ctx.Proto != core.TCP {
			return errors.New("wrong connection")
		}
		return ctx.Out.SendTo(append(ctx.Scratch[:0], "SIP/2.0 200 OK\r\n\r\n"...), ctx.Proto, ctx.Src)
	})
	w, err := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	msg := []byte(options)
	out := &nopWriter{}
	w.HandleAs(msg, src, core.TCP, 7, out)
	if out.n != 1 || r.ScriptErrors.Load() != 0 {
		t.Fatalf("replies written %d, script errors %d", out.n, r.ScriptErrors.Load())
	}
	if n := testing.AllocsPerRun(100, func() { w.HandleAs(msg, src, core.TCP, 7, out) }); n != 0 {
		t.Errorf("routing a message over TCP allocates %v times", n)
	}
}

type recWriter struct{ got []string }

func (w *recWriter) WriteTo(b []byte, to netip.AddrPort) error {
	w.got = append(w.got, string(b))
	return nil
}

// TestXHTTP_RouterHandsHTTPToHooks (issue 14, xhttp): an HTTP request on
// a stream never reaches the request route: an HTTP hook takes it, and
// with none it gets 404; over UDP or inside a WebSocket it is dropped as
// malformed.
func TestXHTTP_RouterHandsHTTPToHooks(t *testing.T) {
	ran := 0
	r, _ := newRouter(t, func(ctx *core.Ctx) error { ran++; return nil })
	w, err := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:5999")
	get := []byte("GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
	out := &recWriter{}
	w.HandleAs(get, src, core.TCP, 7, out)
	if ran != 0 || len(out.got) != 1 || !strings.HasPrefix(out.got[0], "HTTP/1.1 404 ") {
		t.Fatalf("no hook: request route ran %d times, sent %q", ran, out.got)
	}
	hooked := 0
	reg, err := core.NewRegistry(&core.ModuleSpec{Name: "httptest", HTTPHooks: []core.HTTPHook{func(ctx *core.Ctx) bool {
		hooked++
		return ctx.Msg.IsHTTP() && ctx.Route == core.EventRoute
	}}})
	if err != nil {
		t.Fatal(err)
	}
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: &logBuf{}}}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	if r, err = New(rt, &fakeProgram{run: func(*core.Ctx) error { ran++; return nil }}); err != nil {
		t.Fatal(err)
	}
	if w, err = r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060")); err != nil {
		t.Fatal(err)
	}
	out.got = nil
	w.HandleAs(get, src, core.TLS, 7, out)
	if hooked != 1 || ran != 0 || len(out.got) != 0 {
		t.Fatalf("with a hook: hook ran %d, request route %d, sent %q", hooked, ran, out.got)
	}
	before := r.Malformed.Load()
	w.HandleAs(get, src, core.WS, 7, out)
	w.Handle(get, src, core.UDP)
	if hooked != 1 || ran != 0 || r.Malformed.Load() != before+2 {
		t.Fatalf("over ws and udp: hook ran %d, request route %d, malformed %d", hooked, ran, r.Malformed.Load()-before)
	}
}
