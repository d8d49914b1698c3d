package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"kemi/sip"
)

// Alg is a digest algorithm.
type Alg uint8

const (
	MD5 Alg = iota
	SHA256
)

func (a Alg) String() string {
	if a == SHA256 {
		return "SHA-256"
	}
	return "MD5"
}

// ParseAlg reads an algorithm name; "" is MD5 (RFC 2617 3.2.1).
func ParseAlg(b []byte) (Alg, bool) {
	switch {
	case len(b) == 0, sip.EqualFold(b, "MD5"):
		return MD5, true
	case sip.EqualFold(b, "SHA-256"):
		return SHA256, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// sumHex appends the lowercase hex digest of b to dst; no allocation.
func sumHex(dst []byte, alg Alg, b []byte) []byte {
	if alg == SHA256 {
		s := sha256.Sum256(b)
		return appendHex(dst, s[:])
	}
	s := md5.Sum(b)
	return appendHex(dst, s[:])
}

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// AppendHA1 appends H(user:realm:password) in hex, using buf as scratch.
func AppendHA1(dst, buf []byte, alg Alg, user, realm, password []byte) ([]byte, []byte) {
	buf = append(buf[:0], user...)
	buf = append(buf, ':')
	buf = append(buf, realm...)
	buf = append(buf, ':')
	buf = append(buf, password...)
	return sumHex(dst, alg, buf), buf
}

// HA1 returns H(user:realm:password) in hex, for `kemi user` and tests.
func HA1(alg Alg, user, realm, password string) string {
	h, _ := AppendHA1(nil, nil, alg, []byte(user), []byte(realm), []byte(password))
	return string(h)
}

// digest holds the credential fields the response covers.
type digest struct {
	alg               Alg
	nonce, nc, cnonce []byte
	qop, method, uri  []byte
}

// appendResponse appends the expected response for ha1 (hex):
// H(HA1:nonce:nc:cnonce:qop:HA2) with qop, else H(HA1:nonce:HA2), where
// HA2 = H(method:uri) (RFC 2617 3.2.2, RFC 7616 3.4.1). buf is scratch.
func appendResponse(dst, buf []byte, d *digest, ha1 []byte) ([]byte, []byte) {
	buf = append(buf[:0], d.method...)
	buf = append(buf, ':')
	buf = append(buf, d.uri...)
	var ha2b [64]byte
	ha2 := sumHex(ha2b[:0], d.alg, buf)
	buf = append(buf[:0], ha1...)
	buf = append(buf, ':')
	buf = append(buf, d.nonce...)
	buf = append(buf, ':')
	if len(d.qop) > 0 {
		buf = append(buf, d.nc...)
		buf = append(buf, ':')
		buf = append(buf, d.cnonce...)
		buf = append(buf, ':')
		buf = append(buf, d.qop...)
		buf = append(buf, ':')
	}
	buf = append(buf, ha2...)
	return sumHex(dst, d.alg, buf), buf
}

// hexEqual compares a computed lowercase hex digest with a received one
// in constant time, ignoring the case of the received digits.
func hexEqual(want, got []byte) bool {
	if len(want) != len(got) {
		return false
	}
	var diff byte
	for i := range want {
		c := got[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		diff |= want[i] ^ c
	}
	return diff == 0
}

// HashHex returns H(s) in hex, for clients and tests computing digests.
func HashHex(alg Alg, s string) string { return string(sumHex(nil, alg, []byte(s))) }

// AppendResponse appends the digest response a client sends for ha1
// (hex) to a challenge's nonce: H(HA1:nonce:nc:cnonce:qop:HA2) with qop,
// else H(HA1:nonce:HA2), HA2 = H(method:uri). buf is scratch. uac_auth
// answers challenges with it; the server side checks with the same code.
func AppendResponse(dst, buf []byte, alg Alg, ha1, nonce, nc, cnonce, qop, method, uri []byte) ([]byte, []byte) {
	d := digest{alg: alg, nonce: nonce, nc: nc, cnonce: cnonce, qop: qop, method: method, uri: uri}
	return appendResponse(dst, buf, &d, ha1)
}
