package tm

import (
	"net/netip"

	"kemi/core"
	"kemi/sip"
)

// doubleRR is Kamailio's double record-routing (rr's enable_double_rr, on
// by default): when a branch leaves over another transport or socket than
// the request came in on, this server's Record-Route entry (the topmost
// Record-Route, when it names the incoming socket) becomes two, the
// outgoing socket's above the incoming one's, both with ;r2=on, so that
// in-dialog requests from either side come back over the transport that
// side used, and loose_route removes both. m is the branch's copy.
func (t *TM) doubleRR(e *env, m *sip.Msg, inLocal netip.AddrPort, inProto core.Proto, outLocal netip.AddrPort, outProto core.Proto) error {
	if inProto == 0 {
		inProto = core.UDP
	}
	if outProto == inProto && outLocal == inLocal {
		return nil
	}
	rt := t.rt
	if rt == nil || rt.Reg == nil || rt.Reg.Module("rr") == nil {
		return nil
	}
	if v := rt.Param("rr", "enable_double_rr"); (v.Kind == core.KInt || v.Kind == core.KBool) && v.I == 0 {
		return nil
	}
	for i := 0; i < m.NumHeaders(); i++ {
		if m.HeaderIDAt(i) != sip.HdrRecordRoute {
			continue
		}
		_, v := m.HeaderAt(i)
		scheme := "<sip:"
		if sip.HasPrefixFold(v, "<sips:") {
			scheme = "<sips:"
		}
		p := append(e.rrIn[:0], scheme...)
		p = appendSock(p, inLocal, inProto)
		if !sip.HasPrefixFold(v, p) || len(v) == len(p) || (v[len(p)] != ';' && v[len(p)] != '>') {
			return nil // the top Record-Route is not ours
		}
		rest := v[len(p):]
		if sip.HasPrefixFold(rest, ";r2=") {
			return nil
		}
		in := append(p, ";r2=on"...)
		in = append(in, rest...)
		out := append(e.rrOut[:0], scheme...)
		out = appendSock(out, outLocal, outProto)
		out = append(out, ";r2=on"...)
		out = append(out, rest...)
		e.rrIn, e.rrOut = in, out
		if err := m.SetHeaderValue(i, in); err != nil {
			return err
		}
		return m.InsertHeaderBefore(i, "Record-Route", out)
	}
	return nil
}

// appendSock writes a socket as rr's record_route does: IP:PORT, and
// ;transport= for other than UDP.
func appendSock(b []byte, a netip.AddrPort, p core.Proto) []byte {
	b = sip.AppendHostPort(b, a)
	if p != core.UDP && p != 0 {
		if p == core.WSS {
			p = core.WS // as rr writes it (RFC 7118 has only ws as a URI transport)
		}
		b = append(b, ";transport="...)
		b = append(b, p.String()...)
	}
	return b
}
