package core

import (
	"errors"
	"strings"
	"testing"

	"kemi/sip"
)

// TestCompileFormat_ParenForms covers the $(...) names CompileFormat hands
// to the parser module pv installs (xlog, log_prefix).
func TestCompileFormat_ParenForms(t *testing.T) {
	saved := pvParser
	defer func() { pvParser = saved }()

	pvParser = nil
	f, err := CompileFormat("u=$(ru{uri.user})")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.parts) != 1 || f.parts[0].lit != "u=$(ru{uri.user})" {
		t.Errorf("without a parser $(...) should stay literal, got %+v", f.parts)
	}

	// $rm is the core module's (exports/kcore), which this package's tests
	// cannot import; stand in for it.
	if _, ok := pvGetters["rm"]; !ok {
		pvGetters["rm"] = func(c *Ctx, _ string, dst []byte) ([]byte, bool) { return append(dst, c.Msg.Method()...), true }
		defer delete(pvGetters, "rm")
	}

	var seen []string
	pvParser = func(full string) (PVGetter, error) {
		if strings.Contains(full, "bad") {
			return nil, errors.New("bad name " + full)
		}
		seen = append(seen, full)
		return func(_ *Ctx, _ string, dst []byte) ([]byte, bool) { return append(dst, "X"...), true }, nil
	}
	f, err = CompileFormat("a $(ru{s.select,0,)}) b $(hdr(Via)[1])$rm c")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, "|") != "$(ru{s.select,0,)})|$(hdr(Via)[1])" {
		t.Errorf("parser saw %q", seen)
	}
	m := new(sip.Msg)
	if err := m.Parse([]byte("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := string(f.Append(nil, &Ctx{Msg: m})); got != "a X b XOPTIONS c" {
		t.Errorf("Append = %q", got)
	}
	if _, err := CompileFormat("x $(bad)"); err == nil || !strings.Contains(err.Error(), "bad name $(bad)") {
		t.Errorf("a name the parser refuses: %v", err)
	}
	if _, err := CompileFormat("x $(ru{uri.user}" + strings.Repeat("y", 500)); err == nil ||
		!strings.Contains(err.Error(), "unclosed $(") || len(err.Error()) > 200 {
		t.Errorf("unclosed: %v", err)
	}
}
