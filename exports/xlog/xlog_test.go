package xlog

import (
	"bytes"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
)

func started(t testing.TB, level int, params map[string]core.Value) (*core.Ctx, *bytes.Buffer, error) {
	t.Helper()
	c := ksrtest.Ctx(t, ksrtest.Invite("User-Agent: phone/1.0"), ksrtest.NewRecorder(), core.Known("xlog"), core.Known("pv"))
	var log bytes.Buffer
	c.RT.Log = &core.Logger{Level: level, Out: &log}
	c.RT.Params = map[string]map[string][]core.Value{"xlog": {}}
	for k, v := range params {
		c.RT.Params["xlog"][k] = []core.Value{v}
	}
	return c, &log, c.RT.Start()
}

func TestXlog_ExpandsPseudoVariables(t *testing.T) {
	c, log, err := started(t, core.LDbg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pv.Sets(c, "$var(who)", "carol")
	pv.Seti(c, "$avp(n)", 7)
	if got := Xinfo(c, "$rm from $fu ($(fu{uri.user})) ua=$ua v=$var(who) n=$avp(n) none=$var(none) $(hdr(Via)[0]) cost $ 5\n"); got != 1 {
		t.Fatalf("xinfo = %d: %s", got, log)
	}
	want := " INFO: <script>: INVITE from sip:alice@example.org (alice) ua=phone/1.0 v=carol n=7 none=<null> " +
		"SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport cost $ 5\n"
	if !strings.HasSuffix(log.String(), want) {
		t.Errorf("log:\n%q\nwant it to end with\n%q", log.String(), want)
	}
}

func TestXlog_Levels(t *testing.T) {
	c, log, err := started(t, core.LDbg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		call func() int
		tag  string
	}{
		{func() int { return Xdbg(c, "d") }, " DEBUG: <script>: d"},
		{func() int { return Xnotice(c, "n") }, " NOTICE: <script>: n"},
		{func() int { return Xwarn(c, "w") }, " WARNING: <script>: w"},
		{func() int { return Xerr(c, "e") }, " ERROR: <script>: e"},
		{func() int { return Xcrit(c, "c") }, " CRITICAL: <script>: c"},
		{func() int { return Xalert(c, "a") }, " ALERT: <script>: a"},
		{func() int { return Xlog(c, "l_notice", "x") }, " NOTICE: <script>: x"},
		{func() int { return Xlog(c, "L_BOGUS", "y") }, " ERROR: <script>: y"},
		{func() int { return XlogFacility(c, "LOG_LOCAL1", "L_INFO", "f") }, " INFO: <script>: f"},
	} {
		log.Reset()
		if got := tc.call(); got != 1 || !strings.Contains(log.String(), tc.tag+"\n") {
			t.Errorf("got %d, log %q, want 1 and %q", got, log.String(), tc.tag)
		}
	}
	log.Reset()
	XlogFacility(c, "LOG_NOWHERE", "L_INFO", "f")
	if !strings.Contains(log.String(), "invalid syslog facility LOG_NOWHERE, using default") {
		t.Errorf("bad facility: %q", log.String())
	}
}

func TestXlog_DisabledLevelIsFree(t *testing.T) {
	c, log, err := started(t, core.LInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { Xdbg(c, "call $ci from $fu\n") }); n != 0 {
		t.Errorf("xdbg below the debug level allocates %v times", n)
	}
	if log.Len() != 0 {
		t.Errorf("xdbg logged at debug=2: %q", log.String())
	}
	// An unknown pseudo-variable is not even looked at when the level is off.
	if got := Xdbg(c, "$nosuch"); got != 1 {
		t.Errorf("xdbg with an unknown pv at debug=2 = %d, want 1", got)
	}
}

func TestXlog_Errors(t *testing.T) {
	c, log, err := started(t, core.LDbg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Xinfo(c, "bad $nosuch(x) here"); got != -1 {
		t.Errorf("unknown pv: %d, want -1", got)
	}
	if !strings.Contains(log.String(), "KSR.xlog.xinfo: format \"bad $nosuch(x) here\": unknown pseudo-variable $nosuch") {
		t.Errorf("log: %q", log.String())
	}
	log.Reset()
	if got := Xinfo(c, "$(fu{uri.nosuch})"); got != -1 || !strings.Contains(log.String(), "KSR.xlog.xinfo") {
		t.Errorf("bad transformation: %d, log %q", got, log.String())
	}
	log.Reset()
	if got := Xinfo(c, "$(fu{uri.user}"); got != -1 || !strings.Contains(log.String(), "unclosed $(") {
		t.Errorf("unclosed $(: %d, log %q", got, log.String())
	}
}

func TestXlog_HugeTextIsCut(t *testing.T) {
	c, log, err := started(t, core.LDbg, map[string]core.Value{"buf_size": core.Int(100)})
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 1<<20)
	if got := Xinfo(c, huge); got != 1 {
		t.Fatalf("xinfo of 1 MB = %d", got)
	}
	if n := log.Len(); n > 200 {
		t.Errorf("a 1 MB text with buf_size 100 logged %d bytes", n)
	}
	if !strings.Contains(log.String(), strings.Repeat("x", 100)+"...\n") {
		t.Errorf("log: %q", log.String())
	}
	// Many distinct formats do not grow the cache without bound.
	for i := 0; i < 3*maxFormats; i++ {
		Xinfo(c, "n="+strings.Repeat("y", i%50)+string(rune('a'+i%26))+huge[:i%7])
	}
	formats.RLock()
	n := len(formats.m)
	formats.RUnlock()
	if n > maxFormats {
		t.Errorf("format cache holds %d entries, bound %d", n, maxFormats)
	}
}

func TestXlog_Params(t *testing.T) {
	c, log, err := started(t, core.LDbg, map[string]core.Value{"prefix": core.Str("[$ci] "), "prefix_mode": core.Int(1)})
	if err != nil {
		t.Fatal(err)
	}
	Xinfo(c, "hello")
	if !strings.Contains(log.String(), " INFO: [a84b4c76e66710@pc33.example.org] hello\n") {
		t.Errorf("prefix_mode 1: %q", log.String())
	}
	if _, _, err := started(t, core.LDbg, map[string]core.Value{"log_facility": core.Str("LOG_BOGUS")}); err == nil ||
		!strings.Contains(err.Error(), `modparam("xlog", "log_facility")`) {
		t.Errorf("bad log_facility: %v", err)
	}
	if _, _, err := started(t, core.LDbg, map[string]core.Value{"buf_size": core.Int(0)}); err == nil {
		t.Error("buf_size 0 was accepted")
	}
}

func BenchmarkXinfo(b *testing.B) {
	c, log, err := started(b, core.LDbg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		log.Reset()
		Xinfo(c, "$rm from $fu to $ru ci=$ci\n")
	}
}

func BenchmarkXdbgDisabled(b *testing.B) {
	c, _, err := started(b, core.LInfo, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Xdbg(c, "$rm from $fu to $ru ci=$ci\n")
	}
}
