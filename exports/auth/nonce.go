package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"net/netip"
	"sync"
	"sync/atomic"
)

// A nonce is stateless: base64url of
//
//	since[8] | id[7] | flags[1] | mac1[16] | mac2[8]
//
// since is the issue time (Unix seconds); id a sequence number that makes
// every nonce unique; flags the auth_checks bits the nonce binds (low
// nibble), whether the challenge offered qop, and its algorithm. mac1 is
// HMAC-SHA256(secret, since|id|flags): any worker can tell a nonce it
// issued. mac2 is HMAC-SHA256(secret, "\x02"|since|id|flags|parts), where
// parts are the message fields the auth_checks bits select (Request-URI,
// Call-ID, From tag, source IP), as Kamailio's auth_checks_* hash them
// into the nonce: a credential replayed with another of those fails mac2
// and is stale.
//
// Issuing a challenge keeps no state, so no flood of unauthenticated
// requests can push anything out. State is kept only for nonces a valid
// credential used (see usedTable).
const (
	nonceRaw = 40
	nonceLen = 54 // base64.RawURLEncoding.EncodedLen(nonceRaw)
)

// nonce flag bits (above the four auth_checks bits).
const (
	nfChecks = 0x0f
	nfQop    = 0x10
	nfSHA256 = 0x20
)

// auth_checks bits (Kamailio's AUTH_CHECK_*).
const (
	CheckRURI    = 1
	CheckCallID  = 2
	CheckFromTag = 4
	CheckSrcIP   = 8
)

// firstUseWindow is how long after its issue a nonce may be used for the
// first time. The used-nonce table must remember a used nonce only for
// this long: once it has forgotten one, a use is refused as stale unless
// it comes within the window, so forgetting never lets a replay through.
const firstUseWindow = 30

// retxWindow is how long after a nonce's accepted use a retransmission
// of that same request (same nonce, same nc, same bytes, same source) is
// accepted again: 64*T1, RFC 3261's Timer F and H, after which a UAC
// stops retransmitting.
const retxWindow = 32

// fpLen is the length of a request's fingerprint in the used-nonce
// table: a truncated HMAC, so that a request that is not a
// retransmission matches only by a 2^-48 chance per try.
const fpLen = 6

// nonces is the per-runtime nonce state.
type nonces struct {
	secret []byte
	expire int64 // seconds
	drift  int64 // nonce_auth_max_drift
	start  int64 // nonces issued before this are stale (a restart)
	next   atomic.Uint64
	used   *usedTable
}

func newNonces(secret string, expire, drift, start int64, tableSize int) *nonces {
	n := &nonces{expire: expire, drift: drift, start: start, used: newUsedTable(tableSize)}
	if secret != "" {
		n.secret = []byte(secret)
	} else {
		n.secret = make([]byte, 32)
		rand.Read(n.secret)
	}
	var seed [8]byte
	rand.Read(seed[:])
	n.next.Store(binary.BigEndian.Uint64(seed[:]) >> 8)
	return n
}

// mac is a worker's reusable HMAC for one secret, and the scratch of a
// nonce being made or checked (kept here so nothing escapes per call).
type mac struct {
	secret []byte
	h      hash.Hash
	sum    [sha256.Size]byte
	raw    [nonceRaw]byte
	n      [4]byte
	addr   [19]byte // proto | source IP | port, for fingerprint
}

func (m *mac) begin(secret []byte) {
	if m.h == nil || &m.secret[0] != &secret[0] {
		m.secret = secret
		m.h = hmac.New(sha256.New, secret)
	}
	m.h.Reset()
}

// part writes one length-prefixed field into the running HMAC.
func (m *mac) part(b []byte) {
	binary.BigEndian.PutUint32(m.n[:], uint32(len(b)))
	m.h.Write(m.n[:])
	m.h.Write(b)
}

func (m *mac) end() []byte { return m.h.Sum(m.sum[:0]) }

// parts are the message fields a nonce binds.
type parts struct {
	ruri, callID, fromTag []byte
	src                   [16]byte
}

// macs fills raw[16:40] from raw[:16] and p.
func (n *nonces) macs(m *mac, p *parts) {
	raw := &m.raw
	m.begin(n.secret)
	m.h.Write(raw[:16])
	copy(raw[16:32], m.end())
	m.begin(n.secret)
	m.h.Write(mac2Tag)
	m.h.Write(raw[:32])
	n.bind(m, raw[15]&nfChecks, p)
	copy(raw[32:40], m.end())
}

var (
	mac2Tag = []byte{2}
	fpTag   = []byte{3}
)

// fingerprint is the keyed fingerprint of a request as the used-nonce
// table keeps it: HMAC-SHA256(secret, "\x03"|proto|source|request)
// truncated to fpLen bytes. It covers the whole request as received
// (Request-URI, Call-ID, CSeq, every Contact, Expires, the credentials
// with their response, the body, ...), so only a byte-identical copy from
// the same transport address matches: a retransmission.
func (n *nonces) fingerprint(m *mac, proto byte, src netip.AddrPort, req []byte, fp *[fpLen]byte) {
	a := &m.addr
	a[0] = proto
	*(*[16]byte)(a[1:17]) = src.Addr().Unmap().As16()
	binary.BigEndian.PutUint16(a[17:], src.Port())
	m.begin(n.secret)
	m.h.Write(fpTag)
	m.h.Write(a[:])
	m.part(req)
	copy(fp[:], m.end())
}

func (n *nonces) bind(m *mac, checks byte, p *parts) {
	if checks&CheckRURI != 0 {
		m.part(p.ruri)
	}
	if checks&CheckCallID != 0 {
		m.part(p.callID)
	}
	if checks&CheckFromTag != 0 {
		m.part(p.fromTag)
	}
	if checks&CheckSrcIP != 0 {
		m.part(p.src[:])
	}
}

// issue appends a new nonce issued at now that binds flags and p.
func (n *nonces) issue(dst []byte, m *mac, now int64, flags byte, p *parts) []byte {
	raw := &m.raw
	binary.BigEndian.PutUint64(raw[0:], uint64(now))
	id := n.next.Add(1) << 8
	if id == 0 {
		id = n.next.Add(1) << 8
	}
	binary.BigEndian.PutUint64(raw[8:], id|uint64(flags))
	n.macs(m, p)
	return base64.RawURLEncoding.AppendEncode(dst, raw[:])
}

// nonce check results.
const (
	nonceOK    = iota
	nonceBad   // not issued by this server (or before a restart with another secret)
	nonceStale // expired, from before this start, from the future, or bound to other message fields
	nonceMoved // valid, but the message fields it binds changed: stale
)

// decoded is what verify learns from a nonce.
type decoded struct {
	since int64
	id    uint64 // 56 bits, never 0
	flags byte
}

// decode checks the nonce's length and mac1; it fills d.
func (n *nonces) decode(b []byte, m *mac, d *decoded) bool {
	raw := &m.raw
	if len(b) != nonceLen {
		return false
	}
	if k, err := base64.RawURLEncoding.Decode(raw[:], b); err != nil || k != nonceRaw {
		return false
	}
	m.begin(n.secret)
	m.h.Write(raw[:16])
	if !hmac.Equal(m.end()[:16], raw[16:32]) {
		return false
	}
	d.since = int64(binary.BigEndian.Uint64(raw[0:]))
	idf := binary.BigEndian.Uint64(raw[8:])
	d.id, d.flags = idf>>8, byte(idf)
	return true
}

// verify checks a decoded nonce's time and its binding to p (m.raw still
// holds the nonce decode read).
func (n *nonces) verify(m *mac, d *decoded, p *parts, now int64) int {
	switch {
	case d.since < n.start, d.since > now+n.drift, d.since+n.expire < now:
		return nonceStale
	}
	raw := &m.raw
	var want [8]byte
	copy(want[:], raw[32:40])
	m.begin(n.secret)
	m.h.Write(mac2Tag)
	m.h.Write(raw[:32])
	n.bind(m, d.flags&nfChecks, p)
	if !hmac.Equal(m.end()[:8], want[:]) {
		return nonceMoved
	}
	return nonceOK
}

// usedTable remembers the nonces valid credentials used: the last nc of
// each (nonce_count), that it was used (one_time_nonce), and the
// fingerprint and time of the request that used it last, so that a
// retransmission of that request within retxWindow is accepted again
// (with the same nc, which would otherwise be a replay). Only a
// credential that passed every check adds an entry, so unauthenticated
// requests create no state. It is a fixed array of 8-entry buckets; a
// nonce may live in either of two buckets and a new one goes to the one
// with fewer live entries. An entry may be reused once its nonce expired,
// or once firstUseWindow has passed since its issue and retxWindow since
// its last use (a forgotten nonce is then refused as stale, a forgotten
// retransmission too). When neither bucket has a reusable entry the new
// nonce is refused as stale rather than forget one a replay could still
// use. With first uses right after the challenge, the table therefore
// takes about 0.7*size/retxWindow new nonces a second, sustained (none
// refused up to 70% full in TestUsedTableLoad; some from 75%).
type usedTable struct {
	seed    uint64
	mask    uint64 // bucket count - 1
	buckets []usedBucket
	locks   [256]sync.Mutex
}

type usedBucket [8]usedEntry

// usedEntry is 24 bytes; a bucket 192.
type usedEntry struct {
	id    uint64 // 0: empty
	nc    uint32
	since uint32      // issue time, Unix seconds mod 2^32
	fp    [fpLen]byte // fingerprint of the request that used it last
	at    uint16      // when, in seconds after since (saturated: earlier, so the window only shrinks)
}

// usedAt is the time of the entry's last accepted use.
func (e *usedEntry) usedAt() int64 { return int64(e.since) + int64(e.at) }

// live reports whether e must be kept at now.
func (e *usedEntry) live(now, expire int64) bool {
	s := int64(e.since)
	return e.id != 0 && now-s <= expire && (now-s <= firstUseWindow || now-e.usedAt() <= retxWindow)
}

func (e *usedEntry) setUse(since, now int64, fp *[fpLen]byte) {
	d := now - since
	switch {
	case d < 0:
		d = 0 // issued up to nonce_auth_max_drift in the future
	case d > 0xffff:
		d = 0xffff
	}
	e.fp, e.at = *fp, uint16(d)
}

func newUsedTable(size int) *usedTable {
	nb := 1
	for nb*8 < size {
		nb <<= 1
	}
	var seed [8]byte
	rand.Read(seed[:])
	return &usedTable{seed: binary.BigEndian.Uint64(seed[:]), mask: uint64(nb - 1), buckets: make([]usedBucket, nb)}
}

// Size is the number of entries.
func (t *usedTable) size() int { return len(t.buckets) * 8 }

// buckets picks id's two buckets with a keyed mix, so a user cannot aim
// nonces at one bucket; a new entry goes to the emptier of the two
// ("two choices"), which keeps buckets from overflowing until the table
// is nearly full.
func (t *usedTable) bucketsOf(id uint64) (uint64, uint64) {
	x := id ^ t.seed
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x & t.mask, (x >> 32) & t.mask
}

// lock locks the buckets' lock stripes in order and returns the unlock.
func (t *usedTable) lock(b1, b2 uint64) (l1, l2 *sync.Mutex) {
	i1, i2 := b1%uint64(len(t.locks)), b2%uint64(len(t.locks))
	if i1 > i2 {
		i1, i2 = i2, i1
	}
	l1 = &t.locks[i1]
	l1.Lock()
	if i2 != i1 {
		l2 = &t.locks[i2]
		l2.Lock()
	}
	return l1, l2
}

func unlock(l1, l2 *sync.Mutex) {
	if l2 != nil {
		l2.Unlock()
	}
	l1.Unlock()
}

// use results.
const (
	useOK             = iota
	useRetransmission // the request that used it last, again, within retxWindow: OK
	useReplay         // nc did not grow: stale, as Kamailio's nonce_count
	useReused         // one-time nonce used again
	useTooLate        // not remembered and past its first-use window: stale
	useFull           // nowhere to remember it without forgetting a live one: stale
)

// use records a use of nonce id issued at since by the request whose
// fingerprint is fp. With oneTime the nonce may be used once; else with
// hasNC, nc must be greater than the last. Either way, the request that
// used it last may come again (same nc, same fp) within retxWindow of
// that use: a retransmission.
func (t *usedTable) use(id uint64, since, now, expire int64, nc uint32, hasNC, oneTime bool, fp *[fpLen]byte) int {
	if id == 0 { // marks an empty entry; issue never makes it
		return useFull
	}
	b1, b2 := t.bucketsOf(id)
	l1, l2 := t.lock(b1, b2)
	defer unlock(l1, l2)
	var free *usedEntry
	freeLive := 0
	for k, bi := range [2]uint64{b1, b2} {
		if k == 1 && b2 == b1 {
			break
		}
		b := &t.buckets[bi]
		live := 0
		var cand *usedEntry
		for i := range b {
			e := &b[i]
			if e.id == id {
				if (!hasNC || nc == e.nc) && now-e.usedAt() <= retxWindow &&
					subtle.ConstantTimeCompare(e.fp[:], fp[:]) == 1 {
					return useRetransmission // the window counts from the first copy
				}
				switch {
				case oneTime:
					return useReused
				case hasNC && nc <= e.nc:
					return useReplay
				}
				if hasNC {
					e.nc = nc
				}
				e.setUse(since, now, fp)
				return useOK
			}
			if e.live(now, expire) {
				live++ // must be kept
				continue
			}
			if cand == nil || e.since < cand.since {
				cand = e // empty, or the oldest reusable
			}
		}
		if cand != nil && (free == nil || live < freeLive) {
			free, freeLive = cand, live
		}
	}
	if now-since > firstUseWindow {
		return useTooLate
	}
	if free == nil {
		return useFull
	}
	*free = usedEntry{id: id, since: uint32(since)}
	if hasNC {
		free.nc = nc
	}
	free.setUse(since, now, fp)
	return useOK
}

// forget drops id (tests and benchmarks).
func (t *usedTable) forget(id uint64) {
	b1, b2 := t.bucketsOf(id)
	l1, l2 := t.lock(b1, b2)
	defer unlock(l1, l2)
	for _, bi := range [2]uint64{b1, b2} {
		for i := range t.buckets[bi] {
			if t.buckets[bi][i].id == id {
				t.buckets[bi][i] = usedEntry{}
			}
		}
	}
}

// parseNC reads the 8 hex digits of nc; ok is false otherwise.
func parseNC(b []byte) (uint32, bool) {
	if len(b) != 8 {
		return 0, false
	}
	var n uint32
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint32(c)
	}
	return n, true
}
