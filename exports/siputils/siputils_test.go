package siputils

import (
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func req(ruri string, extra ...string) []byte {
	return ksrtest.Request(append([]string{
		"INVITE " + ruri + " SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>",
		"Call-ID: x@y",
		"CSeq: 1 INVITE",
	}, append(extra, "Content-Length: 0")...)...)
}

func reply(extra ...string) []byte {
	return ksrtest.Request(append([]string{
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>;tag=2",
		"Call-ID: x@y",
		"CSeq: 1 INVITE",
	}, append(extra, "Content-Length: 0")...)...)
}

func TestMessageChecks(t *testing.T) {
	ctx := ksrtest.Ctx(t, req("sip:bob@example.com"), nil)
	if HasTotag(ctx) != -1 || IsRequest(ctx) != 1 || IsReply(ctx) != -1 || IsFirstHop(ctx) != 1 || SipParseHeaders(ctx) != 1 {
		t.Error("initial request from the first hop")
	}
	ctx = ksrtest.Ctx(t, req("sip:bob@example.com", "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK0"), nil)
	if IsFirstHop(ctx) != -1 {
		t.Error("two Vias: not first hop")
	}
	ctx = ksrtest.Ctx(t, reply(), nil)
	if HasTotag(ctx) != 1 || IsRequest(ctx) != -1 || IsReply(ctx) != 1 || IsFirstHop(ctx) != 1 {
		t.Error("reply without Record-Route")
	}
	ctx = ksrtest.Ctx(t, reply("Record-Route: <sip:192.0.2.1;lr>"), nil)
	if IsFirstHop(ctx) != 1 {
		t.Error("reply whose top Record-Route is ours")
	}
	ctx = ksrtest.Ctx(t, reply("Record-Route: <sip:198.51.100.1;lr>"), nil)
	if IsFirstHop(ctx) != -1 {
		t.Error("reply whose top Record-Route is not ours")
	}
	ctx = ksrtest.Ctx(t, reply("Record-Route: <sip:proxy.example.com;lr>"), nil)
	if IsFirstHopMode(ctx, 0) != -1 {
		t.Error("mode 0 wants an IP")
	}
	ctx = ksrtest.Ctx(t, req("sip:bob@example.com", "CSeq: 2 INVITE"), nil)
	if SipParseHeaders(ctx) != -1 {
		t.Error("two CSeq headers parse")
	}
}

func TestURIParams(t *testing.T) {
	ctx := ksrtest.Ctx(t, req("sip:bob@example.com;lr;transport=tcp;Gw?subject=x"), nil)
	for _, c := range []struct {
		got, want int
		what      string
	}{
		{URIParam(ctx, "lr"), 1, "uri_param lr"},
		{URIParam(ctx, "transport"), -1, "uri_param with a value"},
		{URIParam(ctx, "LR"), -1, "uri_param case"},
		{URIParamValue(ctx, "transport", "tcp"), 1, "uri_param_value"},
		{URIParamValue(ctx, "transport", "udp"), -1, "uri_param_value other"},
		{URIParamAny(ctx, "TRANSPORT"), 1, "uri_param_any"},
		{URIParamAny(ctx, "gw"), 1, "uri_param_any no value"},
		{URIParamAny(ctx, "maddr"), -1, "uri_param_any missing"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if URIParamRm(ctx, "transport") != 1 || string(ctx.Msg.RequestURI()) != "sip:bob@example.com;lr;Gw?subject=x" {
		t.Errorf("uri_param_rm: %q", ctx.Msg.RequestURI())
	}
	if URIParamRm(ctx, "maddr") != -1 {
		t.Error("uri_param_rm of a missing param")
	}
	if AddURIParam(ctx, "user=phone") != 1 || string(ctx.Msg.RequestURI()) != "sip:bob@example.com;lr;Gw;user=phone?subject=x" {
		t.Errorf("add_uri_param: %q", ctx.Msg.RequestURI())
	}
	out := ksrtest.Serialize(ctx)
	if want := "INVITE sip:bob@example.com;lr;Gw;user=phone?subject=x SIP/2.0\r\n"; out[:len(want)] != want {
		t.Errorf("serialized: %q", out[:len(want)])
	}
	ctx = ksrtest.Ctx(t, req("sip:bob@example.com"), nil)
	if AddURIParam(ctx, "x=1") != 1 || string(ctx.Msg.RequestURI()) != "sip:bob@example.com;x=1" {
		t.Errorf("add_uri_param without params: %q", ctx.Msg.RequestURI())
	}
}

func TestStrings(t *testing.T) {
	var ctx core.Ctx
	for _, c := range []struct {
		got, want int
		what      string
	}{
		{IsNumeric(&ctx, "0123"), 1, "numeric"}, {IsNumeric(&ctx, "12a"), -2, "not numeric"}, {IsNumeric(&ctx, ""), -2, "empty"},
		{IsAlphanum(&ctx, "ab12"), 1, "alnum"}, {IsAlphanum(&ctx, "a.b"), -3, "not alnum"}, {IsAlphanum(&ctx, ""), -2, "empty alnum"},
		{IsAlphanumex(&ctx, "a.b-c", ".-"), 1, "alnumex"}, {IsAlphanumex(&ctx, "a b", ".-"), -3, "not alnumex"},
		{IsTelNumber(&ctx, "+4930123"), 1, "tel"}, {IsTelNumber(&ctx, "030123"), 1, "tel no plus"},
		{IsTelNumber(&ctx, "+0301"), -2, "tel +0"}, {IsTelNumber(&ctx, "+"), -2, "tel +"}, {IsTelNumber(&ctx, "12-3"), -2, "tel dash"},
		{IsURI(&ctx, "sip:alice@example.com;transport=tcp"), 1, "uri"}, {IsURI(&ctx, "tel:+123"), 1, "tel uri"},
		{IsURI(&ctx, "alice@example.com"), -1, "not uri"},
		{CmpURI(&ctx, "sip:alice@EXAMPLE.com;transport=tcp", "sip:alice@example.com;transport=TCP"), 1, "cmp_uri equal"},
		{CmpURI(&ctx, "sip:alice@example.com", "sip:Alice@example.com"), -1, "cmp_uri user case"},
		{CmpURI(&ctx, "sip:alice@example.com", "nonsense"), -2, "cmp_uri bad"},
		{CmpAOR(&ctx, "sip:alice@example.com;transport=tcp", "sip:alice@EXAMPLE.COM:5060"), 1, "cmp_aor"},
		{CmpAOR(&ctx, "sip:alice@example.com", "sip:alice@example.com:5070"), -1, "cmp_aor port"},
		{CmpHdrName(&ctx, "f", "FROM"), 1, "cmp_hdr_name compact"},
		{CmpHdrName(&ctx, "X-A", "x-a"), 1, "cmp_hdr_name other"},
		{CmpHdrName(&ctx, "To", "From"), -1, "cmp_hdr_name different"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

func TestIsUser(t *testing.T) {
	ctx := ksrtest.Ctx(t, req("sip:bob@example.com",
		`Proxy-Authorization: Digest username="alice@example.org", realm="example.org", nonce="n", uri="sip:bob@example.com", response="0123456789abcdef0123456789abcdef"`), nil)
	if IsUser(ctx, "alice") != 1 || IsUser(ctx, "bob") != -1 {
		t.Error("is_user")
	}
	ctx = ksrtest.Ctx(t, req("sip:bob@example.com"), nil)
	if IsUser(ctx, "alice") != -1 {
		t.Error("is_user without credentials")
	}
}

func TestAllocations(t *testing.T) {
	ctx := ksrtest.Ctx(t, req("sip:bob@example.com;lr;transport=tcp"), nil)
	n := testing.AllocsPerRun(100, func() {
		HasTotag(ctx)
		IsFirstHop(ctx)
		URIParam(ctx, "lr")
		URIParamValue(ctx, "transport", "tcp")
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func TestE164(t *testing.T) {
	var ctx core.Ctx
	for s, want := range map[string]int{"+4930123456": 1, "+49": 1, "+4": -1, "4930123": -1, "+49a": -1, "+123456789012345": 1, "+1234567890123456": -1} {
		if got := IsE164(&ctx, s); got != want {
			t.Errorf("is_e164(%q) = %d, want %d", s, got, want)
		}
	}
	for u, want := range map[string]int{"sip:+4930123@example.com": 1, "sip:alice@example.com": -1, "sip:example.com": -1, "nonsense": -1} {
		if got := IsURIUserE164(&ctx, u); got != want {
			t.Errorf("is_uri_user_e164(%q) = %d, want %d", u, got, want)
		}
	}
}

func TestGruuSipHTTP(t *testing.T) {
	for ruri, want := range map[string]int{"sip:bob@example.com;gr=urn:uuid:1": 1, "sip:bob@example.com;gr": 2, "sip:bob@example.com": -1} {
		ctx := ksrtest.Ctx(t, req(ruri), nil)
		if got := IsGruu(ctx); got != want {
			t.Errorf("is_gruu(%s) = %d, want %d", ruri, got, want)
		}
		if IsSip(ctx) != 1 || IsHTTP(ctx) != -1 {
			t.Error("is_sip / is_http")
		}
	}
}

func TestOptionsReply(t *testing.T) {
	options := func(ruri string) []byte {
		return ksrtest.Request("OPTIONS "+ruri+" SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
			"From: <sip:alice@example.org>;tag=1", "To: <sip:192.0.2.1>", "Call-ID: o@y", "CSeq: 1 OPTIONS", "Content-Length: 0")
	}
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, options("sip:192.0.2.1"), rec)
	if OptionsReply(ctx) != 1 || len(rec.Sent) != 1 {
		t.Fatalf("options_reply sent %d", len(rec.Sent))
	}
	out := string(rec.Sent[0].B)
	for _, want := range []string{"SIP/2.0 200 OK\r\n", "\r\nAccept: */*\r\n", "\r\nAccept-Encoding: \r\n", "\r\nAccept-Language: en\r\n", "\r\nSupported: \r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("reply lacks %q:\n%s", want, out)
		}
	}
	ctx = ksrtest.Ctx(t, options("sip:bob@192.0.2.1"), rec)
	if OptionsReply(ctx) != -1 {
		t.Error("options_reply for a user")
	}
	ctx = ksrtest.Ctx(t, req("sip:192.0.2.1"), rec)
	if OptionsReply(ctx) != -1 {
		t.Error("options_reply to an INVITE")
	}
}

func TestHdrDateCheck(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return time.Date(2010, 11, 13, 23, 34, 0, 0, time.UTC) }
	ctx := ksrtest.Ctx(t, req("sip:b@c", "Date: Sat, 13 Nov 2010 23:29:00 GMT"), nil)
	if HdrDateCheck(ctx, 300) != 1 || HdrDateCheck(ctx, 299) != -4 {
		t.Error("hdr_date_check")
	}
	if HdrDateCheck(ksrtest.Ctx(t, req("sip:b@c"), nil), 300) != -1 || HdrDateCheck(ksrtest.Ctx(t, req("sip:b@c", "Date: yesterday"), nil), 300) != -1 {
		t.Error("hdr_date_check without a good Date")
	}
}
