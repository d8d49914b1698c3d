package uac

import (
	"bytes"
	"encoding/base64"

	"kemi/core"
	"kemi/exports/rr"
	"kemi/exports/tm"
	"kemi/sip"
)

// rrEnc is Kamailio's encoding of the vsf/vst value: base64 with '-' for
// padding, so a Kamailio peer (or a restart into Kamailio) reads it.
var rrEnc = base64.StdEncoding.WithPadding('-')

// maxURI bounds a From/To URI uac stores or restores, as Kamailio's
// MAX_URI_SIZE does.
const maxURI = 1024

// msgState remembers which headers this message had replaced.
type msgState struct {
	from, to bool
}

var msgStates = core.NewMsgState[msgState](nil)

func state(ctx *core.Ctx) *msgState { return msgStates.Get(ctx) }

// ReplaceFrom is uac_replace_from(display, uri).
func ReplaceFrom(ctx *core.Ctx, display, uri string) int {
	return replace(ctx, true, &display, uri, "uac_replace_from")
}

// ReplaceFromURI is uac_replace_from_uri(uri): the display name stays.
func ReplaceFromURI(ctx *core.Ctx, uri string) int {
	return replace(ctx, true, nil, uri, "uac_replace_from_uri")
}

// ReplaceTo is uac_replace_to(display, uri).
func ReplaceTo(ctx *core.Ctx, display, uri string) int {
	return replace(ctx, false, &display, uri, "uac_replace_to")
}

// ReplaceToURI is uac_replace_to_uri(uri).
func ReplaceToURI(ctx *core.Ctx, uri string) int {
	return replace(ctx, false, nil, uri, "uac_replace_to_uri")
}

func replace(ctx *core.Ctx, from bool, display *string, uri, fn string) int {
	c := cfg(ctx)
	m := ctx.Msg
	if c == nil || m == nil || !m.IsRequest() {
		logErr(ctx, fn+": module uac is not started, or the message is not a request")
		return -1
	}
	st := state(ctx)
	if from && st.from || !from && st.to {
		logErr(ctx, fn+": called twice for the same message (Kamailio allows it once)")
		return -1
	}
	if uri != "" {
		if len(uri) > maxURI || !cleanValue(uri) {
			logErr(ctx, fn+": expected a SIP URI of at most 1024 bytes without blanks, quotes or <>, got "+core.LogQuote(uri))
			return -1
		}
		if _, err := sip.ParseURI([]byte(uri)); err != nil {
			logErr(ctx, fn+": bad URI "+core.LogQuote(uri)+": "+core.LogValue(err.Error()))
			return -1
		}
	}
	if display != nil && (len(*display) > 256 || !cleanDisplay(*display)) {
		logErr(ctx, fn+": expected a display name of at most 256 bytes on one line, got "+core.LogQuote(*display))
		return -1
	}
	if c.mode == restoreAuto && uri != "" {
		if len(m.ToTag()) > 0 {
			logErr(ctx, fn+": restore_mode auto does not replace a URI inside a dialog (To has a tag)")
			return -1
		}
		if !c.rrLoaded {
			logErr(ctx, fn+`: restore_mode auto keeps the original URI in the Record-Route: load module rr, or set modparam("uac", "restore_mode", "none")`)
			return -1
		}
	}
	var n sip.NameAddr
	var err error
	if from {
		n, err = m.From()
	} else {
		n, err = m.To()
	}
	if err != nil {
		logErr(ctx, fn+": "+core.LogValue(err.Error()))
		return -1
	}
	// The span to rewrite: display name and URI, written back as
	// [display ]<uri>; the header parameters stay.
	start, end, ok := m.NameAddrSpan(&n)
	if !ok {
		logErr(ctx, fn+": the header was already edited in this message")
		return -1
	}
	orig := m.Raw()[start:end]
	disp := n.Display
	if display != nil {
		disp = []byte(*display)
	}
	old := append([]byte(nil), n.URI...)
	newURI := old
	if uri != "" {
		newURI = []byte(uri)
	}
	var b []byte
	if len(disp) > 0 {
		b = append(b, disp...)
		b = append(b, ' ')
	}
	b = append(b, '<')
	b = append(b, newURI...)
	b = append(b, '>')
	if err := m.Replace(start, end, b); err != nil {
		logErr(ctx, fn+": "+err.Error())
		return -1
	}
	if c.mode != restoreNone {
		// Replies to this request get the header as it came (Kamailio's
		// restore in replies, modes manual and auto).
		tm.RestoreInReplies(ctx, from, orig)
	}
	if from {
		st.from = true
	} else {
		st.to = true
	}
	if c.mode != restoreAuto || uri == "" {
		return 1
	}
	// What the later requests need to compute either URI from the other:
	// old XOR new (the longer one's tail kept), XOR restore_passwd.
	x := xorURIs(old, newURI)
	for i := range x {
		if len(c.passwd) > 0 {
			x[i] ^= c.passwd[i%len(c.passwd)]
		}
	}
	name := c.toParam
	if from {
		name = c.fromParam
	}
	p := make([]byte, 0, 2+len(name)+rrEnc.EncodedLen(len(x)))
	p = append(p, ';')
	p = append(p, name...)
	p = append(p, '=')
	p = rrEnc.AppendEncode(p, x)
	if ctx.Route == core.BranchRoute {
		// The branch's request has the Record-Route of the request route
		// as a header already: the parameter goes into it.
		return addToOwnRR(ctx, p, fn)
	}
	if rr.AddRRParam(ctx, string(p)) < 0 {
		logErr(ctx, fn+": adding the Record-Route parameter "+name+" failed")
		return -1
	}
	return 1
}

// addToOwnRR appends param to the URI of the first Record-Route entry
// that names this server.
func addToOwnRR(ctx *core.Ctx, param []byte, fn string) int {
	m := ctx.Msg
	for it := m.RecordRoutes(); it.Next(); {
		n := it.NameAddr()
		u, err := sip.ParseURI(n.URI)
		if err != nil || !ctx.IsMyself(u.Host, u.Port) {
			continue
		}
		off := m.OffsetOf(n.URI)
		if off < 0 {
			break
		}
		if err := m.Replace(off+len(n.URI), off+len(n.URI), param); err != nil {
			logErr(ctx, fn+": "+err.Error())
			return -1
		}
		return 1
	}
	logErr(ctx, fn+": restore_mode auto in a branch route needs a Record-Route of ours: call record_route in the request route")
	return -1
}

func xorURIs(a, b []byte) []byte {
	if len(a) < len(b) {
		a, b = b, a
	}
	x := append([]byte(nil), a...)
	for i := range b {
		x[i] ^= b[i]
	}
	return x
}

// RestoreFrom is uac_restore_from.
func RestoreFrom(ctx *core.Ctx) int { return restore(ctx, true, "uac_restore_from") }

// RestoreTo is uac_restore_to.
func RestoreTo(ctx *core.Ctx) int { return restore(ctx, false, "uac_restore_to") }

// restore puts back, in a later request of the dialog, the URI the first
// request's uac_replace_* changed, from our Route entry's parameter: for
// vsf, a request going downstream gets the new From URI and one going
// upstream the original URI in its To; vst the other way round.
func restore(ctx *core.Ctx, from bool, fn string) int {
	c := cfg(ctx)
	m := ctx.Msg
	if c == nil || m == nil || !m.IsRequest() {
		logErr(ctx, fn+": module uac is not started, or the message is not a request")
		return -1
	}
	if !c.rrLoaded {
		logErr(ctx, fn+": needs module rr and restore_mode auto")
		return -1
	}
	name := c.toParam
	if from {
		name = c.fromParam
	}
	val, ok := rr.RouteParam(ctx, name)
	if !ok || len(val) == 0 {
		return -1 // nothing stored: not a dialog uac changed
	}
	if len(val) > rrEnc.EncodedLen(maxURI) {
		logErr(ctx, fn+": the Route parameter "+name+" is longer than a stored URI can be")
		return -1
	}
	x, err := rrEnc.AppendDecode(nil, val)
	if err != nil {
		logErr(ctx, fn+": the Route parameter "+name+" does not decode: "+core.LogValue(err.Error()))
		return -1
	}
	for i := range x {
		if len(c.passwd) > 0 {
			x[i] ^= c.passwd[i%len(c.passwd)]
		}
	}
	up := rr.IsDirection(ctx, "upstream") == 1
	toHdr := up == from // vsf: upstream rewrites To; vst: downstream does
	var n sip.NameAddr
	if toHdr {
		n, err = m.To()
	} else {
		n, err = m.From()
	}
	if err != nil {
		logErr(ctx, fn+": "+core.LogValue(err.Error()))
		return -1
	}
	cur := n.URI
	if len(x) < len(cur) {
		logErr(ctx, fn+": the stored URI is shorter than the one in the request; the header was changed on the way")
		return -1
	}
	for i := range cur {
		x[i] ^= cur[i]
		if x[i] == 0 {
			x = x[:i]
			break
		}
	}
	// Kamailio checks only that it is printable; a value made up on the
	// way could then put any text into the header. Ours must be a URI.
	if _, perr := sip.ParseURI(x); len(x) == 0 || !cleanValue(string(x)) || perr != nil {
		logErr(ctx, fn+": the restored URI is not valid (the header or the Route parameter was changed on the way, or restore_passwd differs); left as it is")
		return -1
	}
	off := m.OffsetOf(cur)
	sp, ep, ok := m.NameAddrSpan(&n)
	if off < 0 || !ok {
		logErr(ctx, fn+": the header was already edited in this message")
		return -1
	}
	if err := m.Replace(off, off+len(cur), x); err != nil {
		logErr(ctx, fn+": "+err.Error())
		return -1
	}
	// Its replies get the header back as the request came.
	tm.RestoreInReplies(ctx, !toHdr, m.Raw()[sp:ep])
	// Kept in the Record-Route of a re-INVITE, as Kamailio does.
	p := make([]byte, 0, 2+len(name)+len(val))
	p = append(append(append(append(p, ';'), name...), '='), val...)
	rr.AddRRParam(ctx, string(p))
	return 1
}

func printable(b []byte) bool {
	for _, c := range b {
		if c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// cleanValue: no blanks, controls, quotes or angle brackets.
func cleanValue(s string) bool {
	return printable([]byte(s)) && !bytes.ContainsAny([]byte(s), "\"<>")
}

// cleanDisplay: one line, no angle brackets.
func cleanDisplay(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}
