package pv

import (
	"strconv"
	"strings"
	"sync"

	"kemi/core"
)

// $shv values are shared by every worker and kept from message to message
// for as long as the config runs; a reload starts them again from the
// shvset params. Kamailio needs a $shv declared (by shvset or by the name
// appearing in the native config) before KSR.pvx.shv_set* may set it;
// kemi creates it on first set, up to maxShv names.
type shvStore struct {
	mu sync.RWMutex
	m  map[string]core.Value
}

const maxShv = 4096

var shvs = core.NewRuntimeState(func(*core.Runtime) *shvStore { return &shvStore{m: map[string]core.Value{}} })

func shvOf(rt *core.Runtime) *shvStore { return shvs.Get(rt) }

// shvFor is the runtime's store; reading a $shv takes the store's read
// lock and no other.
func shvFor(ctx *core.Ctx) *shvStore {
	if ctx.RT == nil {
		return nil
	}
	return shvs.Get(ctx.RT)
}

// Shv returns $shv(name) and whether it is set.
func Shv(ctx *core.Ctx, name string) (core.Value, bool) {
	s := shvFor(ctx)
	if s == nil {
		return core.Value{}, false
	}
	s.mu.RLock()
	v, ok := s.m[name]
	s.mu.RUnlock()
	return v, ok
}

// SetShv sets $shv(name); null unsets it.
func SetShv(ctx *core.Ctx, name string, v core.Value) error {
	s := shvFor(ctx)
	if s == nil {
		return &pvError{"$shv: no runtime"}
	}
	return s.set(name, v)
}

func (s *shvStore) set(name string, v core.Value) error {
	if name == "" {
		return &pvError{"$shv: expected a name, got \"\""}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.IsNull() {
		delete(s.m, name)
		return nil
	}
	if _, ok := s.m[name]; !ok && len(s.m) >= maxShv {
		return &pvError{"$shv(" + clipText(name) + "): already " + strconv.Itoa(maxShv) + " shared variables; not adding another"}
	}
	if v.Kind != core.KInt && v.Kind != core.KStr {
		v = core.Str(v.String())
	}
	s.m[name] = v
	return nil
}

// parseInit parses a shvset or varset value, "name=i:1" or "name=s:text"
// (a value without a type prefix is a string, as in Kamailio).
func parseInit(param, s string) (string, core.Value, error) {
	name, val, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", core.Value{}, &pvError{`modparam("pv", "` + param + `", ` + strconv.Quote(s) + `): expected name=i:number or name=s:text`}
	}
	switch {
	case strings.HasPrefix(val, "i:"):
		n, err := strconv.ParseInt(strings.TrimSpace(val[2:]), 10, 64)
		if err != nil {
			return "", core.Value{}, &pvError{`modparam("pv", "` + param + `", ` + strconv.Quote(s) + `): expected an integer after i:`}
		}
		return name, core.Int(n), nil
	case strings.HasPrefix(val, "s:"):
		return name, core.Str(val[2:]), nil
	}
	return name, core.Str(val), nil
}

func startPV(rt *core.Runtime) error {
	s := shvOf(rt)
	for _, v := range rt.ParamValues("pv", "shvset") {
		name, val, err := parseInit("shvset", v.S)
		if err != nil {
			return err
		}
		if err := s.set(name, val); err != nil {
			return err
		}
	}
	var defs []varDefault
	for _, v := range rt.ParamValues("pv", "varset") {
		name, val, err := parseInit("varset", v.S)
		if err != nil {
			return err
		}
		defs = append(defs, varDefault{name, val})
	}
	varsets.Set(rt, &varset{defs})
	return nil
}

// varset holds a runtime's varset defaults, set by startPV.
type varset struct{ defs []varDefault }

var varsets = core.NewRuntimeState[varset](nil)

// varDefault is a $var value set by varset: kemi gives $var a fresh start
// per message, so these are its values when each message starts.
type varDefault struct {
	name string
	v    core.Value
}

// getShv and setShv are $shv; getXavp and setXavp (xavp.go) $xavp.
func getShv(c *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	v, ok := Shv(c, arg)
	if !ok {
		return dst, false
	}
	return appendValue(dst, v)
}

func setShv(c *core.Ctx, arg string, v core.Value) error { return SetShv(c, arg, v) }

func getXavp(c *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	v, ok := xavpValue(c, arg)
	if !ok {
		return dst, false
	}
	return appendValue(dst, v)
}

// getStat is $stat(name): a statistic's value (core:rcv_requests, a
// script statistic); null when there is none.
func getStat(c *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	v, ok := c.RT.StatValue(arg)
	if !ok {
		return dst, false
	}
	return strconv.AppendInt(dst, v, 10), true
}
