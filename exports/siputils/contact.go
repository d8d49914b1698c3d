package siputils

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"kemi/core"
	"kemi/sip"
)

// contactRewrite calls fn for the URI of every Contact value and writes a
// Contact line again when fn changed one of its URIs. fn gets the URI
// and whether it is in <>, and returns the new URI text (with <> when it
// adds them) or nil to leave it.
func contactRewrite(ctx *core.Ctx, fname string, fn func(uri []byte, angle bool) ([]byte, error)) int {
	m := ctx.Msg
	if m == nil {
		return -1
	}
	var idx [sip.MaxHeaders]int
	n := 0
	for it := m.Lines("Contact"); it.Next(); {
		idx[n] = it.Index()
		n++
	}
	var line []byte
	for _, i := range idx[:n] {
		name, v := m.HeaderAt(i)
		line = line[:0]
		last, changed := 0, false
		sp := sip.SplitCommas(v)
		for {
			val, ok := sp.Next()
			if !ok {
				break
			}
			if len(val) == 1 && val[0] == '*' {
				continue
			}
			na, err := sip.ParseNameAddr(val)
			if err != nil {
				ctx.Log(core.LErr, "siputils: "+fname+": bad Contact "+core.LogQuote(val)+": "+core.LogValue(err.Error())+"\n")
				return -1
			}
			nu, err := fn(na.URI, na.Angle)
			if err != nil {
				ctx.Log(core.LErr, "siputils: "+fname+": "+core.LogValue(err.Error())+"\n")
				return -1
			}
			if nu == nil {
				continue
			}
			us := cap(v) - cap(na.URI) // offset of the URI in the line value
			line = append(line, v[last:us]...)
			line = append(line, nu...)
			last = us + len(na.URI)
			changed = true
		}
		if !changed {
			continue
		}
		line = append(line, v[last:]...)
		if err := m.RemoveHeaderAt(i); err != nil {
			ctx.Log(core.LErr, "siputils: "+fname+": "+core.LogValue(err.Error())+"\n")
			return -1
		}
		if err := m.InsertHeaderBefore(i, string(name), line); err != nil {
			ctx.Log(core.LErr, "siputils: "+fname+": "+core.LogValue(err.Error())+"\n")
			return -1
		}
	}
	return 1
}

// encodeParam builds "saddr;nparam=<base64url of uri>", in <> when the
// Contact URI was not.
func encodeParam(uri []byte, angle bool, nparam, saddr string) []byte {
	var out []byte
	if !angle {
		out = append(out, '<')
	}
	out = append(out, saddr...)
	out = append(out, ';')
	out = append(out, nparam...)
	out = append(out, '=')
	out = base64.RawURLEncoding.AppendEncode(out, uri)
	if !angle {
		out = append(out, '>')
	}
	return out
}

// ContactParamEncode replaces every Contact URI with saddr carrying the
// original URI, base64url-encoded, in parameter nparam:
// <sip:alice@192.0.2.10> becomes <saddr;nparam=c2lwOmFsaWNl...>.
func ContactParamEncode(ctx *core.Ctx, nparam, saddr string) int {
	return contactRewrite(ctx, "contact_param_encode", func(uri []byte, angle bool) ([]byte, error) {
		if len(uri) <= 4 {
			return nil, nil
		}
		return encodeParam(uri, angle, nparam, saddr), nil
	})
}

// protoNum is Kamailio's transport number in alias parameters.
func protoNum(p core.Proto) byte {
	switch p {
	case core.TCP:
		return '2'
	case core.TLS:
		return '3'
	case core.WS:
		return '5'
	case core.WSS:
		return '6'
	}
	return '1'
}

// ContactParamEncodeAlias is ContactParamEncode after adding
// ;alias=IP~PORT~PROTO (the source address) to each Contact URI.
func ContactParamEncodeAlias(ctx *core.Ctx, nparam, saddr string) int {
	return contactRewrite(ctx, "contact_param_encode_alias", func(uri []byte, angle bool) ([]byte, error) {
		if len(uri) <= 4 {
			return nil, nil
		}
		a := append([]byte(nil), uri...)
		a = append(a, ";alias="...)
		a = sip.AppendIP(a, ctx.Src.Addr())
		a = append(a, '~')
		a = strconv.AppendUint(a, uint64(ctx.Src.Port()), 10)
		a = append(a, '~', protoNum(ctx.Proto))
		return encodeParam(a, angle, nparam, saddr), nil
	})
}

// decodeParamValue decodes the base64url value of nparam in uri; ok is
// false when uri has no such parameter (or an empty one).
func decodeParamValue(uri []byte, nparam string) (out []byte, ok bool, err error) {
	u, err := sip.ParseURI(uri)
	if err != nil {
		return nil, false, err
	}
	v, found := u.Params.Get(nparam)
	if !found || len(v) == 0 {
		return nil, false, nil
	}
	v = bytes.TrimRight(v, "=")
	out, err = base64.RawURLEncoding.AppendDecode(nil, v)
	if err != nil || len(out) == 0 {
		return nil, false, errString("cannot decode " + nparam + "=" + string(v))
	}
	return out, true, nil
}

// ContactParamDecode puts back every Contact URI that
// contact_param_encode hid in parameter nparam.
func ContactParamDecode(ctx *core.Ctx, nparam string) int {
	return contactRewrite(ctx, "contact_param_decode", func(uri []byte, angle bool) ([]byte, error) {
		if len(uri) < 4 {
			return nil, nil
		}
		d, ok, err := decodeParamValue(uri, nparam)
		if err != nil || !ok {
			return nil, err
		}
		return d, nil
	})
}

// ContactParamDecodeRURI sets the Request-URI to the URI hidden in its
// parameter nparam, if it has one.
func ContactParamDecodeRURI(ctx *core.Ctx, nparam string) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	d, ok, err := decodeParamValue(ctx.Msg.RequestURI(), nparam)
	if err != nil {
		ctx.Log(core.LErr, "siputils: contact_param_decode_ruri: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	if !ok {
		return 1
	}
	ctx.Msg.SetRequestURI(d)
	return 1
}

// ContactParamRm removes parameter nparam from every Contact URI.
func ContactParamRm(ctx *core.Ctx, nparam string) int {
	return contactRewrite(ctx, "contact_param_rm", func(uri []byte, angle bool) ([]byte, error) {
		u, err := sip.ParseURI(uri)
		if err != nil || len(u.Params) == 0 {
			return nil, err
		}
		ps := cap(uri) - cap(u.Params)
		out := append([]byte(nil), uri[:ps]...)
		p := []byte(u.Params)
		removed := false
		for i := 0; i < len(p); {
			// p[i] is the ';' of a parameter that runs to the next one.
			j := i + 1
			for j < len(p) && p[j] != ';' {
				j++
			}
			name := p[i+1 : j]
			if eq := bytes.IndexByte(name, '='); eq >= 0 {
				name = name[:eq]
			}
			if !removed && sip.EqualFold(name, nparam) {
				removed = true
			} else {
				out = append(out, p[i:j]...)
			}
			i = j
		}
		if !removed {
			return nil, nil
		}
		return append(out, uri[ps+len(p):]...), nil
	})
}

// ContactParamCheck is 1 when a Contact URI has parameter nparam.
func ContactParamCheck(ctx *core.Ctx, nparam string) int {
	if ctx.Msg == nil {
		return -1
	}
	it := ctx.Msg.Contacts()
	for it.Next() {
		c := it.Contact()
		if c.Star {
			continue
		}
		if u, err := sip.ParseURI(c.URI); err == nil && u.Params.Has(nparam) {
			return 1
		}
	}
	return -1
}

type errString string

func (e errString) Error() string { return string(e) }
