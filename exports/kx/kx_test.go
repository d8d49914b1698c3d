package kx

import (
	"testing"

	"kemi/core"
	"kemi/exports/corex"
	"kemi/exports/internal/ksrtest"
)

func TestRequestGetters(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Request(
		"INVITE sip:bob@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport",
		"From: Alice <sip:alice@example.org>;tag=1928301774",
		"To: Bob <sip:example.com>",
		"Call-ID: a84b4c76e66710@pc33.example.org",
		"CSeq: 314159 INVITE",
		"Contact: <sip:alice@192.0.2.10:5062>",
		"User-Agent: phone/1.0",
		"Proxy-Authorization: Digest username=\"alice@example.org\", realm=\"example.org\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"0123456789abcdef0123456789abcdef\"",
		"Content-Length: 0"), nil)
	for _, c := range []struct {
		name string
		got  core.Value
		want any
	}{
		{"get_ruri", GetRuri(ctx), "sip:bob@example.com"},
		{"get_ouri", GetOuri(ctx), "sip:bob@example.com"},
		{"get_ruser", GetRuser(ctx), "bob"},
		{"get_rhost", GetRhost(ctx), "example.com"},
		{"get_furi", GetFuri(ctx), "sip:alice@example.org"},
		{"get_fuser", GetFuser(ctx), "alice"},
		{"gete_fhost", GeteFhost(ctx), "example.org"},
		{"get_turi", GetTuri(ctx), "sip:example.com"},
		{"get_tuser", GetTuser(ctx), nil},
		{"gete_tuser", GeteTuser(ctx), ""},
		{"getw_tuser", GetwTuser(ctx), "<null>"},
		{"get_thost", GetThost(ctx), "example.com"},
		{"get_ua", GetUa(ctx), "phone/1.0"},
		{"gete_ua", GeteUa(ctx), "phone/1.0"},
		{"get_au", GetAu(ctx), "alice"},
		{"get_body", GetBody(ctx), nil},
		{"gete_body", GeteBody(ctx), ""},
		{"get_duri", GetDuri(ctx), nil},
		{"getw_duri", GetwDuri(ctx), "<null>"},
		{"get_nhuri", GetNhuri(ctx), "sip:bob@example.com"},
		{"get_cturi", GetCturi(ctx), "sip:alice@192.0.2.10:5062"},
		{"get_method", GetMethod(ctx), "INVITE"},
		{"gets_status", GetsStatus(ctx), nil},
		{"get_callid", GetCallid(ctx), "a84b4c76e66710@pc33.example.org"},
		{"get_srcip", GetSrcip(ctx), "192.0.2.10"},
		{"get_srcport", GetSrcport(ctx), int64(5062)},
		{"get_srcuri", GetSrcuri(ctx), "sip:192.0.2.10:5062"},
		{"get_srcaddr_sock", GetSrcaddrSock(ctx), "udp:192.0.2.10:5062"},
		{"get_rcvip", GetRcvip(ctx), "192.0.2.1"},
		{"get_rcvport", GetRcvport(ctx), int64(5060)},
		{"get_rcvaddr_sock", GetRcvaddrSock(ctx), "udp:192.0.2.1:5060"},
		{"get_proto", GetProto(ctx), "udp"},
	} {
		switch w := c.want.(type) {
		case nil:
			if !c.got.IsNull() {
				t.Errorf("%s = %v, want null", c.name, c.got)
			}
		case string:
			if c.got.Kind != core.KStr || c.got.S != w {
				t.Errorf("%s = %v (%v), want %q", c.name, c.got, c.got.Kind, w)
			}
		case int64:
			if c.got.Kind != core.KInt || c.got.I != w {
				t.Errorf("%s = %v (%v), want %d", c.name, c.got, c.got.Kind, w)
			}
		}
	}
	if GetStatus(ctx) != -1 || GetMsgtype(ctx) != 1 || GetProtoid(ctx) != 1 || GetBodylen(ctx) != 0 {
		t.Error("int getters on a request")
	}
	if GetMsglen(ctx) != len(ctx.Msg.Raw()) {
		t.Error("get_msglen")
	}
	ctx.DstURI = "sip:192.0.2.99"
	if GetNhuri(ctx).S != "sip:192.0.2.99" || GetDuri(ctx).S != "sip:192.0.2.99" {
		t.Error("next hop with $du set")
	}
}

func TestReplyGetters(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Request(
		"SIP/2.0 180 Ringing",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>;tag=2",
		"Call-ID: x@y",
		"CSeq: 7 INVITE",
		"Content-Length: 0"), nil)
	if GetStatus(ctx) != 180 || GetsStatus(ctx).S != "180" || GetMsgtype(ctx) != 2 {
		t.Errorf("status %d %v", GetStatus(ctx), GetsStatus(ctx))
	}
	if !GetRuri(ctx).IsNull() || !GetRuser(ctx).IsNull() || GeteRhost(ctx).S != "" {
		t.Error("Request-URI getters on a reply")
	}
	if GetMethod(ctx).S != "INVITE" {
		t.Errorf("method of a reply = %v", GetMethod(ctx))
	}
	if !GetUa(ctx).IsNull() || GetwUa(ctx).S != "<null>" || !GetAu(ctx).IsNull() {
		t.Error("missing headers")
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("KX_TEST_N", "42")
	var ctx core.Ctx
	if GetEnv(&ctx, "KX_TEST_N").S != "42" || GetEnvn(&ctx, "KX_TEST_N") != 42 {
		t.Error("get_env")
	}
	if !GetEnv(&ctx, "KX_TEST_NONE").IsNull() || GetEnvn(&ctx, "KX_TEST_NONE") != 0 {
		t.Error("unset env")
	}
}

func TestSendSock(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	if !GetSendSock(ctx).IsNull() || GetSendSockPort(ctx) != 0 || !GetSendSockName(ctx).IsNull() || !GetRcvSockName(ctx).IsNull() {
		t.Error("no socket forced")
	}
	if corex.SetSendSocket(ctx, "udp:192.0.2.1:5060") != 1 {
		t.Fatal("set_send_socket")
	}
	if GetSendSock(ctx).S != "udp:192.0.2.1:5060" || GetSendSockPort(ctx) != 5060 {
		t.Errorf("forced socket %v %d", GetSendSock(ctx), GetSendSockPort(ctx))
	}
}

func TestDefines(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	if Ifdef(ctx, "WITH_NAT") || !Ifndef(ctx, "WITH_NAT") || GetDef(ctx, "MY_PORT").S != "" {
		t.Error("defines before the runtime has them")
	}
	ctx.RT.Defines = map[string]string{"WITH_NAT": "", "MY_PORT": "5080", "MY_IP": "192.0.2.1"}
	if !Ifdef(ctx, "WITH_NAT") || Ifndef(ctx, "WITH_NAT") || GetDefn(ctx, "MY_PORT") != 5080 || GetDef(ctx, "MY_IP").S != "192.0.2.1" || GetDefn(ctx, "MY_IP") != 0 {
		t.Error("defines after the runtime has them")
	}
}
