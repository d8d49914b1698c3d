package sip

import (
	"net/netip"
	"strconv"
)

// Via is one via-parm of a Via header. Byte fields are slices of the
// message.
type Via struct {
	Raw       []byte // the whole via-parm
	Protocol  []byte // "SIP"
	Version   []byte // "2.0"
	Transport []byte // "UDP", "TCP", "TLS", "WS", "SCTP"... as written
	Host      []byte // sent-by host; IPv6 references keep their brackets
	Port      int    // sent-by port, 0 when absent
	Params    Params // from the first ';'
	Branch    []byte
	Received  []byte
	Maddr     []byte
	TTL       []byte
	Rport     int  // the rport value, 0 when absent or empty
	RportSet  bool // rport is present, with or without a value
	paramsOff int  // offset of Params within Raw
}

// HostAddr returns the sent-by host as an IP address when it is one.
func (v *Via) HostAddr() (netip.Addr, bool) { return hostAddr(v.Host) }

// ParseVia parses one via-parm (not a comma list).
func ParseVia(b []byte) (Via, error) {
	var v Via
	err := v.parse(b, 0)
	return v, err
}

func skipLWS(b []byte, i int) int {
	for i < len(b) && isLWS(b[i]) {
		i++
	}
	return i
}

func viaErr(base, off int, why string) error { return perr(base+off, "Via: "+why) }

func (v *Via) parse(b []byte, base int) error {
	*v = Via{Raw: b}
	i := skipLWS(b, 0)
	s := i
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	if i == s {
		return viaErr(base, i, "expected protocol name")
	}
	v.Protocol = b[s:i]
	i = skipLWS(b, i)
	if i >= len(b) || b[i] != '/' {
		return viaErr(base, i, "expected '/' after protocol name")
	}
	i = skipLWS(b, i+1)
	s = i
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	if i == s {
		return viaErr(base, i, "expected protocol version")
	}
	v.Version = b[s:i]
	i = skipLWS(b, i)
	if i >= len(b) || b[i] != '/' {
		return viaErr(base, i, "expected '/' after protocol version")
	}
	i = skipLWS(b, i+1)
	s = i
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	if i == s {
		return viaErr(base, i, "expected transport")
	}
	v.Transport = b[s:i]
	j := skipLWS(b, i)
	if j == i {
		return viaErr(base, i, "expected LWS before sent-by")
	}
	i = j
	s = i
	if i < len(b) && b[i] == '[' {
		for i < len(b) && b[i] != ']' {
			i++
		}
		if i >= len(b) {
			return viaErr(base, s, "IPv6 reference not closed by ']'")
		}
		i++
		if _, ok := hostAddr(b[s:i]); !ok {
			return viaErr(base, s, "bad IPv6 reference "+strconv.Quote(string(b[s:i])))
		}
	} else {
		for i < len(b) && isHostChar(b[i]) {
			i++
		}
	}
	if i == s {
		return viaErr(base, i, "expected sent-by host")
	}
	v.Host = b[s:i]
	i = skipLWS(b, i)
	if i < len(b) && b[i] == ':' {
		i = skipLWS(b, i+1)
		ps := i
		port := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			port = port*10 + int(b[i]-'0')
			if port > 65535 {
				return viaErr(base, ps, "port larger than 65535")
			}
			i++
		}
		if i == ps {
			return viaErr(base, i, "expected port after ':'")
		}
		v.Port = port
		i = skipLWS(b, i)
	}
	if i < len(b) && b[i] != ';' {
		return viaErr(base, i, "unexpected "+quoteByte(b[i])+" after sent-by")
	}
	if i < len(b) && b[i] == ';' {
		end := scanParams(b, i)
		if end != len(b) {
			return viaErr(base, i, "bad parameters")
		}
		v.Params = Params(b[i:end])
		v.paramsOff = i
		for it := v.Params.Iter(); it.Next(); {
			name, val := it.Name(), it.Value()
			switch {
			case eqFold(name, "branch"):
				v.Branch = val
			case eqFold(name, "received"):
				v.Received = val
			case eqFold(name, "maddr"):
				v.Maddr = val
			case eqFold(name, "ttl"):
				v.TTL = val
			case eqFold(name, "rport"):
				v.RportSet = true
				if len(val) > 0 {
					n, ok := parseUint(val, 65535)
					if !ok {
						return viaErr(base, i, "rport: expected a port, got "+strconv.Quote(string(val)))
					}
					v.Rport = n
				}
			}
		}
	}
	return nil
}

// TopVia returns the first value of the first Via header.
func (m *Msg) TopVia() (Via, error) {
	var v Via
	k := int(m.first[HdrVia]) - 1
	if k < 0 {
		return v, perr(int(m.hdrEnd), "no Via header")
	}
	h := &m.hdrs[k]
	line := h.value.of(m.buf)
	sp := SplitCommas(line)
	val, ok := sp.Next()
	if !ok {
		return v, perr(int(h.value.s), "Via: empty value")
	}
	err := v.parse(val, int(h.value.s)+sp.Offset())
	return v, err
}

// ViaBranch returns the branch of the top Via, or nil.
func (m *Msg) ViaBranch() []byte {
	v, err := m.TopVia()
	if err != nil {
		return nil
	}
	return v.Branch
}

// Vias iterates over every Via value, across lines and commas, in order.
func (m *Msg) Vias() ViaIter { return ViaIter{vals: m.ValuesID(HdrVia), m: m} }

// ViaIter walks Via values. See Msg.Vias.
type ViaIter struct {
	vals ValueIter
	m    *Msg
	cur  Via
	err  error
}

// Next parses the next Via value; it stops at the first error (see Err).
func (it *ViaIter) Next() bool {
	if it.err != nil || !it.vals.Next() {
		return false
	}
	h := &it.m.hdrs[it.vals.Line()]
	it.err = it.cur.parse(it.vals.Value(), int(h.value.s)+it.vals.split.Offset())
	return it.err == nil
}

// Via returns the current value.
func (it *ViaIter) Via() *Via { return &it.cur }

// Err returns the parse error that stopped the iteration, if any.
func (it *ViaIter) Err() error { return it.err }
