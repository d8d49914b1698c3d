// Package pv implements module pv: KSR.pv.get/sets/seti/unset/is_null over
// the pseudo-variables registered with core.RegisterPV (those of the core,
// this package's own, and other modules' such as tm's $T_reply_code), and
// the per-message $var and $avp stores.
//
// A name such as "$hdr(From)" is parsed once and cached in a map shared by
// all workers, so repeated calls do not parse or allocate; a getter that
// yields a string allocates that one string for the script.
package pv

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"kemi/core"
)

// spec is a parsed pseudo-variable name.
type spec struct {
	name, arg string
	get       core.PVGetter
	isInt     bool
	idx       int     // header line index for $(hdr(Name)[idx])
	hasIdx    bool    // idx was given
	trans     []trans // transformations applied in order: $(ru{uri.user})
	err       string  // why the name is unusable; "" when it is fine
}

var (
	cacheMu sync.RWMutex
	cache   = map[string]*spec{}
)

// maxCache bounds the cache: names built at run time (say "$var(" + i +
// ")") must not grow it without end. Past it, names are parsed per call.
const maxCache = 4096

// lookup returns the parsed spec of a pseudo-variable name.
func lookup(full string) *spec {
	cacheMu.RLock()
	s := cache[full]
	cacheMu.RUnlock()
	if s != nil {
		return s
	}
	s = parse(full)
	cacheMu.Lock()
	if len(cache) < maxCache {
		cache[full] = s
	}
	cacheMu.Unlock()
	return s
}

func parse(full string) *spec {
	if !strings.HasPrefix(full, "$") {
		return &spec{err: "expected a pseudo-variable starting with '$', got " + strconv.Quote(full)}
	}
	if base, ts, ok, e := splitTrans(full); ok {
		if e != "" {
			return &spec{err: e + " in " + strconv.Quote(full)}
		}
		s := parse(base)
		if s.err == "" {
			s.trans = ts
		}
		return s
	}
	name, arg, ok := core.SplitPV(full)
	idx, hasIdx := 0, false
	if !ok {
		// $(hdr(Via)[1]) and $(hdr(Via)[-1]): the n-th header line.
		if n, a, i, ok2 := splitIndexed(full); ok2 {
			name, arg, idx, hasIdx, ok = n, a, i, true, true
		}
	}
	if !ok {
		return &spec{err: "cannot parse pseudo-variable " + strconv.Quote(full)}
	}
	if hasIdx && name != "hdr" {
		return &spec{err: "an index is supported on $hdr only, got " + strconv.Quote(full)}
	}
	s := &spec{name: name, arg: arg, get: core.LookupPV(name), isInt: IsIntPV(name), idx: idx, hasIdx: hasIdx}
	if s.get == nil {
		s.err = "unknown pseudo-variable " + strconv.Quote(full)
	}
	return s
}

// value reads the pseudo-variable; ok is false for null (or an unusable
// name, which is logged as Kamailio does).
func value(ctx *core.Ctx, full string) (core.Value, bool) {
	s := lookup(full)
	if s.err != "" {
		ctx.Log(core.LErr, "pv: "+s.err+"\n")
		return core.Value{}, false
	}
	return s.eval(ctx)
}

// eval reads the pseudo-variable and applies its transformations.
func (s *spec) eval(ctx *core.Ctx) (core.Value, bool) {
	v, ok := s.value(ctx)
	for i, t := range s.trans {
		if !ok {
			// sql.val* turn a null value into NULL, 0 or '' as
			// Kamailio's sqlops does; the others leave it null. A
			// transformation that failed ends the chain, as Kamailio's
			// tr_exec.
			if t.class != "sql" || i > 0 {
				break
			}
			v, ok = sqlNull(t.key), true
			continue
		}
		v, ok = t.apply(ctx, v)
	}
	return v, ok
}

// formatPV compiles a "$(...)" name for core.CompileFormat (log_prefix,
// xlog), so formats know transformations and header indexes as
// KSR.pv.get does.
func formatPV(full string) (core.PVGetter, error) {
	s := lookup(full)
	if s.err != "" {
		return nil, &pvError{s.err}
	}
	return func(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
		v, ok := s.eval(ctx)
		if !ok {
			return dst, false
		}
		return appendValue(dst, v)
	}, nil
}

func init() { core.SetPVParser(formatPV) }

// value reads the pseudo-variable itself, before transformations.
func (s *spec) value(ctx *core.Ctx) (core.Value, bool) {
	if ctx.Msg == nil {
		return core.Value{}, false
	}
	// $var and $avp hold Values: hand them back without formatting.
	switch s.name {
	case "var":
		v, ok := store(ctx).vars[s.arg]
		return v, ok
	case "avp":
		return AVP(ctx, s.arg)
	case "xavp":
		return xavpValue(ctx, s.arg)
	case "shv":
		return Shv(ctx, s.arg)
	}
	if s.hasIdx {
		return hdrAt(ctx, s.arg, s.idx)
	}
	st := store(ctx)
	b, ok := s.get(ctx, s.arg, st.buf[:0])
	st.buf = b
	if !ok {
		return core.Value{}, false
	}
	if s.isInt {
		if n, ok := atoi(b); ok {
			return core.Int(n), true
		}
	}
	return core.Str(string(b)), true
}

// Get is KSR.pv.get: the value, or null.
func Get(ctx *core.Ctx, name string) core.Value {
	v, ok := value(ctx, name)
	if !ok {
		return core.Null()
	}
	return v
}

// Gete is KSR.pv.gete: the value, or "" for null.
func Gete(ctx *core.Ctx, name string) core.Value {
	v, ok := value(ctx, name)
	if !ok {
		return core.Str("")
	}
	return v
}

// Getw is KSR.pv.getw: the value, or "<null>" for null.
func Getw(ctx *core.Ctx, name string) core.Value {
	v, ok := value(ctx, name)
	if !ok {
		return core.Str("<null>")
	}
	return v
}

// Getvs is KSR.pv.getvs: the value, or def for null.
func Getvs(ctx *core.Ctx, name, def string) core.Value {
	v, ok := value(ctx, name)
	if !ok {
		return core.Str(def)
	}
	return v
}

// Getvn is KSR.pv.getvn: the value, or def for null.
func Getvn(ctx *core.Ctx, name string, def int) core.Value {
	v, ok := value(ctx, name)
	if !ok {
		return core.Int(int64(def))
	}
	return v
}

// Geti is KSR.pv.geti: the value as an integer; 0 for null and for a
// string that is not a number.
func Geti(ctx *core.Ctx, name string) int {
	v, ok := value(ctx, name)
	if !ok {
		return 0
	}
	switch v.Kind {
	case core.KInt, core.KBool:
		return int(v.I)
	case core.KStr:
		n, _ := strconv.Atoi(strings.TrimSpace(v.S))
		return n
	}
	return 0
}

// IsNull is KSR.pv.is_null.
func IsNull(ctx *core.Ctx, name string) bool {
	_, ok := value(ctx, name)
	return !ok
}

// set assigns v to a writable pseudo-variable and reports whether it did.
func set(ctx *core.Ctx, fn, full string, v core.Value) bool {
	return assign(ctx, fn, full, v) == nil
}

// errNotSet is assign's answer for a failure it has logged.
var errNotSet = errors.New("not set")

// assign assigns v to a writable pseudo-variable. It logs why it could
// not, except for errLineBreak, which it returns for the caller to raise.
func assign(ctx *core.Ctx, fn, full string, v core.Value) error {
	s := lookup(full)
	if s.err != "" && s.name == "" {
		ctx.Log(core.LErr, "pv: "+fn+": "+s.err+"\n")
		return errNotSet
	}
	setter := core.LookupPVSetter(s.name)
	if setter == nil || len(s.trans) > 0 {
		ctx.Log(core.LErr, "pv: "+fn+": "+core.LogQuote(full)+" is read-only or unknown\n")
		return errNotSet
	}
	if ctx.Msg == nil {
		return errNotSet
	}
	if err := setter(ctx, s.arg, v); err != nil {
		if err == errLineBreak {
			return err
		}
		ctx.Log(core.LErr, "pv: "+fn+": "+core.LogValue(err.Error())+"\n")
		return errNotSet
	}
	return nil
}

// Sets is KSR.pv.sets: true when set, false when not (logged), and a
// script error for a value with CR, LF or NUL given to a pseudo-variable
// written into the message ($ru, $rU, $rd, $rp, $du).
func Sets(ctx *core.Ctx, name, val string) (bool, error) {
	switch err := assign(ctx, "sets", name, core.Str(val)); err {
	case nil:
		return true, nil
	case errLineBreak:
		return false, core.CheckError("KSR.pv.sets", name, core.CheckLine, val)
	}
	return false, nil
}

// Seti is KSR.pv.seti.
func Seti(ctx *core.Ctx, name string, val int) bool {
	return set(ctx, "seti", name, core.Int(int64(val)))
}

// Setl is KSR.pv.setl.
func Setl(ctx *core.Ctx, name string, val int64) bool { return set(ctx, "setl", name, core.Int(val)) }

// Getl is KSR.pv.getl: the value as a long, 0 for null.
func Getl(ctx *core.Ctx, name string) core.Value { return core.Int(int64(Geti(ctx, name))) }

// Unset is KSR.pv.unset: $var and $avp are removed, $du is cleared.
func Unset(ctx *core.Ctx, name string) bool { return set(ctx, "unset", name, core.Null()) }

// atoi parses a decimal integer without converting b to a string.
func atoi(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// splitIndexed parses "$(name(arg)[idx])".
func splitIndexed(full string) (name, arg string, idx int, ok bool) {
	if !strings.HasPrefix(full, "$(") || !strings.HasSuffix(full, "])") {
		return "", "", 0, false
	}
	inner := full[2 : len(full)-1]
	lb := strings.LastIndexByte(inner, '[')
	if lb < 0 {
		return "", "", 0, false
	}
	idx, err := strconv.Atoi(inner[lb+1 : len(inner)-1])
	if err != nil {
		return "", "", 0, false
	}
	name, arg, ok = core.SplitPV(inner[:lb])
	return name, arg, idx, ok
}

// hdrAt is the value of the idx-th (negative: from the end) header line
// named name.
func hdrAt(ctx *core.Ctx, name string, idx int) (core.Value, bool) {
	m := ctx.Msg
	if idx < 0 {
		idx += m.CountHeader(name)
		if idx < 0 {
			return core.Value{}, false
		}
	}
	it := m.Lines(name)
	for k := 0; it.Next(); k++ {
		if k == idx {
			return core.Str(string(it.Value())), true
		}
	}
	return core.Value{}, false
}
