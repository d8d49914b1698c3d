package tm

import (
	"kemi/core"
	"net/netip"
	"strconv"

	"kemi/sip"
)

const magic = "z9hG4bK"

func fnv(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= 0xff // field separator
	return h * 1099511628211
}

const fnvOffset = 14695981039346656037

// requestID is the transaction key of a request as a server sees it (RFC
// 3261 17.2.3): the top Via branch and sent-by when the branch has the
// magic cookie, else (RFC 2543) Call-ID, CSeq number, From-tag and the top
// Via. ACK and CANCEL get the key of the INVITE they belong to; the caller
// tells the kinds apart. It is a hash: the cell compares nothing more, as
// 64 bits make a false match between live transactions unlikely enough.
func requestID(m *sip.Msg) (uint64, bool) {
	v, err := m.TopVia()
	if err != nil {
		return 0, false
	}
	h := uint64(fnvOffset)
	if len(v.Branch) > len(magic) && string(v.Branch[:len(magic)]) == magic {
		h = fnv(h, v.Branch)
		h = fnv(h, v.Host)
		var pb [8]byte
		h = fnv(h, strconv.AppendInt(pb[:0], int64(v.Port), 10))
		return h, true
	}
	h = fnv(h, m.CallID())
	n, _, _ := m.CSeq()
	var nb [12]byte
	h = fnv(h, strconv.AppendUint(nb[:0], uint64(n), 10))
	h = fnv(h, m.FromTag())
	h = fnv(h, v.Raw)
	return h, true
}

const hexd = "0123456789abcdef"

// appendBranch appends the branch parameter of our Via for branch idx of
// the transaction with id: "z9hG4bK" + 16 hex digits + "." + idx. Replies
// bring it back and parseBranch finds the transaction from it directly. It
// depends only on the request, so a request forwarded statelessly twice
// gets the same branch (RFC 3261 16.11).
func appendBranch(dst []byte, id uint64, idx int) []byte {
	dst = append(dst, magic...)
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, hexd[(id>>uint(s))&15])
	}
	dst = append(dst, '.')
	return strconv.AppendInt(dst, int64(idx), 10)
}

// parseBranch reads a branch appendBranch made.
func parseBranch(b []byte) (id uint64, idx int, ok bool) {
	if len(b) < len(magic)+18 || string(b[:len(magic)]) != magic || b[len(magic)+16] != '.' {
		return 0, 0, false
	}
	for _, c := range b[len(magic) : len(magic)+16] {
		switch {
		case c >= '0' && c <= '9':
			id = id<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			id = id<<4 | uint64(c-'a'+10)
		default:
			return 0, 0, false
		}
	}
	for _, c := range b[len(magic)+17:] {
		if c < '0' || c > '9' || idx > maxBranches {
			return 0, 0, false
		}
		idx = idx*10 + int(c-'0')
	}
	return id, idx, true
}

// appendVia appends our Via value for a request sent from local.
func appendVia(dst []byte, local netip.AddrPort, id uint64, idx int) []byte {
	return appendViaProto(dst, core.UDP, local, id, idx)
}

// appendViaProto is appendVia for a request sent over proto.
func appendViaProto(dst []byte, proto core.Proto, local netip.AddrPort, id uint64, idx int) []byte {
	dst = core.AppendViaStart(dst, proto)
	dst = sip.AppendHostPort(dst, local)
	dst = append(dst, ";branch="...)
	return appendBranch(dst, id, idx)
}

// destination resolves a SIP URI to where a request goes (see
// sip.URIDestinationOrName, shared with the core's forward); a host name
// is for internal/resolve.
func destination(uri []byte) (netip.AddrPort, bool, string) { return sip.URIDestinationOrName(uri) }
