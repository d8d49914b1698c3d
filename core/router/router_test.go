package router

import (
	"net/netip"
	"strings"
	"testing"

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
