package nathelper

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// runAll calls every function on the message; none may panic, whatever
// the message holds, and each gives one of its documented codes.
func runAll(t testing.TB, raw []byte) {
	m := new(sip.Msg)
	if m.Parse(raw) != nil {
		return
	}
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("nathelper"))
	for _, src := range []string{"203.0.113.5:40000", "[2001:db8::1]:5060"} {
		for _, fn := range []func(*core.Ctx) int{
			func(c *core.Ctx) int { return NatUACTest(c, 0x3ff) },
			FixNatedRegister, FixNatedContact, SetContactAlias, SetContactAliasTrim,
			AddContactAlias, HandleRURIAlias,
			func(c *core.Ctx) int { return HandleRURIAliasMode(c, 1) },
			func(c *core.Ctx) int { return AddContactAliasAddr(c, "192.0.2.1", "5060", "tcp") },
			func(c *core.Ctx) int { return SetAliasToPV(c, "$avp(x)") },
			func(c *core.Ctx) int { return FixNatedSDP(c, 15) },
			func(c *core.Ctx) int { return AddRcvParam(c, 0) },
			func(c *core.Ctx) int { return FixNatedSDPIP(c, 10, "2001:db8::1") },
		} {
			m.Parse(raw)
			ctx.Reset(m, netip.MustParseAddrPort(src), ksrtest.Local, core.TCP)
			ctx.DstURI = "sip:192.0.2.9;transport=ws"
			if rc := fn(ctx); rc == 0 || rc < -1 || rc > 2 {
				t.Errorf("return code %d", rc)
			}
			ctx.Msg.AppendTo(nil)
		}
	}
}

func TestTortureMessages(t *testing.T) {
	n := 0
	for _, dir := range []string{"rfc4475", "rfc5118"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "sip", "testdata", dir, "*"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			runAll(t, raw)
			n++
		}
	}
	if n == 0 {
		t.Skip("no torture messages found")
	}
}

func FuzzNathelper(f *testing.F) {
	f.Add(natRegister())
	f.Add(natRegister("Contact: <sip:a@[2001:db8::1]:5060;maddr=x;alias=1~2~3>, sip:b@c"))
	f.Add(inDialog("sip:alice@h;alias=[::1]~5060~2;x?h=1"))
	f.Add(sdpInvite(natSDP))
	f.Add(ksrtest.Invite("Content-Type: application/sdp"))
	f.Fuzz(func(t *testing.T, raw []byte) { runAll(t, raw) })
}
