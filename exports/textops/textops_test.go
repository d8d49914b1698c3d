package textops

import (
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

const sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\nc=IN IP4 192.0.2.10\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"

func invite() []byte {
	return []byte("INVITE sip:0301234@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1\r\n" +
		"From: Alice <sip:alice@example.org>;tag=1\r\n" +
		"To: <sip:0301234@example.com>\r\n" +
		"Call-ID: x@192.0.2.10\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Subject: hello world\r\n" +
		"User-Agent: friendly-scanner\r\n" +
		"X-A: 1\r\n" +
		"X-B: 2\r\n" +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp)
}

func ctxFor(t *testing.T) *core.Ctx { return ksrtest.Ctx(t, invite(), nil) }

// reparse serializes the edited message and parses it again.
func reparse(t *testing.T, ctx *core.Ctx) *core.Ctx {
	t.Helper()
	return ksrtest.Ctx(t, []byte(ksrtest.Serialize(ctx)), nil)
}

func TestHeaderChecks(t *testing.T) {
	ctx := ctxFor(t)
	if IsPresentHF(ctx, "subject") != 1 || IsPresentHF(ctx, "s") != 1 || IsPresentHF(ctx, "Route") != -1 {
		t.Error("is_present_hf")
	}
	if IsPresentHFRe(ctx, "^X-") != 1 || IsPresentHFRe(ctx, "^Y-") != -1 || IsPresentHFRe(ctx, "(") != -1 {
		t.Error("is_present_hf_re")
	}
	if RemoveHF(ctx, "X-A") != 1 || RemoveHF(ctx, "Route") != -1 {
		t.Error("remove_hf")
	}
	out := reparse(t, ctx)
	if out.Msg.HasHeader("X-A") || !out.Msg.HasHeader("X-B") {
		t.Error("remove_hf result")
	}
	ctx = ctxFor(t)
	if RemoveHFRe(ctx, "x-.") != 1 || RemoveHFRe(ctx, "X") != -1 {
		t.Error("remove_hf_re")
	}
	if out := reparse(t, ctx); out.Msg.HasHeader("X-A") || out.Msg.HasHeader("X-B") {
		t.Error("remove_hf_re result")
	}
	ctx = ctxFor(t)
	if RemoveHFExp(ctx, "X-.", "X-B") != 1 {
		t.Error("remove_hf_exp")
	}
	if out := reparse(t, ctx); out.Msg.HasHeader("X-A") || !out.Msg.HasHeader("X-B") {
		t.Error("remove_hf_exp result")
	}
	ctx = ksrtest.Ctx(t, ksrtest.Invite("Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2"), nil)
	if RemoveHFIdx(ctx, "Via", -1) != 1 || RemoveHFIdx(ctx, "Via", 5) != -1 {
		t.Error("remove_hf_idx")
	}
	if s := ksrtest.Serialize(ctx); strings.Contains(s, "198.51.100.1") || !strings.Contains(s, "192.0.2.10:5062") {
		t.Errorf("remove_hf_idx result %q", s)
	}
}

func TestSearch(t *testing.T) {
	ctx := ctxFor(t)
	for _, c := range []struct {
		got, want int
		what      string
	}{
		{Search(ctx, "^user-agent: .*scanner"), 1, "search"},
		{Search(ctx, "^INVITE sip:"), 1, "search first line"},
		{Search(ctx, "nothing here"), -1, "search miss"},
		{Search(ctx, "("), -1, "search bad re"},
		{SearchBody(ctx, "^m=audio"), 1, "search_body"},
		{SearchBody(ctx, "^Subject"), -1, "search_body headers"},
		{SearchHF(ctx, "Subject", "world$", ""), 1, "search_hf"},
		{SearchHF(ctx, "Subject", "^world", "f"), -1, "search_hf miss"},
		{HasBody(ctx), 1, "has_body"},
		{HasBodyType(ctx, "application/SDP"), 1, "has_body_type"},
		{HasBodyType(ctx, "text/plain"), -1, "has_body_type other"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	ctx = ksrtest.Ctx(t, ksrtest.Invite(), nil)
	if HasBody(ctx) != -1 || HasBodyType(ctx, "") != -1 {
		t.Error("has_body without a body")
	}
}

func TestSubst(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(*core.Ctx) int
		want []string // substrings of the result
		not  []string
	}{
		{"subst group", func(c *core.Ctx) int { return Subst(c, `/^(Subject: )hello (.*)$/\1bye \2/`) },
			[]string{"\r\nSubject: bye world\r\n"}, []string{"hello"}},
		{"subst first only", func(c *core.Ctx) int { return Subst(c, `/192\.0\.2\.10/203.0.113.1/`) },
			[]string{"Via: SIP/2.0/UDP 203.0.113.1:5062", "Call-ID: x@192.0.2.10", "c=IN IP4 192.0.2.10"}, nil},
		{"subst global", func(c *core.Ctx) int { return Subst(c, `/192\.0\.2\.10/203.0.113.1/g`) },
			[]string{"Via: SIP/2.0/UDP 203.0.113.1:5062", "Call-ID: x@203.0.113.1", "c=IN IP4 203.0.113.1", "o=- 1 1 IN IP4 203.0.113.1"},
			[]string{"192.0.2.10"}},
		{"subst ignore case", func(c *core.Ctx) int { return Subst(c, `/^x-a: 1/X-A: 9/i`) },
			[]string{"\r\nX-A: 9\r\n"}, nil},
		{"subst adds a line", func(c *core.Ctx) int { return Subst(c, `/^X-A: 1/X-A: 1\r\nX-New: yes/`) },
			[]string{"\r\nX-A: 1\r\nX-New: yes\r\nX-B: 2\r\n"}, nil},
		{"subst removes a line", func(c *core.Ctx) int { return Subst(c, `/X-A: 1\r\n//s`) },
			[]string{"\r\nUser-Agent: friendly-scanner\r\nX-B: 2\r\n"}, []string{"X-A"}},
		{"subst pv", func(c *core.Ctx) int { return Subst(c, `/^Subject: .*$/Subject: $ci/`) },
			[]string{"\r\nSubject: x@192.0.2.10\r\n"}, nil},
		{"subst_body", func(c *core.Ctx) int { return SubstBody(c, `/a=sendrecv/a=sendonly/`) },
			[]string{"a=sendonly\r\n", "Content-Length: " + strconv.Itoa(len(sdp))}, []string{"sendrecv"}},
		{"subst_uri", func(c *core.Ctx) int { return SubstURI(c, `/^sip:0/sip:+49/`) },
			[]string{"INVITE sip:+49301234@example.com SIP/2.0\r\n"}, nil},
		{"subst_user", func(c *core.Ctx) int { return SubstUser(c, `/^0(.*)$/+49\1/`) },
			[]string{"INVITE sip:+49301234@example.com SIP/2.0\r\n"}, nil},
		{"subst_hf", func(c *core.Ctx) int { return SubstHF(c, "From", `/Alice/Bob/`, "f") },
			[]string{"\r\nFrom: Bob <sip:alice@example.org>;tag=1\r\n"}, nil},
		{"replace", func(c *core.Ctx) int { return Replace(c, "FRIENDLY", "hostile") },
			[]string{"User-Agent: hostile-scanner"}, nil},
		{"replace_all", func(c *core.Ctx) int { return ReplaceAll(c, `192\.0\.2\.10`, "h") },
			[]string{"UDP h:5062", "c=IN IP4 h"}, []string{"192.0.2.10"}},
		{"replace_body_all", func(c *core.Ctx) int { return ReplaceBodyAll(c, `192\.0\.2\.10`, "h") },
			[]string{"UDP 192.0.2.10:5062", "c=IN IP4 h", "o=- 1 1 IN IP4 h"}, nil},
		{"replace_hdrs", func(c *core.Ctx) int { return ReplaceHdrs(c, `192\.0\.2\.10`, "h") },
			[]string{"UDP h:5062", "x@h", "c=IN IP4 192.0.2.10"}, nil},
		{"search_append", func(c *core.Ctx) int { return SearchAppend(c, "^Subject: hello", ",") },
			[]string{"Subject: hello, world"}, nil},
		{"search_append_body", func(c *core.Ctx) int { return SearchAppendBody(c, "^a=sendrecv", "\r\na=ptime:20") },
			[]string{"a=sendrecv\r\na=ptime:20\r\n"}, nil},
		{"set_body", func(c *core.Ctx) int { return SetBody(c, "hi", "text/plain") },
			[]string{"Content-Type: text/plain\r\n", "Content-Length: 2\r\n\r\nhi"}, nil},
	} {
		ctx := ctxFor(t)
		if r := c.do(ctx); r != 1 {
			t.Errorf("%s: returned %d", c.name, r)
			continue
		}
		out := ksrtest.Serialize(ctx)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: result lacks %q:\n%s", c.name, w, out)
			}
		}
		for _, w := range c.not {
			if strings.Contains(out, w) {
				t.Errorf("%s: result has %q:\n%s", c.name, w, out)
			}
		}
		// The result must still be a valid message.
		if _, err := reparse(t, ctx).Msg.Validate(); err != nil {
			t.Errorf("%s: result does not validate: %v\n%s", c.name, err, out)
		}
	}
}

func TestSubstErrors(t *testing.T) {
	ctx := ctxFor(t)
	for _, bad := range []string{"", "/a/b", "/(/x/", "/a/\\3/", "/a/b/x", "/a/$nosuchpv/"} {
		if Subst(ctx, bad) != -1 {
			t.Errorf("subst(%q) accepted", bad)
		}
	}
	if Subst(ctx, "/nothing here/x/") != -1 {
		t.Error("subst without a match")
	}
	// A result that is not a header line changes nothing.
	if Subst(ctx, `/^Subject: hello world$/not a header/`) != -1 || ctx.Msg.PendingEdits() {
		t.Errorf("a bad result left edits: %s", ksrtest.Serialize(ctx))
	}
}

func TestStrings(t *testing.T) {
	var ctx core.Ctx
	for _, c := range []struct {
		got, want int
		what      string
	}{
		{CmpStr(&ctx, "a", "a"), 1, "cmp_str"}, {CmpStr(&ctx, "b", "a"), -1, "cmp_str >"}, {CmpStr(&ctx, "a", "b"), -2, "cmp_str <"},
		{CmpIstr(&ctx, "ABC", "abc"), 1, "cmp_istr"},
		{StartsWith(&ctx, "+4930", "+49"), 1, "starts_with"}, {StartsWith(&ctx, "+43", "+49"), -2, "starts_with no"},
		{EndsWith(&ctx, "a.example.com", ".example.com"), 1, "ends_with"}, {EndsWith(&ctx, "com", ".example.com"), -1, "ends_with short"},
		{StrFind(&ctx, "hello", "ll"), 3, "str_find"}, {StrFind(&ctx, "hello", "x"), -1, "str_find miss"},
		{StrIfind(&ctx, "HeLLo", "ll"), 3, "str_ifind"},
		{StrAnyIn(&ctx, "12*3", "*#"), 1, "str_any_in"}, {StrAnyIn(&ctx, "123", "*#"), -1, "str_any_in no"},
		{StrAllIn(&ctx, "123", "0123456789"), 1, "str_all_in"}, {StrAllIn(&ctx, "12a", "0123456789"), -1, "str_all_in no"},
		{InList(&ctx, "BYE", "INVITE, BYE ,ACK", ","), 1, "in_list"}, {InList(&ctx, "BY", "INVITE,BYE", ","), -1, "in_list no"},
		{InListPrefix(&ctx, "+4930", "+43, +49", ","), 1, "in_list_prefix"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

func TestAllocations(t *testing.T) {
	raw := invite()
	ctx := ksrtest.Ctx(t, raw, nil)
	Search(ctx, "^user-agent: .*scanner")
	n := testing.AllocsPerRun(50, func() {
		ctx.Msg.Parse(raw)
		IsPresentHF(ctx, "Subject")
		RemoveHF(ctx, "X-A")
		HasBody(ctx)
		Search(ctx, "^user-agent: .*scanner")
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func BenchmarkSubst(b *testing.B) {
	raw := invite()
	ctx := ksrtest.Ctx(b, raw, nil)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Msg.Parse(raw)
		Subst(ctx, `/^(Subject: )hello (.*)$/\1bye \2/`)
	}
}
