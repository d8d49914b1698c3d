package rr

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// Local (ksrtest.Local) is 192.0.2.1:5060: Routes to it are ours.
const ours = "sip:192.0.2.1:5060;lr;ftag=1928301774"

func dialog(ruri, toTag string, extra ...string) []byte {
	to := "To: Bob <sip:bob@example.com>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return ksrtest.Request(append([]string{
		"BYE " + ruri + " SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport",
		"From: Alice <sip:alice@example.org>;tag=1928301774",
		to,
		"Call-ID: a84b4c76e66710@pc33.example.org",
		"CSeq: 2 BYE",
	}, append(extra, "Content-Length: 0")...)...)
}

func headerLines(ctx *core.Ctx) []string {
	out := ksrtest.Serialize(ctx)
	head, _, _ := strings.Cut(out, "\r\n\r\n")
	return strings.Split(head, "\r\n")
}

func TestRecordRoute(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(*core.Ctx) int
		want []string
	}{
		{"plain", RecordRoute, []string{"Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774>"}},
		{"params", func(c *core.Ctx) int { return RecordRouteParams(c, ";nat=yes") },
			[]string{"Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774;nat=yes>"}},
		{"param before", func(c *core.Ctx) int { AddRRParam(c, ";nat=yes"); return RecordRoute(c) },
			[]string{"Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774;nat=yes>"}},
		{"param after", func(c *core.Ctx) int {
			r := RecordRoute(c)
			if AddRRParam(c, ";nat=yes") != 1 || AddRRParam(c, ";b=2") != 1 {
				return -9
			}
			return r
		}, []string{"Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774;nat=yes;b=2>"}},
		{"preset", func(c *core.Ctx) int { return RecordRoutePreset(c, "203.0.113.1:5070", "") },
			[]string{"Record-Route: <sip:203.0.113.1:5070;ftag=1928301774;lr>"}},
		{"preset double with param after", func(c *core.Ctx) int {
			r := RecordRoutePreset(c, "sip:203.0.113.1;r2=on", "192.0.2.1;r2=on")
			AddRRParam(c, ";x=1")
			return r
		}, []string{
			"Record-Route: <sip:203.0.113.1;r2=on;ftag=1928301774;x=1;lr>",
			"Record-Route: <sip:192.0.2.1;r2=on;ftag=1928301774;x=1;lr>",
		}},
		{"advertised", func(c *core.Ctx) int { return RecordRouteAdvertisedAddress(c, "proxy.example.com:5060") },
			[]string{"Record-Route: <sip:proxy.example.com:5060;lr;ftag=1928301774>"}},
	} {
		ctx := ksrtest.Ctx(t, ksrtest.Invite("Record-Route: <sip:198.51.100.9;lr>"), nil)
		if r := c.do(ctx); r != 1 {
			t.Errorf("%s: returned %d", c.name, r)
			continue
		}
		lines := headerLines(ctx)
		got := lines[1 : 1+len(c.want)]
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if next := lines[1+len(c.want)]; !strings.HasPrefix(next, "Via:") {
			t.Errorf("%s: after the Record-Route comes %q, want the Via", c.name, next)
		}
		if !strings.Contains(ksrtest.Serialize(ctx), "Record-Route: <sip:198.51.100.9;lr>\r\n") {
			t.Errorf("%s: the received Record-Route is gone", c.name)
		}
	}
}

func TestRecordRouteTwice(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	if RecordRoute(ctx) != 1 || RecordRoute(ctx) != -1 || RecordRoutePreset(ctx, "203.0.113.1", "") != -1 {
		t.Error("a second record_route must fail")
	}
	if RemoveRecordRoute(ctx) != 1 || strings.Contains(ksrtest.Serialize(ctx), "Record-Route") {
		t.Errorf("remove_record_route left %q", ksrtest.Serialize(ctx))
	}
	if RecordRoute(ctx) != 1 || strings.Count(ksrtest.Serialize(ctx), "Record-Route:") != 1 {
		t.Errorf("record_route after remove: %q", ksrtest.Serialize(ctx))
	}
	// The next message starts afresh.
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	ctx.Msg.Parse(ksrtest.Invite())
	if RecordRoute(ctx) != 1 {
		t.Error("record_route on the next message")
	}
}

func TestRecordRouteTransportAndIPv6(t *testing.T) {
	raw := ksrtest.Invite()
	ctx := ksrtest.Ctx(t, raw, nil)
	ctx.Proto = core.TCP
	RecordRoute(ctx)
	if l := headerLines(ctx)[1]; l != "Record-Route: <sip:192.0.2.1:5060;transport=tcp;lr;ftag=1928301774>" {
		t.Errorf("tcp: %q", l)
	}
	ctx = ksrtest.Ctx(t, raw, nil)
	ctx.Local = netipMust("[2001:db8::1]:5060")
	RecordRoute(ctx)
	if l := headerLines(ctx)[1]; l != "Record-Route: <sip:[2001:db8::1]:5060;lr;ftag=1928301774>" {
		t.Errorf("ipv6: %q", l)
	}
}

func TestLooseRoute(t *testing.T) {
	for _, c := range []struct {
		name      string
		ruri, tag string
		routes    []string
		ret       int
		ruriAfter string
		du        string
		after     []string // Route lines after
	}{
		{name: "no route", ruri: "sip:bob@192.0.2.99", tag: "a", ret: -1, ruriAfter: "sip:bob@192.0.2.99"},
		{name: "ours then loose", ruri: "sip:bob@192.0.2.99", tag: "a",
			routes: []string{"Route: <" + ours + ">, <sip:198.51.100.7;lr>"},
			ret:    1, ruriAfter: "sip:bob@192.0.2.99", du: "sip:198.51.100.7;lr",
			after: []string{"Route: <sip:198.51.100.7;lr>"}},
		{name: "ours then loose, two lines", ruri: "sip:bob@192.0.2.99", tag: "a",
			routes: []string{"Route: <" + ours + ">", "Route: <sip:198.51.100.7;lr>"},
			ret:    1, ruriAfter: "sip:bob@192.0.2.99", du: "sip:198.51.100.7;lr",
			after: []string{"Route: <sip:198.51.100.7;lr>"}},
		{name: "only ours", ruri: "sip:bob@192.0.2.99", tag: "a",
			routes: []string{"Route: <" + ours + ">"}, ret: 1, ruriAfter: "sip:bob@192.0.2.99"},
		{name: "preloaded ours", ruri: "sip:bob@192.0.2.99",
			routes: []string{"Route: <sip:192.0.2.1;lr>"}, ret: -3, ruriAfter: "sip:bob@192.0.2.99"},
		{name: "not ours", ruri: "sip:bob@192.0.2.99", tag: "a",
			routes: []string{"Route: <sip:198.51.100.7;lr>"}, ret: 1, ruriAfter: "sip:bob@192.0.2.99",
			du: "sip:198.51.100.7;lr", after: []string{"Route: <sip:198.51.100.7;lr>"}},
		{name: "double rr", ruri: "sip:bob@192.0.2.99", tag: "a",
			routes: []string{"Route: <sip:192.0.2.1;r2=on;lr>,<sip:192.0.2.1:5060;r2=on;lr>,<sip:198.51.100.7;lr>"},
			ret:    1, ruriAfter: "sip:bob@192.0.2.99", du: "sip:198.51.100.7;lr",
			after: []string{"Route: <sip:198.51.100.7;lr>"}},
		{name: "next hop strict", ruri: "sip:bob@192.0.2.99", tag: "a",
			routes: []string{"Route: <" + ours + ">, <sip:198.51.100.7>"},
			ret:    1, ruriAfter: "sip:198.51.100.7",
			after: []string{"Route: <sip:bob@192.0.2.99>"}},
		{name: "strict router before us, loose next", ruri: ours, tag: "a",
			routes: []string{"Route: <sip:198.51.100.8;lr>", "Route: <sip:bob@192.0.2.99>"},
			ret:    1, ruriAfter: "sip:bob@192.0.2.99", du: "sip:198.51.100.8;lr",
			after: []string{"Route: <sip:198.51.100.8;lr>"}},
		{name: "strict router before us, strict next", ruri: ours, tag: "a",
			routes: []string{"Route: <sip:198.51.100.8>, <sip:bob@192.0.2.99>"},
			ret:    1, ruriAfter: "sip:198.51.100.8",
			after: []string{"Route: <sip:bob@192.0.2.99>"}},
		{name: "loose only mode-free", ruri: "sip:bob@192.0.2.99", tag: "a",
			routes: []string{"Route: <sip:198.51.100.7;lr>, <" + ours + ">"},
			ret:    1, ruriAfter: "sip:bob@192.0.2.99", du: "sip:198.51.100.7;lr",
			after: []string{"Route: <sip:198.51.100.7;lr>, <" + ours + ">"}},
	} {
		ctx := ksrtest.Ctx(t, dialog(c.ruri, c.tag, c.routes...), nil)
		if r := LooseRoute(ctx); r != c.ret {
			t.Errorf("%s: loose_route = %d, want %d", c.name, r, c.ret)
		}
		if got := string(ctx.Msg.RequestURI()); got != c.ruriAfter {
			t.Errorf("%s: R-URI %q, want %q", c.name, got, c.ruriAfter)
		}
		if ctx.DstURI != c.du {
			t.Errorf("%s: $du %q, want %q", c.name, ctx.DstURI, c.du)
		}
		var routes []string
		lines := headerLines(ctx)
		for _, l := range lines {
			if strings.HasPrefix(l, "Route:") {
				routes = append(routes, l)
			}
		}
		if strings.Join(routes, "\n") != strings.Join(c.after, "\n") {
			t.Errorf("%s: Route lines after\n %q\nwant\n %q", c.name, routes, c.after)
		}
		if !strings.HasPrefix(lines[0], "BYE "+c.ruriAfter+" SIP/2.0") {
			t.Errorf("%s: request line %q", c.name, lines[0])
		}
	}
}

func TestLooseRouteMode(t *testing.T) {
	ctx := ksrtest.Ctx(t, dialog(ours, "a", "Route: <sip:198.51.100.8;lr>", "Route: <sip:bob@192.0.2.99>"), nil)
	if r := LooseRouteMode(ctx, 1); r != 1 || ctx.DstURI != "sip:198.51.100.8;lr" || string(ctx.Msg.RequestURI()) != ours {
		t.Errorf("mode 1: %d %q %q", r, ctx.DstURI, ctx.Msg.RequestURI())
	}
	ctx = ksrtest.Ctx(t, dialog("sip:bob@192.0.2.99", "", "Route: <sip:192.0.2.1;lr>"), nil)
	if LooseRoutePreloaded(ctx) != 1 {
		t.Error("loose_route_preloaded")
	}
	ctx = ksrtest.Ctx(t, dialog("sip:bob@192.0.2.99", "a", "Route: <"+ours+">,<sip:198.51.100.7;lr>"), nil)
	if NextHopRoute(ctx) != -1 || LooseRoute(ctx) != 1 || NextHopRoute(ctx) != 1 {
		t.Error("next_hop_route")
	}
}

func TestRouteParamsAndDirection(t *testing.T) {
	// Downstream: the caller (From tag 1928301774) sends.
	ctx := ksrtest.Ctx(t, dialog("sip:bob@192.0.2.99", "a", "Route: <sip:192.0.2.1;lr;ftag=1928301774;nat=yes>"), nil)
	// Before loose_route the top Route (ours) is looked at.
	if CheckRouteParam(ctx, "nat=yes") != 1 {
		t.Error("check_route_param before loose_route")
	}
	LooseRoute(ctx)
	if CheckRouteParam(ctx, "NAT=YES") != 1 || CheckRouteParam(ctx, "nat=no") != -1 || CheckRouteParam(ctx, "(") != -1 {
		t.Error("check_route_param")
	}
	if IsDirection(ctx, "downstream") != 1 || IsDirection(ctx, "upstream") != -1 || IsDirection(ctx, "sideways") != -1 {
		t.Error("downstream request")
	}
	// Upstream: the callee answers with its own From tag.
	ctx = ksrtest.Ctx(t, ksrtest.Request(
		"BYE sip:alice@192.0.2.10:5062 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKup",
		"Route: <sip:192.0.2.1;lr;ftag=1928301774>",
		"From: Bob <sip:bob@example.com>;tag=a",
		"To: Alice <sip:alice@example.org>;tag=1928301774",
		"Call-ID: a84b4c76e66710@pc33.example.org",
		"CSeq: 1 BYE",
		"Content-Length: 0"), nil)
	if LooseRoute(ctx) != 1 || IsDirection(ctx, "upstream") != 1 || IsDirection(ctx, "downstream") != -1 {
		t.Error("upstream request")
	}
	// Strict router before us: our params are in the Request-URI.
	ctx = ksrtest.Ctx(t, dialog(ours+";nat=yes", "a", "Route: <sip:198.51.100.8;lr>", "Route: <sip:bob@192.0.2.99>"), nil)
	if LooseRoute(ctx) != 1 || CheckRouteParam(ctx, ";nat=yes") != 1 || IsDirection(ctx, "downstream") != 1 {
		t.Error("params from a strict-routed Request-URI")
	}
}

func TestLooseRouteAllocations(t *testing.T) {
	raw := dialog("sip:bob@192.0.2.99", "a", "Route: <"+ours+">")
	ctx := ksrtest.Ctx(t, raw, nil)
	n := testing.AllocsPerRun(100, func() {
		ctx.Msg.Parse(raw)
		ctx.Seq++
		LooseRoute(ctx)
	})
	if n != 0 {
		t.Errorf("loose_route to ourselves only: %v allocations", n)
	}
	raw = ksrtest.Invite()
	n = testing.AllocsPerRun(100, func() {
		ctx.Msg.Parse(raw)
		ctx.Seq++
		RecordRoute(ctx)
	})
	if n != 0 {
		t.Errorf("record_route: %v allocations", n)
	}
}

func BenchmarkLooseRoute(b *testing.B) {
	raw := dialog("sip:bob@192.0.2.99", "a", "Route: <"+ours+">, <sip:198.51.100.7;lr>")
	ctx := ksrtest.Ctx(b, raw, nil)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Msg.Parse(raw)
		ctx.Seq++
		LooseRoute(ctx)
	}
}

func BenchmarkRecordRoute(b *testing.B) {
	raw := ksrtest.Invite()
	ctx := ksrtest.Ctx(b, raw, nil)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Msg.Parse(raw)
		ctx.Seq++
		RecordRoute(ctx)
	}
}

func TestRecordRouteWildcardSocket(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	ctx.Local = netipMust("0.0.0.0:5060")
	if RecordRoute(ctx) != -1 || ctx.Msg.PendingEdits() {
		t.Error("a Record-Route with 0.0.0.0")
	}
	if RecordRoutePresetOne(ctx, "192.0.2.1:5060") != 1 {
		t.Error("preset on a wildcard socket")
	}
}
