package pike

import (
	"sync"
	"sync/atomic"
)

// The tree follows Kamailio's pike ip_tree: 256 branches by first address
// byte, each under its own lock; a node per hot prefix. Counters are two
// units wide: prev (the unit before) and curr.

const (
	prev = 0
	curr = 1
)

const (
	flagIPLeaf uint8 = 1 << iota // the node is a whole address
	flagRed                      // the address is blocked
)

// Result of marking an address.
type Result int8

const (
	OK       Result = 1  // within the limit (or not tracked)
	Blocked  Result = -1 // over the limit, already reported
	NewBlock Result = -2 // went over the limit with this request
)

type node struct {
	b        byte
	flags    uint8
	hits     [2]uint16 // requests through this prefix
	leafHits [2]uint16 // requests from exactly this address
	expires  int64     // Unix nanoseconds; 0 when not expiring (has kids)
	kids     []*node
}

type branch struct {
	mu   sync.Mutex
	root *node
	_    [48]byte
}

// Tree counts requests per address.
type Tree struct {
	maxHits  uint16
	timeout  int64 // remove_latency in nanoseconds
	maxNodes int64
	nodes    atomic.Int64
	branches [256]branch
}

// NewTree makes a tree blocking at maxHits requests per unit and
// forgetting addresses idle for timeout nanoseconds.
func NewTree(maxHits int, timeout int64, maxNodes int64) *Tree {
	return &Tree{maxHits: uint16(maxHits), timeout: timeout, maxNodes: maxNodes}
}

func (t *Tree) hotLeaf(n *node) bool {
	m := t.maxHits
	return n.leafHits[prev] >= m || n.leafHits[curr] >= m ||
		(uint32(n.leafHits[prev])+uint32(n.leafHits[curr]))>>1 >= uint32(m)
}

func (t *Tree) hotPrefix(n *node) bool {
	m := t.maxHits >> 2
	return n.hits[prev] >= m || n.hits[curr] >= m ||
		(uint32(n.hits[prev])+uint32(n.hits[curr]))>>1 >= uint32(m)
}

func inc(c *uint16) {
	if *c < 0xfffe {
		*c++
	}
}

func (t *Tree) newNode(b byte) *node {
	if t.nodes.Add(1) > t.maxNodes {
		t.nodes.Add(-1)
		return nil
	}
	return &node{b: b}
}

// Mark counts one request from ip (4 or 16 bytes) at now.
func (t *Tree) Mark(ip []byte, now int64) Result {
	br := &t.branches[ip[0]]
	br.mu.Lock()
	defer br.mu.Unlock()

	// Longest prefix of ip already in the tree; the branch is ip[0].
	var n *node
	depth := 0
	if br.root != nil {
		n, depth = br.root, 1
		for depth < len(ip) {
			var k *node
			for _, c := range n.kids {
				if c.b == ip[depth] {
					k = c
					break
				}
			}
			if k == nil {
				break
			}
			n = k
			depth++
		}
	}

	switch {
	case depth == len(ip):
		// The whole address: count it and maybe turn it red.
		n.flags |= flagIPLeaf
		inc(&n.leafHits[curr])
		n.expires = now + t.timeout
		if n.flags&flagRed != 0 {
			return Blocked
		}
		if t.hotLeaf(n) {
			n.flags |= flagRed
			return NewBlock
		}
		return OK
	case depth == 0:
		n = t.newNode(ip[0])
		if n == nil {
			return OK
		}
		n.hits[curr] = 1
		n.expires = now + t.timeout
		br.root = n
		return OK
	}
	// A prefix: count it; when hot, grow the next byte under it.
	inc(&n.hits[curr])
	if !t.hotPrefix(n) {
		// A prefix with few hits keeps its expiry, to keep the tree small.
		return OK
	}
	dad := n
	kid := t.newNode(ip[depth])
	if kid == nil {
		return OK
	}
	// The child inherits part of its father's hits, as in Kamailio.
	if dad.hits[curr] >= 1 {
		kid.hits[curr] = dad.hits[curr] - 1
	}
	kid.expires = now + t.timeout
	dad.kids = append(dad.kids, kid)
	if dad.flags&flagIPLeaf == 0 {
		dad.expires = 0 // a father expires through its kids
	}
	return OK
}

// Swap starts a new unit: curr moves to prev, and red addresses that are
// no longer hot are unblocked. It returns the number unblocked.
func (t *Tree) Swap() int {
	n := 0
	for i := range t.branches {
		br := &t.branches[i]
		br.mu.Lock()
		if br.root != nil {
			n += t.swap(br.root)
		}
		br.mu.Unlock()
	}
	return n
}

func (t *Tree) swap(n *node) int {
	n.hits[prev], n.hits[curr] = n.hits[curr], 0
	n.leafHits[prev], n.leafHits[curr] = n.leafHits[curr], 0
	u := 0
	if n.flags&flagRed != 0 && !t.hotLeaf(n) {
		n.flags &^= flagRed
		u++
	}
	for _, k := range n.kids {
		u += t.swap(k)
	}
	return u
}

// Clean removes nodes without kids idle since their expiry; a father left
// without kids starts its own expiry then. It returns the nodes removed.
func (t *Tree) Clean(now int64) int {
	removed := 0
	for i := range t.branches {
		br := &t.branches[i]
		br.mu.Lock()
		if br.root != nil {
			var gone bool
			var r int
			gone, r = t.clean(br.root, now)
			removed += r
			if gone {
				br.root = nil
			}
		}
		br.mu.Unlock()
	}
	t.nodes.Add(-int64(removed))
	return removed
}

// clean reports whether n itself is to be removed, and how many nodes
// under it (n included) were.
func (t *Tree) clean(n *node, now int64) (bool, int) {
	removed := 0
	if len(n.kids) > 0 {
		kids := n.kids[:0]
		for _, k := range n.kids {
			gone, r := t.clean(k, now)
			removed += r
			if !gone {
				kids = append(kids, k)
			}
		}
		clear(n.kids[len(kids):])
		n.kids = kids
		if len(n.kids) == 0 && n.expires == 0 {
			n.expires = now + t.timeout
		}
		if len(n.kids) > 0 {
			if n.flags&flagIPLeaf != 0 && n.expires != 0 && n.expires <= now {
				// An address that is also a prefix (IPv4 in IPv6): forget
				// the address, keep the prefix.
				n.flags &^= flagIPLeaf | flagRed
				n.leafHits = [2]uint16{}
				n.expires = 0
			}
			return false, removed
		}
	}
	if n.expires != 0 && n.expires <= now {
		return true, removed + 1
	}
	return false, removed
}

// Len is the number of nodes.
func (t *Tree) Len() int { return int(t.nodes.Load()) }
