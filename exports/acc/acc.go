// Package acc implements module acc: accounting records of transactions
// (answered, failed, missed calls) and, with module dialog, CDRs.
//
// Records are written when tm sends a transaction's final reply upstream
// (tm.OnComplete), with the transaction still held, so a record is on its
// way before the transaction can be freed. Backends: the log, as
// Kamailio's acc prints it ("ACC: transaction answered: timestamp=...;
// method=...;from_tag=...;to_tag=...;call_id=...;code=...;reason=..."
// then log_extra), and a JSON-lines file (json_file). Each JSON record is
// one write(2) of one whole line, unbuffered: a clean stop loses none, and
// a crash loses none that were written (flush interval 0); only the
// kernel's page cache stands between a record and the disk.
package acc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"kemi/core"
	"kemi/exports/dialog"
	"kemi/exports/tm"
	"kemi/internal/sqldb"
	"kemi/sip"
)

// Record texts, as Kamailio's acc.
const (
	TextAnswered = "transaction answered"
	TextMissed   = "call missed"
	TextRequest  = "request accounted"
	TextCDR      = "CDR"
)

// extra is one name=$pv attribute.
type extra struct {
	name string
	f    *core.Format
}

// Module is acc's state for one runtime.
type Module struct {
	rt                           *core.Runtime
	logFlag, missedFlag, failedF int
	level                        int
	extras, cdrExtras            []extra
	cdrEnable, cdrLog            bool
	cdrStart, cdrEnd, cdrDur     string

	db *dbBackend // db_url: Kamailio's tables

	mu     sync.Mutex
	file   *os.File
	line   []byte
	Errors uint64 // records a backend failed to take (guarded by mu)

	pool sync.Pool // *evalCtx
}

var modules = core.NewRuntimeState[Module](func(*core.Runtime) *Module { return nil })

// Of returns rt's acc, or nil.
func Of(rt *core.Runtime) *Module { return modules.Peek(rt) }

func param(rt *core.Runtime, name string) core.Value { return rt.Param("acc", name) }

// ParseExtra parses "name=$pv;name2=$pv2" (Kamailio's log_extra).
func ParseExtra(param, s string) ([]extra, error) {
	var out []extra
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf(`modparam("acc", %q): %s: expected name=$pv`, param, core.LogQuote(part))
		}
		f, err := core.CompileFormat(val)
		if err != nil {
			return nil, fmt.Errorf(`modparam("acc", %q): %s: %v`, param, core.LogQuote(part), err)
		}
		out = append(out, extra{name, f})
	}
	return out, nil
}

func start(rt *core.Runtime) error {
	m := &Module{rt: rt,
		logFlag:    int(param(rt, "log_flag").I),
		missedFlag: int(param(rt, "log_missed_flag").I),
		failedF:    int(param(rt, "failed_transaction_flag").I),
		level:      int(param(rt, "log_level").I),
		cdrEnable:  param(rt, "cdr_enable").I == 1,
		cdrLog:     param(rt, "cdr_log_enable").I != 0,
		cdrStart:   param(rt, "cdr_start_id").S,
		cdrEnd:     param(rt, "cdr_end_id").S,
		cdrDur:     param(rt, "cdr_duration_id").S,
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"log_flag", m.logFlag}, {"log_missed_flag", m.missedFlag}, {"failed_transaction_flag", m.failedF}} {
		if f.v < -1 || f.v > 63 {
			return fmt.Errorf(`modparam("acc", %q, %d): expected a flag 0 to 63, or -1 for none`, f.name, f.v)
		}
	}
	var err error
	if m.extras, err = ParseExtra("log_extra", param(rt, "log_extra").S); err != nil {
		return err
	}
	if m.cdrExtras, err = ParseExtra("cdr_extra", param(rt, "cdr_extra").S); err != nil {
		return err
	}
	if p := param(rt, "json_file").S; p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf(`modparam("acc", "json_file"): %w`, err)
		}
		m.file = f
	}
	if u := param(rt, "db_url").S; sqldb.IsSQL(u) {
		if m.db, err = openDB(rt, u, m.cdrExtras, [3]string{m.cdrStart, m.cdrEnd, m.cdrDur}); err != nil {
			return err
		}
		if err := m.db.db.Ping(); err != nil && rt.Log != nil {
			rt.Log.Log(core.LErr, nil, "acc: "+err.Error()+"; records the database does not take are logged with the error")
		} else if rt.Log != nil {
			for _, tv := range [][2]string{{m.db.tableAcc, "acc"}, {m.db.tableMissed, "missed_calls"}, {m.db.tableCDRs, "acc_cdrs"}} {
				if tv[0] == "" {
					continue
				}
				if w := m.db.db.CheckVersion(tv[0], tv[1]); w != "" {
					rt.Log.Log(core.LWarn, nil, "acc: "+w)
				}
			}
		}
	} else if u != "" && rt.Log != nil {
		rt.Log.Log(core.LWarn, nil, "acc: db_url "+core.LogQuote(u)+" is not postgres:// or mysql://: no records go to a database (records go to the log and json_file)")
	}
	m.pool.New = func() any { return new(evalCtx) }
	modules.Set(rt, m)
	tm.OnComplete(rt, m.onComplete)
	if m.cdrEnable {
		if rt.Reg != nil && rt.Reg.Module("dialog") == nil && rt.Log != nil {
			rt.Log.Log(core.LWarn, nil, `acc: cdr_enable is set but module dialog is not loaded: no CDRs are written (loadmodule "dialog.so" and dlg_manage)`)
		}
		dialog.OnEnd(rt, m.cdr)
	}
	return nil
}

func stop(rt *core.Runtime) {
	m := Of(rt)
	if m == nil {
		return
	}
	if m.db != nil {
		m.db.db.Close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.file != nil {
		_ = m.file.Sync()
		_ = m.file.Close()
		m.file = nil
	}
}

func flagSet(flags uint64, f int) bool { return f >= 0 && f < 64 && flags&(1<<uint(f)) != 0 }

// Record is one accounting record.
type Record struct {
	Text   string // TextAnswered, TextMissed, TextRequest, TextCDR
	Time   int64  // Unix seconds
	Method string
	FromTag,
	ToTag,
	CallID string
	Code   string
	Reason string
	Table  string // acc_request's table
	Extra  [][2]string
}

// evalCtx is a context for evaluating extras on a kept request.
type evalCtx struct {
	ctx      core.Ctx
	req, rpl sip.Msg
	buf      []byte
}

// onComplete accounts a transaction whose final reply went upstream.
func (m *Module) onComplete(c *tm.Completion) {
	acc := flagSet(c.Flags, m.logFlag) && (c.Code < 300 || flagSet(c.Flags, m.failedF))
	missed := c.Inv && c.Code >= 300 && flagSet(c.Flags, m.missedFlag)
	var dbAcc, dbMissed bool
	if m.db != nil {
		dbAcc = flagSet(c.Flags, m.db.flag) && (c.Code < 300 || flagSet(c.Flags, m.failedF))
		dbMissed = c.Inv && c.Code >= 300 && flagSet(c.Flags, m.db.missedFlag)
	}
	if !acc && !missed && !dbAcc && !dbMissed {
		return
	}
	e := m.pool.Get().(*evalCtx)
	defer m.pool.Put(e)
	e.buf = append(e.buf[:0], c.Req...)
	if e.req.Parse(e.buf) != nil {
		return
	}
	var toTag, reason string
	if e.rpl.Parse(c.Reply) == nil {
		toTag, reason = string(e.rpl.ToTag()), string(e.rpl.Reason())
	}
	e.ctx.Reset(&e.req, c.Src, c.Local, c.Proto)
	e.ctx.RT = m.rt
	e.ctx.Flags = c.Flags
	r := m.base(&e.ctx, TextAnswered)
	r.ToTag, r.Code, r.Reason = toTag, strconv.Itoa(c.Code), reason
	if acc {
		m.Write(&r)
	}
	if dbAcc {
		m.writeDB(&e.ctx, m.db.tableAcc, &r)
	}
	if missed || dbMissed {
		r.Text = TextMissed
	}
	if missed {
		m.Write(&r)
	}
	if dbMissed {
		m.writeDB(&e.ctx, m.db.tableMissed, &r)
	}
}

// base fills a record's fixed fields and extras from ctx's request.
func (m *Module) base(ctx *core.Ctx, text string) Record {
	msg := ctx.Msg
	r := Record{Text: text, Time: time.Now().Unix(), CallID: string(msg.CallID()),
		FromTag: string(msg.FromTag()), ToTag: string(msg.ToTag())}
	if msg.IsRequest() {
		r.Method = string(msg.Method())
	} else if _, meth, err := msg.CSeq(); err == nil {
		r.Method = string(meth)
	}
	r.Extra = evalExtras(ctx, m.extras, nil)
	return r
}

func evalExtras(ctx *core.Ctx, xs []extra, out [][2]string) [][2]string {
	var b []byte
	for _, x := range xs {
		b = x.f.Append(b[:0], ctx)
		out = append(out, [2]string{x.name, string(b)})
	}
	return out
}

// splitComment parses "200 OK" into code and reason.
func splitComment(s string) (code, reason string) {
	s = strings.TrimSpace(s)
	if len(s) >= 3 && s[0] >= '1' && s[0] <= '6' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && (len(s) == 3 || s[3] == ' ') {
		return s[:3], strings.TrimSpace(s[3:])
	}
	return "", s
}

// LogRequest is acc_log_request: a record of the current request now.
func LogRequest(ctx *core.Ctx, comment string) int { return request(ctx, comment, "") }

// Request is acc_request: as LogRequest, naming Kamailio's table.
func Request(ctx *core.Ctx, comment, table string) int { return request(ctx, comment, table) }

func request(ctx *core.Ctx, comment, table string) int {
	m := Of(ctx.RT)
	if m == nil || ctx.Msg == nil {
		return -1
	}
	r := m.base(ctx, TextRequest)
	r.Code, r.Reason = splitComment(comment)
	r.Table = table
	if err := m.Write(&r); err != nil {
		return -1
	}
	if table != "" && m.db != nil {
		if r.Code == "" {
			r.Code = "0"
		}
		if m.writeDB(ctx, table, &r) != nil {
			return -1
		}
	}
	return 1
}

// ErrBackend is what Write gives when the JSON file did not take a record.
var ErrBackend = errors.New("acc: json_file write failed")

// Write sends r to the log and the JSON file.
func (m *Module) Write(r *Record) error {
	if r.Text != TextCDR || m.cdrLog {
		if log := m.rt.Log; log != nil && log.Enabled(m.level) {
			log.Log(m.level, nil, LogLine(r))
		}
	}
	if m.file == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.file == nil {
		return nil
	}
	m.line = AppendJSON(m.line[:0], r)
	if _, err := m.file.Write(m.line); err != nil {
		m.Errors++
		if m.rt.Log != nil {
			m.rt.Log.Log(core.LErr, nil, "acc: json_file: "+err.Error())
		}
		return ErrBackend
	}
	return nil
}

// LogLine is r as Kamailio's acc logs it.
func LogLine(r *Record) string {
	var b strings.Builder
	b.WriteString("ACC: ")
	b.WriteString(r.Text)
	b.WriteString(": ")
	if r.Text == TextCDR {
		for i, x := range r.Extra {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(x[0] + "=" + x[1])
		}
		return b.String()
	}
	b.WriteString("timestamp=" + strconv.FormatInt(r.Time, 10))
	b.WriteString(";method=" + r.Method + ";from_tag=" + r.FromTag + ";to_tag=" + r.ToTag +
		";call_id=" + r.CallID + ";code=" + r.Code + ";reason=" + r.Reason)
	for _, x := range r.Extra {
		b.WriteString(";" + x[0] + "=" + x[1])
	}
	return b.String()
}

// AppendJSON appends r as one JSON object and a newline. Fields: type
// (answered, missed, request, cdr), time, method, from_tag, to_tag,
// call_id, code, reason, table (acc_request only), then the extras by
// name (an extra named like a fixed field is prefixed with "x_"). A CDR
// has type and its attributes only.
func AppendJSON(b []byte, r *Record) []byte {
	typ := map[string]string{TextAnswered: "answered", TextMissed: "missed", TextRequest: "request", TextCDR: "cdr"}[r.Text]
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, typ)
	fixed := map[string]bool{"type": true}
	if r.Text != TextCDR {
		b = append(b, `,"time":`...)
		b = strconv.AppendInt(b, r.Time, 10)
		for _, kv := range [...][2]string{{"method", r.Method}, {"from_tag", r.FromTag}, {"to_tag", r.ToTag},
			{"call_id", r.CallID}, {"code", r.Code}, {"reason", r.Reason}} {
			b = appendField(b, kv[0], kv[1])
			fixed[kv[0]] = true
		}
		fixed["time"] = true
		if r.Table != "" {
			b = appendField(b, "table", r.Table)
		}
		fixed["table"] = true
	}
	for _, x := range r.Extra {
		name := x[0]
		if fixed[name] {
			name = "x_" + name
		}
		b = appendField(b, name, x[1])
	}
	return append(b, "}\n"...)
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, ',')
	b = appendJSONString(b, k)
	b = append(b, ':')
	return appendJSONString(b, v)
}

// appendJSONString quotes s as JSON (strconv.Quote's \x escapes are not
// JSON, so control bytes and invalid UTF-8 are written as \u00XX).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
