package resolve

import (
	"container/list"
	"sync"
	"time"
)

// cache is a bounded LRU of answers with expiry. Keys are a query type
// byte and a lower-case name (or, for target lists, a URI key). An expired
// entry is dropped when it is read; the LRU bound keeps a flood of unique
// names from growing it.
type cache struct {
	mu  sync.Mutex
	max int
	m   map[string]*list.Element
	lru list.List // front: most recently used
}

type entry struct {
	key     string
	name    string // the name asked, without the final dot
	expires time.Time
	val     any // []record, []Target, or nil for a negative entry
	err     error
}

func newCache(max int) *cache {
	c := &cache{max: max, m: make(map[string]*list.Element, 64)}
	c.lru.Init()
	return c
}

// get returns the entry for key when it has not expired. key may alias
// a caller's buffer: the map index does not keep it.
func (c *cache) get(key []byte, now time.Time) (*entry, bool) {
	c.mu.Lock()
	el, ok := c.m[string(key)]
	if !ok {
		c.mu.Unlock()
		return nil, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.m, e.key)
		c.mu.Unlock()
		return nil, false
	}
	c.lru.MoveToFront(el)
	c.mu.Unlock()
	return e, true
}

func (c *cache) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[e.key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.m[e.key] = c.lru.PushFront(e)
	for len(c.m) > c.max {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.m, el.Value.(*entry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.lru.Init()
}
