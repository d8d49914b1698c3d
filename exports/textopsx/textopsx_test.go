package textopsx

import (
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func reply(code string, extra ...string) []byte {
	return ksrtest.Request(append([]string{
		"SIP/2.0 " + code,
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport",
		"From: Alice <sip:alice@example.org>;tag=1928301774",
		"To: Bob <sip:bob@example.com>;tag=b0b",
		"Call-ID: a84b4c76e66710@pc33.example.org",
		"CSeq: 314159 INVITE",
		"Content-Length: 0",
	}, extra...)...)
}

func TestMsgApplyChanges_LaterReadsSeeEdits(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)
	m := ctx.Msg
	if err := m.AppendHeader("My-Header", []byte("yes")); err != nil {
		t.Fatal(err)
	}
	m.RemoveHeader("Contact")
	m.SetRequestURI([]byte("sip:carol@example.net"))
	if m.HasHeader("My-Header") {
		t.Fatal("the added header is seen before apply")
	}
	if MsgApplyChanges(ctx) != 1 {
		t.Fatal("apply failed")
	}
	if string(m.Header("My-Header")) != "yes" || m.HasHeader("Contact") || string(m.OriginalRequestURI()) != "sip:carol@example.net" || m.PendingEdits() {
		t.Errorf("after apply: %q", m.Raw())
	}
	// A second apply writes into the other buffer: the message read
	// during the write is never overwritten.
	first := &m.Raw()[0]
	m.AppendHeader("Second", []byte("2"))
	if MsgApplyChanges(ctx) != 1 || string(m.Header("Second")) != "2" || string(m.Header("My-Header")) != "yes" {
		t.Errorf("second apply: %q", m.Raw())
	}
	if &m.Raw()[0] == first {
		t.Error("the second apply wrote into the buffer it read")
	}
	m.AppendHeader("Third", []byte("3"))
	if MsgApplyChanges(ctx) != 1 || string(m.Header("Third")) != "3" || string(m.Header("Second")) != "2" {
		t.Errorf("third apply: %q", m.Raw())
	}
	// Nothing pending: nothing to do.
	if MsgApplyChanges(ctx) != 1 {
		t.Error("apply without edits failed")
	}
}

func TestMsgApplyChanges_Refused(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)
	ctx.Route = core.BranchRoute
	if MsgApplyChanges(ctx) != -1 {
		t.Error("apply in a branch route succeeded")
	}
	ctx.Route = core.RequestRoute
	// An edited message over the size limit does not parse: the message
	// and its edits stay as they were.
	before := string(ctx.Msg.Raw())
	ctx.Msg.SetBody([]byte(strings.Repeat("x", 70000)), "text/plain")
	if MsgApplyChanges(ctx) != -1 {
		t.Fatal("a message over the size limit was applied")
	}
	if string(ctx.Msg.Raw()) != before || len(ctx.Msg.Body()) != 70000 {
		t.Error("a failed apply changed the message or lost the edits")
	}
}

func TestMsgApplyChanges_NoAllocsSteadyState(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)
	raw := ksrtest.Invite()
	run := func() {
		ctx.Msg.Parse(raw)
		ctx.Msg.AppendHeader("X-A", []byte("1"))
		MsgApplyChanges(ctx)
	}
	run()
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("apply allocates %v times, want 0", n)
	}
}

func firstLine(ctx *core.Ctx) string {
	l, _, _ := strings.Cut(ksrtest.Serialize(ctx), "\r\n")
	return l
}

func TestChangeReplyStatus(t *testing.T) {
	for _, c := range []struct {
		from   string
		code   int
		reason string
		want   string // first line, or "" for a refusal
	}{
		{"603 Decline", 404, "Not Found", "SIP/2.0 404 Not Found"},
		{"486 Busy Here", 600, "Busy Everywhere", "SIP/2.0 600 Busy Everywhere"},
		{"180 Ringing", 183, "Session Progress", "SIP/2.0 183 Session Progress"},
		{"200", 202, "Accepted", "SIP/2.0 202 Accepted"},
		{"200 OK", 404, "Not Found", ""},
		{"404 Not Found", 200, "OK", ""},
		{"404 Not Found", 99, "x", ""},
		{"404 Not Found", 700, "x", ""},
		{"404 Not Found", 403, "", ""},
		{"404 Not Found", 403, "Bad\r\nX-Injected: 1", ""},
	} {
		ctx := ksrtest.Ctx(t, reply(c.from), ksrtest.Discard)
		ctx.Route = core.OnReplyRoute
		got := ChangeReplyStatus(ctx, c.code, c.reason)
		if c.want == "" {
			if got != -1 || firstLine(ctx) != "SIP/2.0 "+c.from {
				t.Errorf("%s to %d %q: %d, %q; want a refusal", c.from, c.code, c.reason, got, firstLine(ctx))
			}
			continue
		}
		if got != 1 || firstLine(ctx) != c.want {
			t.Errorf("%s to %d %q: %d, %q; want %q", c.from, c.code, c.reason, got, firstLine(ctx), c.want)
		}
	}
	ctx := ksrtest.Ctx(t, reply("603 Decline"), ksrtest.Discard)
	if ChangeReplyStatusCode(ctx, 604) != 1 || firstLine(ctx) != "SIP/2.0 604 Decline" {
		t.Errorf("change_reply_status_code: %q", firstLine(ctx))
	}
	req := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)
	if ChangeReplyStatus(req, 404, "Not Found") != -1 {
		t.Error("a request's status changed")
	}
}

func TestRemoveBody(t *testing.T) {
	raw := []byte(strings.Replace(string(ksrtest.Invite("Content-Type: application/sdp")), "Content-Length: 0\r\n", "Content-Length: 4\r\n", 1) + "v=0\n")
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard)
	if RemoveBody(ctx) != 1 {
		t.Fatal("remove_body failed")
	}
	out := ksrtest.Serialize(ctx)
	if !strings.HasSuffix(out, "\r\n\r\n") || !strings.Contains(out, "Content-Length: 0\r\n") || !strings.Contains(out, "Content-Type: application/sdp") {
		t.Errorf("after remove_body:\n%s", out)
	}
	if RemoveBody(ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)) != 1 {
		t.Error("remove_body without a body is not 1")
	}
}

func TestKeepHF(t *testing.T) {
	raw := ksrtest.Invite("User-Agent: x", "X-One: 1", "Route: <sip:p1>", "X-Two: 2", "Subject: s", "Max-Forwards: 70", "v: SIP/2.0/UDP 192.0.2.99")
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard)
	if KeepHF(ctx) != 1 {
		t.Fatal("keep_hf failed")
	}
	out := ksrtest.Serialize(ctx)
	for _, gone := range []string{"User-Agent", "X-One", "X-Two", "Subject"} {
		if strings.Contains(out, gone) {
			t.Errorf("%s kept:\n%s", gone, out)
		}
	}
	for _, kept := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:", "Contact:", "Content-Length:", "Route:", "Max-Forwards:", "v: SIP"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%s removed:\n%s", kept, out)
		}
	}
	ctx = ksrtest.Ctx(t, raw, ksrtest.Discard)
	if KeepHFRe(ctx, "^x-") != 1 {
		t.Fatal("keep_hf_re failed")
	}
	out = ksrtest.Serialize(ctx)
	if !strings.Contains(out, "X-One: 1") || !strings.Contains(out, "X-Two: 2") || strings.Contains(out, "User-Agent") {
		t.Errorf("keep_hf_re(^x-):\n%s", out)
	}
	if KeepHFRe(ctx, "(") != -1 {
		t.Error("a bad expression was accepted")
	}
}

// Hostile: the most header lines a message may have, kept and removed
// lines alternating, still fits in the edits a message holds.
func TestHostile_KeepHFManyHeaders(t *testing.T) {
	var extra []string
	for i := 0; len(extra) < 64-8; i++ {
		extra = append(extra, "X-Junk-"+strconv.Itoa(i)+": "+strings.Repeat("j", 500), "Route: <sip:r"+strconv.Itoa(i)+">")
	}
	ctx := ksrtest.Ctx(t, ksrtest.Invite(extra...), ksrtest.Discard)
	if KeepHF(ctx) != 1 {
		t.Fatal("keep_hf failed on a full message")
	}
	if out := ksrtest.Serialize(ctx); strings.Contains(out, "X-Junk") || strings.Count(out, "Route:") != 28 {
		t.Errorf("after keep_hf:\n%.500s", out)
	}
	if MsgApplyChanges(ctx) != 1 || ctx.Msg.HasHeader("X-Junk-0") {
		t.Error("apply after keep_hf failed")
	}
}

func TestFnmatch(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"123*", "12345", false, true},
		{"123*", "0123", false, false},
		{"*", "", false, true},
		{"*", "a/b/.c", false, true},
		{"?", "", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "a/c", false, true},
		{"*.example.com", "sip.example.com", false, true},
		{"*.example.com", "example.com", false, false},
		{"[0-9][0-9]*", "42x", false, true},
		{"[!0-9]*", "42x", false, false},
		{"[^0-9]*", "x42", false, true},
		{"[]a]", "]", false, true},
		{"[[:digit:]]*", "7up", false, true},
		{"[[:alpha:]]", "7", false, false},
		{"\\*", "*", false, true},
		{"\\*", "a", false, false},
		{"[abc", "[abc", false, true},
		{"a*b*c", "aXbYc", false, true},
		{"a*b*c", "aXbYd", false, false},
		{"*.EXAMPLE.com", "sip.example.COM", true, true},
		{"*.EXAMPLE.com", "sip.example.COM", false, false},
		{"[A-C]x", "bX", true, true},
		{"[[:upper:]]", "q", true, true},
	} {
		if got := Match(c.pat, c.s, c.fold); got != c.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", c.pat, c.s, c.fold, got, c.want)
		}
	}
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)
	if Fnmatch(ctx, "12345", "123*") != 0 || Fnmatch(ctx, "1", "2") != -1 || FnmatchEx(ctx, "ABC", "a*", "i") != 0 || FnmatchEx(ctx, "ABC", "a*", "") != -1 {
		t.Error("Fnmatch return values")
	}
}

// Hostile: a pattern built to make a backtracking matcher explode stays
// linear in len(pat)*len(s).
func TestHostile_FnmatchNoBlowup(t *testing.T) {
	pat := strings.Repeat("*a", 2000) + "b"
	s := strings.Repeat("a", 60000)
	start := time.Now()
	if Match(pat, s, false) {
		t.Error("matched")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func FuzzFnmatch(f *testing.F) {
	f.Add("a*b?c", "aXXbYc")
	f.Add("[!a-z]*", "Q1")
	f.Add("[[:digit:]", "[")
	f.Fuzz(func(t *testing.T, pat, s string) {
		got := Match(pat, s, false)
		Match(pat, s, true)
		// On ASCII without '/', '\\' and '[', path.Match has fnmatch's
		// meaning (path.Match's ? is a UTF-8 character, fnmatch's a byte in
		// the C locale).
		if !strings.ContainsAny(pat+s, "/\\[") && ascii(pat+s) {
			if want, err := path.Match(pat, s); err == nil && want != got {
				t.Errorf("Match(%q, %q) = %v, path.Match says %v", pat, s, got, want)
			}
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func BenchmarkMsgApplyChanges(b *testing.B) {
	ctx := ksrtest.Ctx(b, ksrtest.Invite(), ksrtest.Discard)
	raw := ksrtest.Invite()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ctx.Msg.Parse(raw)
		ctx.Msg.AppendHeader("X-A", []byte("1"))
		MsgApplyChanges(ctx)
	}
}

func BenchmarkFnmatch(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Match("*.example.[ch][oe]*", "sip.proxy.example.com", false)
	}
}
