package core

import (
	"strings"
	"testing"
)

// TestHardening_InjectionChecks covers issue 10 item 7's checks.
func TestHardening_InjectionChecks(t *testing.T) {
	for _, c := range []struct {
		s             string
		line, hdrline bool
	}{
		{"OK", true, true},
		{"", true, true},
		{"OK\r\nX-Injected: yes", false, false},
		{"OK\nX", false, false},
		{"OK\rX", false, false},
		{"OK\x00", false, false},
		{"X-Foo: bar\r\n", false, true},
		{"X-Foo: bar", true, true},
		{"X-Foo: bar\r\nX-Bar: baz\r\n", false, false},
		{"X-Foo: bar\r\n\r\n", false, false},
		{"X-Foo: bar\n", false, false},
		{"\r\n", false, true},
	} {
		if got := LineOK(c.s); got != c.line {
			t.Errorf("LineOK(%q) = %v", c.s, got)
		}
		if got := HdrLineOK(c.s); got != c.hdrline {
			t.Errorf("HdrLineOK(%q) = %v", c.s, got)
		}
	}
	err := CheckError("KSR.sl.sl_send_reply", "reason", CheckLine, "OK\r\nX-Injected: yes")
	if want := `KSR.sl.sl_send_reply: reason: expected a value without CR, LF or NUL, got "OK\r\nX-Injected: yes"`; err.Error() != want {
		t.Errorf("CheckError = %s\nwant %s", err, want)
	}
	if err := CheckError("KSR.hdr.append", "txt", CheckHdrLine, strings.Repeat("x", 500)); !strings.Contains(err.Error(), "(380 bytes more)") {
		t.Errorf("a long value is not cut: %s", err)
	}
	if n := testing.AllocsPerRun(100, func() { LineOK("SIP/2.0 200 OK"); HdrLineOK("X-Foo: bar\r\n") }); n != 0 {
		t.Errorf("checks allocate %v times", n)
	}
}
