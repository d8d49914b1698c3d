package registrar

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// FuzzSave feeds arbitrary Contact and Expires values to save and then
// looks the user up: nothing may panic, and save gives a known code.
func FuzzSave(f *testing.F) {
	rt := newRT(f, map[string]core.Value{"registrar.max_contacts": core.Int(3), "registrar.max_expires": core.Int(3600)})
	f.Add("<sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>;expires=0", "600")
	f.Add("*", "0")
	f.Add(`"x" <sip:a@[::1]:5060;transport=tcp>;+sip.instance="<urn:uuid:1>";reg-id=1`, "99999999999999999999")
	f.Add("<sip:a@192.0.2.1;q=1.5", "soon")
	var m sip.Msg
	ctx := &core.Ctx{RT: rt, Out: ksrtest.Discard}
	f.Fuzz(func(t *testing.T, contact, expires string) {
		if strings.ContainsAny(contact+expires, "\r\n") {
			return
		}
		if m.Parse([]byte(register("Contact: "+contact, "Expires: "+expires))) != nil {
			return
		}
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if rc := Save(ctx, "location", 0); rc < -2 || rc == 0 || rc > 4 {
			t.Fatalf("save = %d", rc)
		}
		if m.Parse([]byte(invite("sip:alice@example.com"))) != nil {
			t.Fatal("invite does not parse")
		}
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if rc := LookupBranches(ctx, "location"); rc != 1 && rc != -1 {
			t.Fatalf("lookup_branches = %d", rc)
		}
		m.AppendTo(nil)
	})
}
