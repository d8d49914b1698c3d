package core

import (
	"io"
	"strconv"
	"sync"
	"time"
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

// Logger writes Kamailio-style lines: " LEVEL: <prefix>message".
// Prefix, when set, expands log_prefix for the message in hand.
type Logger struct {
	Level  int // the `debug` global
	Out    io.Writer
	Prefix func(ctx *Ctx, dst []byte) []byte

	mu  sync.Mutex
	buf []byte
}

// Enabled reports whether a line at level would be written.
func (l *Logger) Enabled(level int) bool { return l != nil && level <= l.Level }

// Log writes one line when level is enabled. ctx may be nil.
func (l *Logger) Log(level int, ctx *Ctx, msg string) {
	if !l.Enabled(level) || l.Out == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	b = time.Now().AppendFormat(b, "Jan _2 15:04:05.000")
	b = append(b, ' ')
	b = append(b, LevelName(level)...)
	b = append(b, ": "...)
	if l.Prefix != nil && ctx != nil {
		b = l.Prefix(ctx, b)
	}
	b = append(b, msg...)
	if len(msg) == 0 || msg[len(msg)-1] != '\n' {
		b = append(b, '\n')
	}
	l.Out.Write(b)
	l.buf = b
}
