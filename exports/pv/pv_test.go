package pv

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func ctxFor(t testing.TB, raw []byte) *core.Ctx {
	return ksrtest.Ctx(t, raw, nil)
}

func TestGetMessagePVs(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Request(
		"INVITE sip:bob@example.com:5070;transport=udp SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport",
		"From: \"Alice A\" <sip:alice@example.org>;tag=1928301774",
		"To: Bob <sip:bob@example.com>",
		"Call-ID: a84b4c76e66710@pc33.example.org",
		"CSeq: 314159 INVITE",
		"Contact: <sip:alice@192.0.2.10:5062>",
		"User-Agent: phone/1.0",
		"X-Custom: one",
		"Content-Type: application/sdp",
		"Content-Length: 4",
		"",
		"v=0\r"))
	str := map[string]string{
		"$ru": "sip:bob@example.com:5070;transport=udp", "$rU": "bob", "$rd": "example.com",
		"$ou": "sip:bob@example.com:5070;transport=udp",
		"$fu": "sip:alice@example.org", "$fU": "alice", "$fd": "example.org", "$fn": "Alice A",
		"$ft": "1928301774", "$tu": "sip:bob@example.com", "$tU": "bob", "$td": "example.com",
		"$tn": "Bob", "$rm": "INVITE", "$ci": "a84b4c76e66710@pc33.example.org",
		"$ua": "phone/1.0", "$hdr(X-Custom)": "one", "$hdr(x-custom)": "one", "$cs": "314159",
		"$si": "192.0.2.10", "$pr": "udp", "$rv": "SIP/2.0", "$cT": "application/sdp",
		"$ct": "<sip:alice@192.0.2.10:5062>", "$rb": "v=0\r", "$Ri": "192.0.2.1",
	}
	for name, want := range str {
		if v := Get(ctx, name); v.Kind != core.KStr || v.S != want {
			t.Errorf("get(%q) = %v (%v), want %q", name, v, v.Kind, want)
		}
	}
	ints := map[string]int64{"$rp": 5070, "$sp": 5062, "$cl": 4, "$bs": 4, "$Rp": 5060, "$mt": 1}
	for name, want := range ints {
		if v := Get(ctx, name); v.Kind != core.KInt || v.I != want {
			t.Errorf("get(%q) = %v (%v), want %d", name, v, v.Kind, want)
		}
	}
	for _, name := range []string{"$tt", "$du", "$rs", "$rr", "$hdr(X-None)", "$var(x)", "$avp(x)"} {
		if v := Get(ctx, name); !v.IsNull() {
			t.Errorf("get(%q) = %v, want null", name, v)
		}
		if !IsNull(ctx, name) {
			t.Errorf("is_null(%q) = false", name)
		}
		if v := Gete(ctx, name); v.Kind != core.KStr || v.S != "" {
			t.Errorf("gete(%q) = %v", name, v)
		}
		if v := Getw(ctx, name); v.S != "<null>" {
			t.Errorf("getw(%q) = %v", name, v)
		}
	}
	if v := Getvs(ctx, "$tt", "none"); v.S != "none" {
		t.Errorf("getvs = %v", v)
	}
	if v := Getvn(ctx, "$var(n)", 7); v.I != 7 || v.Kind != core.KInt {
		t.Errorf("getvn = %v", v)
	}
	if n := Geti(ctx, "$cs"); n != 314159 {
		t.Errorf("geti($cs) = %d", n)
	}
	if n := Geti(ctx, "$ru"); n != 0 {
		t.Errorf("geti($ru) = %d", n)
	}
	// Bad names are null and logged, never a crash.
	for _, name := range []string{"ru", "$nosuchpv", "$", "$hdr(X"} {
		if v := Get(ctx, name); !v.IsNull() {
			t.Errorf("get(%q) = %v", name, v)
		}
	}
}

func TestReplyPVs(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Request(
		"SIP/2.0 486 Busy Here",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>;tag=2",
		"Call-ID: x@y",
		"CSeq: 1 INVITE",
		"Content-Length: 0"))
	if v := Get(ctx, "$rs"); v.Kind != core.KInt || v.I != 486 {
		t.Errorf("$rs = %v", v)
	}
	if v := Get(ctx, "$rr"); v.S != "Busy Here" {
		t.Errorf("$rr = %v", v)
	}
	if v := Get(ctx, "$tt"); v.S != "2" {
		t.Errorf("$tt = %v", v)
	}
	for _, n := range []string{"$ru", "$rU", "$rd", "$rp", "$ou"} {
		if !IsNull(ctx, n) {
			t.Errorf("%s on a reply = %v", n, Get(ctx, n))
		}
	}
	if sets(ctx, "$ru", "sip:x@y") {
		t.Error("$ru set on a reply")
	}
}

func TestSetRequestURIParts(t *testing.T) {
	for _, c := range []struct {
		name, val string
		ival      int
		want      string
	}{
		{"$ru", "sip:carol@example.net", 0, "sip:carol@example.net"},
		{"$rU", "carol", 0, "sip:carol@example.com:5070;transport=udp"},
		{"$rU", "", 0, "sip:example.com:5070;transport=udp"},
		{"$rd", "192.0.2.7", 0, "sip:bob@192.0.2.7:5070;transport=udp"},
		{"$rd", "[2001:db8::1]", 0, "sip:bob@[2001:db8::1]:5070;transport=udp"},
		{"$rp", "", 5080, "sip:bob@example.com:5080;transport=udp"},
		{"$rp", "", 0, "sip:bob@example.com;transport=udp"},
	} {
		ctx := ctxFor(t, ksrtest.Request(
			"OPTIONS sip:bob@example.com:5070;transport=udp SIP/2.0",
			"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
			"From: <sip:alice@example.org>;tag=1",
			"To: <sip:bob@example.com>",
			"Call-ID: x@y",
			"CSeq: 1 OPTIONS",
			"Content-Length: 0"))
		var ok bool
		if c.val == "" && c.name == "$rp" {
			ok = Seti(ctx, c.name, c.ival)
		} else {
			ok = sets(ctx, c.name, c.val)
		}
		if !ok {
			t.Errorf("set %s %q failed", c.name, c.val)
			continue
		}
		if got := Gete(ctx, "$ru").S; got != c.want {
			t.Errorf("set %s %q: $ru = %q, want %q", c.name, c.val, got, c.want)
		}
		if got := Gete(ctx, "$ou").S; got != "sip:bob@example.com:5070;transport=udp" {
			t.Errorf("$ou changed: %q", got)
		}
		out := ksrtest.Serialize(ctx)
		if want := "OPTIONS " + c.want + " SIP/2.0\r\n"; out[:len(want)] != want {
			t.Errorf("serialized first line %q, want %q", out[:len(want)], want)
		}
	}
	// Userless URI gets a user.
	ctx := ctxFor(t, ksrtest.Request("OPTIONS sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x", "CSeq: 1 OPTIONS"))
	if !sets(ctx, "$rU", "dave") || Gete(ctx, "$ru").S != "sip:dave@example.com" {
		t.Errorf("$rU on a userless URI: %v", Get(ctx, "$ru"))
	}
	if sets(ctx, "$rd", "") {
		t.Error("empty $rd accepted")
	}
}

func TestVarsAndAVPs(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite())
	if !sets(ctx, "$var(a)", "x") || !Seti(ctx, "$var(n)", 42) {
		t.Fatal("set $var failed")
	}
	if v := Get(ctx, "$var(a)"); v.S != "x" {
		t.Errorf("$var(a) = %v", v)
	}
	if v := Get(ctx, "$var(n)"); v.Kind != core.KInt || v.I != 42 {
		t.Errorf("$var(n) = %v", v)
	}
	if Geti(ctx, "$var(n)") != 42 {
		t.Error("geti $var(n)")
	}
	sets(ctx, "$avp(d)", "one")
	sets(ctx, "$avp(s:d)", "two")
	if v := Get(ctx, "$avp(d)"); v.S != "two" {
		t.Errorf("$avp(d) = %v, want the newest value", v)
	}
	if !sets(ctx, "$du", "sip:192.0.2.5") || ctx.DstURI != "sip:192.0.2.5" || Get(ctx, "$du").S != "sip:192.0.2.5" {
		t.Errorf("$du = %q", ctx.DstURI)
	}
	if !Unset(ctx, "$du") || ctx.DstURI != "" {
		t.Error("unset $du")
	}
	if !Unset(ctx, "$var(a)") || !IsNull(ctx, "$var(a)") {
		t.Error("unset $var(a)")
	}
	if !Unset(ctx, "$avp(d)") || !IsNull(ctx, "$avp(d)") {
		t.Error("unset $avp(d)")
	}
	if sets(ctx, "$ci", "x") || sets(ctx, "$nosuch", "x") || sets(ctx, "novar", "x") {
		t.Error("read-only or unknown set accepted")
	}
	// The next message starts empty.
	Seti(ctx, "$var(n)", 1)
	sets(ctx, "$avp(d)", "x")
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if !IsNull(ctx, "$var(n)") || !IsNull(ctx, "$avp(d)") {
		t.Error("$var / $avp survived into the next message")
	}
}

// Other modules' pseudo-variables (tm's) are read through core.LookupPV.
func TestForeignPV(t *testing.T) {
	core.RegisterPV("pvtest_int", func(c *core.Ctx, _ string, dst []byte) ([]byte, bool) {
		return append(dst, "17"...), true
	})
	intPVs["pvtest_int"] = true
	ctx := ctxFor(t, ksrtest.Invite())
	if v := Get(ctx, "$pvtest_int"); v.Kind != core.KInt || v.I != 17 {
		t.Errorf("foreign PV = %v", v)
	}
}

func TestGetAllocations(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite())
	Seti(ctx, "$var(n)", 1)
	for _, c := range []struct {
		name string
		max  float64
	}{{"$var(n)", 0}, {"$sp", 0}, {"$tt", 0}, {"$ru", 1}, {"$hdr(Call-ID)", 1}} {
		n := testing.AllocsPerRun(100, func() { Get(ctx, c.name) })
		if n > c.max {
			t.Errorf("get(%q): %v allocations, want at most %v", c.name, n, c.max)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Seti(ctx, "$var(n)", 2) }); n != 0 {
		t.Errorf("seti $var: %v allocations", n)
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := ctxFor(b, ksrtest.Invite())
	b.Run("var", func(b *testing.B) {
		Seti(ctx, "$var(n)", 1)
		b.ReportAllocs()
		for b.Loop() {
			Get(ctx, "$var(n)")
		}
	})
	b.Run("ru", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Get(ctx, "$ru")
		}
	})
	b.Run("fU", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Get(ctx, "$fU")
		}
	})
}

// Workers share the name cache; each has its own Ctx.
func TestConcurrentGet(t *testing.T) {
	raw := ksrtest.Invite()
	done := make(chan bool)
	for w := 0; w < 4; w++ {
		go func(w int) {
			ctx := ksrtest.Ctx(t, raw, nil)
			for i := 0; i < 200; i++ {
				name := "$var(k" + string(rune('a'+i%26)) + ")"
				Seti(ctx, name, i)
				if Geti(ctx, name) != i || Get(ctx, "$fU").S != "alice" {
					t.Errorf("worker %d: wrong value", w)
				}
			}
			done <- true
		}(w)
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}

func TestIndexedHeader(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite("Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2"))
	for name, want := range map[string]string{
		"$(hdr(Via)[0])":  "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport",
		"$(hdr(Via)[1])":  "SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2",
		"$(hdr(v)[-1])":   "SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2",
		"$(hdr(Via)[-2])": "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport",
	} {
		if v := Get(ctx, name); v.S != want {
			t.Errorf("%s = %v", name, v)
		}
	}
	for _, name := range []string{"$(hdr(Via)[2])", "$(hdr(Via)[-3])", "$(ru[0])", "$(hdr(Via)[x])"} {
		if !IsNull(ctx, name) {
			t.Errorf("%s = %v, want null", name, Get(ctx, name))
		}
	}
}

func TestTransformations(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite("X-List: a=1; b=two ;c", "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2"))
	sets(ctx, "$var(s)", "  Hello World  ")
	for name, want := range map[string]any{
		"$(ru{uri.user})":                         "bob",
		"$(ru{uri.host})":                         "example.com",
		"$(ru{s.len})":                            int64(19),
		"$(fu{uri.user}{s.toupper})":              "ALICE",
		"$(var(s){s.trim}{s.tolower})":            "hello world",
		"$(var(s){s.trim}{s.substr,6,0})":         "World",
		"$(var(s){s.trim}{s.substr,-5,3})":        "Wor",
		"$(var(s){s.trim}{s.select,1, })":         "World",
		"$(hdr(X-List){param.value,b})":           "two",
		"$(hdr(X-List){param.count})":             int64(3),
		"$(hdr(From){nameaddr.uri})":              "sip:alice@example.org",
		"$(hdr(From){nameaddr.name})":             "Alice",
		"$(hdr(From){tobody.tag})":                "1928301774",
		"$(hdr(From){tobody.user})":               "alice",
		"$(hdr(Contact){nameaddr.uri}{uri.port})": int64(5062),
		"$(hdr(Via)[1]{s.len})":                   int64(len("SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2")),
		"$(cs{s.int})":                            int64(314159),
	} {
		v := Get(ctx, name)
		switch w := want.(type) {
		case string:
			if v.Kind != core.KStr || v.S != w {
				t.Errorf("%s = %v (%v), want %q", name, v, v.Kind, w)
			}
		case int64:
			if v.Kind != core.KInt || v.I != w {
				t.Errorf("%s = %v (%v), want %d", name, v, v.Kind, w)
			}
		}
	}
	for _, name := range []string{"$(tt{s.len})", "$(ru{uri.port})", "$(ru{uri.param,maddr})", "$(ru{s.nosuch})", "$(ru{s.substr,1})", "$(ru{uri.user}"} {
		if !IsNull(ctx, name) {
			t.Errorf("%s = %v, want null", name, Get(ctx, name))
		}
	}
	if sets(ctx, "$(var(s){s.len})", "x") {
		t.Error("set through a transformation")
	}
}

// sets is Sets as a bool, for the tests that only ask whether it set.
func sets(ctx *core.Ctx, name, val string) bool {
	ok, _ := Sets(ctx, name, val)
	return ok
}

// TestHardening_PVInjection covers issue 10 item 7 for pseudo-variables:
// a line break in a value for $ru, its parts or $du is a script error
// naming KSR.pv.sets, and the message keeps its Request-URI; $var takes it.
func TestHardening_PVInjection(t *testing.T) {
	for _, name := range []string{"$ru", "$rU", "$rd", "$rp", "$du"} {
		for _, val := range []string{"sip:x@y\r\nX-Injected: yes", "a\nb", "a\x00b"} {
			ctx := ctxFor(t, ksrtest.Invite())
			before := Gete(ctx, "$ru").S
			ok, e := Sets(ctx, name, val)
			if ok || e == nil {
				t.Errorf("sets(%s, %q) = %v, %v; want a script error", name, val, ok, e)
				continue
			}
			err := e.Error()
			if !strings.HasPrefix(err, "KSR.pv.sets: "+name+": expected a value without CR, LF or NUL, got ") {
				t.Errorf("sets(%s, %q): error %q", name, val, err)
			}
			if got := Gete(ctx, "$ru").S; got != before || ctx.DstURI != "" {
				t.Errorf("sets(%s, %q) changed the message: $ru %q, $du %q", name, val, got, ctx.DstURI)
			}
		}
	}
	ctx := ctxFor(t, ksrtest.Invite())
	if !sets(ctx, "$var(body)", "a\r\nb") || Gete(ctx, "$var(body)").S != "a\r\nb" {
		t.Error("$var refused a value with CRLF")
	}
}

// BenchmarkTransform measures a transformed read (issue 18: the
// transformations must not add allocations to the existing ones).
func BenchmarkTransform(b *testing.B) {
	ctx := ctxFor(b, ksrtest.Invite())
	Sets(ctx, "$var(x)", "O'Brien \\ x")
	for _, name := range []string{"$(fu{uri.user})", "$(fu{uri.user}{s.toupper})", "$(var(x){s.len})", "$(var(x){sql.val})", "$(var(x){s.md5})"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Get(ctx, name)
			}
		})
	}
}
