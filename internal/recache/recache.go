// Package recache compiles the regular expressions that scripts pass to
// KSR functions once and keeps them: a routing script passes the same few
// patterns on every message. A cache is bounded so hostile or generated
// patterns cannot grow it without end; past the bound they are compiled
// per call.
package recache

import (
	"regexp"
	"sync"
)

// MaxEntries bounds each cache.
const MaxEntries = 1024

// Cache holds expressions compiled with one set of flags.
type Cache struct {
	flags string // prefix such as "(?i)"
	mu    sync.RWMutex
	m     map[string]*regexp.Regexp
}

// New returns a cache whose expressions are compiled with the given flag
// prefix ("" for none, "(?i)" for Kamailio's REG_ICASE, "(?m)" for
// REG_NEWLINE).
func New(flags string) *Cache { return &Cache{flags: flags, m: map[string]*regexp.Regexp{}} }

// Compile returns expr compiled with the cache's flags.
func (c *Cache) Compile(expr string) (*regexp.Regexp, error) {
	c.mu.RLock()
	re := c.m[expr]
	c.mu.RUnlock()
	if re != nil {
		return re, nil
	}
	re, err := regexp.Compile(c.flags + expr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) < MaxEntries {
		c.m[expr] = re
	}
	c.mu.Unlock()
	return re, nil
}
