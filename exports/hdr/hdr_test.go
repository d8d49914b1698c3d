package hdr

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func msg() []byte {
	return ksrtest.Request(
		"INVITE sip:bob@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		"v: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK2",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>",
		"Call-ID: x@y",
		"CSeq: 1 INVITE",
		"X-A: one",
		"X-A: two",
		"Content-Length: 0")
}

func headers(t *testing.T, ctx *core.Ctx) []string {
	t.Helper()
	out := ksrtest.Serialize(ctx)
	head, _, _ := strings.Cut(out, "\r\n\r\n")
	return strings.Split(head, "\r\n")[1:]
}

func TestEdits(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(ctx *core.Ctx) int
		want []string
	}{
		{"append", func(c *core.Ctx) int { return Append(c, "X-B: 1\r\nX-C: 2\r\n") },
			[]string{"Via", "v", "From", "To", "Call-ID", "CSeq", "X-A", "X-A", "Content-Length", "X-B: 1", "X-C: 2"}},
		{"append without CRLF", func(c *core.Ctx) int { return Append(c, "X-B:1") },
			[]string{"Via", "v", "From", "To", "Call-ID", "CSeq", "X-A", "X-A", "Content-Length", "X-B: 1"}},
		{"append_after", func(c *core.Ctx) int { return AppendAfter(c, "X-B: 1\r\n", "via") },
			[]string{"Via", "X-B: 1", "v", "From", "To", "Call-ID", "CSeq", "X-A", "X-A", "Content-Length"}},
		{"append_after missing", func(c *core.Ctx) int { return AppendAfter(c, "X-B: 1\r\n", "X-None") },
			[]string{"Via", "v", "From", "To", "Call-ID", "CSeq", "X-A", "X-A", "Content-Length", "X-B: 1"}},
		{"insert", func(c *core.Ctx) int { return Insert(c, "X-B: 1\r\nX-C: 2\r\n") },
			[]string{"X-B: 1", "X-C: 2", "Via", "v", "From", "To", "Call-ID", "CSeq", "X-A", "X-A", "Content-Length"}},
		{"insert_before", func(c *core.Ctx) int { return InsertBefore(c, "X-B: 1\r\n", "x-a") },
			[]string{"Via", "v", "From", "To", "Call-ID", "CSeq", "X-B: 1", "X-A", "X-A", "Content-Length"}},
		{"remove", func(c *core.Ctx) int { return Remove(c, "X-A") },
			[]string{"Via", "v", "From", "To", "Call-ID", "CSeq", "Content-Length"}},
		{"remove compact", func(c *core.Ctx) int { return Remove(c, "Via") },
			[]string{"From", "To", "Call-ID", "CSeq", "X-A", "X-A", "Content-Length"}},
		{"rmappend", func(c *core.Ctx) int { return RmAppend(c, "X-A", "X-A: three\r\n") },
			[]string{"Via", "v", "From", "To", "Call-ID", "CSeq", "Content-Length", "X-A: three"}},
		{"rminsert", func(c *core.Ctx) int { return RmInsert(c, "X-A", "X-A: three\r\n") },
			[]string{"X-A: three", "Via", "v", "From", "To", "Call-ID", "CSeq", "Content-Length"}},
	} {
		ctx := ksrtest.Ctx(t, msg(), nil)
		if r := c.do(ctx); r != 1 {
			t.Errorf("%s: returned %d", c.name, r)
			continue
		}
		var got []string
		for _, h := range headers(t, ctx) {
			if strings.HasPrefix(h, "X-B") || strings.HasPrefix(h, "X-C") || strings.HasPrefix(h, "X-A: three") {
				got = append(got, h)
			} else {
				n, _, _ := strings.Cut(h, ":")
				got = append(got, n)
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}

func TestBadText(t *testing.T) {
	ctx := ksrtest.Ctx(t, msg(), nil)
	for _, txt := range []string{"", "no colon\r\n", ": empty name\r\n", "X-A: 1\r\nbad line\r\n"} {
		if Append(ctx, txt) != -1 || Insert(ctx, txt) != -1 || AppendToReply(ctx, txt) != -1 {
			t.Errorf("%q accepted", txt)
		}
	}
	if ctx.Msg.PendingEdits() {
		t.Errorf("a rejected text left edits: %q", ksrtest.Serialize(ctx))
	}
}

func TestReads(t *testing.T) {
	ctx := ksrtest.Ctx(t, msg(), nil)
	if IsPresent(ctx, "x-a") != 1 || IsPresent(ctx, "v") != 1 || IsPresent(ctx, "X-None") != -1 {
		t.Error("is_present")
	}
	if Get(ctx, "X-A").S != "one" || GetIdx(ctx, "X-A", 1).S != "two" || GetIdx(ctx, "X-A", -1).S != "two" ||
		GetIdx(ctx, "x-a", -2).S != "one" || !GetIdx(ctx, "X-A", 2).IsNull() || !GetIdx(ctx, "X-A", -3).IsNull() {
		t.Error("get / get_idx")
	}
	if GetIdx(ctx, "Via", 1).S != "SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK2" {
		t.Errorf("get_idx(Via, 1) = %v", GetIdx(ctx, "Via", 1))
	}
	if !Get(ctx, "X-None").IsNull() || Gete(ctx, "X-None").S != "" || Getw(ctx, "X-None").S != "<null>" ||
		GeteIdx(ctx, "X-None", 0).S != "" || GetwIdx(ctx, "X-None", -1).S != "<null>" {
		t.Error("missing header modes")
	}
}

// TestReplyHeaders: append_to_reply's lines are kept in the Ctx (issue 12:
// core.Ctx.ReplyHeaders, for sl, tm and the others to read), all or none
// of a text's lines, cleared by the next message.
func TestReplyHeaders(t *testing.T) {
	ctx := ksrtest.Ctx(t, msg(), nil)
	if ctx.ReplyHeaders() != nil {
		t.Error("reply headers before any call")
	}
	AppendToReply(ctx, "Retry-After: 60\r\n")
	AppendToReply(ctx, "X-Why:busy")
	if got := string(ctx.ReplyHeaders()); got != "Retry-After: 60\r\nX-Why: busy\r\n" {
		t.Errorf("reply headers %q", got)
	}
	if AppendToReply(ctx, "X-A: 1\r\nnot a header\r\n") != -1 {
		t.Error("a bad line was taken")
	}
	if got := string(ctx.ReplyHeaders()); got != "Retry-After: 60\r\nX-Why: busy\r\n" {
		t.Errorf("a rejected text left lines: %q", got)
	}
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if ctx.ReplyHeaders() != nil {
		t.Error("reply headers leaked into the next message")
	}
}

func TestAllocations(t *testing.T) {
	raw := msg()
	ctx := ksrtest.Ctx(t, raw, nil)
	n := testing.AllocsPerRun(100, func() {
		ctx.Msg.Parse(raw)
		ctx.Seq++
		Append(ctx, "X-Proxied: yes\r\n")
		Remove(ctx, "X-A")
		IsPresent(ctx, "X-A")
		AppendToReply(ctx, "Retry-After: 60\r\n")
	})
	if n != 0 {
		t.Errorf("%v allocations per message", n)
	}
}

func TestMatchContent(t *testing.T) {
	ctx := ksrtest.Ctx(t, msg(), nil)
	for _, c := range []struct {
		op, val, idx string
		want         bool
	}{
		{"eq", "ONE", "f", true}, {"eq", "two", "f", false}, {"eq", "two", "l", true},
		{"eq", "one", "a", false}, {"eq", "two", "o", true}, {"ne", "one", "l", true},
		{"ne", "one", "f", false}, {"sw", "tw", "o", true}, {"in", "W", "l", true},
		{"re", "^(one|two)$", "a", true}, {"re", "^t", "f", false}, {"xx", "one", "f", false},
		{"eq", "one", "z", false}, {"re", "(", "f", false},
	} {
		if got := MatchContent(ctx, "X-A", c.op, c.val, c.idx); got != c.want {
			t.Errorf("match_content(X-A, %s, %s, %s) = %v", c.op, c.val, c.idx, got)
		}
	}
	if MatchContent(ctx, "X-None", "ne", "x", "a") {
		t.Error("match_content on a missing header")
	}
}
