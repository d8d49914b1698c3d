// Package rtpproxy implements module rtpproxy's offer, answer, manage and
// destroy over the rtpproxy control protocol: one text command per UDP
// datagram, "cookie Uflags callid addr port fromtag;n [totag;n]", answered
// "cookie port [addr]" (or "cookie En" for an error). rtpengine speaks it
// on its legacy listener (listen-udp), which is how Kamailio's basic KEMI
// examples, calling KSR.rtpproxy.rtpproxy_manage("co"), get media
// relayed by rtpengine unchanged.
//
// Each m= stream is one command (medianum 1, 2, ...); the reply's port
// replaces the stream's port and its address the stream's c= line (and,
// with flags c and o, the session c= and the o= address). Without flag r
// the address sent is where the message came from, so a phone behind
// NAT gets media sent to its public address; with r, the SDP's.
package rtpproxy

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/exports/rtpengine"
	"kemi/exports/sdpops"
	"kemi/sip"
)

// proxy is one rtpproxy node.
type proxy struct {
	url      string
	addr     *net.UDPAddr
	weight   int
	set      int
	disabled atomic.Int64 // unix nanos until which it is skipped; 0 enabled
	conns    chan *net.UDPConn
}

// Client sends commands to the configured sets.
type Client struct {
	sets        map[int][]*proxy
	def         int
	timeout     time.Duration
	retries     int
	disableTout time.Duration
	seq         atomic.Uint64
	prefix      string // unique per client: rtpengine caches replies by cookie
}

// clients holds each runtime's client, set by start.
var clients = core.NewRuntimeState[Client](func(*core.Runtime) *Client { return nil })

func of(rt *core.Runtime) *Client { return clients.Peek(rt) }

// stop closes the pooled sockets (stop: in module.yaml).
func stop(rt *core.Runtime) {
	c := clients.Peek(rt)
	if c == nil {
		return
	}
	for _, ps := range c.sets {
		for _, p := range ps {
			for len(p.conns) > 0 {
				(<-p.conns).Close()
			}
		}
	}
}

func start(rt *core.Runtime) error {
	var socks []string
	for _, v := range rt.ParamValues("rtpproxy", "rtpproxy_sock") {
		socks = append(socks, v.S)
	}
	if len(socks) == 0 {
		return nil // every command fails and says why
	}
	sets, err := rtpengine.ParseSock(socks) // the same "N == url=weight" syntax
	if err != nil {
		return fmt.Errorf("rtpproxy: %s", strings.Replace(err.Error(), "rtpengine_sock", "rtpproxy_sock", 1))
	}
	c := &Client{sets: map[int][]*proxy{}, timeout: time.Second, retries: 5, disableTout: time.Minute, def: -1,
		prefix: strconv.Itoa(os.Getpid()) + "_" + strconv.FormatUint(uint64(rand.Uint32()), 36) + "_"}
	for _, s := range sets {
		if c.def < 0 {
			c.def = s.ID
		}
		for _, n := range s.Nodes {
			c.sets[s.ID] = append(c.sets[s.ID], &proxy{url: n.URL, addr: n.Addr, weight: n.Weight, set: s.ID, conns: make(chan *net.UDPConn, 32)})
		}
	}
	if _, ok := c.sets[0]; ok {
		c.def = 0
	}
	if v := rt.Param("rtpproxy", "rtpproxy_tout").I; v > 0 {
		c.timeout = time.Duration(v) * time.Second
	}
	if v := rt.Param("rtpproxy", "rtpproxy_retr").I; v > 0 {
		c.retries = int(v)
	}
	if v := rt.Param("rtpproxy", "rtpproxy_disable_tout").I; v >= 0 {
		c.disableTout = time.Duration(v) * time.Second
	}
	clients.Set(rt, c)
	return nil
}

type state struct {
	set int // set_rtpproxy_set for this message; -1 none
}

var msgState = core.NewMsgState(func(*state) state { return state{set: -1} })

func stateOf(ctx *core.Ctx) *state { return msgState.Get(ctx) }

var errNoReply = errors.New("no reply")

// pick chooses a node for callID by weight among the enabled ones.
func (c *Client) pick(set int, callID string, tried []*proxy) *proxy {
	now := time.Now().UnixNano()
	total := 0
	for _, p := range c.sets[set] {
		if d := p.disabled.Load(); d != 0 && now < d || p.weight == 0 || containsP(tried, p) {
			continue
		}
		total += p.weight
	}
	if total == 0 {
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(callID))
	x := int(h.Sum32() % uint32(total))
	for _, p := range c.sets[set] {
		if d := p.disabled.Load(); d != 0 && now < d || p.weight == 0 || containsP(tried, p) {
			continue
		}
		if x < p.weight {
			return p
		}
		x -= p.weight
	}
	return nil
}

func containsP(ps []*proxy, p *proxy) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// send sends one command ("U...", "L...", "D...") and returns the reply
// after the cookie. A node that does not answer is disabled.
func (c *Client) send(p *proxy, cmd string) (string, error) {
	var conn *net.UDPConn
	select {
	case conn = <-p.conns:
	default:
		var err error
		if conn, err = net.DialUDP(p.addr.Network(), nil, p.addr); err != nil {
			return "", err
		}
	}
	cookie := c.prefix + strconv.FormatUint(c.seq.Add(1), 10)
	out := []byte(cookie + " " + cmd)
	in := make([]byte, 1024)
	defer func() {
		select {
		case p.conns <- conn:
		default:
			conn.Close()
		}
	}()
	for try := 0; try < c.retries; try++ {
		conn.Write(out)
		deadline := time.Now().Add(c.timeout)
		for {
			conn.SetReadDeadline(deadline)
			n, err := conn.Read(in)
			if err != nil {
				var ne net.Error
				if !(errors.As(err, &ne) && ne.Timeout()) {
					time.Sleep(time.Until(deadline))
				}
				break
			}
			ck, rest, _ := strings.Cut(strings.TrimSpace(string(in[:n])), " ")
			if ck != cookie {
				continue
			}
			if strings.HasPrefix(rest, "E") {
				return "", fmt.Errorf("%s: rtpproxy error %s", p.url, rest)
			}
			return rest, nil
		}
	}
	p.disabled.Store(time.Now().Add(c.disableTout).UnixNano())
	return "", fmt.Errorf("%s: %d tries of %v: %w", p.url, c.retries, c.timeout, errNoReply)
}

// do sends cmd for callID to the call's node, failing over along the set.
func (c *Client) do(set int, callID, cmd string) (string, error) {
	var tried []*proxy
	var last error = errors.New("no enabled rtpproxy node")
	for {
		p := c.pick(set, callID, tried)
		if p == nil {
			return "", last
		}
		tried = append(tried, p)
		r, err := c.send(p, cmd)
		if errors.Is(err, errNoReply) {
			last = err
			continue
		}
		return r, err
	}
}

func isSDP(m *sip.Msg) bool {
	ct := m.Header("Content-Type")
	if ct == nil {
		ct = m.Header("c")
	}
	return len(m.Body()) > 0 && sdpops.IsSDP(ct)
}

// sdpAddr is the address in a "c=IN IP4 a.b.c.d" line value.
func sdpAddr(l string) string {
	f := strings.Fields(l)
	if len(f) >= 3 {
		a, _, _ := strings.Cut(f[2], "/")
		return a
	}
	return ""
}

func offerAnswer(ctx *core.Ctx, fn string, offer bool, flags, ip string) int {
	c := of(ctx.RT)
	if c == nil {
		ctx.Log(core.LErr, "rtpproxy: "+fn+`: no nodes; add modparam("rtpproxy", "rtpproxy_sock", "udp:127.0.0.1:7722")`+"\n")
		return -1
	}
	m := ctx.Msg
	if !isSDP(m) {
		ctx.Log(core.LErr, "rtpproxy: "+fn+": the message has no SDP body\n")
		return -1
	}
	callID, ft, tt := string(m.CallID()), string(m.FromTag()), string(m.ToTag())
	if callID == "" || ft == "" {
		ctx.Log(core.LErr, "rtpproxy: "+fn+": the message has no Call-ID or From tag\n")
		return -1
	}
	if !offer && tt == "" {
		ctx.Log(core.LErr, "rtpproxy: "+fn+": an answer needs a To tag\n")
		return -1
	}
	var mod strings.Builder
	trust, repOrigin, repSession := false, false, false
	for _, f := range flags {
		switch f {
		case 'r', 'R':
			trust = true
		case 'o', 'O':
			repOrigin = true
		case 'c', 'C':
			repSession = true
		case 'a', 'A':
			mod.WriteByte('A')
		case 'i', 'I':
			mod.WriteByte('I')
		case 'e', 'E':
			mod.WriteByte('E')
		case 'w', 'W':
			mod.WriteByte('W')
		case 'f', 'F', 'x', 'X', 'l', 'L', 's', 'S', 'z', 'Z', '1', '2', '3', '4', '5', '6', '7', '8', '9', '0':
			// force, address-family choice, lookup, swap, repacketize: not needed by rtpengine's legacy listener
		default:
			ctx.Log(core.LErr, "rtpproxy: "+fn+": unknown flag "+core.LogQuote(string(f))+"\n")
			return -1
		}
	}
	if ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			ctx.Log(core.LErr, "rtpproxy: "+fn+": "+core.LogQuote(ip)+" is not an IP address\n")
			return -1
		}
	}
	s := sdpops.Parse(m.Body())
	sessAddr := ""
	for _, l := range s.Session {
		if strings.HasPrefix(l, "c=") {
			sessAddr = sdpAddr(l)
		}
	}
	set := c.def
	if st := stateOf(ctx); st.set >= 0 {
		set = st.set
	}
	verb := "U"
	if !offer {
		verb = "L"
	}
	newAddr := ""
	for i, md := range s.Media {
		if md.Port == "0" {
			continue
		}
		addr := sessAddr
		for _, l := range md.Lines {
			if strings.HasPrefix(l, "c=") {
				addr = sdpAddr(l)
			}
		}
		if !trust {
			addr = ctx.Src.Addr().Unmap().String()
		}
		n := strconv.Itoa(i + 1)
		cmd := verb + mod.String() + " " + callID + " " + addr + " " + md.Port + " " + ft + ";" + n
		if tt != "" {
			cmd += " " + tt + ";" + n
		}
		rep, err := c.do(set, callID, cmd)
		if err != nil {
			ctx.Log(core.LErr, "rtpproxy: "+fn+": call "+core.LogQuote(callID)+": "+err.Error()+"\n")
			return -1
		}
		f := strings.Fields(rep)
		if len(f) == 0 {
			ctx.Log(core.LErr, "rtpproxy: "+fn+": empty reply\n")
			return -1
		}
		if p, err := strconv.Atoi(f[0]); err != nil || p <= 0 || p > 65535 {
			ctx.Log(core.LErr, "rtpproxy: "+fn+": reply "+core.LogQuote(rep)+": expected a port\n")
			return -1
		}
		md.Port = f[0]
		a := ip
		if len(f) > 1 && a == "" {
			if _, err := netip.ParseAddr(f[1]); err != nil {
				ctx.Log(core.LErr, "rtpproxy: "+fn+": reply "+core.LogQuote(rep)+": "+core.LogQuote(f[1])+" is not an IP address\n")
				return -1
			}
			a = f[1]
		}
		if a == "" {
			a = c.sets[set][0].addr.IP.String()
		}
		newAddr = a
		for j, l := range md.Lines {
			if strings.HasPrefix(l, "c=") {
				md.Lines[j] = cLine(a)
			}
		}
	}
	if newAddr == "" {
		ctx.Log(core.LErr, "rtpproxy: "+fn+": no active stream in the SDP\n")
		return -1
	}
	for j, l := range s.Session {
		switch {
		case strings.HasPrefix(l, "c=") && (repSession || !hasMediaC(s)):
			s.Session[j] = cLine(newAddr)
		case strings.HasPrefix(l, "o=") && repOrigin:
			if f := strings.Fields(l); len(f) == 6 {
				fam := "IP4"
				if strings.Contains(newAddr, ":") {
					fam = "IP6"
				}
				f[4], f[5] = fam, newAddr
				s.Session[j] = strings.Join(f, " ")
			}
		}
	}
	m.SetBody(s.Bytes(), "")
	return 1
}

func hasMediaC(s *sdpops.SDP) bool {
	for _, md := range s.Media {
		for _, l := range md.Lines {
			if strings.HasPrefix(l, "c=") {
				return true
			}
		}
	}
	return false
}

func cLine(a string) string {
	if strings.Contains(a, ":") {
		return "c=IN IP6 " + a
	}
	return "c=IN IP4 " + a
}

// Offer is rtpproxy_offer.
func Offer(ctx *core.Ctx, flags string) int {
	return offerAnswer(ctx, "rtpproxy_offer", true, flags, "")
}

// Offer0 is rtpproxy_offer0.
func Offer0(ctx *core.Ctx) int { return Offer(ctx, "") }

// OfferIP is rtpproxy_offer_ip: ip goes in the SDP instead of the proxy's.
func OfferIP(ctx *core.Ctx, flags, ip string) int {
	return offerAnswer(ctx, "rtpproxy_offer_ip", true, flags, ip)
}

// Answer is rtpproxy_answer.
func Answer(ctx *core.Ctx, flags string) int {
	return offerAnswer(ctx, "rtpproxy_answer", false, flags, "")
}

// Answer0 is rtpproxy_answer0.
func Answer0(ctx *core.Ctx) int { return Answer(ctx, "") }

// AnswerIP is rtpproxy_answer_ip.
func AnswerIP(ctx *core.Ctx, flags, ip string) int {
	return offerAnswer(ctx, "rtpproxy_answer_ip", false, flags, ip)
}

// Destroy is rtpproxy_destroy: delete the call's session.
func Destroy(ctx *core.Ctx, flags string) int {
	c := of(ctx.RT)
	if c == nil {
		ctx.Log(core.LErr, `rtpproxy: rtpproxy_destroy: no nodes; add modparam("rtpproxy", "rtpproxy_sock", "udp:127.0.0.1:7722")`+"\n")
		return -1
	}
	m := ctx.Msg
	callID, ft, tt := string(m.CallID()), string(m.FromTag()), string(m.ToTag())
	if callID == "" || ft == "" {
		ctx.Log(core.LErr, "rtpproxy: rtpproxy_destroy: the message has no Call-ID or From tag\n")
		return -1
	}
	cmd := "D " + callID + " " + ft
	if tt != "" {
		cmd += " " + tt
	}
	set := c.def
	if st := stateOf(ctx); st.set >= 0 {
		set = st.set
	}
	if _, err := c.do(set, callID, cmd); err != nil {
		ctx.Log(core.LErr, "rtpproxy: rtpproxy_destroy: call "+core.LogQuote(callID)+": "+err.Error()+"\n")
		return -1
	}
	return 1
}

// Destroy0 is rtpproxy_destroy0.
func Destroy0(ctx *core.Ctx) int { return Destroy(ctx, "") }

// Manage is rtpproxy_manage, as Kamailio decides: INVITE with SDP offers;
// ACK with SDP answers; BYE, CANCEL, or any request in a failure route
// destroys; a reply of 300 and up to INVITE destroys; a 1xx/2xx reply
// with SDP answers.
func Manage(ctx *core.Ctx, flags string) int { return manage(ctx, flags, "") }

// Manage0 is rtpproxy_manage0.
func Manage0(ctx *core.Ctx) int { return manage(ctx, "", "") }

// ManageIP is rtpproxy_manage_ip.
func ManageIP(ctx *core.Ctx, flags, ip string) int { return manage(ctx, flags, ip) }

func manage(ctx *core.Ctx, flags, ip string) int {
	m := ctx.Msg
	sdp := isSDP(m)
	if m.IsRequest() {
		if ctx.Route == core.FailureRoute {
			return Destroy(ctx, flags)
		}
		switch m.MethodID() {
		case sip.MethodINVITE:
			if sdp {
				return offerAnswer(ctx, "rtpproxy_manage", true, flags, ip)
			}
		case sip.MethodACK:
			if sdp {
				return offerAnswer(ctx, "rtpproxy_manage", false, flags, ip)
			}
		case sip.MethodBYE, sip.MethodCANCEL:
			return Destroy(ctx, flags)
		}
		return -1
	}
	_, meth, err := m.CSeq()
	if err != nil || !bytes.Equal(meth, []byte("INVITE")) {
		return -1
	}
	if m.StatusCode() >= 300 {
		return Destroy(ctx, flags)
	}
	if sdp {
		return offerAnswer(ctx, "rtpproxy_manage", false, flags, ip)
	}
	return -1
}

// SetSet is set_rtpproxy_set.
func SetSet(ctx *core.Ctx, id int) int {
	c := of(ctx.RT)
	if c == nil || c.sets[id] == nil {
		ctx.Log(core.LErr, "rtpproxy: set_rtpproxy_set: no set "+strconv.Itoa(id)+"\n")
		return -1
	}
	stateOf(ctx).set = id
	return 1
}
