package sanity

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/hdr"
	"kemi/exports/internal/ksrtest"
)

func msg(first string, hdrs ...string) []byte {
	base := map[string]string{
		"Via":     "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		"From":    "From: <sip:alice@example.org>;tag=1",
		"To":      "To: <sip:bob@example.com>",
		"Call-ID": "Call-ID: x@y",
		"CSeq":    "CSeq: 1 INVITE",
	}
	var extra []string
	for _, h := range hdrs {
		name, _, _ := strings.Cut(h, ":")
		if _, ok := base[name]; ok {
			base[name] = h
			continue
		}
		extra = append(extra, h)
	}
	lines := []string{first}
	for _, n := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if base[n] != "-" && !strings.HasSuffix(base[n], ": -") {
			lines = append(lines, base[n])
		}
	}
	lines = append(lines, extra...)
	return ksrtest.Request(lines...)
}

const inv = "INVITE sip:bob@example.com SIP/2.0"

func TestChecks(t *testing.T) {
	for _, c := range []struct {
		name   string
		raw    []byte
		checks int
		ret    int
		reply  string // first line of the reply, "" for none
	}{
		{"good", msg(inv, "Content-Length: 0"), 0, 1, ""},
		{"all bits good", msg(inv, "Content-Length: 0", "Contact: <sip:alice@192.0.2.10>"), (1 << 16) - 1, 1, ""},
		{"ruri version", msg("INVITE sip:bob@example.com SIP/3.0"), RURISipVersion, -1, "SIP/2.0 505 Version Not Supported (R-URI)"},
		{"ruri scheme", msg("INVITE http://example.com/ SIP/2.0"), RURIScheme, -1, "SIP/2.0 416 Unsupported URI Scheme in Request URI"},
		{"ruri urn", msg("INVITE urn:service:sos SIP/2.0"), RURIScheme, 1, ""},
		{"ruri bad", msg("INVITE sip:bob@exa mple.com SIP/2.0"), RURIScheme, -1, "SIP/2.0 400 Bad Request URI"},
		{"no call-id", msg(inv, "Call-ID: -"), RequiredHeaders, -1, ""},
		{"two CSeq", msg(inv, "cseq: 2 INVITE"), RequiredHeaders, -1, ""},
		{"cseq method", msg(inv, "CSeq: 1 BYE"), CSeqMethod, -1, "SIP/2.0 400 CSeq method does not match request method"},
		{"cseq value", msg(inv, "CSeq: 2147483648 INVITE"), CSeqValue, -1, "SIP/2.0 400 CSeq number is illegal"},
		{"expires", msg(inv, "Expires: soon"), ExpiresValue, -1, "SIP/2.0 400 Expires value is illegal"},
		{"expires empty", msg(inv, "Expires:"), ExpiresValue, -1, "SIP/2.0 400 Missing number in Expires header"},
		{"proxy-require", msg(inv, "Proxy-Require: foo, bar"), ProxyRequire, -1, "SIP/2.0 420 Bad Proxy Require Extension"},
		{"parse from", msg(inv, "From: <sip:alice@>;tag=1"), ParseURIs, -1, "SIP/2.0 400 Invalid From Header"},
		{"digest no nonce", msg(inv, `Authorization: Digest username="a", realm="r", uri="sip:b", response="x"`), CheckDigest, -1, "SIP/2.0 400 Auth Empty Nonce"},
		{"digest basic", msg(inv, "Authorization: Basic QWxhZGRpbjpvcGVu"), CheckDigest, -1, ""},
		{"authorization basic", msg(inv, "Authorization: Basic QWxhZGRpbjpvcGVu"), Authorization, 1, ""},
		{"dup tags", msg(inv, "From: <sip:alice@example.org>;tag=1;tag=2"), CheckDupTags, -1, "SIP/2.0 400 Many From Tag Params"},
		{"via1 no branch", msg(inv, "Via: SIP/2.0/UDP 192.0.2.10:5062"), Via1Header, -1, ""},
		{"rfc3261 cookie", msg(inv, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=1234567"), RFC3261, -1, ""},
		{"rfc3261 strict route", msg(inv, "Route: <sip:192.0.2.1>"), RFC3261, -1, ""},
		{"ack never answered", msg("ACK sip:bob@example.com SIP/2.0", "CSeq: 1 BYE"), CSeqMethod, -1, ""},
	} {
		rec := ksrtest.NewRecorder()
		ctx := ksrtest.Ctx(t, c.raw, rec)
		if r := SanityCheck(ctx, c.checks, DefaultURIChecks); r != c.ret {
			t.Errorf("%s: sanity_check = %d, want %d", c.name, r, c.ret)
		}
		var got string
		if len(rec.Sent) > 0 {
			got, _, _ = strings.Cut(string(rec.Sent[0].B), "\r\n")
		}
		if got != c.reply || len(rec.Sent) > 1 {
			t.Errorf("%s: reply %q (%d sent), want %q", c.name, got, len(rec.Sent), c.reply)
		}
		if len(rec.Sent) > 0 && rec.Sent[0].To != ksrtest.Src {
			t.Errorf("%s: reply went to %v", c.name, rec.Sent[0].To)
		}
	}
}

func TestContentLength(t *testing.T) {
	raw := []byte(inv + "\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 2\r\n\r\nabcd")
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, raw, rec)
	if SanityCheck(ctx, ContentLength, 0) != -1 || len(rec.Sent) != 1 || !strings.HasPrefix(string(rec.Sent[0].B), "SIP/2.0 400 Content-Length mis-match\r\n") {
		t.Errorf("extra body bytes: %q", rec.Sent)
	}
}

func TestUnsupportedHeader(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, msg(inv, "Proxy-Require: foo, bar"), rec)
	SanityCheck(ctx, ProxyRequire, 0)
	if len(rec.Sent) != 1 || !strings.Contains(string(rec.Sent[0].B), "\r\nUnsupported: foo, bar\r\n") {
		t.Errorf("420 without Unsupported: %q", rec.Sent)
	}
}

func TestNoreply(t *testing.T) {
	spec := core.Known("sanity")
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, msg(inv, "CSeq: 1 BYE"), rec, spec)
	ctx.RT.Params = map[string]map[string][]core.Value{"sanity": {"noreply": {core.Int(1)}}}
	if SanityCheck(ctx, CSeqMethod, 0) != -1 || len(rec.Sent) != 0 {
		t.Fatalf("noreply mode sent %d", len(rec.Sent))
	}
	if SanityReply(ctx) != 1 || len(rec.Sent) != 1 || !strings.HasPrefix(string(rec.Sent[0].B), "SIP/2.0 400 CSeq method does not match request method\r\n") {
		t.Errorf("sanity_reply: %q", rec.Sent)
	}
	// Without a recorded failure sanity_reply answers 500.
	rec.Sent = nil
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if SanityReply(ctx) != 1 || len(rec.Sent) != 1 || !strings.HasPrefix(string(rec.Sent[0].B), "SIP/2.0 500 Server Sanity Failure\r\n") {
		t.Errorf("sanity_reply without failure: %q", rec.Sent)
	}
	// Outside noreply mode it does nothing.
	rec.Sent = nil
	ctx.RT.Params = nil
	if SanityReply(ctx) != 1 || len(rec.Sent) != 0 {
		t.Error("sanity_reply outside noreply mode")
	}
}

func TestDefaultsParam(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, msg(inv, "CSeq: 1 BYE"), rec, core.Known("sanity"))
	ctx.RT.Params = map[string]map[string][]core.Value{"sanity": {"default_checks": {core.Int(RURISipVersion)}}}
	if SanityCheckDefaults(ctx) != 1 {
		t.Error("default_checks modparam ignored")
	}
}

func TestAllocations(t *testing.T) {
	raw := msg(inv, "Content-Length: 0", `Proxy-Authorization: Digest username="a", realm="r", nonce="n", uri="sip:b", response="x"`)
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard)
	n := testing.AllocsPerRun(100, func() {
		ctx.Seq++
		if SanityCheck(ctx, (1<<16)-1, 15) != 1 {
			t.Fatal("check failed")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations for a good message", n)
	}
}

func BenchmarkSanityCheckDefaults(b *testing.B) {
	raw := msg(inv, "Content-Length: 0")
	ctx := ksrtest.Ctx(b, raw, ksrtest.Discard)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Seq++
		SanityCheck(ctx, 0, 0)
	}
}

func TestReplyHeadersFromHdr(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, msg(inv, "Proxy-Require: foo"), rec)
	hdr.AppendToReply(ctx, "X-Why: sanity\r\n")
	SanityCheck(ctx, ProxyRequire, 0)
	if len(rec.Sent) != 1 || !strings.Contains(string(rec.Sent[0].B), "\r\nX-Why: sanity\r\nUnsupported: foo\r\n") {
		t.Errorf("reply %q", rec.Sent)
	}
}
