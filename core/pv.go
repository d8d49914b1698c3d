package core

import (
	"strings"
)

// PVGetter appends the value of a pseudo-variable for ctx to dst. arg is
// the inner name for the $name(arg) form. A getter appends nothing for a
// null value; Format prints "<null>" then, as Kamailio does.
type PVGetter func(ctx *Ctx, arg string, dst []byte) ([]byte, bool)

var pvGetters = map[string]PVGetter{}

// RegisterPV makes $name available to log_prefix and to xlog-style
// formats. It panics on a duplicate, as Register does.
func RegisterPV(name string, get PVGetter) {
	if _, dup := pvGetters[name]; dup {
		panic("core.RegisterPV: duplicate $" + name)
	}
	pvGetters[name] = get
}

// LookupPV returns the getter for $name, or nil.
func LookupPV(name string) PVGetter { return pvGetters[name] }

// scanPV reads "name", "name(arg)" or "(name)"-less forms after a '$'.
func scanPV(s string) (name, arg string, n int) {
	if strings.HasPrefix(s, "{") { // ${name}
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", "", 0
		}
		name, arg, _ = scanPV(s[1:end])
		return name, arg, end + 1
	}
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	name = s[:n]
	if n < len(s) && s[n] == '(' {
		depth := 0
		for j := n; j < len(s); j++ {
			switch s[j] {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					return name, s[n+1 : j], j + 1
				}
			}
		}
	}
	return name, "", n
}

// PVSetter assigns v to $name(arg) for ctx; a null v unsets it where that
// means something ($du, $var). It returns an error naming what it expected.
type PVSetter func(ctx *Ctx, arg string, v Value) error

var pvSetters = map[string]PVSetter{}

// RegisterPVSetter makes $name assignable (KSR.pv.sets, seti, unset). It
// panics on a duplicate.
func RegisterPVSetter(name string, set PVSetter) {
	if _, dup := pvSetters[name]; dup {
		panic("core.RegisterPVSetter: duplicate $" + name)
	}
	pvSetters[name] = set
}

// LookupPVSetter returns the setter for $name, or nil when it is read-only
// or unknown.
func LookupPVSetter(name string) PVSetter { return pvSetters[name] }

// SplitPV splits "$name(arg)", "$(name(arg))", "$name" or "name" into its
// name and inner argument; ok is false when s is not a pseudo-variable.
func SplitPV(s string) (name, arg string, ok bool) {
	if len(s) > 0 && s[0] == '$' {
		s = s[1:]
	}
	if len(s) > 1 && s[0] == '(' && s[len(s)-1] == ')' {
		s = s[1 : len(s)-1]
	}
	name, arg, n := scanPV(s)
	if name == "" || n != len(s) {
		return "", "", false
	}
	return name, arg, true
}
