// Package auth_xkeys implements module auth_xkeys: shared-key tokens in a
// header, as Kamailio's auth_xkeys. A sender adds a header holding the hex
// digest of "key:data" (auth_xkeys_add), where data is text both sides
// build from the message ("$si:$fu:$ru:$hdr(CSeq)"), and the receiver
// recomputes it with each key of the group (auth_xkeys_check). The keys
// are given with modparam("auth_xkeys", "xkey",
// "id=group;name=k1;value=secret;expires=72000"); the key added last to a
// group signs, and every key of the group verifies, so keys can be rolled
// over without breaking traffic.
//
// Unlike Kamailio, a key whose expires has passed is neither used to sign
// nor to verify (Kamailio stores expires and never looks at it), and the
// digest is compared in constant time.
package auth_xkeys

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"kemi/core"
	"kemi/sip"
)

// Key is one shared key.
type Key struct {
	ID, Name, Value string
	Expires         time.Time // zero: never
}

// ParseKey parses an xkey definition, "id=g;name=k;value=secret;expires=60",
// with expires counted from now. Errors quote the definition (without its
// secret) and say what was expected.
func ParseKey(def string, now time.Time) (Key, error) {
	var k Key
	bad := func(format string, a ...any) error {
		return fmt.Errorf(`modparam("auth_xkeys", "xkey"): %s`, fmt.Sprintf(format, a...))
	}
	it := sip.Params(def).Iter()
	for it.Next() {
		name, v := strings.ToLower(string(it.Name())), string(it.Value())
		switch name {
		case "id":
			k.ID = v
		case "name":
			k.Name = v
		case "value":
			k.Value = v
		case "expires":
			n, err := strconv.ParseUint(v, 10, 31)
			if err != nil {
				return k, bad("expires=%s: expected seconds, 0 to 2147483647", core.LogValue(v))
			}
			if n > 0 {
				k.Expires = now.Add(time.Duration(n) * time.Second)
			}
		default:
			return k, bad("unknown attribute %s; expected id, name, value or expires", core.LogQuote(name))
		}
	}
	if k.ID == "" || k.Name == "" || k.Value == "" {
		return k, bad("expected id=...;name=...;value=... with none empty (id %s, name %s)", core.LogQuote(k.ID), core.LogQuote(k.Name))
	}
	return k, nil
}

// Keys holds the groups of one runtime, newest key first in each.
type Keys struct {
	groups map[string][]Key // by lower-case id: Kamailio matches ids without case
}

// Group returns the keys of a group, newest first.
func (ks *Keys) Group(id string) []Key { return ks.groups[strings.ToLower(id)] }

func (ks *Keys) add(k Key) {
	id := strings.ToLower(k.ID)
	ks.groups[id] = append([]Key{k}, ks.groups[id]...)
}

var keys = core.NewRuntimeState(func(*core.Runtime) *Keys { return &Keys{groups: map[string][]Key{}} })

// Of returns the keys of rt.
func Of(rt *core.Runtime) *Keys { return keys.Get(rt) }

func start(rt *core.Runtime) error {
	ks := Of(rt)
	now := time.Now()
	for _, v := range rt.ParamValues("auth_xkeys", "xkey") {
		k, err := ParseKey(v.S, now)
		if err != nil {
			return err
		}
		ks.add(k)
	}
	return nil
}

// worker holds the hashers and buffers one worker reuses.
type worker struct {
	h       [3]hash.Hash
	in      []byte
	sum     []byte
	hex     []byte
	lowered [sha512.Size * 2]byte
}

// Everything in worker is the worker's scratch space: it all carries
// over to the next message; the hashers are made once.
var workers = core.NewMsgState(func(old *worker) worker {
	if old.h[0] == nil {
		return worker{h: [3]hash.Hash{sha256.New(), sha512.New384(), sha512.New()}}
	}
	return *old
})

func state(ctx *core.Ctx) *worker { return workers.Get(ctx) }

// hasher picks the hash of an algorithm name (any case).
func (w *worker) hasher(alg string) hash.Hash {
	switch {
	case strings.EqualFold(alg, "sha256"):
		return w.h[0]
	case strings.EqualFold(alg, "sha384"):
		return w.h[1]
	case strings.EqualFold(alg, "sha512"):
		return w.h[2]
	}
	return nil
}

// digest returns the lower-case hex digest of value:data, in w's buffer.
func (w *worker) digest(h hash.Hash, value, data string) []byte {
	w.in = append(append(append(w.in[:0], value...), ':'), data...)
	h.Reset()
	h.Write(w.in)
	if cap(w.in) > 64<<10 {
		w.in = nil // do not keep a huge data string's buffer
	}
	w.sum = h.Sum(w.sum[:0])
	w.hex = hex.AppendEncode(w.hex[:0], w.sum)
	return w.hex
}

// group returns the keys of a group, newest first, logging a missing one.
func group(ctx *core.Ctx, fn, id string) []Key {
	keys := Of(ctx.RT).Group(id)
	if len(keys) == 0 {
		ctx.Log(core.LErr, "auth_xkeys: "+fn+": no key group "+core.LogQuote(id)+"\n")
		return nil
	}
	return keys
}

func expired(k *Key, now time.Time) bool { return !k.Expires.IsZero() && !now.Before(k.Expires) }

// validName reports whether s is a header name (an RFC 3261 token).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return true
}

// Add is auth_xkeys_add: add header hdr holding the digest of the newest
// live key of group id over data.
func Add(ctx *core.Ctx, hdr, id, alg, data string) int {
	if !validName(hdr) {
		ctx.Log(core.LErr, "auth_xkeys: auth_xkeys_add: header name "+core.LogQuote(hdr)+" is not a token\n")
		return -1
	}
	w := state(ctx)
	h := w.hasher(alg)
	if h == nil {
		ctx.Log(core.LErr, "auth_xkeys: auth_xkeys_add: unknown algorithm "+core.LogQuote(alg)+" (expected sha256, sha384 or sha512)\n")
		return -1
	}
	now := time.Now()
	for _, k := range group(ctx, "auth_xkeys_add", id) {
		if expired(&k, now) {
			continue
		}
		if err := ctx.Msg.AppendHeader(hdr, w.digest(h, k.Value, data)); err != nil {
			ctx.Log(core.LErr, "auth_xkeys: auth_xkeys_add: "+err.Error()+"\n")
			return -1
		}
		return 1
	}
	if len(Of(ctx.RT).Group(id)) > 0 {
		ctx.Log(core.LErr, "auth_xkeys: auth_xkeys_add: every key of group "+core.LogQuote(id)+" has expired\n")
	}
	return -1
}

// Check is auth_xkeys_check: whether the first header hdr holds the digest
// of data with one of the live keys of group id. Every key is tried, and
// the digests compared in constant time, so the time taken does not tell
// how much of a forged token was right.
func Check(ctx *core.Ctx, hdr, id, alg, data string) int {
	w := state(ctx)
	h := w.hasher(alg)
	if h == nil {
		ctx.Log(core.LErr, "auth_xkeys: auth_xkeys_check: unknown algorithm "+core.LogQuote(alg)+" (expected sha256, sha384 or sha512)\n")
		return -1
	}
	got := ctx.Msg.Header(hdr)
	got = trimSpace(got)
	if len(got) != h.Size()*2 {
		ctx.Log(core.LDbg, "auth_xkeys: auth_xkeys_check: header "+core.LogQuote(hdr)+" missing or not a "+alg+" digest\n")
		return -1
	}
	// The hex of either case matches, as Kamailio's strncasecmp.
	low := sip.AppendLower(w.lowered[:0], got)
	now := time.Now()
	ok, tried := 0, false
	for _, k := range group(ctx, "auth_xkeys_check", id) {
		if expired(&k, now) {
			continue
		}
		tried = true
		ok |= subtle.ConstantTimeCompare(w.digest(h, k.Value, data), low)
	}
	if !tried && len(Of(ctx.RT).Group(id)) > 0 {
		ctx.Log(core.LErr, "auth_xkeys: auth_xkeys_check: every key of group "+core.LogQuote(id)+" has expired\n")
	}
	if ok == 1 {
		return 1
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}
