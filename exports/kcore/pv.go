package kcore

import (
	"strconv"

	"kemi/core"
)

// The core's pseudo-variables, registered from module.yaml (pvs:) like
// every module's. A getter appends nothing and returns false for a null
// value.

func appendPV(dst, b []byte) ([]byte, bool) {
	if b == nil {
		return dst, false
	}
	return append(dst, b...), true
}

// getCi is $ci: the Call-ID.
func getCi(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	return appendPV(dst, ctx.Msg.CallID())
}

// getRm is $rm: the method of a request, or of the CSeq of a reply.
func getRm(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	return appendPV(dst, ctx.Msg.Method())
}

// getRu is $ru: the Request-URI with the changes made so far; null for a
// reply.
func getRu(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if !ctx.Msg.IsRequest() {
		return dst, false
	}
	return appendPV(dst, ctx.Msg.RequestURI())
}

// getUa is $ua: the User-Agent header.
func getUa(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	return appendPV(dst, ctx.Msg.Header("User-Agent"))
}

// getHdr is $hdr(Name): the value of the first Name header.
func getHdr(ctx *core.Ctx, name string, dst []byte) ([]byte, bool) {
	return appendPV(dst, ctx.Msg.Header(name))
}

// getCs is $cs: the CSeq number.
func getCs(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	n, _, err := ctx.Msg.CSeq()
	if err != nil {
		return dst, false
	}
	return strconv.AppendUint(dst, uint64(n), 10), true
}

// getSi is $si: the source IP address.
func getSi(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if !ctx.Src.IsValid() {
		return dst, false
	}
	return ctx.Src.Addr().AppendTo(dst), true
}

// getSp is $sp: the source port.
func getSp(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if !ctx.Src.IsValid() {
		return dst, false
	}
	return strconv.AppendUint(dst, uint64(ctx.Src.Port()), 10), true
}

// getPr is $pr: the transport protocol the message came over.
func getPr(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	return append(dst, ctx.Proto.String()...), ctx.Proto != 0
}

// getMt is $mt: 1 for a request, 2 for a reply.
func getMt(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if ctx.Msg.IsRequest() {
		return append(dst, '1'), true
	}
	return append(dst, '2'), true
}

// getRs is $rs: the status code of a reply; null for a request.
func getRs(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if ctx.Msg.IsRequest() {
		return dst, false
	}
	return strconv.AppendInt(dst, int64(ctx.Msg.StatusCode()), 10), true
}
