package core

import (
	"context"
	"log/slog"
	"log/syslog"
	"time"
)

// Log formats (the log_format global, kemi's own): Kamailio's text lines,
// or one JSON object per line through log/slog.
const (
	LogText = iota
	LogJSON
)

// ScriptPositioner is a VM that can say where its script is running
// ("file.lua:12"), for the JSON log's "src" of a line the script logged.
type ScriptPositioner interface {
	AppendScriptPos(dst []byte) []byte
}

// SyslogOut is where lines go with log_stderror=no: the local syslog
// socket, each line with the severity of its level (*syslog.Writer).
type SyslogOut interface {
	Alert(string) error
	Crit(string) error
	Err(string) error
	Warning(string) error
	Notice(string) error
	Info(string) error
	Debug(string) error
}

// sendSyslog writes one line at the severity Kamailio gives level.
func sendSyslog(w SyslogOut, level int, line string) {
	switch {
	case level <= LAlert:
		w.Alert(line)
	case level <= LCrit:
		w.Crit(line)
	case level == LErr:
		w.Err(line)
	case level == LWarn:
		w.Warning(line)
	case level == LNotice:
		w.Notice(line)
	case level == LInfo:
		w.Info(line)
	default:
		w.Debug(line)
	}
}

// SyslogFacility is the log/syslog priority of a Kamailio facility name
// (LOG_DAEMON, LOG_LOCAL0...); false for an unknown name.
func SyslogFacility(name string) (syslog.Priority, bool) {
	f, ok := map[string]syslog.Priority{
		"LOG_KERN": syslog.LOG_KERN, "LOG_USER": syslog.LOG_USER, "LOG_MAIL": syslog.LOG_MAIL,
		"LOG_DAEMON": syslog.LOG_DAEMON, "LOG_AUTH": syslog.LOG_AUTH, "LOG_SYSLOG": syslog.LOG_SYSLOG,
		"LOG_LPR": syslog.LOG_LPR, "LOG_NEWS": syslog.LOG_NEWS, "LOG_UUCP": syslog.LOG_UUCP,
		"LOG_CRON": syslog.LOG_CRON, "LOG_AUTHPRIV": syslog.LOG_AUTHPRIV, "LOG_FTP": syslog.LOG_FTP,
		"LOG_LOCAL0": syslog.LOG_LOCAL0, "LOG_LOCAL1": syslog.LOG_LOCAL1, "LOG_LOCAL2": syslog.LOG_LOCAL2,
		"LOG_LOCAL3": syslog.LOG_LOCAL3, "LOG_LOCAL4": syslog.LOG_LOCAL4, "LOG_LOCAL5": syslog.LOG_LOCAL5,
		"LOG_LOCAL6": syslog.LOG_LOCAL6, "LOG_LOCAL7": syslog.LOG_LOCAL7,
	}[name]
	return f, ok
}

// appendWriter is an io.Writer appending to a byte slice, for slog's
// handler to write a line into the logger's buffer.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// slogLevel carries a Kamailio level through slog (whose levels are
// ints too); the handler prints it back by name.
func slogLevel(level int) slog.Level { return slog.Level(-level) }

func newJSONHandler(w *appendWriter) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.Level(-1 << 20), // the Logger filters
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.LevelKey {
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String(slog.LevelKey, LevelName(-int(l)))
				}
			}
			return a
		},
	})
}

// appendJSON writes one JSON log line for msg into b: time, level, module
// (the "name: " a core or module line starts with; for the script's own
// lines "script", or "xlog"), prefix (log_prefix expanded), msg, callid and src
// (the script's file:line) when known.
func (l *Logger) appendJSON(b []byte, level int, ctx *Ctx, prefix []byte, msg string, script string) []byte {
	if l.jw == nil {
		l.jw = &appendWriter{}
		l.jh = newJSONHandler(l.jw)
	}
	l.jw.b = b
	r := slog.NewRecord(time.Now(), slogLevel(level), "", 0)
	module := script
	if module == "" {
		module = moduleOf(msg)
	}
	r.AddAttrs(slog.String("module", module))
	if len(prefix) > 0 {
		// A prefix carries message data ($hdr): cut it as a text line is.
		if n := keepLen(prefix, MaxLogLine); n < len(prefix) {
			prefix = appendCut(prefix[:n:n], len(prefix)-n)
		}
		r.AddAttrs(slog.String("prefix", string(prefix)))
	}
	if n := keepLen(msg, MaxLogLine); n < len(msg) {
		msg = string(appendCut([]byte(msg[:n]), len(msg)-n))
	}
	r.Message = msg
	if ctx != nil && ctx.Msg != nil {
		if id := ctx.Msg.CallID(); len(id) > 0 {
			r.AddAttrs(slog.String("callid", LogValue(id)))
		}
	}
	if script != "" && ctx != nil {
		if p, ok := ctx.VM.(ScriptPositioner); ok {
			if pos := p.AppendScriptPos(nil); len(pos) > 0 {
				r.AddAttrs(slog.String("src", string(pos)))
			}
		}
	}
	_ = l.jh.Handle(context.Background(), r)
	return l.jw.b
}

// moduleOf is the module a core or module line names at its start
// ("tm: ...", "dispatcher: ...", "KSR.xlog.xerr: ..."), "core" otherwise.
func moduleOf(msg string) string {
	for i := 0; i < len(msg) && i < 40; i++ {
		c := msg[i]
		if c == ':' && i > 0 {
			name := msg[:i]
			if len(name) > 4 && name[:4] == "KSR." {
				name = name[4:]
				for j := 0; j < len(name); j++ {
					if name[j] == '.' {
						return name[:j]
					}
				}
				return "core"
			}
			if name == "kemi" {
				return "core"
			}
			return name
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			break
		}
	}
	return "core"
}
