package kcore

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func request(method string) []byte {
	return ksrtest.Request(
		method+" sip:bob@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@192.0.2.1>",
		"Call-ID: x@y",
		"CSeq: 1 "+method,
		"Content-Length: 0",
	)
}

func reply(cseqMethod string) []byte {
	return ksrtest.Request(
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>;tag=2",
		"Call-ID: x@y",
		"CSeq: 1 "+cseqMethod,
		"Content-Length: 0",
	)
}

func TestMethodChecks(t *testing.T) {
	checks := map[string]func(*core.Ctx) bool{
		"ACK": IsACK, "BYE": IsBYE, "CANCEL": IsCANCEL, "DELETE": IsDELETE, "GET": IsGET,
		"INFO": IsINFO, "INVITE": IsINVITE, "KDMQ": IsKDMQ, "MESSAGE": IsMESSAGE,
		"NOTIFY": IsNOTIFY, "OPTIONS": IsOPTIONS, "POST": IsPOST, "PRACK": IsPRACK,
		"PUBLISH": IsPUBLISH, "PUT": IsPUT, "REFER": IsREFER, "REGISTER": IsREGISTER,
		"SUBSCRIBE": IsSUBSCRIBE, "UPDATE": IsUPDATE,
	}
	for method := range checks {
		for _, raw := range [][]byte{request(method), reply(method)} {
			ctx := ksrtest.Ctx(t, raw, nil)
			for other, check := range checks {
				if got := check(ctx); got != (other == method) {
					t.Errorf("%s message: is_%s = %v", method, other, got)
				}
			}
		}
	}
}

func TestIsMethod(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	for arg, want := range map[string]bool{
		"INVITE": true, "invite": true, "BYE|INVITE": true, "BYE | invite": true,
		"BYE": false, "INV": false, "": false, "INVITE2": false,
	} {
		if got := IsMethod(ctx, arg); got != want {
			t.Errorf("is_method(%q) = %v", arg, got)
		}
	}
	ctx = ksrtest.Ctx(t, request("FOO"), nil)
	if !IsMethod(ctx, "foo") || IsMethod(ctx, "INVITE") {
		t.Errorf("is_method on a method kemi does not know")
	}
}

func TestIsMethodIn(t *testing.T) {
	for _, c := range []struct {
		method, letters string
		want            bool
	}{
		{"INVITE", "I", true}, {"INVITE", "bci", true}, {"INVITE", "BC", false},
		{"PRACK", "E", true}, {"PUBLISH", "P", true}, {"REFER", "F", true},
		{"POST", "T", true}, {"PUT", "V", true}, {"KDMQ", "k", true},
		{"REGISTER", "r", true}, {"OPTIONS", "O", true}, {"FOO", "IABCMREPSNOFGUKDTV", false},
	} {
		ctx := ksrtest.Ctx(t, request(c.method), nil)
		if got := IsMethodIn(ctx, c.letters); got != c.want {
			t.Errorf("%s: is_method_in(%q) = %v", c.method, c.letters, got)
		}
	}
}

func TestFlags(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	if !Setflag(ctx, 3) || !Isflagset(ctx, 3) || Isflagset(ctx, 4) {
		t.Errorf("setflag(3): flags %b", ctx.Flags)
	}
	if !Setflag(ctx, 63) || !Isflagset(ctx, 63) {
		t.Errorf("flag 63")
	}
	if !Resetflag(ctx, 3) || Isflagset(ctx, 3) || !Isflagset(ctx, 63) {
		t.Errorf("resetflag(3): flags %b", ctx.Flags)
	}
	if Setflag(ctx, 64) || Setflag(ctx, -1) || Isflagset(ctx, 64) || Resetflag(ctx, 99) {
		t.Errorf("out-of-range flags accepted")
	}
	if !Setbflag(ctx, 5) || !Isbflagset(ctx, 5) || Isflagset(ctx, 5) {
		t.Errorf("branch flags mix with message flags: %b %b", ctx.Flags, ctx.BranchFlags)
	}
	if !Resetbflag(ctx, 5) || Isbflagset(ctx, 5) || Setbflag(ctx, 64) {
		t.Errorf("resetbflag")
	}
}

func TestProtoAndPorts(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	if !IsUDP(ctx) || IsTCP(ctx) || IsTLS(ctx) || IsWS(ctx) || IsWSS(ctx) || IsSCTP(ctx) || IsTCPX(ctx) || IsWSX(ctx) {
		t.Errorf("UDP message: wrong transport checks")
	}
	if !IsProto(ctx, "tu") || IsProto(ctx, "TEVW") {
		t.Errorf("is_proto over UDP")
	}
	ctx.Proto = core.TLS
	if !IsTLS(ctx) || !IsTCPX(ctx) || !IsProto(ctx, "e") || IsUDP(ctx) {
		t.Errorf("TLS message: wrong transport checks")
	}
	ctx.Proto = core.WS
	if !IsWS(ctx) || !IsWSX(ctx) || !IsTCPX(ctx) || !IsProto(ctx, "V") {
		t.Errorf("WS message: wrong transport checks")
	}
	if !IsIPv4(ctx) || IsIPv6(ctx) {
		t.Errorf("IPv4 socket")
	}
	ctx.Local = netip.MustParseAddrPort("[2001:db8::1]:5060")
	if IsIPv4(ctx) || !IsIPv6(ctx) {
		t.Errorf("IPv6 socket")
	}
	if !IsSrcPort(ctx, 5062) || IsSrcPort(ctx, 5060) || !IsDstPort(ctx, 5060) || IsDstPort(ctx, 5062) {
		t.Errorf("port checks")
	}
}

func TestURIEdits(t *testing.T) {
	for _, c := range []struct {
		name, ruri string
		edit       func(*core.Ctx) bool
		ok         bool
		want       string
	}{
		{"seturi", "sip:bob@example.com", func(c *core.Ctx) bool { return Seturi(c, "sip:carol@10.0.0.1:5070") }, true, "sip:carol@10.0.0.1:5070"},
		{"seturi empty", "sip:bob@example.com", func(c *core.Ctx) bool { return Seturi(c, "") }, false, "sip:bob@example.com"},
		{"setuser", "sip:bob@example.com;transport=udp", func(c *core.Ctx) bool { return Setuser(c, "alice") }, true, "sip:alice@example.com;transport=udp"},
		{"setuser keeps password", "sip:bob:secret@example.com", func(c *core.Ctx) bool { return Setuser(c, "alice") }, true, "sip:alice:secret@example.com"},
		{"setuser adds", "sip:example.com:5080", func(c *core.Ctx) bool { return Setuser(c, "alice") }, true, "sip:alice@example.com:5080"},
		{"setuser removes", "sip:bob:pw@example.com", func(c *core.Ctx) bool { return Setuser(c, "") }, true, "sip:example.com"},
		{"setuser user params", "sip:+123;npdi@example.com;user=phone", func(c *core.Ctx) bool { return Setuser(c, "+456") }, true, "sip:+456@example.com;user=phone"},
		{"sethost", "sip:bob@example.com:5080;lr?subject=x", func(c *core.Ctx) bool { return Sethost(c, "10.0.0.2") }, true, "sip:bob@10.0.0.2:5080;lr?subject=x"},
		{"sethost ipv6", "sips:bob@[2001:db8::1]:5061", func(c *core.Ctx) bool { return Sethost(c, "example.net") }, true, "sips:bob@example.net:5061"},
		{"sethost no user", "sip:example.com", func(c *core.Ctx) bool { return Sethost(c, "[2001:db8::2]") }, true, "sip:[2001:db8::2]"},
		{"sethost empty", "sip:example.com", func(c *core.Ctx) bool { return Sethost(c, "") }, false, "sip:example.com"},
		{"tel not edited", "tel:+123", func(c *core.Ctx) bool { return Sethost(c, "x") }, false, "tel:+123"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := bytes.Replace(request("INVITE"), []byte("sip:bob@example.com SIP"), []byte(c.ruri+" SIP"), 1)
			ctx := ksrtest.Ctx(t, raw, nil)
			if got := c.edit(ctx); got != c.ok {
				t.Errorf("returned %v, want %v", got, c.ok)
			}
			if got := string(ctx.Msg.RequestURI()); got != c.want {
				t.Errorf("Request-URI %q, want %q", got, c.want)
			}
			if out := ksrtest.Serialize(ctx); !strings.HasPrefix(out, "INVITE "+c.want+" SIP/2.0\r\n") {
				t.Errorf("relayed first line: %q", out[:strings.Index(out, "\r\n")])
			}
		})
	}
}

func TestURIEditsChain(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	Setuser(ctx, "alice")
	Sethost(ctx, "10.0.0.2")
	// A reply built in Scratch between edits must not disturb the URI.
	ctx.Scratch = append(ctx.Scratch[:0], "garbage garbage garbage"...)
	if got := string(ctx.Msg.RequestURI()); got != "sip:alice@10.0.0.2" {
		t.Errorf("Request-URI %q", got)
	}
}

func TestDstURI(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	if Isdsturiset(ctx) || Setdsturi(ctx, "") {
		t.Fatal("empty dst uri")
	}
	if !Setdsturi(ctx, "sip:10.0.0.9:5060") || !Isdsturiset(ctx) || ctx.DstURI != "sip:10.0.0.9:5060" {
		t.Errorf("setdsturi: %q", ctx.DstURI)
	}
	if !Resetdsturi(ctx) || Isdsturiset(ctx) {
		t.Errorf("resetdsturi")
	}
}

func TestForceRportAndDrop(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	if !ForceRport(ctx) || !ctx.ForceRport {
		t.Errorf("force_rport")
	}
	SetDrop(ctx)
	if !ctx.Dropped() || ctx.Stopped() {
		t.Errorf("set_drop: dropped %v stopped %v", ctx.Dropped(), ctx.Stopped())
	}
}

func TestMyselfWithoutHook(t *testing.T) {
	// Local is 192.0.2.1:5060; the To URI names it.
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	for uri, want := range map[string]bool{
		"sip:192.0.2.1": true, "sip:bob@192.0.2.1:5060": true, "sips:192.0.2.1;transport=tls": true,
		"192.0.2.1": true, "sip:192.0.2.1:5070": false, "sip:example.com": false, "": false, "sip:": false,
	} {
		if got := IsMyself(ctx, uri); got != want {
			t.Errorf("is_myself(%q) = %v", uri, got)
		}
	}
	if IsMyselfRuri(ctx) || !IsMyselfTuri(ctx) || IsMyselfFuri(ctx) || IsMyselfDuri(ctx) {
		t.Errorf("ruri/turi/furi/duri checks")
	}
	if IsMyselfNhuri(ctx) {
		t.Errorf("nhuri is the Request-URI, not local")
	}
	ctx.DstURI = "sip:192.0.2.1:5060"
	if !IsMyselfDuri(ctx) || !IsMyselfNhuri(ctx) {
		t.Errorf("duri/nhuri with a local dst uri")
	}
	if IsMyselfSrcip(ctx) || IsMyselfSuri(ctx) {
		t.Errorf("source 192.0.2.10 is not local")
	}
}

func TestMyselfHook(t *testing.T) {
	type call struct {
		host string
		port int
	}
	var calls []call
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	ctx.RT.Myself = func(host []byte, port int) bool {
		calls = append(calls, call{string(host), port})
		return string(host) == "example.com" || string(host) == "192.0.2.10" || string(host) == "[2001:db8::5]"
	}
	if !IsMyselfRuri(ctx) {
		t.Errorf("the hook says example.com is local")
	}
	if !IsMyself(ctx, "sip:alice@example.com:5080;transport=tcp") {
		t.Errorf("is_myself with port")
	}
	if !IsMyselfSrcip(ctx) || !IsMyselfSuri(ctx) {
		t.Errorf("source checks")
	}
	want := []call{{"example.com", 0}, {"example.com", 5080}, {"192.0.2.10", 0}, {"192.0.2.10", 5062}}
	if len(calls) != len(want) {
		t.Fatalf("hook calls %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d: %v, want %v", i, calls[i], want[i])
		}
	}
	ctx.Src = netip.MustParseAddrPort("[2001:db8::5]:5060")
	if !IsMyselfSrcip(ctx) {
		t.Errorf("IPv6 source is passed in brackets")
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	ctx.RT.Log = &core.Logger{Level: core.LInfo, Out: &buf}
	LogInfo(ctx, "hello\n")
	LogDbg(ctx, "hidden\n")
	LogErr(ctx, "bad")
	Log(ctx, "WARN", "careful\n")
	Log(ctx, "nonsense", "as error\n")
	Log(ctx, "dbg", "hidden too\n")
	out := buf.String()
	for _, want := range []string{" INFO: hello\n", " ERROR: bad\n", " WARNING: careful\n", " ERROR: as error\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("debug lines shown at level info:\n%s", out)
	}
	for name, level := range map[string]int{"dbg": core.LDbg, "info": core.LInfo, "notice": core.LNotice, "warn": core.LWarn, "err": core.LErr, "crit": core.LCrit, "CRIT": core.LCrit, "x": core.LErr} {
		if got := LevelOf(name); got != level {
			t.Errorf("LevelOf(%q) = %d, want %d", name, got, level)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	Seturi(ctx, "sip:warm@up") // grow Scratch once
	for name, f := range map[string]func(){
		"is_INVITE":    func() { IsINVITE(ctx) },
		"is_method":    func() { IsMethod(ctx, "BYE|INVITE") },
		"is_method_in": func() { IsMethodIn(ctx, "BI") },
		"setflag":      func() { Setflag(ctx, 1) },
		"isflagset":    func() { Isflagset(ctx, 1) },
		"seturi":       func() { Seturi(ctx, "sip:carol@10.0.0.1") },
		"sethost":      func() { Sethost(ctx, "10.0.0.2") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

func TestScriptFlagsAndDebug(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	other := ksrtest.Ctx(t, request("BYE"), nil)
	other.RT = ctx.RT // another worker, same runtime
	if !Setsflag(ctx, 2) || !Issflagset(other, 2) || Issflagset(other, 3) {
		t.Errorf("script flag not shared across contexts of one runtime")
	}
	if !Resetsflag(other, 2) || Issflagset(ctx, 2) || Setsflag(ctx, 64) {
		t.Errorf("resetsflag")
	}
	ctx.Reset(ctx.Msg, ctx.Src, ctx.Local, ctx.Proto)
	Setsflag(ctx, 5)
	ctx.Reset(ctx.Msg, ctx.Src, ctx.Local, ctx.Proto)
	if !Issflagset(ctx, 5) {
		t.Errorf("script flags must survive the next message")
	}
	ctx.RT.Log = &core.Logger{Level: core.LInfo}
	if GetDebug(ctx) != core.LInfo {
		t.Errorf("get_debug = %d", GetDebug(ctx))
	}
}

func TestNextHop(t *testing.T) {
	for _, c := range []struct {
		name, ruri, duri string
		want             map[string]bool // checks that are true; all others false
	}{
		{"no transport", "sip:bob@192.0.2.5", "", map[string]bool{"IPv4": true}},
		{"tcp", "sip:bob@example.com;transport=TCP", "", map[string]bool{"TCP": true}},
		{"sips", "sips:bob@[2001:db8::9]:5061", "", map[string]bool{"TLS": true, "IPv6": true}},
		{"dst uri wins", "sip:bob@example.com;transport=tcp", "sip:10.0.0.1;transport=ws", map[string]bool{"WS": true, "WSX": true, "IPv4": true}},
		{"wss", "sip:bob@example.com;transport=wss", "", map[string]bool{"WSS": true, "WSX": true}},
		{"udp", "sip:bob@example.com;transport=udp", "", map[string]bool{"UDP": true}},
		{"sctp", "sip:bob@example.com;transport=sctp", "", map[string]bool{"SCTP": true}},
	} {
		raw := bytes.Replace(request("INVITE"), []byte("sip:bob@example.com SIP"), []byte(c.ruri+" SIP"), 1)
		ctx := ksrtest.Ctx(t, raw, nil)
		ctx.DstURI = c.duri
		checks := map[string]func(*core.Ctx) bool{
			"UDP": ToUDP, "TCP": ToTCP, "TLS": ToTLS, "SCTP": ToSCTP, "WS": ToWS, "WSS": ToWSS,
			"WSX": ToWSX, "IPv4": ToIPv4, "IPv6": ToIPv6,
		}
		for name, f := range checks {
			if got := f(ctx); got != c.want[name] {
				t.Errorf("%s: to_%s = %v", c.name, name, got)
			}
		}
	}
	// A reply goes by its second Via.
	raw := ksrtest.Request(
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1",
		"Via: SIP/2.0/TCP client.example.com:5070;branch=z9hG4bK2;received=198.51.100.7",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>;tag=2",
		"Call-ID: x@y",
		"CSeq: 1 INVITE",
		"Content-Length: 0",
	)
	ctx := ksrtest.Ctx(t, raw, nil)
	if !ToTCP(ctx) || ToUDP(ctx) || !ToIPv4(ctx) || ToIPv6(ctx) {
		t.Errorf("reply: to_TCP %v to_UDP %v to_IPv4 %v", ToTCP(ctx), ToUDP(ctx), ToIPv4(ctx))
	}
}

// A 65 kB URI is_myself cannot parse is logged in a few hundred bytes, and
// a CR/LF in it does not start a line.
func TestHardening_IsMyselfLogsCappedURI(t *testing.T) {
	var buf bytes.Buffer
	ctx := ksrtest.Ctx(t, request("INVITE"), nil)
	ctx.RT.Log = &core.Logger{Level: core.LDbg, Out: &buf}
	uri := "sip:" + strings.Repeat("a", 65*1024) + "@[bad"
	if IsMyself(ctx, uri) {
		t.Fatal("a URI that does not parse is myself")
	}
	line := buf.String()
	t.Logf("%d bytes logged: %s", len(line), line)
	if len(line) == 0 || len(line) > 300+len("Jan _2 15:04:05.000 ERROR: ")+100 {
		t.Errorf("is_myself logged %d bytes for a %d-byte URI: %.400q", len(line), len(uri), line)
	}
	if !strings.Contains(line, "...[cut ") {
		t.Errorf("the cut is not marked: %q", line)
	}
	buf.Reset()
	IsMyself(ctx, "sip:a@[x\r\nJan  1 00:00:00.000 NOTICE: forged")
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Errorf("a URI with CR/LF logged %d lines: %q", n, buf.String())
	}
}

// TestSpec_CorePVsFromModuleYAML covers issue 12: the core's
// pseudo-variables are registered from its module.yaml (pvs: get:), as
// every module's are, so the reference and the registry are one list.
func TestSpec_CorePVsFromModuleYAML(t *testing.T) {
	var spec *core.ModuleSpec
	for _, m := range core.Registered() {
		if m.Name == "" {
			spec = m
		}
	}
	if spec == nil {
		t.Fatal("no core spec registered")
	}
	want := map[string]bool{"ci": true, "rm": true, "ru": true, "ua": true, "hdr": true, "cs": true, "si": true, "sp": true, "pr": true, "mt": true, "rs": true}
	for _, pv := range spec.PVs {
		if pv.Get == nil {
			t.Errorf("module.yaml declares $%s without a getter", pv.Name)
		}
		if core.LookupPV(pv.Name) == nil {
			t.Errorf("$%s is declared in module.yaml but not registered", pv.Name)
		}
		delete(want, pv.Name)
	}
	for n := range want {
		t.Errorf("$%s is not declared in the core's module.yaml", n)
	}
}
