package rtpengine

import (
	"fmt"
	"sort"
	"strings"
)

// request is one ng command being built. Flags parse into it the way
// Kamailio's rtpengine module turns its flag string into ng keys; it is
// reused per worker, so building an offer allocates nothing once warm.
type request struct {
	cmd                    string
	callID, fromTag, toTag string
	viaBranch              string
	sdp                    []byte
	recvFrom               [2]string // "IP4", "192.0.2.1"; empty when unset
	toTagForce             bool
	flags, replace, dir    []string
	sdes, rtcpMux          []string
	codec                  [codecKinds][]string
	kv                     []kv // other string keys
	ints                   []kvInt
	entries                []entry // emit order, sorted
	viaSel                 string  // via-branch= selector
	// mapKey is the call → node map's key when it is not the Call-ID:
	// the second set of set_rtpengine_set2 keeps its own node per call.
	mapKey string
}

// key is the call → node map's key of r.
func (r *request) key() string {
	if r.mapKey != "" {
		return r.mapKey
	}
	return r.callID
}

type kv struct{ k, v string }
type kvInt struct {
	k string
	v int64
}

const (
	codecStrip = iota
	codecMask
	codecTranscode
	codecOffer
	codecExcept
	codecConsume
	codecAccept
	codecKinds
)

var codecNames = [codecKinds]string{"strip", "mask", "transcode", "offer", "except", "consume", "accept"}

func (r *request) reset(cmd string) {
	r.cmd = cmd
	r.callID, r.fromTag, r.toTag, r.viaBranch, r.viaSel, r.mapKey = "", "", "", "", "", ""
	r.sdp = r.sdp[:0]
	r.recvFrom = [2]string{}
	r.toTagForce = false
	r.flags, r.replace, r.dir = r.flags[:0], r.replace[:0], r.dir[:0]
	r.sdes, r.rtcpMux = r.sdes[:0], r.rtcpMux[:0]
	for i := range r.codec {
		r.codec[i] = r.codec[i][:0]
	}
	r.kv, r.ints = r.kv[:0], r.ints[:0]
}

// transports are the explicit protocol flags, sent as transport-protocol.
var transports = map[string]bool{
	"RTP/AVP": true, "RTP/SAVP": true, "RTP/AVPF": true, "RTP/SAVPF": true,
	"UDP/TLS/RTP/SAVP": true, "UDP/TLS/RTP/SAVPF": true,
}

// intKeys are key=value flags rtpengine expects as integers.
var intKeys = map[string]bool{"TOS": true, "delete-delay": true, "repacketize": true, "ptime": true, "db-id": true}

// parseFlags reads Kamailio's flag string into r: space-separated tokens,
// each a bare word or key=value. The mapping follows Kamailio's
// rtpengine.c: known keys get their own ng entries, bare words the
// "flags" list (rtpengine itself understands prefixed words there, such
// as codec-strip-PCMA), and other key=value pairs go through as strings.
func (r *request) parseFlags(s string) error {
	for s != "" {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			break
		}
		tok := s
		if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
			tok, s = s[:i], s[i:]
		} else {
			s = ""
		}
		key, val, hasVal := strings.Cut(tok, "=")
		if !hasVal {
			switch {
			case transports[tok]:
				r.kv = append(r.kv, kv{"transport-protocol", tok})
			case tok == "internal" || tok == "external":
				r.dir = append(r.dir, tok)
			case tok == "to-tag":
				r.toTagForce = true
			case strings.HasPrefix(tok, "replace-"):
				r.replace = append(r.replace, tok[len("replace-"):])
			case strings.HasPrefix(tok, "SDES-"):
				r.sdes = append(r.sdes, tok[len("SDES-"):])
			case strings.HasPrefix(tok, "rtcp-mux-"):
				r.rtcpMux = append(r.rtcpMux, tok[len("rtcp-mux-"):])
			default:
				r.flags = append(r.flags, tok)
			}
			continue
		}
		if key == "" {
			return fmt.Errorf("flag %q: empty key", tok)
		}
		switch key {
		case "via-branch":
			switch val {
			case "1", "2", "auto", "extra", "next", "auto-next", "auto-extra":
				r.viaSel = val
			default:
				return fmt.Errorf("flag %q: expected via-branch=1|2|auto|next|auto-next|extra|auto-extra", tok)
			}
		case "direction":
			r.dir = append(r.dir, val)
		case "call-id":
			r.callID = val
		case "from-tag":
			r.fromTag = val
		case "to-tag":
			r.toTag, r.toTagForce = val, true
		case "record-call":
			r.kv = append(r.kv, kv{"record call", val})
		case "codec-strip", "codec-mask", "codec-transcode", "codec-offer", "codec-except", "codec-consume", "codec-accept":
			k := key[len("codec-"):]
			for i, n := range codecNames {
				if n == k {
					for val != "" {
						var c string
						c, val, _ = strings.Cut(val, ",")
						if c != "" {
							r.codec[i] = append(r.codec[i], c)
						}
					}
				}
			}
		default:
			if intKeys[key] {
				n, err := parseInt(val)
				if err != nil {
					return fmt.Errorf("flag %q: expected an integer", tok)
				}
				r.ints = append(r.ints, kvInt{key, n})
				continue
			}
			r.kv = append(r.kv, kv{key, val})
		}
	}
	return nil
}

func parseInt(s string) (int64, error) {
	var n int64
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("bad integer")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("bad integer")
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// entry is one top-level key of the dictionary, for sorting.
type entry struct {
	key  string
	kind uint8 // 0 string, 1 bytes (sdp), 2 int, 3 list, 4 codec dict, 5 received-from
	s    string
	n    int64
	l    []string
}

// appendTo appends "cookie d...e" to dst.
func (r *request) appendTo(dst []byte, cookie string) []byte {
	dst = append(dst, cookie...)
	dst = append(dst, ' ')
	es := r.entries[:0]
	es = append(es, entry{key: "command", s: r.cmd})
	if r.callID != "" {
		es = append(es, entry{key: "call-id", s: r.callID})
	}
	if r.fromTag != "" {
		es = append(es, entry{key: "from-tag", s: r.fromTag})
	}
	if r.toTag != "" {
		es = append(es, entry{key: "to-tag", s: r.toTag})
	}
	if r.viaBranch != "" {
		es = append(es, entry{key: "via-branch", s: r.viaBranch})
	}
	if len(r.sdp) > 0 {
		es = append(es, entry{key: "sdp", kind: 1})
	}
	if r.recvFrom[0] != "" {
		es = append(es, entry{key: "received-from", kind: 5})
	}
	lists := [...]struct {
		k string
		l []string
	}{{"flags", r.flags}, {"replace", r.replace}, {"direction", r.dir}, {"SDES", r.sdes}, {"rtcp-mux", r.rtcpMux}}
	for _, l := range lists {
		if len(l.l) > 0 {
			es = append(es, entry{key: l.k, kind: 3, l: l.l})
		}
	}
	for _, c := range r.codec {
		if len(c) > 0 {
			es = append(es, entry{key: "codec", kind: 4})
			break
		}
	}
	for _, x := range r.kv {
		es = append(es, entry{key: x.k, s: x.v})
	}
	for _, x := range r.ints {
		es = append(es, entry{key: x.k, kind: 2, n: x.v})
	}
	// insertion sort: a handful of keys, and sort.Sort would box es.
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].key < es[j-1].key; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	r.entries = es
	dst = append(dst, 'd')
	for i := range es {
		e := &es[i]
		dst = AppendStr(dst, e.key)
		switch e.kind {
		case 0:
			dst = AppendStr(dst, e.s)
		case 1:
			dst = AppendBytes(dst, r.sdp)
		case 2:
			dst = AppendInt(dst, e.n)
		case 3:
			dst = append(dst, 'l')
			for _, s := range e.l {
				dst = AppendStr(dst, s)
			}
			dst = append(dst, 'e')
		case 4:
			dst = append(dst, 'd')
			for _, k := range codecOrder {
				c := r.codec[k]
				if len(c) == 0 {
					continue
				}
				dst = AppendStr(dst, codecNames[k])
				dst = append(dst, 'l')
				for _, s := range c {
					dst = AppendStr(dst, s)
				}
				dst = append(dst, 'e')
			}
			dst = append(dst, 'e')
		case 5:
			dst = append(dst, 'l')
			dst = AppendStr(dst, r.recvFrom[0])
			dst = AppendStr(dst, r.recvFrom[1])
			dst = append(dst, 'e')
		}
	}
	return append(dst, 'e')
}

// codecOrder lists the codec kinds by name, the order bencode wants.
var codecOrder = func() []int {
	o := make([]int, codecKinds)
	for i := range o {
		o[i] = i
	}
	sort.Slice(o, func(a, b int) bool { return codecNames[o[a]] < codecNames[o[b]] })
	return o
}()
