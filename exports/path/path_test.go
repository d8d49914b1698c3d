package path

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

func ctxFor(t *testing.T, params map[string]core.Value, proto core.Proto) *core.Ctx {
	t.Helper()
	reg, err := core.NewRegistry(core.Known("path"), core.Known("rr"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"path": {}}}
	for k, v := range params {
		rt.Params["path"][k] = []core.Value{v}
	}
	if err := start(rt); err != nil {
		t.Fatal(err)
	}
	m := new(sip.Msg)
	if err := m.Parse(ksrtest.Request("REGISTER sip:example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKpath;rport",
		"From: <sip:alice@example.com>;tag=p1", "To: <sip:alice@example.com>",
		"Call-ID: path-test", "CSeq: 1 REGISTER", "Path: <sip:outer.example.com;lr>",
		"Contact: <sip:alice@10.0.0.5:5060>")); err != nil {
		t.Fatal(err)
	}
	ctx := &core.Ctx{RT: rt}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, proto)
	return ctx
}

func paths(ctx *core.Ctx) []string {
	var m sip.Msg
	raw := ksrtest.Serialize(ctx)
	if err := m.Parse([]byte(raw)); err != nil {
		return []string{"unparsable: " + err.Error()}
	}
	var out []string
	for it := m.LinesID(sip.HdrPath); it.Next(); {
		out = append(out, string(it.Value()))
	}
	return out
}

// TestPath_AddPathForms: each add_path variant writes Kamailio's form,
// on top of the Path headers already there (RFC 3327 4: a proxy's entry
// comes first); received is escaped; received_format 1 is ip~port~proto;
// a TCP socket gets ;transport=tcp.
func TestPath_AddPathForms(t *testing.T) {
	local := string(sip.AppendHostPort(nil, ksrtest.Local))
	src := string(sip.AppendHostPort(nil, ksrtest.Src))
	for _, c := range []struct {
		name   string
		params map[string]core.Value
		proto  core.Proto
		call   func(ctx *core.Ctx) int
		want   string
	}{
		{"add_path", nil, core.UDP, AddPath, "<sip:" + local + ";lr>"},
		{"add_path_user_params", nil, core.UDP, func(ctx *core.Ctx) int { return AddPathUserParams(ctx, "edge", "ob") }, "<sip:edge@" + local + ";lr;ob>"},
		{"add_path_received tcp", nil, core.TCP, AddPathReceived, "<sip:" + local + ";transport=tcp;lr;received=sip:" + src + "%3Btransport%3Dtcp>"},
		{"received_format 1", map[string]core.Value{"received_format": core.Int(1), "received_name": core.Str("rcv")}, core.UDP, AddPathReceived,
			"<sip:" + local + ";lr;rcv=" + ksrtest.Src.Addr().String() + "~" + strings.TrimPrefix(src, ksrtest.Src.Addr().String()+":") + "~1>"},
		{"advertised", nil, core.UDP, func(ctx *core.Ctx) int { return AddPathReceivedAdvUser(ctx, "sip:edge.example.com:5070", "lb") },
			"<sip:lb@edge.example.com:5070;lr;received=sip:" + src + ">"},
	} {
		ctx := ctxFor(t, c.params, c.proto)
		if rc := c.call(ctx); rc != 1 {
			t.Errorf("%s: rc %d", c.name, rc)
			continue
		}
		got := paths(ctx)
		if len(got) != 2 || got[0] != c.want || got[1] != "<sip:outer.example.com;lr>" {
			t.Errorf("%s: Path lines %q, want %q on top of the outer one", c.name, got, c.want)
		}
	}
	for name, call := range map[string]func(*core.Ctx) int{
		"user with >":     func(ctx *core.Ctx) int { return AddPathUser(ctx, "a>b") },
		"params with ,":   func(ctx *core.Ctx) int { return AddPathUserParams(ctx, "a", "x,<sip:evil>") },
		"address with ;":  func(ctx *core.Ctx) int { return AddPathAdv(ctx, "h;lr") },
		"address with <":  func(ctx *core.Ctx) int { return AddPathAdv(ctx, "h<") },
		"user with space": func(ctx *core.Ctx) int { return AddPathUser(ctx, "a b") },
	} {
		ctx := ctxFor(t, nil, core.UDP)
		if rc := call(ctx); rc != -1 || len(paths(ctx)) != 1 {
			t.Errorf("%s: rc %d, Path lines %q; want -1 and nothing added", name, rc, paths(ctx))
		}
	}
}

// TestPath_UseReceived: with use_received, this proxy's Route entry's
// received parameter (either format) becomes $du; an unusable one is
// ignored.
func TestPath_UseReceived(t *testing.T) {
	c := &config{name: "received", useReceived: true}
	ctx := ctxFor(t, nil, core.UDP)
	c.routeReceived(ctx, sip.Params(";lr;received=sip:198.51.100.7:4000%3Btransport%3Dtcp"))
	if ctx.DstURI != "sip:198.51.100.7:4000;transport=tcp" {
		t.Errorf("DstURI = %q", ctx.DstURI)
	}
	c.format = 1
	ctx = ctxFor(t, nil, core.UDP)
	c.routeReceived(ctx, sip.Params(";lr;received=198.51.100.7~4000~3"))
	if ctx.DstURI != "sip:198.51.100.7:4000;transport=tls" {
		t.Errorf("DstURI = %q", ctx.DstURI)
	}
	ctx = ctxFor(t, nil, core.UDP)
	c.routeReceived(ctx, sip.Params(";lr;received=bogus~x~1"))
	c.format = 0
	c.routeReceived(ctx, sip.Params(";lr;received=sip:a%0D%0AX-Injected:%20yes"))
	if ctx.DstURI != "" {
		t.Errorf("an unusable received set DstURI %q", ctx.DstURI)
	}
}
