package nathelper

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
	"kemi/exports/usrloc"
)

// natSrc is where a client behind NAT appears to come from.
var natSrc = netip.MustParseAddrPort("203.0.113.5:40000")

// natRegister is a REGISTER from a phone at 192.168.1.10 behind a NAT.
func natRegister(contact ...string) []byte {
	if len(contact) == 0 {
		contact = []string{"Contact: <sip:alice@192.168.1.10:5060;transport=udp>;expires=3600"}
	}
	return ksrtest.Request(append([]string{
		"REGISTER sip:example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKnat1;rport",
		"From: <sip:alice@example.com>;tag=1",
		"To: <sip:alice@example.com>",
		"Call-ID: nat-reg@192.168.1.10",
		"CSeq: 1 REGISTER",
	}, append(contact, "Content-Length: 0")...)...)
}

func natCtx(t testing.TB, raw []byte) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard, core.Known("nathelper"))
	ctx.Src = natSrc
	return ctx
}

func contactLine(t *testing.T, ctx *core.Ctx) string {
	t.Helper()
	out := ksrtest.Serialize(ctx)
	for _, l := range strings.Split(out, "\r\n") {
		if strings.HasPrefix(l, "Contact:") || strings.HasPrefix(l, "m:") {
			return l
		}
	}
	t.Fatalf("no Contact in\n%s", out)
	return ""
}

func TestNatUACTestFlags(t *testing.T) {
	sdp := func(c string) []byte {
		body := "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\n" + c + "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
		raw := string(ksrtest.Invite("Content-Type: application/sdp"))
		raw = strings.Replace(raw, "Content-Length: 0\r\n", "", 1)
		raw = strings.TrimSuffix(raw, "\r\n") + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		return []byte(raw)
	}
	for _, c := range []struct {
		name  string
		raw   []byte
		src   string
		proto core.Proto
		du    string
		flags int
		want  int
	}{
		{"behind NAT, usual 19", natRegister(), "", 0, "", 19, 1},
		{"contact private", natRegister(), "", 0, "", 1, 1},
		{"via address differs", natRegister(), "", 0, "", 2, 1},
		{"via private", natRegister(), "", 0, "", 4, 1},
		{"via port differs", natRegister(), "", 0, "", 16, 1},
		{"source not private", natRegister(), "", 0, "", 32, -1},
		{"contact port differs", natRegister(), "", 0, "", 128, 1},
		{"no NAT, 19", ksrtest.Invite(), "192.0.2.10:5062", 0, "", 19 | 128 | 32 | 4, -1},
		{"via port 0 means 5060", natRegister(), "192.168.1.10:5060", 0, "", 16 | 2, -1},
		{"source private", natRegister(), "10.1.2.3:5060", 0, "", 32, 1},
		{"shared address space", natRegister(), "100.64.0.1:5060", 0, "", 32, 1},
		{"websocket", ksrtest.Invite(), "192.0.2.10:5062", core.WS, "", 64, 1},
		{"sdp private", sdp("c=IN IP4 192.168.1.10\r\n"), "192.0.2.10:5062", 0, "", 8, 1},
		{"sdp public", sdp("c=IN IP4 192.0.2.10\r\n"), "192.0.2.10:5062", 0, "", 8 | 256, -1},
		{"sdp c= not source", sdp("c=IN IP4 192.0.2.99\r\n"), "192.0.2.10:5062", 0, "", 256, 1},
		{"sdp hold 0.0.0.0", sdp("c=IN IP4 0.0.0.0\r\n"), "192.0.2.10:5062", 0, "", 8, -1},
		{"dest differs", ksrtest.Invite(), "192.0.2.10:5062", 0, "sip:192.0.2.77:5060", 512, 1},
		{"dest is ruri", ksrtest.Invite(), "192.0.2.10:5062", 0, "", 512, -1},
		{"malformed contact", natRegister("Contact: <sip:alice@"), "192.168.1.10:5060", 0, "", 1 | 128, -1},
		{"star contact", natRegister("Contact: *"), "192.168.1.10:5060", 0, "", 1 | 128, -1},
		{"no contact", natRegister("X: y"), "192.168.1.10:5060", 0, "", 1 | 128, -1},
		{"via host name", []byte(strings.Replace(string(natRegister()), "192.168.1.10:5060;branch", "phone.example.com;branch", 1)), "192.168.1.10:5060", 0, "", 2, 1},
	} {
		ctx := natCtx(t, []byte(c.raw))
		if c.src != "" {
			ctx.Src = netip.MustParseAddrPort(c.src)
		}
		if c.proto != 0 {
			ctx.Proto = c.proto
		}
		ctx.DstURI = c.du
		if got := NatUACTest(ctx, c.flags); got != c.want {
			t.Errorf("%s: nat_uac_test(%d) = %d, want %d", c.name, c.flags, got, c.want)
		}
	}
}

func TestSetContactAlias(t *testing.T) {
	for _, c := range []struct {
		name    string
		contact string
		src     string
		proto   core.Proto
		want    string
	}{
		{"angle", "Contact: <sip:alice@192.168.1.10:5060;transport=udp>;expires=3600", "", 0,
			"Contact: <sip:alice@192.168.1.10:5060;transport=udp;alias=203.0.113.5~40000~1>;expires=3600"},
		{"bare with header params", "Contact: sip:alice@192.168.1.10;expires=60", "", 0,
			"Contact: <sip:alice@192.168.1.10;alias=203.0.113.5~40000~1>;expires=60"},
		{"display name, two values", `Contact: "Al, Ice" <sip:a@10.0.0.1>, <sip:b@10.0.0.2>`, "", 0,
			`Contact: "Al, Ice" <sip:a@10.0.0.1;alias=203.0.113.5~40000~1>, <sip:b@10.0.0.2>`},
		{"compact form over tcp", "m: <sip:alice@192.168.1.10:5060>", "", core.TCP,
			"Contact: <sip:alice@192.168.1.10:5060;alias=203.0.113.5~40000~2>"},
		{"ipv6 source", "Contact: <sip:alice@192.168.1.10>", "[2001:db8::1]:5062", 0,
			"Contact: <sip:alice@192.168.1.10;alias=[2001:db8::1]~5062~1>"},
	} {
		ctx := natCtx(t, natRegister(c.contact))
		if c.src != "" {
			ctx.Src = netip.MustParseAddrPort(c.src)
		}
		if c.proto != 0 {
			ctx.Proto = c.proto
		}
		if got := SetContactAlias(ctx); got != 1 {
			t.Errorf("%s: set_contact_alias = %d", c.name, got)
			continue
		}
		if got := contactLine(t, ctx); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		if SetContactAlias(ctx) != -1 {
			t.Errorf("%s: a second change was not refused", c.name)
		}
	}
	for _, bad := range []string{"Contact: <sip:alice@", "Contact: *", "X-No-Contact: 1", "Contact: <tel:+123>", "Contact: <sip:a@b>;;"} {
		ctx := natCtx(t, natRegister(bad))
		if got := SetContactAlias(ctx); got != -1 {
			t.Errorf("%q: set_contact_alias = %d, want -1", bad, got)
		}
		if got := FixNatedContact(ctx); got != -1 {
			t.Errorf("%q: fix_nated_contact = %d, want -1", bad, got)
		}
		if ksrtest.Serialize(ctx) != string(natRegister(bad)) {
			t.Errorf("%q: the message changed", bad)
		}
	}
	// A new message may be changed again.
	ctx := natCtx(t, natRegister())
	SetContactAlias(ctx)
	ctx.Reset(ctx.Msg, natSrc, ksrtest.Local, core.UDP)
	ctx.Msg.Parse(natRegister())
	if SetContactAlias(ctx) != 1 {
		t.Error("the next message's Contact could not be changed")
	}
}

func TestSetContactAliasTrim(t *testing.T) {
	ctx := natCtx(t, natRegister("Contact: <sip:alice@192.168.1.10;alias=10.9.9.9~5060~1;lr>"))
	if SetContactAliasTrim(ctx) != 1 {
		t.Fatal("failed")
	}
	if got, want := contactLine(t, ctx), "Contact: <sip:alice@192.168.1.10;lr;alias=203.0.113.5~40000~1>"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestFixNatedContact(t *testing.T) {
	for contact, want := range map[string]string{
		"Contact: <sip:alice@192.168.1.10:5060;maddr=10.0.0.1;transport=udp>;expires=60": "Contact: <sip:alice@203.0.113.5:40000;transport=udp>;expires=60",
		"Contact: sip:alice@192.168.1.10":                                                "Contact: <sip:alice@203.0.113.5:40000>",
		"Contact: <sip:192.168.1.10?Subject=x>":                                          "Contact: <sip:203.0.113.5:40000?Subject=x>",
	} {
		ctx := natCtx(t, natRegister(contact))
		if FixNatedContact(ctx) != 1 {
			t.Errorf("%s: failed", contact)
			continue
		}
		if got := contactLine(t, ctx); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestAddContactAlias(t *testing.T) {
	ctx := natCtx(t, natRegister("Contact: <sip:alice@192.168.1.10:5060;transport=tcp>"))
	if AddContactAlias(ctx) != 1 {
		t.Fatal("add_contact_alias failed")
	}
	if got, want := contactLine(t, ctx), "Contact: <sip:alice@192.168.1.10:5060;alias=203.0.113.5~40000~1;transport=tcp>"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// Already the source: nothing to do.
	ctx = natCtx(t, natRegister("Contact: <sip:alice@203.0.113.5:40000>"))
	if AddContactAlias(ctx) != 2 || ctx.Msg.PendingEdits() {
		t.Error("alias added to a Contact that is the source")
	}
	for _, c := range []string{"Contact: *", "X: 1"} {
		if got := AddContactAlias(natCtx(t, natRegister(c))); got != 2 {
			t.Errorf("%q: add_contact_alias = %d, want 2", c, got)
		}
	}
	ctx = natCtx(t, natRegister())
	if AddContactAliasAddr(ctx, "2001:db8::7", "5070", "TLS") != 1 {
		t.Fatal("add_contact_alias_addr failed")
	}
	if got := contactLine(t, ctx); !strings.Contains(got, ";alias=[2001:db8::7]~5070~3;transport=udp>") {
		t.Errorf("got %s", got)
	}
	for _, a := range [][3]string{{"x", "5060", "udp"}, {"1.2.3.4", "0", "udp"}, {"1.2.3.4", "5060", "carrier-pigeon"}} {
		if AddContactAliasAddr(natCtx(t, natRegister()), a[0], a[1], a[2]) != -1 {
			t.Errorf("add_contact_alias_addr%v accepted", a)
		}
	}
}

func inDialog(ruri string) []byte {
	return ksrtest.Request(
		"BYE "+ruri+" SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKbye",
		"From: <sip:bob@example.com>;tag=2",
		"To: <sip:alice@example.com>;tag=1",
		"Call-ID: c@x",
		"CSeq: 2 BYE",
		"Content-Length: 0",
	)
}

func TestHandleRURIAlias(t *testing.T) {
	for _, c := range []struct {
		ruri, du, newRURI string
		mode, want        int
	}{
		{"sip:alice@192.168.1.10:5060;alias=203.0.113.5~40000~1;lr", "sip:203.0.113.5:40000", "sip:alice@192.168.1.10:5060;lr", 0, 1},
		{"sip:alice@192.168.1.10;transport=tcp;alias=203.0.113.5~40000~2", "sip:203.0.113.5:40000;transport=tcp", "sip:alice@192.168.1.10;transport=tcp", 0, 1},
		{"sip:alice@h;alias=2001:db8::1~5060~1", "sip:[2001:db8::1]:5060", "sip:alice@h", 0, 1},
		{"sip:alice@h;alias=[2001:db8::1]~5060~6", "sip:[2001:db8::1]:5060;transport=wss", "sip:alice@h", 0, 1},
		{"sip:a@h;alias=1.1.1.1~1~1;alias=2.2.2.2~2~1", "sip:2.2.2.2:2", "sip:a@h;alias=1.1.1.1~1~1", 1, 1},
		{"sip:a@h;alias=1.1.1.1~1~1;alias=2.2.2.2~2~1", "sip:1.1.1.1:1", "sip:a@h;alias=2.2.2.2~2~1", 0, 1},
		{"sip:alice@h", "", "sip:alice@h", 0, 2},
		{"sip:alice@h;lr;aliasx=1", "", "sip:alice@h;lr;aliasx=1", 0, 2},
		{"sip:alice@h;alias=1.2.3.4~x~1", "", "sip:alice@h;alias=1.2.3.4~x~1", 0, -1},
		{"sip:alice@h;alias=1.2.3.4~5060", "", "sip:alice@h;alias=1.2.3.4~5060", 0, -1},
		{"sip:alice@h;alias=1.2.3.4~5060~9", "", "sip:alice@h;alias=1.2.3.4~5060~9", 0, -1},
		{"sip:alice@h;alias=", "", "sip:alice@h;alias=", 0, -1},
	} {
		ctx := natCtx(t, inDialog(c.ruri))
		if got := HandleRURIAliasMode(ctx, c.mode); got != c.want {
			t.Errorf("%s: handle_ruri_alias = %d, want %d", c.ruri, got, c.want)
		}
		if ctx.DstURI != c.du || string(ctx.Msg.RequestURI()) != c.newRURI {
			t.Errorf("%s: $du %q, R-URI %q; want %q, %q", c.ruri, ctx.DstURI, ctx.Msg.RequestURI(), c.du, c.newRURI)
		}
	}
}

// The Contact alias set on the way in comes back as the R-URI of an
// in-dialog request, and handle_ruri_alias sends it through the NAT.
func TestAliasRoundTrip(t *testing.T) {
	ctx := natCtx(t, natRegister("Contact: <sip:alice@192.168.1.10:5060>"))
	ctx.Proto = core.TCP
	SetContactAlias(ctx)
	line := contactLine(t, ctx)
	ruri := line[strings.IndexByte(line, '<')+1 : strings.IndexByte(line, '>')]
	ctx = natCtx(t, inDialog(ruri))
	if HandleRURIAlias(ctx) != 1 || ctx.DstURI != "sip:203.0.113.5:40000;transport=tcp" || string(ctx.Msg.RequestURI()) != "sip:alice@192.168.1.10:5060" {
		t.Errorf("round trip of %s: $du %q, R-URI %q", ruri, ctx.DstURI, ctx.Msg.RequestURI())
	}
}

func TestFixNatedRegister(t *testing.T) {
	ctx := natCtx(t, natRegister())
	ctx.RT.Params = map[string]map[string][]core.Value{"nathelper": {"received_avp": {core.Str("$avp(RECEIVED)")}}}
	if FixNatedRegister(ctx) != 1 {
		t.Fatal("fix_nated_register failed")
	}
	if got := usrloc.Received(ctx); got != "sip:203.0.113.5:40000" {
		t.Errorf("usrloc got %q", got)
	}
	if v, ok := pv.AVP(ctx, "RECEIVED"); !ok || v != core.Str("sip:203.0.113.5:40000") {
		t.Errorf("$avp(RECEIVED) = %v, %v", v, ok)
	}
	ctx.Reset(ctx.Msg, netip.MustParseAddrPort("[2001:db8::5]:7000"), ksrtest.Local, core.TLS)
	FixNatedRegister(ctx)
	if got := usrloc.Received(ctx); got != "sip:[2001:db8::5]:7000;transport=tls" {
		t.Errorf("usrloc got %q", got)
	}
	if ksrtest.Serialize(ctx) != string(natRegister()) {
		t.Error("fix_nated_register changed the message")
	}
}

func TestIsRFC1918(t *testing.T) {
	ctx := natCtx(t, natRegister())
	for ip, want := range map[string]int{
		"10.0.0.1": 1, "172.16.5.4": 1, "172.32.0.1": -1, "192.168.0.1": 1, "100.127.255.255": 1,
		"100.128.0.1": -1, "192.0.0.7": 1, "192.0.0.9": 1, "8.8.8.8": -1, "fd00::1": -1, "x": -1,
	} {
		if got := IsRFC1918(ctx, ip); got != want {
			t.Errorf("is_rfc1918(%s) = %d, want %d", ip, got, want)
		}
	}
	ctx = natCtx(t, natRegister())
	ctx.RT.Params = map[string]map[string][]core.Value{"nathelper": {"nat_addr_mode": {core.Int(0)}}}
	if IsRFC1918(ctx, "192.0.0.9") != -1 || IsRFC1918(ctx, "192.0.0.7") != 1 {
		t.Error("nat_addr_mode 0 still counts 192.0.0.0/24")
	}
}

func TestAllocs(t *testing.T) {
	raw := natRegister()
	ctx := natCtx(t, raw)
	run := func() {
		ctx.Msg.Parse(raw)
		ctx.Reset(ctx.Msg, natSrc, ksrtest.Local, core.UDP)
		if NatUACTest(ctx, 19) > 0 {
			SetContactAlias(ctx)
		}
		ctx.Msg.AppendTo(ctx.Scratch[:0])
	}
	run()
	ctx.Scratch = ctx.Msg.AppendTo(nil)
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("nat_uac_test + set_contact_alias allocate %v times per message", n)
	}
}

func BenchmarkNatDetect(b *testing.B) {
	raw := natRegister()
	ctx := natCtx(b, raw)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ctx.Msg.Parse(raw)
		ctx.Reset(ctx.Msg, natSrc, ksrtest.Local, core.UDP)
		if NatUACTest(ctx, 19) > 0 {
			SetContactAlias(ctx)
		}
	}
}

func TestSetAliasToPV(t *testing.T) {
	ctx := natCtx(t, natRegister("Contact: <sip:alice@192.168.1.10;alias=203.0.113.5~40000~2;ob>"))
	if SetAliasToPV(ctx, "$avp(alias)") != 1 {
		t.Fatal("set_alias_to_pv failed")
	}
	if v, _ := pv.AVP(ctx, "alias"); v != core.Str("sip:203.0.113.5:40000;transport=tcp") {
		t.Errorf("$avp(alias) = %v", v)
	}
	for contact, pvname := range map[string]string{
		"Contact: <sip:alice@192.168.1.10>":                   "$avp(alias)",
		"Contact: <sip:a@h;alias=1.2.3.4~5~1>, <sip:b@h>":     "$avp(alias)",
		"Contact: <sip:alice@192.168.1.10;alias=1.2.3.4~5~1>": "$nosuchpv",
		"Contact: <sip:alice@192.168.1.10;alias=1.2.3.4~x~1>": "$avp(alias)",
		"Contact: *": "$avp(alias)",
		"Contact: <sip:alice@192.168.1.10;alias>": "$avp(alias)",
	} {
		if got := SetAliasToPV(natCtx(t, natRegister(contact)), pvname); got != -1 {
			t.Errorf("%s → %s: %d, want -1", contact, pvname, got)
		}
	}
}

func sdpInvite(body string) []byte {
	raw := string(ksrtest.Invite("Content-Type: application/sdp"))
	raw = strings.Replace(raw, "Content-Length: 0\r\n", "", 1)
	return []byte(strings.TrimSuffix(raw, "\r\n") + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

const natSDP = "v=0\r\n" +
	"o=alice 1 1 IN IP4 192.168.1.10\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.168.1.10\r\n" +
	"t=0 0\r\n" +
	"m=audio 4000 RTP/AVP 0\r\n" +
	"a=rtcp:4001 IN IP4 192.168.1.10\r\n" +
	"m=video 4002 RTP/AVP 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n"

func body(t *testing.T, ctx *core.Ctx) string {
	out := ksrtest.Serialize(ctx)
	i := strings.Index(out, "\r\n\r\n")
	head := out[:i]
	b := out[i+4:]
	if !strings.Contains(head, "Content-Length: "+strconv.Itoa(len(b))+"\r\n") && !strings.HasSuffix(head, "Content-Length: "+strconv.Itoa(len(b))) {
		t.Errorf("Content-Length does not match a body of %d bytes:\n%s", len(b), head)
	}
	return b
}

func TestFixNatedSDP(t *testing.T) {
	ctx := natCtx(t, sdpInvite(natSDP))
	if got := FixNatedSDP(ctx, 2); got != 1 {
		t.Fatalf("fix_nated_sdp(2) = %d", got)
	}
	want := "v=0\r\n" +
		"o=alice 1 1 IN IP4 192.168.1.10\r\n" +
		"s=-\r\n" +
		"c=IN IP4 203.0.113.5\r\n" +
		"t=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0\r\n" +
		"a=rtcp:4001 IN IP4 203.0.113.5\r\n" +
		"m=video 4002 RTP/AVP 96\r\n" +
		"c=IN IP4 0.0.0.0\r\n" +
		"a=oldmediaip:192.168.1.10\r\n" +
		"a=oldmediaip:192.168.1.10\r\n"
	if got := body(t, ctx); got != want {
		t.Errorf("fix_nated_sdp(2) body:\n%s\nwant\n%s", got, want)
	}

	ctx = natCtx(t, sdpInvite(natSDP))
	ctx.RT.Params = map[string]map[string][]core.Value{"nathelper": {"append_sdp_oldmediaip": {core.Int(0)}}}
	if got := FixNatedSDPIP(ctx, 1|2|4|8, "2001:db8::9"); got != 1 {
		t.Fatalf("fix_nated_sdp_ip(15) = %d", got)
	}
	want = "v=0\r\n" +
		"o=alice 1 1 IN IP6 2001:db8::9\r\n" +
		"s=-\r\n" +
		"c=IN IP6 2001:db8::9\r\n" +
		"t=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0\r\n" +
		"a=rtcp:4001 IN IP6 2001:db8::9\r\n" +
		"a=direction:active\r\n" +
		"m=video 4002 RTP/AVP 96\r\n" +
		"c=IN IP4 0.0.0.0\r\n" +
		"a=direction:active\r\n" +
		"a=nortpproxy:yes\r\n"
	if got := body(t, ctx); got != want {
		t.Errorf("fix_nated_sdp_ip(15) body:\n%s\nwant\n%s", got, want)
	}

	// Already the source: nothing to replace.
	ctx = natCtx(t, sdpInvite(strings.ReplaceAll(natSDP, "192.168.1.10", "203.0.113.5")))
	if got := FixNatedSDP(ctx, 2); got != 2 || ctx.Msg.PendingEdits() {
		t.Errorf("fix_nated_sdp on a public SDP = %d, edits %v", got, ctx.Msg.PendingEdits())
	}
	if FixNatedSDP(natCtx(t, natRegister()), 2) != -1 || FixNatedSDPIP(natCtx(t, sdpInvite(natSDP)), 2, "x") != -1 {
		t.Error("no SDP or a bad IP was not -1")
	}
}

func TestAddRcvParam(t *testing.T) {
	ctx := natCtx(t, natRegister("Contact: <sip:a@192.168.1.10>;expires=60, sip:b@192.168.1.10", "m: \"B\" <sip:c@10.0.0.1;ob>"))
	if AddRcvParam(ctx, 0) != 1 {
		t.Fatal("add_rcv_param(0) failed")
	}
	out := ksrtest.Serialize(ctx)
	for _, want := range []string{
		"Contact: <sip:a@192.168.1.10>;expires=60;received=\"sip:203.0.113.5:40000\", sip:b@192.168.1.10;received=\"sip:203.0.113.5:40000\"\r\n",
		"Contact: \"B\" <sip:c@10.0.0.1;ob>;received=\"sip:203.0.113.5:40000\"\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if AddRcvParam(ctx, 0) != -1 {
		t.Error("a second change was not refused")
	}
	ctx = natCtx(t, natRegister("Contact: <sip:a@192.168.1.10>;expires=60, sip:b@192.168.1.10"))
	if AddRcvParam(ctx, 1) != 1 {
		t.Fatal("add_rcv_param(1) failed")
	}
	if got, want := contactLine(t, ctx), "Contact: <sip:a@192.168.1.10;received=sip:203.0.113.5:40000>;expires=60, <sip:b@192.168.1.10;received=sip:203.0.113.5:40000>"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	ctx = natCtx(t, natRegister())
	ctx.Proto = core.TCP
	if AddRcvParam(ctx, 1) != -1 {
		t.Error("uri_param over TCP accepted")
	}
	for _, c := range []string{"Contact: *", "X: 1", "Contact: <sip:a@"} {
		if AddRcvParam(natCtx(t, natRegister(c)), 0) != -1 {
			t.Errorf("%q accepted", c)
		}
	}
}
