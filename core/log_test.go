package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"kemi/sip"
)

func itoa(n int) string { return strconv.Itoa(n) }

func TestHardening_LogValueCut(t *testing.T) {
	uri := "sip:" + strings.Repeat("a", 65*1024) + "@example.com"
	got := LogValue(uri)
	want := uri[:LogValueMax] + "...[cut " + itoa(len(uri)-LogValueMax) + " bytes]"
	if got != want {
		t.Errorf("LogValue of a %d-byte URI: %d bytes, ends %q; want %d bytes ending %q",
			len(uri), len(got), got[len(got)-30:], len(want), want[len(want)-30:])
	}
	if q := LogQuote([]byte(uri)); len(q) > LogValueMax+40 || !strings.HasPrefix(q, `"sip:aaa`) || !strings.HasSuffix(q, `"...[cut `+itoa(len(uri)-LogValueMax)+` bytes]`) {
		t.Errorf("LogQuote of a %d-byte URI: %d bytes: %.40q...%q", len(uri), len(q), q, q[len(q)-30:])
	}
	if got := LogValue("sip:alice@example.com"); got != "sip:alice@example.com" {
		t.Errorf("a short value changed: %q", got)
	}
	// A cut never splits a character: 255 ASCII bytes, then a 3-byte one.
	v := strings.Repeat("x", LogValueMax-1) + "€€"
	got = LogValue(v)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "x...[cut 6 bytes]") {
		t.Errorf("LogValue split a character: %q", got[LogValueMax-10:])
	}
}

func TestHardening_LogValueEscapesControls(t *testing.T) {
	for in, want := range map[string]string{
		"OK\r\nX-Injected: yes": `OK\r\nX-Injected: yes`,
		"a\x1b[31mred":          `a\x1b[31mred`,
		"nul\x00del\x7f":        `nul\x00del\x7f`,
		"tab\tkept":             "tab\tkept",
		"caf\xc3\xa9":           "café",
		"bad\xff\xc3":           `bad\xff\xc3`,
		"c1\u009b2J":            `c1\u009b2J`,
		"ls\u2028x":             `ls\u2028x`,
	} {
		if got := LogValue(in); got != want {
			t.Errorf("LogValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// A CR or LF anywhere in a line, from a value the caller did not wrap or
// from the log prefix, does not start a line a reader would take for
// kemi's own.
func TestHardening_LogInjectionOneLine(t *testing.T) {
	var out bytes.Buffer
	l := &Logger{Level: LDbg, Out: &out, Prefix: func(ctx *Ctx, dst []byte) []byte {
		return append(dst, "{ru=sip:x\r\nJan  1 00:00:00.000 ERROR: forged} "...)
	}}
	l.Log(LErr, nil, "user \"bob\r\nJan  1 00:00:00.000 NOTICE: kemi: stopped\" failed\n")
	l.Log(LErr, &Ctx{}, "with prefix")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("two calls wrote %d lines:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], `bob\r\nJan  1`) || !strings.Contains(lines[1], `sip:x\r\nJan`) {
		t.Errorf("CR/LF not escaped:\n%s", out.String())
	}
}

func TestHardening_LogLineCut(t *testing.T) {
	var out bytes.Buffer
	l := &Logger{Level: LDbg, Out: &out}
	l.Log(LInfo, nil, "script says "+strings.Repeat("v", 100_000))
	line := out.String()
	if len(line) > MaxLogLine+100 || !strings.HasSuffix(line, "...[cut "+itoa(100_000+len("script says ")-MaxLogLine)+" bytes]\n") {
		t.Errorf("a 100 kB line logged as %d bytes, ending %q", len(line), line[len(line)-40:])
	}
}

func TestLogStackKeepsItsLines(t *testing.T) {
	var out bytes.Buffer
	l := &Logger{Level: LDbg, Out: &out}
	l.LogStack(LCrit, nil, "panic: x\ny", []byte("goroutine 1:\nmain.f()\n"))
	if got := strings.Count(out.String(), "\n"); got != 3 {
		t.Errorf("message plus 2 stack lines gave %d lines:\n%s", got, out.String())
	}
}

func TestLogPlainLineAllocatesNothing(t *testing.T) {
	l := &Logger{Level: LDbg, Out: &bytes.Buffer{}}
	l.Log(LErr, nil, "warm up")
	n := testing.AllocsPerRun(100, func() {
		l.Out.(*bytes.Buffer).Reset()
		l.Log(LErr, nil, "tm: relay: no destination\n")
		l.Log(LErr, nil, "escaped\r\nline")
	})
	if n != 0 {
		t.Errorf("Logger.Log allocates %v times per line", n)
	}
}

func TestHardening_LogLimitNotesWhatItHeldBack(t *testing.T) {
	var out bytes.Buffer
	l := &Logger{Level: LDbg, Out: &out}
	lim := &LogLimit{What: "script errors"}
	for i := 0; i < 10_000; i++ {
		l.LogLimited(lim, LErr, nil, "boom\n")
	}
	if got := strings.Count(out.String(), "\n"); got > LogBurst+5 {
		t.Errorf("10000 limited lines wrote %d lines", got)
	}
	lim.last = lim.last.Add(-time.Second) // a second passes: tokens come back
	l.LogLimited(lim, LErr, nil, "boom\n")
	note := regexp.MustCompile(`ERROR: boom \(99[0-9][0-9] more script errors suppressed in the last [0-9.]+m?s\)\n$`)
	if !note.MatchString(out.String()) {
		t.Errorf("no note on the held-back lines:\n%s", out.String())
	}
}

// Module error lines about a message share one limit; the script's own
// error lines have a larger one of their own, and its other lines and
// notices are never held back.
func TestHardening_CtxLogLimitsModuleErrorsOnly(t *testing.T) {
	var out bytes.Buffer
	rt := &Runtime{Log: &Logger{Level: LDbg, Out: &out}}
	ctx := &Ctx{RT: rt, Msg: new(sip.Msg)}
	for i := 0; i < 1000; i++ {
		ctx.Log(LErr, "maxfwd: process_maxfwd: bad value\n")
	}
	if got := strings.Count(out.String(), "\n"); got > LogBurst+5 {
		t.Errorf("1000 module error lines wrote %d lines", got)
	}
	out.Reset()
	for i := 0; i < 1000; i++ {
		ctx.ScriptLog(LInfo, "request in\n")
		ctx.Log(LNotice, "auth: wrong password\n")
	}
	if got := strings.Count(out.String(), "\n"); got != 2000 {
		t.Errorf("1000 script info lines and 1000 notices wrote %d lines, want 2000", got)
	}
	out.Reset()
	for i := 0; i < 10000; i++ {
		ctx.ScriptLog(LErr, "malformed request\n")
	}
	if got := strings.Count(out.String(), "\n"); got < ScriptErrBurst || got > ScriptErrBurst+ScriptErrPerSec {
		t.Errorf("10000 script error lines wrote %d lines, want about %d", got, ScriptErrBurst)
	}
}

// TestOps_LogJSONLimitedAndOneLine (issue 15, logs): with log_format json
// the error limit still holds back a flood and notes it, and each line is
// one JSON object whatever the message holds (CR LF, quotes, a long value).
func TestOps_LogJSONLimitedAndOneLine(t *testing.T) {
	var out bytes.Buffer
	rt := &Runtime{Log: &Logger{Level: LDbg, Out: &out, Format: LogJSON}}
	ctx := &Ctx{RT: rt, Msg: new(sip.Msg)}
	for i := 0; i < 1000; i++ {
		ctx.Log(LErr, "maxfwd: bad value\r\nINFO: forged \"line\"\n")
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) > LogBurst+5 {
		t.Errorf("1000 module error lines wrote %d lines", len(lines))
	}
	for _, ln := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("not one JSON object: %v\n%s", err, ln)
		}
		if m["level"] != "ERROR" || m["module"] != "maxfwd" || m["msg"] != "maxfwd: bad value\r\nINFO: forged \"line\"" {
			t.Fatalf("line: %v", m)
		}
	}
	rt.Log.errs.last = rt.Log.errs.last.Add(-time.Second)
	out.Reset()
	ctx.Log(LErr, "maxfwd: bad value\n")
	if !strings.Contains(out.String(), `more error lines suppressed in the last`) {
		t.Errorf("no note on the held-back lines: %s", out.String())
	}
	out.Reset()
	ctx.Log(LErr, "x: "+strings.Repeat("a", 3*MaxLogLine))
	if n := out.Len(); n > MaxLogLine+512 {
		t.Errorf("a long line wrote %d bytes", n)
	}
	out.Reset()
	rt.Log.Prefix = func(_ *Ctx, dst []byte) []byte { return append(dst, strings.Repeat("p", 3*MaxLogLine)...) }
	ctx.ScriptLog(LInfo, "short")
	if n := out.Len(); n > 2*MaxLogLine+512 {
		t.Errorf("a long prefix wrote %d bytes", n)
	}
}

type sysRec struct{ sev, line string }

type fakeSyslog struct{ got []sysRec }

func (f *fakeSyslog) add(sev, s string) error { f.got = append(f.got, sysRec{sev, s}); return nil }
func (f *fakeSyslog) Alert(s string) error    { return f.add("alert", s) }
func (f *fakeSyslog) Crit(s string) error     { return f.add("crit", s) }
func (f *fakeSyslog) Err(s string) error      { return f.add("err", s) }
func (f *fakeSyslog) Warning(s string) error  { return f.add("warning", s) }
func (f *fakeSyslog) Notice(s string) error   { return f.add("notice", s) }
func (f *fakeSyslog) Info(s string) error     { return f.add("info", s) }
func (f *fakeSyslog) Debug(s string) error    { return f.add("debug", s) }

// TestOps_LogSyslogSeverities (issue 15, logs): with a syslog output each
// level goes at Kamailio's severity, without the time (syslog adds it).
func TestOps_LogSyslogSeverities(t *testing.T) {
	f := &fakeSyslog{}
	l := &Logger{Level: LDbg, Syslog: f}
	for _, lv := range []int{LAlert, LBug, LCrit, LErr, LWarn, LNotice, LInfo, LDbg} {
		l.Log(lv, nil, "m")
	}
	want := []sysRec{{"alert", "ALERT: m\n"}, {"crit", "BUG: m\n"}, {"crit", "CRITICAL: m\n"}, {"err", "ERROR: m\n"},
		{"warning", "WARNING: m\n"}, {"notice", "NOTICE: m\n"}, {"info", "INFO: m\n"}, {"debug", "DEBUG: m\n"}}
	if fmt.Sprint(f.got) != fmt.Sprint(want) {
		t.Errorf("syslog got %q, want %q", f.got, want)
	}
}
