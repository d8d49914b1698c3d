package core

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Kamailio's log levels; `debug=N` shows every level <= N.
const (
	LAlert  = -5
	LBug    = -4
	LCrit2  = -3
	LCrit   = -2
	LErr    = -1
	LWarn   = 0
	LNotice = 1
	LInfo   = 2
	LDbg    = 3
)

var levelNames = map[int]string{
	LAlert: "ALERT", LBug: "BUG", LCrit2: "CRITICAL", LCrit: "CRITICAL",
	LErr: "ERROR", LWarn: "WARNING", LNotice: "NOTICE", LInfo: "INFO", LDbg: "DEBUG",
}

// LevelName is the tag Kamailio prints for a level.
func LevelName(level int) string {
	if n, ok := levelNames[level]; ok {
		return n
	}
	return "L" + strconv.Itoa(level)
}

// Bounds on what one log line shows. A peer controls most of what kemi
// logs (URIs, headers, parse errors quoting them), so a value is cut to
// LogValueMax bytes where it is put in a line, and a whole line, whoever
// built it, to MaxLogLine bytes; either cut is marked "...[cut N bytes]".
const (
	LogValueMax = 256
	MaxLogLine  = 4096
)

// LogValue is v as it may appear in a log line: at most LogValueMax bytes,
// cut on a character boundary and marked "...[cut N bytes]", with control
// characters escaped (CR as \r, LF as \n, ESC as \x1b) so that a value can
// neither start a line of its own nor drive a terminal. Use it for every
// network-supplied value (URIs, header values, reasons, parse errors that
// quote input) put in a log line.
func LogValue[T ~string | ~[]byte](v T) string {
	n := keepLen(v, LogValueMax)
	b := appendEscaped(make([]byte, 0, n+24), v[:n])
	return string(appendCut(b, len(v)-n))
}

// AppendLogValue appends LogValue(v) to dst.
func AppendLogValue[T ~string | ~[]byte](dst []byte, v T) []byte {
	n := keepLen(v, LogValueMax)
	return appendCut(appendEscaped(dst, v[:n]), len(v)-n)
}

// LogQuote is LogValue in Go double quotes (strconv.Quote of the part
// kept), for a value whose ends matter to the reader.
func LogQuote[T ~string | ~[]byte](v T) string {
	n := keepLen(v, LogValueMax)
	b := strconv.AppendQuote(make([]byte, 0, n+26), string(v[:n]))
	return string(appendCut(b, len(v)-n))
}

// keepLen is how much of v a log shows: all of it up to max bytes, else
// max bytes or a little less, to end on a UTF-8 boundary.
func keepLen[T ~string | ~[]byte](v T, max int) int {
	if len(v) <= max {
		return len(v)
	}
	n := max
	for n > max-utf8.UTFMax && n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return n
}

func appendCut(b []byte, cut int) []byte {
	if cut == 0 {
		return b
	}
	b = append(b, "...[cut "...)
	b = strconv.AppendInt(b, int64(cut), 10)
	return append(b, " bytes]"...)
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s with what a terminal or a log reader would act
// on escaped: ASCII controls but tab, DEL, C1 controls, the Unicode line
// and paragraph separators, and bytes that are not UTF-8.
func appendEscaped[T ~string | ~[]byte](b []byte, s T) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 0x20 && c < 0x7f || c == '\t':
				b = append(b, c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			default:
				b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			}
			continue
		}
		var rb [utf8.UTFMax]byte
		r, size := utf8.DecodeRune(rb[:copy(rb[:], s[i:])])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029:
			b = append(b, `\u`...)
			b = append(b, hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// plainLine reports whether b needs neither escaping nor cutting.
func plainLine(b []byte) bool {
	if len(b) > MaxLogLine {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' || c >= 0x7f {
			return false
		}
	}
	return true
}

// Logger writes Kamailio-style lines: " LEVEL: <prefix>message". Every
// line is one line: control characters in the prefix or message are
// escaped and the line is cut at MaxLogLine bytes.
// Prefix, when set, expands log_prefix for the message in hand.
type Logger struct {
	Level  int // the `debug` global at load; SetLevel changes it at run time
	Out    io.Writer
	Prefix func(ctx *Ctx, dst []byte) []byte
	// Format is LogText or LogJSON (log_format).
	Format int
	// Syslog, when set (log_stderror=no), takes the lines instead of Out,
	// each with its level's severity and without the time (syslog adds it).
	Syslog SyslogOut

	jw *appendWriter
	jh slog.Handler

	mods  atomic.Pointer[modLevels] // SetModLevel
	modMu sync.Mutex

	mu  sync.Mutex
	buf []byte
	raw []byte // the unescaped text, when a line needs escaping

	// errs limits the error lines modules log about the message in hand
	// (Ctx.Log); see there.
	errs LogLimit
	// scriptErrs limits the error lines scripts log (Ctx.ScriptLog).
	scriptErrs     LogLimit
	scriptErrsOnce sync.Once

	// set is the level SetLevel gave plus levelSet (0: none given), read
	// by every worker without a lock.
	set atomic.Int64
}

const levelSet = 1 << 20

// SetLevel changes the log level at once for every worker (cfg.set core
// debug).
func (l *Logger) SetLevel(level int) { l.set.Store(int64(level) + levelSet) }

// CurLevel is the log level in force.
func (l *Logger) CurLevel() int {
	if v := l.set.Load(); v != 0 {
		return int(v - levelSet)
	}
	return l.Level
}

// Enabled reports whether a line at level would be written (for some
// module, when modules have levels of their own).
func (l *Logger) Enabled(level int) bool {
	if l == nil {
		return false
	}
	if level <= l.CurLevel() {
		return true
	}
	m := l.mods.Load()
	return m != nil && level <= m.max
}

// levelFor is the level in force for lines logged through ctx (its own
// after SetLogLevel, else the global one).
func (l *Logger) levelFor(ctx *Ctx) int {
	if ctx != nil && ctx.logLevel != 0 {
		return ctx.logLevel - levelSet
	}
	return l.CurLevel()
}

// enabledFor is Enabled for a line logged through ctx.
func (l *Logger) enabledFor(level int, ctx *Ctx) bool {
	if l == nil {
		return false
	}
	if level <= l.levelFor(ctx) {
		return true
	}
	m := l.mods.Load()
	return m != nil && level <= m.max
}

// modLevels are the per-module log levels (Kamailio's debugger
// mod_level), replaced as a whole when one changes.
type modLevels struct {
	m   map[string]int
	max int
}

// SetModLevel gives module its own log level ("core" for the lines of no
// module; "script" for the script's own, "xlog" for xlog's): lines about
// it are written up to that level whatever the global one.
func (l *Logger) SetModLevel(module string, level int) {
	l.modMu.Lock()
	defer l.modMu.Unlock()
	n := &modLevels{m: map[string]int{}, max: level}
	if old := l.mods.Load(); old != nil {
		for k, v := range old.m {
			n.m[k] = v
		}
	}
	n.m[module] = level
	for _, v := range n.m {
		n.max = max(n.max, v)
	}
	l.mods.Store(n)
}

// ModLevel is module's own level; false when it has none.
func (l *Logger) ModLevel(module string) (int, bool) {
	if m := l.mods.Load(); m != nil {
		v, ok := m.m[module]
		return v, ok
	}
	return 0, false
}

// wants reports whether a line at level about module (script, or the
// module the text names) is written.
func (l *Logger) wants(level int, ctx *Ctx, msg, script string) bool {
	m := l.mods.Load()
	if m == nil {
		return level <= l.levelFor(ctx)
	}
	mod := script
	if mod == "" {
		mod = moduleOf(msg)
	}
	if v, ok := m.m[mod]; ok {
		return level <= v
	}
	return level <= l.levelFor(ctx)
}

// Log writes one line when level is enabled. ctx may be nil.
func (l *Logger) Log(level int, ctx *Ctx, msg string) {
	l.write(level, ctx, msg, nil)
}

// LogStack writes msg as Log does, followed by a Go stack trace as it is,
// one frame per line: the trace comes from the runtime, not the network.
func (l *Logger) LogStack(level int, ctx *Ctx, msg string, stack []byte) {
	l.write(level, ctx, msg, stack)
}

func (l *Logger) write(level int, ctx *Ctx, msg string, tail []byte) {
	l.writeFrom(level, ctx, msg, tail, "")
}

// writeFrom writes a line; script, when set, is the script-facing module
// that logged it for the script ("script" for KSR.log, "xlog").
func (l *Logger) writeFrom(level int, ctx *Ctx, msg string, tail []byte, script string) {
	if !l.enabledFor(level, ctx) || (l.Out == nil && l.Syslog == nil) || !l.wants(level, ctx, msg, script) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	if l.Format == LogJSON {
		var prefix []byte
		if l.Prefix != nil && ctx != nil {
			prefix = l.Prefix(ctx, l.raw[:0])
			l.raw = prefix[:0]
		}
		b := l.appendJSON(l.buf[:0], level, ctx, prefix, msg, script)
		if len(tail) > 0 {
			b = append(b, tail...)
		}
		l.emit(level, b, 0)
		l.buf = b
		return
	}
	b := l.buf[:0]
	if l.Syslog == nil {
		b = time.Now().AppendFormat(b, "Jan _2 15:04:05.000")
		b = append(b, ' ')
	}
	tsEnd := len(b)
	b = append(b, LevelName(level)...)
	b = append(b, ": "...)
	start := len(b)
	if l.Prefix != nil && ctx != nil {
		b = l.Prefix(ctx, b)
	}
	b = append(b, msg...)
	if !plainLine(b[start:]) {
		l.raw = append(l.raw[:0], b[start:]...)
		n := keepLen(l.raw, MaxLogLine)
		b = appendCut(appendEscaped(b[:start], l.raw[:n]), len(l.raw)-n)
	}
	b = append(b, '\n')
	if len(tail) > 0 {
		b = append(b, tail...)
		if tail[len(tail)-1] != '\n' {
			b = append(b, '\n')
		}
	}
	l.emit(level, b, tsEnd)
	l.buf = b
}

// emit sends a finished line (or lines, with a stack) to syslog, without
// the time at b[:from], or to Out.
func (l *Logger) emit(level int, b []byte, from int) {
	if l.Syslog != nil {
		sendSyslog(l.Syslog, level, string(b[from:]))
		return
	}
	l.Out.Write(b)
}

// LogLimit lets a burst of log lines through, then a few per second, so a
// flood of bad input cannot flood the log while single events still show.
// The first line let through after some were held back says how many, as
// " (N more <What> suppressed in the last 2.5s)". The zero value works.
type LogLimit struct {
	What string // what the lines are, for the note; "error lines" when empty
	// Burst and PerSec override LogBurst and LogPerSec when not zero.
	Burst, PerSec float64

	mu        sync.Mutex
	tokens    float64
	last      time.Time
	dropped   uint64
	firstDrop time.Time
}

// A LogLimit's burst and its rate after the burst.
const (
	LogBurst  = 20
	LogPerSec = 5
)

// Allow reports whether a line may be written now, and the note to end it
// with when lines were held back before it ("" otherwise).
func (l *LogLimit) Allow() (ok bool, note string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	burst, rate := l.Burst, l.PerSec
	if burst == 0 {
		burst = LogBurst
	}
	if rate == 0 {
		rate = LogPerSec
	}
	if l.last.IsZero() {
		l.tokens = burst
	} else {
		l.tokens += now.Sub(l.last).Seconds() * rate
		if l.tokens > burst {
			l.tokens = burst
		}
	}
	l.last = now
	if l.tokens < 1 {
		if l.dropped == 0 {
			l.firstDrop = now
		}
		l.dropped++
		return false, ""
	}
	l.tokens--
	if l.dropped == 0 {
		return true, ""
	}
	what := l.What
	if what == "" {
		what = "error lines"
	}
	d := now.Sub(l.firstDrop).Round(100 * time.Millisecond)
	if d < 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	note = " (" + strconv.FormatUint(l.dropped, 10) + " more " + what + " suppressed in the last " + d.String() + ")"
	l.dropped = 0
	return true, note
}

// scriptErrLimit is the limit on script error lines, set up on first use so
// that the zero Logger works.
func (l *Logger) scriptErrLimit() *LogLimit {
	l.scriptErrsOnce.Do(func() {
		l.scriptErrs.What, l.scriptErrs.Burst, l.scriptErrs.PerSec = "script error lines", ScriptErrBurst, ScriptErrPerSec
	})
	return &l.scriptErrs
}

// LogLimited writes msg through lim: held back when lim says so, else with
// lim's note on lines held back before it.
func (l *Logger) LogLimited(lim *LogLimit, level int, ctx *Ctx, msg string) {
	l.logLimited(lim, level, ctx, msg, "")
}

func (l *Logger) logLimited(lim *LogLimit, level int, ctx *Ctx, msg string, script string) {
	if !l.enabledFor(level, ctx) || (l.Out == nil && l.Syslog == nil) || !l.wants(level, ctx, msg, script) {
		return
	}
	ok, note := lim.Allow()
	if !ok {
		return
	}
	if note != "" {
		if n := len(msg); n > 0 && msg[n-1] == '\n' {
			msg = msg[:n-1]
		}
		msg += note
	}
	l.writeFrom(level, ctx, msg, nil, script)
}
