package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sync"
	"sync/atomic"
)

// A nonce is base64url(expiry[8] | id[8] | HMAC-SHA256(secret, expiry|id)[:16]):
// 43 characters any worker can verify without shared state. The id
// indexes the nc table that stops replays.
const (
	nonceRaw = 32
	nonceLen = 43 // base64.RawURLEncoding.EncodedLen(nonceRaw)
	ncSlots  = 1 << 16
	ncLocks  = 256
)

// nonces is the per-runtime nonce state.
type nonces struct {
	secret []byte
	expire int64 // seconds
	next   atomic.Uint64

	locks [ncLocks]sync.Mutex
	slots []ncSlot
}

type ncSlot struct {
	id   uint64
	nc   uint32
	used bool
}

func newNonces(secret string, expire int64) *nonces {
	n := &nonces{expire: expire, slots: make([]ncSlot, ncSlots)}
	if secret != "" {
		n.secret = []byte(secret)
	} else {
		n.secret = make([]byte, 32)
		rand.Read(n.secret)
	}
	var seed [8]byte
	rand.Read(seed[:])
	// Start ids at a random point so a restart with a fixed secret does
	// not hand out ids whose slots an old nonce could match.
	n.next.Store(binary.BigEndian.Uint64(seed[:]) >> 1)
	return n
}

// mac is a worker's reusable HMAC for one secret.
type mac struct {
	secret []byte
	h      hash.Hash
	sum    [sha256.Size]byte
	raw    [nonceRaw]byte // the nonce being made or checked; kept here so it does not escape per call
}

func (m *mac) sign(secret, data []byte) []byte {
	if m.h == nil || &m.secret[0] != &secret[0] {
		m.secret = secret
		m.h = hmac.New(sha256.New, secret)
	}
	m.h.Reset()
	m.h.Write(data)
	return m.h.Sum(m.sum[:0])[:16]
}

// issue appends a new nonce valid until now+expire.
func (n *nonces) issue(dst []byte, m *mac, now int64) []byte {
	id := n.next.Add(1)
	i := id & (ncSlots - 1)
	l := &n.locks[i%ncLocks]
	l.Lock()
	n.slots[i] = ncSlot{id: id}
	l.Unlock()
	raw := &m.raw
	binary.BigEndian.PutUint64(raw[0:], uint64(now+n.expire))
	binary.BigEndian.PutUint64(raw[8:], id)
	copy(raw[16:], m.sign(n.secret, raw[:16]))
	return base64.RawURLEncoding.AppendEncode(dst, raw[:])
}

// nonce check results.
const (
	nonceOK = iota
	nonceBad
	nonceStale
)

// verify checks the signature and the expiry and returns the id.
func (n *nonces) verify(b []byte, m *mac, now int64) (uint64, int) {
	raw := &m.raw
	if len(b) != nonceLen {
		return 0, nonceBad
	}
	if k, err := base64.RawURLEncoding.Decode(raw[:], b); err != nil || k != nonceRaw {
		return 0, nonceBad
	}
	if !hmac.Equal(m.sign(n.secret, raw[:16]), raw[16:]) {
		return 0, nonceBad
	}
	if int64(binary.BigEndian.Uint64(raw[0:])) < now {
		return 0, nonceStale
	}
	return binary.BigEndian.Uint64(raw[8:]), nonceOK
}

// use records nc for nonce id: it fails (reused) when nc does not grow
// (checkNC), or when the nonce was used before (oneTime); evicted when the
// nonce's slot went to a newer one.
func (n *nonces) use(id uint64, nc uint32, checkNC, oneTime bool) (evicted, reused bool) {
	i := id & (ncSlots - 1)
	l := &n.locks[i%ncLocks]
	l.Lock()
	defer l.Unlock()
	s := &n.slots[i]
	if s.id != id {
		return true, false
	}
	if oneTime && s.used || checkNC && nc <= s.nc {
		return false, true
	}
	s.used = true
	if nc > s.nc {
		s.nc = nc
	}
	return false, false
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
