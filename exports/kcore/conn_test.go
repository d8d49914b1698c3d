package kcore

import (
	"testing"

	"kemi/core"
)

// Kamailio's basic KEMI script calls KSR.set_reply_no_connect() on every
// request: the call must exist and succeed.
func TestConnectionControlsAccepted(t *testing.T) {
	for _, name := range []string{"set_reply_no_connect", "set_reply_close", "set_forward_no_connect", "set_forward_close"} {
		m := core.Known("")
		var e *core.Export
		for _, x := range m.Exports {
			if x.Name == name {
				e = x
			}
		}
		if e == nil {
			t.Fatalf("KSR.%s is not exported", name)
		}
		if v := e.Call(&core.Ctx{}, nil); v.Kind != core.KBool || v.I != 1 {
			t.Errorf("KSR.%s() = %v, want true", name, v)
		}
	}
}
