// Package core holds what every part of kemi shares: the value type that
// crosses between scripts and Go, the per-message context, the hashed
// registry of exported functions, the engine interface and the logger.
//
// A module declares its functions in exports/<module>/module.yaml; kemigen
// turns that into a zz_kemi.go whose init() calls Register with a
// ModuleSpec. Engines bind the registry's exports once per VM and call the
// thunks with arguments converted into a reused []Value, so a call from a
// script allocates nothing.
package core

import "strconv"

// Type is the declared type of a parameter or return value.
type Type uint8

const (
	TNone Type = iota // no value (returns only)
	TInt              // 32-bit int in Kamailio, int64 here
	TStr
	TBool
	TLong
	TXval // int, str or null (returns only)
)

var typeNames = [...]string{"none", "int", "str", "bool", "long", "xval"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Kind says what a Value holds.
type Kind uint8

const (
	KNull Kind = iota
	KInt
	KStr
	KBool
	// KError: the call failed; Ctx.Err() has the error. Engines raise it
	// as a script error.
	KError
	// KExit: the script asked to stop the route (KSR.x.exit, KSR.x.drop);
	// Ctx.Dropped says whether the message is dropped too. Engines unwind
	// with their sentinel.
	KExit
)

var kindNames = [...]string{"null", "int", "str", "bool", "error", "exit"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value crosses between scripts and exported Go functions. It is passed by
// value and holds no pointers besides the string, so a []Value buffer can be
// reused across calls without allocating.
type Value struct {
	Kind Kind
	I    int64  // KInt, KBool (0 or 1)
	S    string // KStr
}

// Constructors keep call sites short in generated code.
func Null() Value        { return Value{} }
func Int(i int64) Value  { return Value{Kind: KInt, I: i} }
func Str(s string) Value { return Value{Kind: KStr, S: s} }
func Exit() Value        { return Value{Kind: KExit} }
func ErrorValue() Value  { return Value{Kind: KError} }
func Bool(b bool) Value {
	if b {
		return Value{Kind: KBool, I: 1}
	}
	return Value{Kind: KBool}
}

// IsNull reports whether v is the null xval.
func (v Value) IsNull() bool { return v.Kind == KNull }

// Truth is what a bool or int result means to a condition.
func (v Value) Truth() bool {
	switch v.Kind {
	case KInt, KBool:
		return v.I != 0
	case KStr:
		return v.S != ""
	}
	return false
}

func (v Value) String() string {
	switch v.Kind {
	case KInt:
		return strconv.FormatInt(v.I, 10)
	case KBool:
		if v.I != 0 {
			return "true"
		}
		return "false"
	case KStr:
		return v.S
	}
	return v.Kind.String()
}

// IntArg reads a numeric string given for an int parameter, as Kamailio's
// KEMI does for scripts that pass "200": an optional sign and decimal
// digits, nothing else (no spaces, no fraction), within int64.
func IntArg(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || s[0] == '0' && len(s) > 1 || (s[0] == '+' || s[0] == '-') && len(s) > 2 && s[1] == '0' {
		// Leading zeros are refused as well: "0200" is more likely a
		// mistake than a status code.
		return 0, false
	}
	return n, true
}
