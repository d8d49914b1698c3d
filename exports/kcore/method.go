package kcore

import (
	"kemi/sip"
	"strings"

	"kemi/core"
)

// method is the request method, or the CSeq method of a reply, as
// Kamailio's method checks use.
func method(ctx *core.Ctx) []byte {
	if ctx.Msg == nil {
		return nil
	}
	return ctx.Msg.Method()
}

// IsMethod is KSR.is_method: one name, or several joined with '|'.
func IsMethod(ctx *core.Ctx, names string) bool {
	m := method(ctx)
	if len(m) == 0 {
		return false
	}
	for names != "" {
		name := names
		if i := strings.IndexByte(names, '|'); i >= 0 {
			name, names = names[:i], names[i+1:]
		} else {
			names = ""
		}
		if sip.EqualFold(m, strings.TrimSpace(name)) {
			return true
		}
	}
	return false
}

// methodLetters maps is_method_in's letters to method names (Kamailio's
// table: E is PRACK, F is REFER, T is POST, V is PUT).
var methodLetters = [256]string{
	'I': "INVITE", 'A': "ACK", 'B': "BYE", 'C': "CANCEL", 'M': "MESSAGE",
	'R': "REGISTER", 'E': "PRACK", 'P': "PUBLISH", 'S': "SUBSCRIBE",
	'N': "NOTIFY", 'O': "OPTIONS", 'F': "REFER", 'G': "GET", 'U': "UPDATE",
	'K': "KDMQ", 'D': "DELETE", 'T': "POST", 'V': "PUT",
}

// IsMethodIn is KSR.is_method_in: letters name the methods, any case.
func IsMethodIn(ctx *core.Ctx, letters string) bool {
	m := method(ctx)
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if name := methodLetters[c]; name != "" && sip.EqualFold(m, name) {
			return true
		}
	}
	return false
}

func is(ctx *core.Ctx, name string) bool { return sip.EqualFold(method(ctx), name) }

// The is_<METHOD> family.

func IsACK(ctx *core.Ctx) bool       { return is(ctx, "ACK") }
func IsBYE(ctx *core.Ctx) bool       { return is(ctx, "BYE") }
func IsCANCEL(ctx *core.Ctx) bool    { return is(ctx, "CANCEL") }
func IsDELETE(ctx *core.Ctx) bool    { return is(ctx, "DELETE") }
func IsGET(ctx *core.Ctx) bool       { return is(ctx, "GET") }
func IsINFO(ctx *core.Ctx) bool      { return is(ctx, "INFO") }
func IsINVITE(ctx *core.Ctx) bool    { return is(ctx, "INVITE") }
func IsKDMQ(ctx *core.Ctx) bool      { return is(ctx, "KDMQ") }
func IsMESSAGE(ctx *core.Ctx) bool   { return is(ctx, "MESSAGE") }
func IsNOTIFY(ctx *core.Ctx) bool    { return is(ctx, "NOTIFY") }
func IsOPTIONS(ctx *core.Ctx) bool   { return is(ctx, "OPTIONS") }
func IsPOST(ctx *core.Ctx) bool      { return is(ctx, "POST") }
func IsPRACK(ctx *core.Ctx) bool     { return is(ctx, "PRACK") }
func IsPUBLISH(ctx *core.Ctx) bool   { return is(ctx, "PUBLISH") }
func IsPUT(ctx *core.Ctx) bool       { return is(ctx, "PUT") }
func IsREFER(ctx *core.Ctx) bool     { return is(ctx, "REFER") }
func IsREGISTER(ctx *core.Ctx) bool  { return is(ctx, "REGISTER") }
func IsSUBSCRIBE(ctx *core.Ctx) bool { return is(ctx, "SUBSCRIBE") }
func IsUPDATE(ctx *core.Ctx) bool    { return is(ctx, "UPDATE") }
