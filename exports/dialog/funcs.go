package dialog

import (
	"strconv"
	"strings"

	"kemi/core"
	"kemi/exports/rr"
	"kemi/sip"
)

func logErr(ctx *core.Ctx, fn, msg string) { ctx.Log(core.LErr, "dialog: "+fn+": "+msg+"\n") }

// current returns the dialog of the message in hand: the one dlg_manage
// created or matched, or for an in-dialog request the one it matches.
// m.mu held.
func (m *Module) current(ctx *core.Ctx) (*Dialog, *msgState) {
	st := msgStates.Get(ctx)
	if st.dlg != nil || st.looked || ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return st.dlg, st
	}
	st.looked = true
	if len(ctx.Msg.ToTag()) == 0 {
		return nil, st
	}
	did, _ := rr.RouteParam(ctx, m.rrParam)
	st.dlg, st.down = m.match(ctx, did)
	return st.dlg, st
}

func mod(ctx *core.Ctx, fn string) *Module {
	m := Of(ctx.RT)
	if m == nil {
		logErr(ctx, fn, "module dialog is not started")
	}
	return m
}

// Manage is dlg_manage: an initial INVITE gets a dialog (and the rr_param
// cookie in its Record-Route); an in-dialog request is matched, and moves
// its dialog on: ACK confirms it, BYE ends it, a re-INVITE or UPDATE
// restarts its timeout (unless timeout-noreset).
func Manage(ctx *core.Ctx) int {
	m := mod(ctx, "dlg_manage")
	if m == nil || ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	msg := ctx.Msg
	if len(msg.ToTag()) == 0 {
		if msg.MethodID() != sip.MethodINVITE {
			return -1
		}
		st := msgStates.Get(ctx)
		if st.dlg != nil {
			return 1
		}
		m.mu.Lock()
		before := len(m.byKey)
		d, err := m.create(ctx)
		created := len(m.byKey) > before
		m.unlock()
		if err != nil {
			logErr(ctx, "dlg_manage", err.Error()+" (Call-ID "+core.LogQuote(msg.CallID())+")")
			return -1
		}
		st.dlg, st.looked, st.down = d, true, true
		if created {
			st.created = d
		}
		if m.matchMode != 2 {
			rr.AddRRParam(ctx, ";"+m.rrParam+"="+d.DID())
		}
		return 1
	}
	m.mu.Lock()
	defer m.unlock()
	d, _ := m.current(ctx)
	if d == nil {
		return -1
	}
	switch msg.MethodID() {
	case sip.MethodACK:
		if d.State == StateConfirmedNA {
			d.State = StateConfirmed
		}
	case sip.MethodBYE:
		m.end(d)
	case sip.MethodINVITE, sip.MethodUPDATE:
		if !d.noReset && d.answered {
			m.arm(d)
		}
	}
	return 1
}

// IsKnown is is_known_dlg: 1 when the message belongs to a tracked dialog.
func IsKnown(ctx *core.Ctx) int {
	m := Of(ctx.RT)
	if m == nil {
		return -1
	}
	m.mu.Lock()
	defer m.unlock()
	if d, _ := m.current(ctx); d != nil {
		return 1
	}
	return -1
}

// withDlg runs fn on the message's dialog under the lock; -1 when none.
func withDlg(ctx *core.Ctx, fn string, f func(m *Module, d *Dialog, st *msgState) int) int {
	m := mod(ctx, fn)
	if m == nil {
		return -1
	}
	m.mu.Lock()
	defer m.unlock()
	d, st := m.current(ctx)
	if d == nil || d.State == StateDeleted {
		return -1
	}
	return f(m, d, st)
}

// Bye is dlg_bye: end the message's answered dialog with a BYE to side
// ("all", "caller" or "callee").
func Bye(ctx *core.Ctx, side string) int {
	if side != "all" && side != "caller" && side != "callee" {
		logErr(ctx, "dlg_bye", "side "+core.LogQuote(side)+": expected all, caller or callee")
		return -1
	}
	m := mod(ctx, "dlg_bye")
	if m == nil {
		return -1
	}
	m.mu.Lock()
	d, _ := m.current(ctx)
	if d == nil || !d.answered || d.State == StateDeleted {
		m.unlock()
		return -1
	}
	out, to, from := m.tmr.byes(d, side, nil, nil, nil)
	m.end(d)
	m.unlock()
	m.tmr.send(out, to, from)
	return 1
}

// SetTimeout is dlg_set_timeout: the dialog's lifetime in seconds from
// its answer (from now when it is answered already).
func SetTimeout(ctx *core.Ctx, secs int) int {
	if secs <= 0 {
		logErr(ctx, "dlg_set_timeout", "expected seconds above 0, got "+strconv.Itoa(secs))
		return -1
	}
	return withDlg(ctx, "dlg_set_timeout", func(m *Module, d *Dialog, _ *msgState) int {
		d.Timeout = secs
		if d.answered {
			m.arm(d)
		}
		return 1
	})
}

func setProp(ctx *core.Ctx, fn, attr string, v bool) int {
	return withDlg(ctx, fn, func(m *Module, d *Dialog, _ *msgState) int {
		switch attr {
		case "timeout-noreset":
			d.noReset = v
		case "timeout-bye":
			d.timeoutBye = v
		case "ka-src", "ka-dst":
			// Keepalives are not sent by kemi; accepted.
		default:
			logErr(ctx, fn, "attribute "+core.LogQuote(attr)+": expected timeout-noreset, timeout-bye, ka-src or ka-dst")
			return -1
		}
		return 1
	})
}

// SetProperty is dlg_set_property.
func SetProperty(ctx *core.Ctx, attr string) int { return setProp(ctx, "dlg_set_property", attr, true) }

// ResetProperty is dlg_reset_property.
func ResetProperty(ctx *core.Ctx, attr string) int {
	return setProp(ctx, "dlg_reset_property", attr, false)
}

func (m *Module) profile(ctx *core.Ctx, fn, name string) *profile {
	p := m.profiles[name]
	if p == nil {
		logErr(ctx, fn, "no profile "+core.LogQuote(name)+" (declare it in profiles_with_value or profiles_no_value)")
	}
	return p
}

// SetProfile is set_dlg_profile(name, value).
func SetProfile(ctx *core.Ctx, name, value string) int {
	return withDlg(ctx, "set_dlg_profile", func(m *Module, d *Dialog, _ *msgState) int {
		p := m.profile(ctx, "set_dlg_profile", name)
		if p == nil {
			return -1
		}
		p.add(d, value)
		return 1
	})
}

// SetProfileStatic is set_dlg_profile_static(name).
func SetProfileStatic(ctx *core.Ctx, name string) int { return SetProfile(ctx, name, "") }

// UnsetProfile is unset_dlg_profile(name, value).
func UnsetProfile(ctx *core.Ctx, name, value string) int {
	return withDlg(ctx, "unset_dlg_profile", func(m *Module, d *Dialog, _ *msgState) int {
		p := m.profile(ctx, "unset_dlg_profile", name)
		if p == nil || !p.unlink(d, value, !p.withValue) {
			return -1
		}
		return 1
	})
}

// UnsetProfileStatic is unset_dlg_profile_static(name).
func UnsetProfileStatic(ctx *core.Ctx, name string) int {
	return withDlg(ctx, "unset_dlg_profile_static", func(m *Module, d *Dialog, _ *msgState) int {
		p := m.profile(ctx, "unset_dlg_profile_static", name)
		if p == nil || !p.unlink(d, "", true) {
			return -1
		}
		return 1
	})
}

// IsInProfile is is_in_profile(name, value); value "" for any.
func IsInProfile(ctx *core.Ctx, name, value string) int {
	return withDlg(ctx, "is_in_profile", func(m *Module, d *Dialog, _ *msgState) int {
		p := m.profile(ctx, "is_in_profile", name)
		if p == nil || !p.in(d, value) {
			return -1
		}
		return 1
	})
}

// IsInProfileStatic is is_in_profile_static(name).
func IsInProfileStatic(ctx *core.Ctx, name string) int { return IsInProfile(ctx, name, "") }

// ProfileSize returns the size of profile name (of value, or all for ""),
// or -1 when there is no such profile.
func (m *Module) ProfileSize(name, value string) int {
	m.mu.Lock()
	defer m.unlock()
	p := m.profiles[name]
	if p == nil {
		return -1
	}
	return p.size(value)
}

// GetProfileSize is get_profile_size(name, value, pv): the number of
// dialogs in the profile (with value, or all for "") goes into pv.
func GetProfileSize(ctx *core.Ctx, name, value, pv string) int {
	m := mod(ctx, "get_profile_size")
	if m == nil {
		return -1
	}
	pname, arg, ok := core.SplitPV(pv)
	set := core.LookupPVSetter(pname)
	if !ok || set == nil {
		logErr(ctx, "get_profile_size", "expected a writable pseudo-variable such as $var(size), got "+core.LogQuote(pv))
		return -1
	}
	n := m.ProfileSize(name, value)
	if n < 0 {
		logErr(ctx, "get_profile_size", "no profile "+core.LogQuote(name))
		return -1
	}
	if err := set(ctx, arg, core.Int(int64(n))); err != nil {
		logErr(ctx, "get_profile_size", err.Error())
		return -1
	}
	return 1
}

// GetProfileSizeStatic is get_profile_size_static(name, pv).
func GetProfileSizeStatic(ctx *core.Ctx, name, pv string) int {
	return GetProfileSize(ctx, name, "", pv)
}

func flagOK(ctx *core.Ctx, fn string, f int) bool {
	if f < 0 || f > 31 {
		logErr(ctx, fn, "flag "+strconv.Itoa(f)+": expected 0 to 31")
		return false
	}
	return true
}

// SetFlag is dlg_setflag.
func SetFlag(ctx *core.Ctx, f int) int {
	if !flagOK(ctx, "dlg_setflag", f) {
		return -1
	}
	return withDlg(ctx, "dlg_setflag", func(_ *Module, d *Dialog, _ *msgState) int { d.Flags |= 1 << uint(f); return 1 })
}

// ResetFlag is dlg_resetflag.
func ResetFlag(ctx *core.Ctx, f int) int {
	if !flagOK(ctx, "dlg_resetflag", f) {
		return -1
	}
	return withDlg(ctx, "dlg_resetflag", func(_ *Module, d *Dialog, _ *msgState) int { d.Flags &^= 1 << uint(f); return 1 })
}

// IsFlagSet is dlg_isflagset.
func IsFlagSet(ctx *core.Ctx, f int) int {
	if !flagOK(ctx, "dlg_isflagset", f) {
		return -1
	}
	return withDlg(ctx, "dlg_isflagset", func(_ *Module, d *Dialog, _ *msgState) int {
		if d.Flags&(1<<uint(f)) != 0 {
			return 1
		}
		return -1
	})
}

// Bounds of dialog variables: per dialog, and per name and value.
const (
	MaxVars     = 32
	MaxVarBytes = 1024
)

// setVar sets (or with del removes) a dialog variable. m.mu held.
func setVar(d *Dialog, name, value string, del bool) bool {
	if del {
		delete(d.vars, name)
		return true
	}
	if len(name) == 0 || len(name) > MaxVarBytes || len(value) > MaxVarBytes {
		return false
	}
	if d.vars == nil {
		d.vars = map[string]string{}
	}
	if _, ok := d.vars[name]; !ok && len(d.vars) >= MaxVars {
		return false
	}
	d.vars[name] = value
	return true
}

// VarSets is var_sets: set dialog variable name.
func VarSets(ctx *core.Ctx, name, value string) int {
	return withDlg(ctx, "var_sets", func(_ *Module, d *Dialog, _ *msgState) int {
		if !setVar(d, name, value, false) {
			logErr(ctx, "var_sets", "variable "+core.LogQuote(name)+": more than "+strconv.Itoa(MaxVars)+" variables or "+strconv.Itoa(MaxVarBytes)+" bytes")
			return -1
		}
		return 1
	})
}

// VarRm is var_rm.
func VarRm(ctx *core.Ctx, name string) int {
	return withDlg(ctx, "var_rm", func(_ *Module, d *Dialog, _ *msgState) int { setVar(d, name, "", true); return 1 })
}

func getVar(ctx *core.Ctx, name string) (string, bool) {
	m := Of(ctx.RT)
	if m == nil {
		return "", false
	}
	m.mu.Lock()
	defer m.unlock()
	d, _ := m.current(ctx)
	if d == nil {
		return "", false
	}
	v, ok := d.vars[name]
	return v, ok
}

// VarGet is var_get: the variable, or null.
func VarGet(ctx *core.Ctx, name string) core.Value {
	if v, ok := getVar(ctx, name); ok {
		return core.Str(v)
	}
	return core.Null()
}

// VarGete is var_gete: the variable, or "".
func VarGete(ctx *core.Ctx, name string) core.Value {
	v, _ := getVar(ctx, name)
	return core.Str(v)
}

// VarGetw is var_getw: the variable, or "<null>".
func VarGetw(ctx *core.Ctx, name string) core.Value {
	if v, ok := getVar(ctx, name); ok {
		return core.Str(v)
	}
	return core.Str("<null>")
}

// VarIsNull is var_is_null: 1 when the variable is not set.
func VarIsNull(ctx *core.Ctx, name string) int {
	if _, ok := getVar(ctx, name); ok {
		return -1
	}
	return 1
}

// $dlg_var(name).
func getDlgVar(ctx *core.Ctx, name string, dst []byte) ([]byte, bool) {
	v, ok := getVar(ctx, name)
	if !ok {
		return dst, false
	}
	return append(dst, v...), true
}

func setDlgVar(ctx *core.Ctx, name string, v core.Value) error {
	m := Of(ctx.RT)
	if m == nil {
		return errNoModule
	}
	m.mu.Lock()
	defer m.unlock()
	d, _ := m.current(ctx)
	if d == nil {
		return errNoDialog
	}
	if !setVar(d, name, v.String(), v.IsNull()) {
		return errVarLimit
	}
	return nil
}

type errText string

func (e errText) Error() string { return string(e) }

const (
	errNoModule = errText("$dlg_var: module dialog is not started")
	errNoDialog = errText("$dlg_var: the message has no dialog (dlg_manage first)")
	errVarLimit = errText("$dlg_var: too many variables or too long a value")
)

// $dlg(attr).
func getDlg(ctx *core.Ctx, attr string, dst []byte) ([]byte, bool) {
	m := Of(ctx.RT)
	if m == nil {
		return dst, false
	}
	m.mu.Lock()
	defer m.unlock()
	d, _ := m.current(ctx)
	if d == nil {
		return dst, false
	}
	u := func(n uint64) ([]byte, bool) { return strconv.AppendUint(dst, n, 10), true }
	s := func(v string) ([]byte, bool) { return append(dst, v...), true }
	switch attr {
	case "h_entry":
		return u(uint64(d.Entry))
	case "h_id":
		return u(uint64(d.ID))
	case "state":
		return u(uint64(d.State))
	case "ref":
		return u(1)
	case "callid":
		return s(d.CallID)
	case "from_uri":
		return s(d.FromURI)
	case "from_tag":
		return s(d.FromTag)
	case "to_uri":
		return s(d.ToURI)
	case "to_tag":
		return s(d.ToTag)
	case "from_contact":
		return s(d.CallerContact)
	case "to_contact":
		return s(d.CalleeContact)
	case "from_cseq":
		return u(uint64(d.CallerCSeq))
	case "to_cseq":
		return u(uint64(d.CalleeCSeq))
	case "from_bindaddr", "to_bindaddr":
		if !d.Local.IsValid() {
			return dst, false
		}
		return s("udp:" + d.Local.String())
	case "start_ts":
		return u(uint64(d.StartTS))
	case "init_ts":
		return u(uint64(d.Created))
	case "end_ts":
		return u(uint64(d.EndTS))
	case "timeout":
		return u(uint64(d.Timeout))
	case "lifetime":
		if !d.answered {
			return u(0)
		}
		return u(uint64(m.wall() - d.StartTS))
	case "dflags", "sflags", "iflags":
		return u(uint64(d.Flags))
	case "did":
		return s(d.DID())
	}
	return dst, false
}

// $dlg_ctx(attr): on, set, dir, flags, timeout, timeout_bye.
func getDlgCtx(ctx *core.Ctx, attr string, dst []byte) ([]byte, bool) {
	m := Of(ctx.RT)
	if m == nil {
		return dst, false
	}
	m.mu.Lock()
	defer m.unlock()
	d, st := m.current(ctx)
	b := func(v bool) ([]byte, bool) {
		if v {
			return append(dst, '1'), true
		}
		return append(dst, '0'), true
	}
	switch attr {
	case "on", "set":
		return b(d != nil)
	case "dir":
		if d == nil {
			return append(dst, "unknown"...), true
		}
		if st.down {
			return append(dst, "downstream"...), true
		}
		return append(dst, "upstream"...), true
	case "flags":
		if d == nil {
			return append(dst, '0'), true
		}
		return strconv.AppendUint(dst, uint64(d.Flags), 10), true
	case "timeout":
		if d == nil {
			return strconv.AppendInt(dst, int64(m.defaultTimeout), 10), true
		}
		return strconv.AppendInt(dst, int64(d.Timeout), 10), true
	case "timeout_bye":
		return b(d != nil && (d.timeoutBye || m.sendBye))
	}
	return dst, false
}

func setDlgCtx(ctx *core.Ctx, attr string, v core.Value) error {
	switch attr {
	case "timeout":
		n, ok := core.IntArg(v.String())
		if !ok || n <= 0 || SetTimeout(ctx, int(n)) < 0 {
			return errText("$dlg_ctx(timeout): expected seconds above 0 and a dialog")
		}
	case "timeout_bye":
		if setProp(ctx, "$dlg_ctx(timeout_bye)", "timeout-bye", strings.TrimSpace(v.String()) != "0" && !v.IsNull()) < 0 {
			return errNoDialog
		}
	default:
		return errText("$dlg_ctx(" + attr + "): expected timeout or timeout_bye")
	}
	return nil
}

// replyHook claims the replies to the BYEs dialog sent.
func replyHook(ctx *core.Ctx) bool {
	m := Of(ctx.RT)
	return m != nil && m.tmr != nil && m.tmr.hook(ctx)
}

// find returns the dialog of Call-ID callID whose tags are ftag and ttag
// (either way round). m.mu held.
func (m *Module) find(callID, ftag, ttag string) *Dialog {
	if d := m.byKey[key(callID, ftag)]; d != nil && d.ToTag == ttag {
		return d
	}
	if d := m.byKey[key(callID, ttag)]; d != nil && d.ToTag == ftag {
		return d
	}
	return nil
}

// Get is dlg_get: make the dialog of Call-ID and tags the message's
// dialog, for the functions that act on it (dlg_bye, $dlg_var...).
func Get(ctx *core.Ctx, callID, ftag, ttag string) int {
	m := mod(ctx, "dlg_get")
	if m == nil {
		return -1
	}
	m.mu.Lock()
	defer m.unlock()
	d := m.find(callID, ftag, ttag)
	if d == nil {
		return -1
	}
	st := msgStates.Get(ctx)
	st.dlg, st.looked, st.down = d, true, d.FromTag == ftag
	return 1
}

// GetVar is dlg_get_var: a variable of the dialog of Call-ID and tags, or
// null.
func GetVar(ctx *core.Ctx, callID, ftag, ttag, name string) core.Value {
	m := Of(ctx.RT)
	if m == nil {
		return core.Null()
	}
	m.mu.Lock()
	defer m.unlock()
	if d := m.find(callID, ftag, ttag); d != nil {
		if v, ok := d.vars[name]; ok {
			return core.Str(v)
		}
	}
	return core.Null()
}

// SetVar is dlg_set_var: set a variable of the dialog of Call-ID and tags.
func SetVar(ctx *core.Ctx, callID, ftag, ttag, name, value string) int {
	m := mod(ctx, "dlg_set_var")
	if m == nil {
		return -1
	}
	m.mu.Lock()
	defer m.unlock()
	d := m.find(callID, ftag, ttag)
	if d == nil || !setVar(d, name, value, false) {
		return -1
	}
	return 1
}
