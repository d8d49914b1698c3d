package transport

import (
	"net/netip"
	"sync"
)

// connKey is a connection's remote end for lookups by address.
type connKey struct {
	proto StreamProto
	addr  netip.AddrPort
}

// connTable indexes the open connections by id ($conid) and by remote
// address. Several connections may lead to one address (the peer opened
// one and kemi another); the address maps to the latest, and to an older
// one again only if it is looked up by id. Aliases (add_tcp_alias) are
// more addresses for one connection.
type connTable struct {
	mu     sync.RWMutex
	ids    map[uint64]*Conn
	addrs  map[connKey]*Conn
	extras map[*Conn][]connKey // aliases, removed with the connection
}

func (t *connTable) init() {
	t.ids = make(map[uint64]*Conn)
	t.addrs = make(map[connKey]*Conn)
	t.extras = make(map[*Conn][]connKey)
}

func (t *connTable) add(c *Conn) {
	t.mu.Lock()
	t.ids[c.id] = c
	t.addrs[connKey{c.proto, c.remote}] = c
	t.mu.Unlock()
}

func (t *connTable) alias(c *Conn, a netip.AddrPort) {
	k := connKey{c.Proto(), a} // ws or wss once upgraded
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids[c.id] != c {
		return // already gone
	}
	t.addrs[k] = c
	if k.addr != c.remote {
		t.extras[c] = append(t.extras[c], k)
	}
}

func (t *connTable) remove(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids[c.id] == c {
		delete(t.ids, c.id)
	}
	drop := func(k connKey) {
		if t.addrs[k] == c {
			delete(t.addrs, k)
		}
	}
	drop(connKey{c.proto, c.remote})
	for _, k := range t.extras[c] {
		drop(k)
	}
	delete(t.extras, c)
}

// rekey files c under proto p (an upgrade to WebSocket): sends to its
// address over TCP no longer find it.
func (t *connTable) rekey(c *Conn, p StreamProto) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids[c.id] != c {
		return
	}
	old := connKey{c.proto, c.remote}
	if t.addrs[old] == c {
		delete(t.addrs, old)
	}
	k := connKey{p, c.remote}
	t.addrs[k] = c
	t.extras[c] = append(t.extras[c], k)
}

func (t *connTable) byID(id uint64) *Conn {
	t.mu.RLock()
	c := t.ids[id]
	t.mu.RUnlock()
	return c
}

func (t *connTable) byAddr(p StreamProto, a netip.AddrPort) *Conn {
	t.mu.RLock()
	c := t.addrs[connKey{p, a}]
	t.mu.RUnlock()
	return c
}

func (t *connTable) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.ids)
}

// each calls f for every connection, outside the lock.
func (t *connTable) each(f func(*Conn)) {
	t.mu.RLock()
	cs := make([]*Conn, 0, len(t.ids))
	for _, c := range t.ids {
		cs = append(cs, c)
	}
	t.mu.RUnlock()
	for _, c := range cs {
		f(c)
	}
}
