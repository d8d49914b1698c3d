package rtpengine

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Node is one rtpengine instance of a set.
type Node struct {
	URL    string // as configured: "udp:127.0.0.1:2223"
	Addr   *net.UDPAddr
	Weight int
	Set    int

	// disabled is 0 when enabled, else the unix-nano time until which the
	// node is skipped; manual is set by rtpengine.enable (RPC) and keeps
	// it disabled until enabled again.
	disabled atomic.Int64
	manual   atomic.Bool
	conns    chan *ngConn // idle sockets, one per request in flight
}

// Set is a numbered group of nodes (rtpengine_sock "1 == udp:...").
type Set struct {
	ID    int
	Nodes []*Node
}

// Client talks ng to the configured sets. It is shared by every worker
// of a runtime.
type Client struct {
	Sets        []*Set
	Default     int // set used when none is chosen
	Timeout     time.Duration
	Retries     int
	DisableTout time.Duration
	Limit       int // queried_nodes_limit
	Now         func() time.Time

	calls    *callMap
	setidAVP string // setid_avp's AVP name
	prefix   string // cookie prefix: pid, so two kemi processes differ
	seq      atomic.Uint64
	// PVs of read_sdp_pv, write_sdp_pv, extra_id_pv, rtp_inst_pvar and
	// media_duration ("" when unset).
	readSDP, writeSDP, extraPV, instPV, durationPV string
	mos                                            []*mosGroup // the mos_* params; nil without
}

// Errors a command can end with.
var (
	ErrTimeout = errors.New("no reply")
	ErrNoNode  = errors.New("no enabled rtpengine node")
)

// ParseSock parses rtpengine_sock values into sets: each value is an
// optional "N ==" set number and space-separated URLs, each with an
// optional "=weight".
func ParseSock(values []string) ([]*Set, error) {
	var sets []*Set
	byID := map[int]*Set{}
	for _, v := range values {
		id := 0
		if l, r, ok := strings.Cut(v, "=="); ok {
			n, err := strconv.Atoi(strings.TrimSpace(l))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("rtpengine_sock %q: set number %q is not a number", v, strings.TrimSpace(l))
			}
			id, v = n, r
		}
		s := byID[id]
		if s == nil {
			s = &Set{ID: id}
			byID[id] = s
			sets = append(sets, s)
		}
		for _, u := range strings.Fields(v) {
			n, err := parseNode(u)
			if err != nil {
				return nil, fmt.Errorf("rtpengine_sock %q: %w", v, err)
			}
			n.Set = id
			s.Nodes = append(s.Nodes, n)
		}
		if len(s.Nodes) == 0 {
			return nil, fmt.Errorf("rtpengine_sock %q: no node URL", v)
		}
	}
	return sets, nil
}

func parseNode(u string) (*Node, error) {
	w := 1
	url := u
	if i := strings.LastIndexByte(u, '='); i >= 0 {
		n, err := strconv.Atoi(u[i+1:])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("node %q: weight %q is not a number", u, u[i+1:])
		}
		w, url = n, u[:i]
	}
	hp, network := url, "udp"
	switch {
	case strings.HasPrefix(url, "udp6:"):
		hp, network = url[5:], "udp6"
	case strings.HasPrefix(url, "udp:"):
		hp = url[4:]
	case strings.HasPrefix(url, "unix:"), strings.HasPrefix(url, "ws:"), strings.HasPrefix(url, "wss:"):
		return nil, fmt.Errorf("node %q: only udp: and udp6: nodes are supported", u)
	}
	if strings.Count(hp, ":") > 1 && !strings.HasPrefix(hp, "[") {
		i := strings.LastIndexByte(hp, ':')
		hp = "[" + hp[:i] + "]" + hp[i:]
	}
	a, err := net.ResolveUDPAddr(network, hp)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", u, err)
	}
	return &Node{URL: url, Addr: a, Weight: w, conns: make(chan *ngConn, 64)}, nil
}

// NewClient builds a client; hashSize is hash_table_size.
func NewClient(sets []*Set, hashSize int) *Client {
	c := &Client{Sets: sets, Timeout: time.Second, Retries: 5, DisableTout: time.Minute, Limit: 30, Now: time.Now}
	c.calls = newCallMap(hashSize)
	// rtpengine answers a cookie it has seen from its reply cache, so a
	// cookie must never repeat: not across reloads (a new Client) nor
	// restarts. pid and a random part make each Client's prefix unique.
	c.prefix = strconv.Itoa(os.Getpid()) + "_" + strconv.FormatUint(uint64(rand.Uint32()), 36) + "_"
	return c
}

// Set returns set id, or nil.
func (c *Client) Set(id int) *Set {
	for _, s := range c.Sets {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Nodes returns every node of every set.
func (c *Client) Nodes() []*Node {
	var ns []*Node
	for _, s := range c.Sets {
		ns = append(ns, s.Nodes...)
	}
	return ns
}

// Enabled says whether n takes new calls now.
func (c *Client) Enabled(n *Node) bool {
	if n.manual.Load() {
		return false
	}
	d := n.disabled.Load()
	return d == 0 || c.Now().UnixNano() >= d
}

// disable takes n out for DisableTout.
func (c *Client) disable(n *Node) {
	n.disabled.Store(c.Now().Add(c.DisableTout).UnixNano())
}

// SetEnabled is rtpengine.enable: false keeps the node out until enabled.
func (c *Client) SetEnabled(n *Node, on bool) {
	n.manual.Store(!on)
	if on {
		n.disabled.Store(0)
	}
}

// Ping sends "ping" and enables the node when it answers "pong", disabling
// it when not. It is how a disabled node comes back.
func (c *Client) Ping(n *Node) bool {
	var r request
	r.reset("ping")
	d, err := c.roundTrip(n, &r, nil, 1)
	if err != nil || d.Str("result") != "pong" {
		c.disable(n)
		return false
	}
	if !n.manual.Load() {
		n.disabled.Store(0)
	}
	return true
}

// usable tells whether n may take a command now; a node whose disable
// time ran out is pinged first.
func (c *Client) usable(n *Node) bool {
	if n.manual.Load() || n.Weight == 0 {
		return false
	}
	d := n.disabled.Load()
	if d == 0 {
		return true
	}
	if c.Now().UnixNano() < d {
		return false
	}
	return c.Ping(n)
}

// pick chooses a node of set s for callID by weight, skipping tried ones.
func (c *Client) pick(s *Set, callID string, tried []*Node) *Node {
	total := 0
	var cand [32]*Node
	cs := cand[:0]
	for _, n := range s.Nodes {
		if contains(tried, n) || !c.usable(n) {
			continue
		}
		cs = append(cs, n)
		total += n.Weight
	}
	if total == 0 {
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(callID))
	x := int(h.Sum32() % uint32(total))
	for _, n := range cs {
		if x < n.Weight {
			return n
		}
		x -= n.Weight
	}
	return cs[len(cs)-1]
}

func contains(ns []*Node, n *Node) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// Do sends r to the node the call lives on, or to a node of set s
// chosen by weight, failing over along the set for a new call. It
// returns the decoded reply and the node that gave it. buf is scratch.
func (c *Client) Do(s *Set, r *request, buf []byte) (Dict, *Node, []byte, error) {
	if n := c.calls.get(r.key(), c.Now()); n != nil && r.cmd != "ping" {
		if c.usable(n) || r.cmd != "offer" {
			d, err := c.roundTrip(n, r, buf, c.Retries)
			if errors.Is(err, ErrTimeout) {
				c.disable(n)
			}
			if err == nil || r.cmd != "offer" {
				c.after(r, n, d, err)
				return d, n, buf, err
			}
		}
	}
	if s == nil {
		return nil, nil, buf, fmt.Errorf("no rtpengine set")
	}
	var triedA [8]*Node
	tried := triedA[:0]
	var last error = fmt.Errorf("set %d: %w (a node that did not answer is retried after rtpengine_disable_tout)", s.ID, ErrNoNode)
	for len(tried) < c.Limit {
		n := c.pick(s, r.callID, tried)
		if n == nil {
			break
		}
		tried = append(tried, n)
		d, err := c.roundTrip(n, r, buf, c.Retries)
		if errors.Is(err, ErrTimeout) {
			c.disable(n)
			last = err
			continue
		}
		c.after(r, n, d, err)
		return d, n, buf, err
	}
	return nil, nil, buf, last
}

// after keeps the call → node map: offer and answer record it, delete
// forgets it.
func (c *Client) after(r *request, n *Node, d Dict, err error) {
	if err != nil || r.callID == "" {
		return
	}
	switch r.cmd {
	case "offer", "answer":
		c.calls.put(r.key(), n, c.Now())
	case "delete":
		if r.viaBranch == "" {
			c.calls.del(r.key())
		}
	}
}

// roundTrip sends r to n up to tries times, waiting Timeout for each.
func (c *Client) roundTrip(n *Node, r *request, buf []byte, tries int) (Dict, error) {
	var nc *ngConn
	select {
	case nc = <-n.conns:
	default:
		uc, err := net.DialUDP(n.Addr.Network(), nil, n.Addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", n.URL, err, ErrTimeout)
		}
		nc = &ngConn{c: uc, in: make([]byte, 65536)}
	}
	conn, in := nc.c, nc.in
	keep := true
	defer func() {
		if !keep {
			conn.Close()
			return
		}
		select {
		case n.conns <- nc:
		default:
			conn.Close()
		}
	}()
	var ck [24]byte
	cookie := strconv.AppendUint(append(ck[:0], c.prefix...), c.seq.Add(1), 10)
	out := r.appendTo(buf[:0], string(cookie))
	if tries < 1 {
		tries = 1
	}
	if len(out) > maxRequest {
		// Too big for one datagram: the message's fault, not the node's.
		return nil, fmt.Errorf("%s: request of %d bytes is over the %d a datagram holds", n.URL, len(out), maxRequest)
	}
	for try := 0; try < tries; try++ {
		deadline := time.Now().Add(c.Timeout)
		if _, err := conn.Write(out); err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				keep = false
				return nil, fmt.Errorf("%s: %v", n.URL, err)
			}
			// an ICMP port unreachable from an earlier try: nobody
			// listens; this try waits as a silent one would.
			time.Sleep(time.Until(deadline))
			continue
		}
		for {
			conn.SetReadDeadline(deadline)
			k, err := conn.Read(in)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // next try
				}
				// ICMP port unreachable: nobody listens; wait out the
				// timeout as a silent peer would cost, but do not spin.
				time.Sleep(time.Until(deadline))
				break
			}
			msg := in[:k]
			sp := indexByte(msg, ' ')
			if sp < 0 || string(msg[:sp]) != string(cookie) {
				continue // a late reply to an earlier command, or noise
			}
			v, derr := Decode(msg[sp+1:])
			if derr != nil {
				return nil, fmt.Errorf("%s: reply is not bencode: %v", n.URL, derr)
			}
			d, ok := v.(Dict)
			if !ok {
				return nil, fmt.Errorf("%s: reply is not a dictionary", n.URL)
			}
			if d.Str("result") == "error" {
				return d, fmt.Errorf("%s: rtpengine error: %s", n.URL, d.Str("error-reason"))
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("%s: %d tries of %v: %w", n.URL, tries, c.Timeout, ErrTimeout)
}

// maxRequest is the largest ng request sent: one UDP datagram.
const maxRequest = 65507

// ngConn is a socket to one node with its receive buffer.
type ngConn struct {
	c  *net.UDPConn
	in []byte
}

// callMap remembers which node a call went to (hash_table_size shards),
// so answer, query and delete reach the node that has the session.
type callMap struct {
	shards []callShard
	tout   time.Duration
}

type callShard struct {
	mu sync.Mutex
	m  map[string]callEntry
}

type callEntry struct {
	n  *Node
	at time.Time
}

// maxPerShard bounds a shard; past it expired entries are swept first,
// and a call that does not fit is simply not remembered.
const maxPerShard = 1 << 14

func newCallMap(size int) *callMap {
	if size < 1 {
		size = 1
	}
	m := &callMap{shards: make([]callShard, size), tout: time.Hour}
	for i := range m.shards {
		m.shards[i].m = map[string]callEntry{}
	}
	return m
}

func (m *callMap) shard(k string) *callShard {
	h := fnv.New32a()
	h.Write([]byte(k))
	return &m.shards[h.Sum32()%uint32(len(m.shards))]
}

func (m *callMap) get(k string, now time.Time) *Node {
	if k == "" {
		return nil
	}
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || now.Sub(e.at) > m.tout {
		return nil
	}
	return e.n
}

func (m *callMap) put(k string, n *Node, now time.Time) {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= maxPerShard {
		for kk, e := range s.m {
			if now.Sub(e.at) > m.tout {
				delete(s.m, kk)
			}
		}
		if len(s.m) >= maxPerShard {
			return
		}
	}
	s.m[k] = callEntry{n, now}
}

func (m *callMap) del(k string) {
	s := m.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// Len counts the calls remembered (rtpengine.get_hash_total).
func (m *callMap) Len() int {
	t := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		t += len(m.shards[i].m)
		m.shards[i].mu.Unlock()
	}
	return t
}

// Close closes the idle sockets.
func (c *Client) Close() {
	for _, n := range c.Nodes() {
		for {
			select {
			case conn := <-n.conns:
				conn.c.Close()
				continue
			default:
			}
			break
		}
	}
}
