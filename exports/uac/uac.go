// Package uac implements module uac: From/To replacement and restoring
// (replace.go) and answering a next hop's digest challenge in a failure
// route (auth.go).
package uac

import (
	"fmt"
	"strings"

	"kemi/core"
	"kemi/exports/pv"
)

// config is what one runtime's modparams say, checked at start.
type config struct {
	creds                   []credential
	realmPV, userPV, passPV pvRef
	mode                    int // restore mode
	passwd                  []byte
	fromParam, toParam      string
	rrLoaded                bool
}

// credential is one "username:realm:password" of modparam credential.
type credential struct{ user, realm, passwd string }

const (
	restoreNone = iota
	restoreManual
	restoreAuto
)

// pvRef names the $avp or $var a modparam points at; empty when unset.
type pvRef struct {
	avp  bool
	name string
}

func (p pvRef) set() bool { return p.name != "" }

// get reads the variable: "" when it is unset or null.
func (p pvRef) get(ctx *core.Ctx) string {
	var v core.Value
	var ok bool
	if p.avp {
		v, ok = pv.AVP(ctx, p.name)
	} else {
		v, ok = pv.Var(ctx, p.name)
	}
	if !ok || v.IsNull() {
		return ""
	}
	return v.String()
}

func parsePVRef(param, s string) (pvRef, error) {
	if s == "" {
		return pvRef{}, nil
	}
	for _, f := range []struct {
		prefix string
		avp    bool
	}{{"$avp(", true}, {"$var(", false}} {
		if strings.HasPrefix(s, f.prefix) && strings.HasSuffix(s, ")") && len(s) > len(f.prefix)+1 {
			return pvRef{avp: f.avp, name: s[len(f.prefix) : len(s)-1]}, nil
		}
	}
	return pvRef{}, fmt.Errorf(`modparam("uac", %q, %q): expected $avp(name) or $var(name)`, param, s)
}

// configs is each runtime's config, set by start (nil when not started).
var configs = core.NewRuntimeState[config](nil)

func str(rt *core.Runtime, name string) string { return rt.Param("uac", name).S }

func start(rt *core.Runtime) error {
	c := &config{fromParam: str(rt, "rr_from_store_param"), toParam: str(rt, "rr_to_store_param")}
	for _, v := range rt.Params["uac"]["credential"] {
		if v.S == "" {
			continue
		}
		cr, err := parseCredential(v.S)
		if err != nil {
			return fmt.Errorf(`modparam("uac", "credential", %q): %v`, v.S, err)
		}
		c.creds = append(c.creds, cr)
	}
	var err error
	if c.realmPV, err = parsePVRef("auth_realm_avp", str(rt, "auth_realm_avp")); err != nil {
		return err
	}
	if c.userPV, err = parsePVRef("auth_username_avp", str(rt, "auth_username_avp")); err != nil {
		return err
	}
	if c.passPV, err = parsePVRef("auth_password_avp", str(rt, "auth_password_avp")); err != nil {
		return err
	}
	if n := b2i(c.realmPV.set()) + b2i(c.userPV.set()) + b2i(c.passPV.set()); n != 0 && n != 3 {
		return fmt.Errorf(`modparam("uac"): auth_realm_avp, auth_username_avp and auth_password_avp go together; set all three or none`)
	}
	switch m := str(rt, "restore_mode"); m {
	case "none":
		c.mode = restoreNone
	case "manual":
		c.mode = restoreManual
	case "auto":
		c.mode = restoreAuto
	default:
		return fmt.Errorf(`modparam("uac", "restore_mode", %q): expected "none", "manual" or "auto"`, m)
	}
	if d := rt.Param("uac", "restore_dlg"); d.I != 0 {
		return fmt.Errorf(`modparam("uac", "restore_dlg", %s): only 0 is supported (kemi has no dialog module)`, d)
	}
	for _, p := range []struct{ name, v string }{{"rr_from_store_param", c.fromParam}, {"rr_to_store_param", c.toParam}} {
		if !isToken(p.v) {
			return fmt.Errorf(`modparam("uac", %q, %q): expected a URI parameter name (letters, digits, -_.!~*'())`, p.name, p.v)
		}
	}
	c.passwd = []byte(str(rt, "restore_passwd"))
	if c.mode == restoreAuto && rt.Reg != nil && rt.Reg.Module("rr") != nil {
		c.rrLoaded = true
		if v := rt.Param("rr", "append_fromtag"); v.Kind == core.KInt && v.I == 0 {
			return fmt.Errorf(`modparam("uac", "restore_mode", "auto") needs modparam("rr", "append_fromtag", 1): the direction of a request is told by the From tag`)
		}
	}
	configs.Set(rt, c)
	return nil
}

func cfg(ctx *core.Ctx) *config { return configs.Peek(ctx.RT) }

// parseCredential reads "username:realm:password" as Kamailio does: no
// part empty, no spaces inside; the password is what follows the second
// ':' (it may hold ':').
func parseCredential(s string) (credential, error) {
	s = strings.TrimSpace(s)
	user, rest, ok1 := strings.Cut(s, ":")
	realm, pw, ok2 := strings.Cut(rest, ":")
	user, realm, pw = strings.TrimSpace(user), strings.TrimSpace(realm), strings.TrimSpace(pw)
	if !ok1 || !ok2 || user == "" || realm == "" || pw == "" || strings.ContainsAny(user+realm+pw, " \t\r\n\"") {
		return credential{}, fmt.Errorf(`expected "username:realm:password" with no part empty and no blanks or quotes`)
	}
	return credential{user, realm, pw}, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0) {
			return false
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func logErr(ctx *core.Ctx, msg string) { ctx.Log(core.LErr, "uac: "+msg+"\n") }
