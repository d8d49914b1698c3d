package maxfwd

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func invite(mf string) []byte {
	if mf == "" {
		return ksrtest.Invite()
	}
	return ksrtest.Invite("Max-Forwards: " + mf)
}

func TestProcessMaxfwd(t *testing.T) {
	for _, c := range []struct {
		name   string
		hdr    string // "" for none
		limit  int
		ret    int
		header string // Max-Forwards line in the relayed message; "" for none
	}{
		{"missing header is added with limit", "", 10, 2, "Max-Forwards: 10"},
		{"decremented", "70", 10, 1, "Max-Forwards: 69"},
		{"one left", "1", 10, 1, "Max-Forwards: 0"},
		{"exhausted", "0", 10, -1, "Max-Forwards: 0"},
		{"above max_limit is lowered to it", "200", 10, 1, "Max-Forwards: 70"},
		{"at max_limit+1", "71", 10, 1, "Max-Forwards: 70"},
		{"malformed", "abc", 10, -2, "Max-Forwards: abc"},
		{"limit out of range", "70", 256, -1, "Max-Forwards: 70"},
		{"negative limit", "", -1, -1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := ksrtest.Ctx(t, invite(c.hdr), nil)
			if got := ProcessMaxfwd(ctx, c.limit); got != c.ret {
				t.Errorf("ProcessMaxfwd(%d) = %d, want %d", c.limit, got, c.ret)
			}
			out := ksrtest.Serialize(ctx)
			if c.header == "" {
				if strings.Contains(strings.ToLower(out), "max-forwards") {
					t.Errorf("a Max-Forwards header appeared:\n%s", out)
				}
			} else if !strings.Contains(out, "\r\n"+c.header+"\r\n") {
				t.Errorf("relayed message lacks %q:\n%s", c.header, out)
			}
		})
	}
}

func TestMaxLimitParam(t *testing.T) {
	ctx := ksrtest.Ctx(t, invite("50"), nil, core.Known("maxfwd"))
	ctx.RT.Params = map[string]map[string][]core.Value{"maxfwd": {"max_limit": {core.Int(16)}}}
	if got := ProcessMaxfwd(ctx, 10); got != 1 {
		t.Fatalf("ProcessMaxfwd = %d", got)
	}
	if n, _, _ := ctx.Msg.MaxForwards(); n != 16 {
		t.Errorf("Max-Forwards %d, want 16 (max_limit)", n)
	}
	// Without a modparam the spec's default (70) applies.
	ctx = ksrtest.Ctx(t, invite("100"), nil, core.Known("maxfwd"))
	ProcessMaxfwd(ctx, 10)
	if n, _, _ := ctx.Msg.MaxForwards(); n != 70 {
		t.Errorf("Max-Forwards %d, want 70 (default max_limit)", n)
	}
}

func TestIsMaxfwdLt(t *testing.T) {
	for _, c := range []struct {
		hdr   string
		limit int
		ret   int
	}{
		{"2", 3, 1},
		{"3", 3, -1},
		{"70", 3, -1},
		{"", 3, -2},
		{"x", 3, -3},
		{"2", 256, -1},
	} {
		ctx := ksrtest.Ctx(t, invite(c.hdr), nil)
		if got := IsMaxfwdLt(ctx, c.limit); got != c.ret {
			t.Errorf("Max-Forwards %q: IsMaxfwdLt(%d) = %d, want %d", c.hdr, c.limit, got, c.ret)
		}
	}
}

func TestIsMaxfwdLtSeesEdits(t *testing.T) {
	ctx := ksrtest.Ctx(t, invite("3"), nil)
	if IsMaxfwdLt(ctx, 3) != -1 {
		t.Fatal("3 < 3")
	}
	ProcessMaxfwd(ctx, 10)
	if got := IsMaxfwdLt(ctx, 3); got != 1 {
		t.Errorf("after process_maxfwd (3 -> 2): IsMaxfwdLt(3) = %d, want 1", got)
	}
	ctx = ksrtest.Ctx(t, invite(""), nil)
	ProcessMaxfwd(ctx, 10)
	if got := IsMaxfwdLt(ctx, 11); got != 1 {
		t.Errorf("after the header was added with 10: IsMaxfwdLt(11) = %d, want 1", got)
	}
}

func TestProcessMaxfwdAllocs(t *testing.T) {
	ctx := ksrtest.Ctx(t, invite("70"), nil)
	if n := testing.AllocsPerRun(200, func() { ProcessMaxfwd(ctx, 10) }); n != 0 {
		t.Errorf("ProcessMaxfwd allocates %v times per call, want 0", n)
	}
}
