package core

import (
	"fmt"
	"strings"
)

// ArgError builds the error an engine or thunk reports for bad arguments:
// "KSR.sl.sl_send_reply: expected (int, str), got (string, number)". got
// holds the type names in the script's own language.
func ArgError(fn string, want []Type, got []string) error {
	ws := make([]string, len(want))
	for i, t := range want {
		ws[i] = t.String()
	}
	return fmt.Errorf("%s: expected (%s), got (%s)", fn, strings.Join(ws, ", "), strings.Join(got, ", "))
}

// KindNames returns the Kind names of vs, for ArgError from Go code.
func KindNames(vs []Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Kind.String()
	}
	return out
}
