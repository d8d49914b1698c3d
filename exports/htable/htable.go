// Package htable implements module htable: named hash tables shared by
// every worker, defined by modparam("htable", "htable", "name=>...").
//
// Tables are built when the config loads (start: in module.yaml) and kept
// in the runtime's state (core.RuntimeState), so a reload starts with
// fresh tables, as a Kamailio restart does. A call finds its table with
// one map lookup and no lock; the items are sharded maps under per-shard
// mutexes (table.go).
package htable

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"kemi/core"
	"kemi/internal/recache"
)

// Tables is the set of tables of one runtime.
type Tables struct {
	byName map[string]*Table

	done     chan struct{} // closed to end the sweeper; nil without one
	stopOnce sync.Once
}

// Table returns the named table, or nil.
func (ts *Tables) Table(name string) *Table { return ts.byName[name] }

var tables = core.NewRuntimeState(func(*core.Runtime) *Tables { return &Tables{byName: map[string]*Table{}} })

// Of returns the tables of rt (empty before start ran).
func Of(rt *core.Runtime) *Tables { return tables.Get(rt) }

// stopSweeper ends the sweeper and the Redis listeners (stop: in module.yaml).
func stopSweeper(rt *core.Runtime) {
	saveDB(rt)
	ts := tables.Peek(rt)
	if ts == nil {
		return
	}
	if ts.done != nil {
		ts.stopOnce.Do(func() { close(ts.done) })
	}
	for _, t := range ts.byName {
		if t.sync != nil {
			t.sync.stop()
		}
	}
}

// start builds the tables from the modparams and starts the sweeper.
func start(rt *core.Runtime) error {
	if v := rt.Param("htable", "enable_dmq"); v.Kind == core.KInt && v.I != 0 {
		return fmt.Errorf(`modparam("htable", "enable_dmq", %d): kemi has no DMQ replication; set 0`, v.I)
	}
	ts := Of(rt)
	for _, v := range rt.ParamValues("htable", "htable") {
		t, err := ParseDef(v.S)
		if err != nil {
			return err
		}
		if ts.byName[t.Name] != nil {
			return fmt.Errorf("htable %q: table %s defined twice", v.S, t.Name)
		}
		ts.byName[t.Name] = t
	}
	if err := loadDB(rt, ts); err != nil {
		return err
	}
	for _, t := range ts.byName {
		if t.Redis == "" {
			continue
		}
		if err := startSync(rt, t); err != nil {
			stopSweeper(rt)
			return err
		}
	}
	every := 20 * time.Second
	if v := rt.Param("htable", "timer_interval"); v.Kind == core.KInt && v.I > 0 {
		every = time.Duration(v.I) * time.Second
	}
	expiring := false
	for _, t := range ts.byName {
		expiring = expiring || t.Autoexpire > 0
	}
	if !expiring {
		return nil
	}
	ts.done = make(chan struct{})
	go sweep(ts, every, ts.done)
	return nil
}

func sweep(ts *Tables, every time.Duration, done <-chan struct{}) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case <-tk.C:
			for _, t := range ts.byName {
				t.Sweep()
			}
		}
	}
}

// cache is a worker's htable state for the message in hand.
type cache struct {
	rt    *core.Runtime
	ts    *Tables
	key   []byte    // $sht keys expanded from a pseudo-variable
	locks locks     // sht_lock held by this worker
	iters iterators // sht_iterator_* of this worker (iter.go)
}

// A new message frees the locks and iterators an earlier one left behind
// (Kamailio's scripts unlock, but an error can cut a route short) and
// keeps the worker's buffers.
var caches = core.NewMsgState(func(old *cache) cache {
	old.locks.releaseStale()
	old.iters.reset()
	return cache{rt: old.rt, ts: old.ts, key: old.key[:0], locks: old.locks, iters: old.iters}
})

func cached(ctx *core.Ctx) *cache {
	c := caches.Get(ctx)
	if c.rt != ctx.RT {
		c.rt, c.ts = ctx.RT, Of(ctx.RT)
		c.iters.reset()
	}
	return c
}

func table(ctx *core.Ctx, name string) *Table { return cached(ctx).ts.byName[name] }

// tableOrLog finds a table and logs a missing one at error level, as
// Kamailio does, naming the function.
func tableOrLog(ctx *core.Ctx, fn, name string) *Table {
	t := table(ctx, name)
	if t == nil {
		ctx.Log(core.LErr, "htable: "+fn+": no such htable: "+name+"\n")
	}
	return t
}

func value(it item) core.Value {
	if it.str {
		return core.Str(it.s)
	}
	return core.Int(it.n)
}

// get is sht_get with the null the variant gives.
func get(ctx *core.Ctx, tname, key string, null core.Value) core.Value {
	t := tableOrLog(ctx, "sht_get", tname)
	if t == nil {
		return null
	}
	if it, ok := t.Get(key); ok {
		return value(it)
	}
	if t.HasInit {
		return core.Int(t.Init)
	}
	return null
}

// Get is sht_get.
func Get(ctx *core.Ctx, tname, key string) core.Value { return get(ctx, tname, key, core.Null()) }

// Gete is sht_gete.
func Gete(ctx *core.Ctx, tname, key string) core.Value { return get(ctx, tname, key, core.Str("")) }

// Getw is sht_getw.
func Getw(ctx *core.Ctx, tname, key string) core.Value {
	return get(ctx, tname, key, core.Str("<null>"))
}

// IsNull is sht_is_null.
func IsNull(ctx *core.Ctx, tname, key string) int {
	t := table(ctx, tname)
	switch {
	case t == nil:
		return 2
	case t.HasInit:
		return -2
	}
	if _, ok := t.Get(key); ok {
		return -1
	}
	return 1
}

func set(ctx *core.Ctx, fn, tname, key string, v item, expire int) int {
	t := tableOrLog(ctx, fn, tname)
	if t == nil {
		return -1
	}
	t.Set(key, v, expire)
	return 1
}

// Sets is sht_sets.
func Sets(ctx *core.Ctx, tname, key, v string) int {
	return set(ctx, "sht_sets", tname, key, item{s: v, str: true}, 0)
}

// Seti is sht_seti.
func Seti(ctx *core.Ctx, tname, key string, v int) int {
	return set(ctx, "sht_seti", tname, key, item{n: int64(v)}, 0)
}

// Setxs is sht_setxs.
func Setxs(ctx *core.Ctx, tname, key, v string, expire int) int {
	return set(ctx, "sht_setxs", tname, key, item{s: v, str: true}, expire)
}

// Setxi is sht_setxi.
func Setxi(ctx *core.Ctx, tname, key string, v, expire int) int {
	return set(ctx, "sht_setxi", tname, key, item{n: int64(v)}, expire)
}

// Setex is sht_setex.
func Setex(ctx *core.Ctx, tname, key string, expire int) int {
	t := tableOrLog(ctx, "sht_setex", tname)
	if t == nil {
		return -1
	}
	t.SetExpire(key, expire)
	return 1
}

// Rm is sht_rm.
func Rm(ctx *core.Ctx, tname, key string) int {
	t := tableOrLog(ctx, "sht_rm", tname)
	if t == nil {
		return -1
	}
	t.Delete(key)
	return 1
}

// NoIntVal is what sht_inc and sht_dec return when there is no integer to
// change (Kamailio's KSR_HT_KEMI_NOINTVAL).
const NoIntVal = -255

func add(ctx *core.Ctx, tname, key string, d int64) int {
	t := table(ctx, tname)
	if t == nil {
		return NoIntVal
	}
	n, ok := t.Add(key, d)
	if !ok {
		return NoIntVal
	}
	return int(n)
}

// Inc is sht_inc.
func Inc(ctx *core.Ctx, tname, key string) int { return add(ctx, tname, key, 1) }

// Dec is sht_dec.
func Dec(ctx *core.Ctx, tname, key string) int { return add(ctx, tname, key, -1) }

// Reset is sht_reset. Kamailio returns 0 on success, which would end a
// native route; kemi returns 1.
func Reset(ctx *core.Ctx, tname string) int {
	t := tableOrLog(ctx, "sht_reset", tname)
	if t == nil {
		return -1
	}
	t.Reset()
	return 1
}

// matcher compares a name or value with an operand by an operator.
type matcher struct {
	op  string
	val string
	re  *regexp.Regexp
}

func newMatcher(op, val string) (matcher, error) {
	m := matcher{op: op, val: val}
	switch op {
	case "eq", "ne", "sw", "ew", "in":
	case "re":
		re, err := compile(val)
		if err != nil {
			return m, err
		}
		m.re = re
	default:
		return m, fmt.Errorf("unknown operator %q", op)
	}
	return m, nil
}

func (m *matcher) match(s string) bool {
	switch m.op {
	case "eq":
		return s == m.val
	case "ne":
		return s != m.val
	case "sw":
		return strings.HasPrefix(s, m.val)
	case "ew":
		return strings.HasSuffix(s, m.val)
	case "in":
		return strings.Contains(s, m.val)
	}
	return m.re.MatchString(s)
}

// regexps are matched without case, as Kamailio's REG_EXTENDED|REG_ICASE.
var regexps = recache.New("(?i)")

// compile compiles a POSIX-style extended expression matched without case.
func compile(pat string) (*regexp.Regexp, error) {
	re, err := regexps.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression %q: %v", pat, err)
	}
	return re, nil
}

// matchItems reports whether any live item matches (byValue: string
// values; otherwise names).
func matchItems(ctx *core.Ctx, fn, tname, op, val string, byValue bool) int {
	t := tableOrLog(ctx, fn, tname)
	if t == nil {
		return -1
	}
	if op == "eq" && !byValue {
		// One lookup instead of Kamailio's scan of every slot.
		if _, ok := t.Get(val); ok {
			return 1
		}
		return -1
	}
	m, err := newMatcher(op, val)
	if err != nil || op == "ew" || op == "in" {
		ctx.Log(core.LWarn, "htable: "+fn+": unsupported match operator "+op+" (expected eq, ne, re or sw)\n")
		return -1
	}
	found := false
	t.Each(func(k string, it *item) action {
		s := k
		if byValue {
			if !it.str {
				return keep
			}
			s = it.s
		}
		if m.match(s) {
			found = true
			return stop
		}
		return keep
	})
	if found {
		return 1
	}
	return -1
}

// MatchName is sht_match_name.
func MatchName(ctx *core.Ctx, tname, op, val string) int {
	return matchItems(ctx, "sht_match_name", tname, op, val, false)
}

// MatchStrValue is sht_match_str_value.
func MatchStrValue(ctx *core.Ctx, tname, op, val string) int {
	return matchItems(ctx, "sht_match_str_value", tname, op, val, true)
}

// rmItems removes every item whose name (or string value) matches.
func rmItems(ctx *core.Ctx, fn string, t *Table, op, val string, byValue bool) int {
	m, err := newMatcher(op, val)
	if err != nil || op == "eq" || op == "ne" {
		ctx.Log(core.LWarn, "htable: "+fn+": unsupported match operator "+op+" (expected re, sw, ew or in)\n")
		return -1
	}
	t.Each(func(k string, it *item) action {
		s := k
		if byValue {
			if !it.str {
				return keep
			}
			s = it.s
		}
		if m.match(s) {
			return remove
		}
		return keep
	})
	return 1
}

// RmName is sht_rm_name.
func RmName(ctx *core.Ctx, tname, op, val string) int {
	t := tableOrLog(ctx, "sht_rm_name", tname)
	if t == nil {
		return -1
	}
	return rmItems(ctx, "sht_rm_name", t, op, val, false)
}

// RmValue is sht_rm_value.
func RmValue(ctx *core.Ctx, tname, op, val string) int {
	t := tableOrLog(ctx, "sht_rm_value", tname)
	if t == nil {
		return -1
	}
	return rmItems(ctx, "sht_rm_value", t, op, val, true)
}

// RmNameRe is sht_rm_name_re; a missing table is not an error, as in
// Kamailio.
func RmNameRe(ctx *core.Ctx, tname, re string) int {
	t := table(ctx, tname)
	if t == nil {
		return 1
	}
	return rmItems(ctx, "sht_rm_name_re", t, "re", re, false)
}

// RmValueRe is sht_rm_value_re.
func RmValueRe(ctx *core.Ctx, tname, re string) int {
	t := table(ctx, tname)
	if t == nil {
		return 1
	}
	return rmItems(ctx, "sht_rm_value_re", t, "re", re, true)
}

// Cn is sht_cn: count items by name.
func Cn(ctx *core.Ctx, tname, op, pat string) int {
	t := tableOrLog(ctx, "sht_cn", tname)
	if t == nil {
		return -1
	}
	if op == "" {
		op = "~~"
	}
	n, ok := count(t, op, pat, false)
	if !ok {
		ctx.Log(core.LErr, "htable: sht_cn: invalid operator "+op+" or expression "+pat+"\n")
		if op == "~~" {
			return 0
		}
		return -1
	}
	return n
}

// count counts live items whose name (or string value) matches pat by
// op, the operators of Kamailio's $shtcn: "~~" regular expression, "=="
// equal, "%~" starts with, "~%" ends with, "**" every item, "eq" integer
// value equal (values only).
func count(t *Table, op, pat string, byValue bool) (int, bool) {
	var m matcher
	switch op {
	case "**":
		return t.Len(), true
	case "~~":
		re, err := compile(pat)
		if err != nil {
			return 0, false
		}
		m = matcher{op: "re", re: re}
	case "==":
		m = matcher{op: "eq", val: pat}
	case "%~":
		m = matcher{op: "sw", val: pat}
	case "~%":
		m = matcher{op: "ew", val: pat}
	case "eq":
		if !byValue {
			return 0, true // integer equality compares values; names never match
		}
		want, err := strconv.ParseInt(pat, 10, 64)
		if err != nil {
			return 0, false
		}
		n := 0
		t.Each(func(_ string, it *item) action {
			if !it.str && it.n == want {
				n++
			}
			return keep
		})
		return n, true
	default:
		return 0, false
	}
	n := 0
	t.Each(func(k string, it *item) action {
		s := k
		if byValue {
			if !it.str {
				return keep
			}
			s = it.s
		}
		if m.match(s) {
			n++
		}
		return keep
	})
	return n, true
}
