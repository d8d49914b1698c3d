// Package xlog implements module xlog: log lines whose text is a format
// with pseudo-variables, expanded by core.Format (the same machinery
// log_prefix uses, which knows every pseudo-variable KSR.pv.get knows).
//
// Formats are compiled on first use and cached; a level the logger would
// drop costs one comparison and nothing is expanded.
package xlog

import (
	"fmt"
	"strings"
	"sync"

	"kemi/core"
)

// state is the module's per-runtime state, from its params.
type state struct {
	bufSize int
	prefix  string
	dyn     *core.Format // prefix with pseudo-variables (prefix_mode 1); nil otherwise
}

// states is each runtime's state, set by start.
var states = core.NewRuntimeState[state](nil)

func start(rt *core.Runtime) error {
	st := &state{bufSize: int(rt.Param("xlog", "buf_size").I), prefix: rt.Param("xlog", "prefix").S}
	if st.bufSize <= 0 {
		return fmt.Errorf(`modparam("xlog", "buf_size"): expected a size in bytes above 0, got %d`, st.bufSize)
	}
	if rt.Param("xlog", "prefix_mode").I == 1 {
		f, err := core.CompileFormat(st.prefix)
		if err != nil {
			return fmt.Errorf(`modparam("xlog", "prefix"): %v`, err)
		}
		st.dyn = f
	}
	if v := rt.Param("xlog", "log_facility"); v.Kind == core.KStr && v.S != "" && !isFacility(v.S) {
		return fmt.Errorf(`modparam("xlog", "log_facility"): unknown syslog facility %q (want LOG_LOCAL0 to LOG_LOCAL7, LOG_USER, LOG_DAEMON, ...)`, v.S)
	}
	states.Set(rt, st)
	return nil
}

// worker is a worker's view of the module: the runtime state and a buffer
// lines are expanded into.
type worker struct {
	st  *state
	buf []byte
}

var workers = core.NewMsgState(func(old *worker) worker { return worker{buf: old.buf[:0]} })

var defaults = &state{bufSize: 4096, prefix: "<script>: "}

func workerOf(ctx *core.Ctx) *worker {
	w := workers.Get(ctx)
	if w.st = states.Peek(ctx.RT); w.st == nil {
		w.st = defaults
	}
	return w
}

// formats caches compiled formats by their text. Scripts log a few fixed
// formats, but a format built from message data is new every time: the
// cache is emptied when full so such formats cannot grow it, and long
// formats are not kept at all.
var formats struct {
	sync.RWMutex
	m map[string]*core.Format
}

const (
	maxFormats   = 1024
	maxCachedLen = 1024
)

func compile(s string) (*core.Format, error) {
	formats.RLock()
	f := formats.m[s]
	formats.RUnlock()
	if f != nil {
		return f, nil
	}
	f, err := core.CompileFormat(s)
	if err != nil {
		return nil, err
	}
	if len(s) <= maxCachedLen {
		formats.Lock()
		if formats.m == nil || len(formats.m) >= maxFormats {
			formats.m = make(map[string]*core.Format, 64)
		}
		formats.m[s] = f
		formats.Unlock()
	}
	return f, nil
}

// log expands format for ctx and logs it at level; fn names the KSR
// function in errors.
func log(ctx *core.Ctx, fn string, level int, format string) int {
	if ctx.RT == nil || !ctx.LogEnabled(level) {
		return 1
	}
	f, err := compile(format)
	if err != nil {
		ctx.Log(core.LErr, "KSR.xlog."+fn+": "+err.Error()+"\n")
		return -1
	}
	w := workerOf(ctx)
	b := w.buf[:0]
	if w.st.dyn != nil {
		b = w.st.dyn.Append(b, ctx)
	} else {
		b = append(b, w.st.prefix...)
	}
	start := len(b)
	b = f.Append(b, ctx)
	if len(b)-start > w.st.bufSize {
		b = append(b[:start+w.st.bufSize], "...\n"...)
	}
	w.buf = b
	ctx.ScriptLogAs("xlog", level, string(b))
	return 1
}

// Level maps xlog's level names (L_INFO, any case) to logger levels; an
// unknown name is L_ERR, as in Kamailio.
func Level(name string) int {
	for _, l := range levels {
		if strings.EqualFold(name, l.name) {
			return l.level
		}
	}
	return core.LErr
}

var levels = [...]struct {
	name  string
	level int
}{
	{"L_ALERT", core.LAlert}, {"L_BUG", core.LBug}, {"L_CRIT0", core.LCrit},
	{"L_CRIT", core.LCrit2}, {"L_CRIT2", core.LCrit2}, {"L_ERR", core.LErr},
	{"L_WARN", core.LWarn}, {"L_NOTICE", core.LNotice}, {"L_INFO", core.LInfo},
	{"L_DBG", core.LDbg},
}

// Xlog is KSR.xlog.xlog.
func Xlog(ctx *core.Ctx, level, format string) int { return log(ctx, "xlog", Level(level), format) }

// XlogFacility is KSR.xlog.xlog_facility. kemi writes to syslog with one
// facility (the core's log_facility), so the facility is checked and
// otherwise unused.
func XlogFacility(ctx *core.Ctx, facility, level, format string) int {
	if !isFacility(facility) {
		f := facility
		if len(f) > 40 {
			f = f[:40] + "..."
		}
		ctx.Log(core.LWarn, "KSR.xlog.xlog_facility: invalid syslog facility "+f+", using default\n")
	}
	return log(ctx, "xlog_facility", Level(level), format)
}

// Xdbg is KSR.xlog.xdbg.
func Xdbg(ctx *core.Ctx, format string) int { return log(ctx, "xdbg", core.LDbg, format) }

// Xinfo is KSR.xlog.xinfo.
func Xinfo(ctx *core.Ctx, format string) int { return log(ctx, "xinfo", core.LInfo, format) }

// Xnotice is KSR.xlog.xnotice.
func Xnotice(ctx *core.Ctx, format string) int { return log(ctx, "xnotice", core.LNotice, format) }

// Xwarn is KSR.xlog.xwarn.
func Xwarn(ctx *core.Ctx, format string) int { return log(ctx, "xwarn", core.LWarn, format) }

// Xerr is KSR.xlog.xerr.
func Xerr(ctx *core.Ctx, format string) int { return log(ctx, "xerr", core.LErr, format) }

// Xcrit is KSR.xlog.xcrit, at L_CRIT2 as in Kamailio.
func Xcrit(ctx *core.Ctx, format string) int { return log(ctx, "xcrit", core.LCrit2, format) }

// Xalert is KSR.xlog.xalert.
func Xalert(ctx *core.Ctx, format string) int { return log(ctx, "xalert", core.LAlert, format) }

func isFacility(s string) bool {
	for _, f := range facilities {
		if strings.EqualFold(s, f) {
			return true
		}
	}
	return false
}

// facilities are the syslog facility names Kamailio's str2facility knows.
var facilities = [...]string{
	"LOG_AUTH", "LOG_AUTHPRIV", "LOG_CRON", "LOG_DAEMON", "LOG_FTP", "LOG_KERN",
	"LOG_LPR", "LOG_MAIL", "LOG_NEWS", "LOG_SYSLOG", "LOG_USER", "LOG_UUCP",
	"LOG_LOCAL0", "LOG_LOCAL1", "LOG_LOCAL2", "LOG_LOCAL3",
	"LOG_LOCAL4", "LOG_LOCAL5", "LOG_LOCAL6", "LOG_LOCAL7",
}
