// Package mqueue implements module mqueue: named FIFO queues of
// (key, value) string pairs shared by every worker, defined with
// modparam("mqueue", "mqueue", "name=myq;size=100;addmode=0"). A worker
// takes the oldest item with mq_fetch and reads it through $mqk(q) and
// $mqv(q) (or mqk_get and mqv_get) until its next fetch of that queue.
//
// Queues are built when the config loads and live in the runtime's state,
// so a reload starts with empty queues, as a Kamailio restart does. Every
// queue is bounded: by its size (as in Kamailio, the oldest item goes when
// a new one would exceed it), by DefaultSize items when no size is given
// (Kamailio's queue then grows without limit), and always by MaxBytes of
// keys and values together, so no script, and no message data a script
// queues, can make memory grow without bound.
package mqueue

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"kemi/core"
	"kemi/sip"
)

// DefaultSize is the number of items a queue defined without a size (or
// with size=0) holds before the oldest is dropped.
const DefaultSize = 10000

// MaxBytes bounds the keys and values one queue holds together; past it
// the oldest items are dropped, and an item larger on its own is refused.
var MaxBytes = 16 << 20

// entry is one queued item.
type entry struct{ key, val string }

// Queue is one named queue.
type Queue struct {
	Name    string
	Size    int // most items held; the oldest goes past it
	AddMode int // 0 append, 1 keep the oldest of a key, 2 keep the newest

	mu    sync.Mutex
	items []entry // items[head:] are queued, oldest first
	head  int
	bytes int
	keys  map[string]int // items per key, for addmode 1 and 2
}

// Len returns the number of queued items.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Add queues (key, val) by the queue's addmode and bounds. It returns
// false when the item alone is larger than MaxBytes.
func (q *Queue) Add(key, val string) bool {
	size := len(key) + len(val)
	if size > MaxBytes {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.keys != nil && q.keys[key] > 0 {
		if q.AddMode == 1 {
			return true // keep the oldest
		}
		for i := q.head; i < len(q.items); i++ {
			if q.items[i].key == key {
				q.bytes -= len(q.items[i].key) + len(q.items[i].val)
				copy(q.items[i:], q.items[i+1:])
				q.items[len(q.items)-1] = entry{}
				q.items = q.items[:len(q.items)-1]
				q.keys[key]--
				break
			}
		}
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Slide the queue to the front instead of growing the slice.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, entry{key, val})
	q.bytes += size
	if q.keys != nil {
		q.keys[key]++
	}
	for len(q.items)-q.head > q.Size || q.bytes > MaxBytes {
		q.popLocked()
	}
	return true
}

// Fetch takes the oldest item.
func (q *Queue) Fetch() (key, val string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return "", "", false
	}
	e := q.popLocked()
	return e.key, e.val, true
}

func (q *Queue) popLocked() entry {
	e := q.items[q.head]
	q.items[q.head] = entry{}
	q.head++
	q.bytes -= len(e.key) + len(e.val)
	if q.keys != nil {
		if q.keys[e.key]--; q.keys[e.key] == 0 {
			delete(q.keys, e.key)
		}
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return e
}

// ParseDef parses a queue definition, "name=myq;size=100;addmode=1".
// Attributes are those of Kamailio: name (required), size, addmode (0, 1
// or 2) and dbmode, which must be 0: kemi has no database for queues.
// Errors quote the definition and say what was expected.
func ParseDef(def string) (*Queue, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("mqueue %s: %s", core.LogQuote(def), fmt.Sprintf(format, a...))
	}
	q := &Queue{}
	size := 0
	it := sip.Params(def).Iter()
	for it.Next() {
		k, v := strings.ToLower(string(it.Name())), string(it.Value())
		num := func(lo, hi int) (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return 0, bad("%s=%s: expected an integer %d-%d", k, core.LogValue(v), lo, hi)
			}
			return n, nil
		}
		var err error
		switch k {
		case "name":
			q.Name = v
		case "size":
			size, err = num(0, 1<<31-1)
		case "addmode":
			q.AddMode, err = num(0, 2)
		case "dbmode":
			if v != "0" {
				err = bad("dbmode=%s: kemi has no database behind mqueue; remove dbmode (queues live in memory)", core.LogValue(v))
			}
		default:
			err = bad("unknown attribute %s; expected name, size, addmode or dbmode", core.LogQuote(k))
		}
		if err != nil {
			return nil, err
		}
	}
	if q.Name == "" {
		return nil, bad("expected name=<queue name>")
	}
	return newQueue(q.Name, size, q.AddMode), nil
}

func newQueue(name string, size, addmode int) *Queue {
	if size <= 0 {
		size = DefaultSize
	}
	q := &Queue{Name: name, Size: size, AddMode: addmode}
	if addmode != 0 {
		q.keys = map[string]int{}
	}
	return q
}

// Queues is the set of queues of one runtime.
type Queues struct {
	byName map[string]int
	list   []*Queue
}

// Queue returns the named queue, or nil.
func (qs *Queues) Queue(name string) *Queue {
	if i, ok := qs.byName[name]; ok {
		return qs.list[i]
	}
	return nil
}

func (qs *Queues) add(q *Queue) error {
	if _, dup := qs.byName[q.Name]; dup {
		return fmt.Errorf("mqueue %s defined twice", core.LogQuote(q.Name))
	}
	qs.byName[q.Name] = len(qs.list)
	qs.list = append(qs.list, q)
	return nil
}

var queues = core.NewRuntimeState(func(*core.Runtime) *Queues { return &Queues{byName: map[string]int{}} })

// Of returns the queues of rt (empty before the config loaded).
func Of(rt *core.Runtime) *Queues { return queues.Get(rt) }

func start(rt *core.Runtime) error {
	qs := Of(rt)
	for _, v := range rt.ParamValues("mqueue", "mqueue") {
		q, err := ParseDef(v.S)
		if err != nil {
			return err
		}
		if err := qs.add(q); err != nil {
			return err
		}
	}
	size := int(rt.Param("mqueue", "mqueue_size").I)
	mode := int(rt.Param("mqueue", "mqueue_addmode").I)
	if mode < 0 || mode > 2 {
		return fmt.Errorf(`modparam("mqueue", "mqueue_addmode", %d): expected 0, 1 or 2`, mode)
	}
	for _, v := range rt.ParamValues("mqueue", "mqueue_name") {
		if v.S == "" {
			return fmt.Errorf(`modparam("mqueue", "mqueue_name", ""): expected a queue name`)
		}
		if err := qs.add(newQueue(v.S, size, mode)); err != nil {
			return err
		}
	}
	return nil
}

// worker is what one worker fetched: one item per queue, kept until its
// next fetch of that queue or mq_pv_free, as in Kamailio.
type worker struct {
	rt      *core.Runtime
	qs      *Queues
	fetched []fetched // by queue index
	name    []byte    // a queue name expanded from a pseudo-variable
}

type fetched struct {
	key, val string
	ok       bool
}

// What a worker fetched outlives the message (Kamailio keeps it until the
// next fetch): all of worker carries over.
var workers = core.NewMsgState(func(old *worker) worker { return *old })

func state(ctx *core.Ctx) *worker {
	w := workers.Get(ctx)
	if w.rt != ctx.RT {
		w.rt, w.qs = ctx.RT, Of(ctx.RT)
		w.fetched = make([]fetched, len(w.qs.list))
	}
	return w
}

// queue finds a queue, logging a missing one at error level with the
// function's name.
func queue(ctx *core.Ctx, fn, name string) (*worker, int) {
	w := state(ctx)
	i, ok := w.qs.byName[name]
	if !ok {
		ctx.Log(core.LErr, "mqueue: "+fn+": no such mqueue: "+core.LogQuote(name)+"\n")
		return w, -1
	}
	return w, i
}

// Add is mq_add.
func Add(ctx *core.Ctx, qname, key, val string) int {
	w, i := queue(ctx, "mq_add", qname)
	if i < 0 {
		return -1
	}
	if !w.qs.list[i].Add(key, val) {
		ctx.Log(core.LErr, "mqueue: mq_add: "+qname+": item of "+strconv.Itoa(len(key)+len(val))+" bytes is over the queue's "+strconv.Itoa(MaxBytes)+"\n")
		return -1
	}
	return 1
}

// Fetch is mq_fetch: 1 when an item was taken, -2 when the queue is
// empty, -1 when there is no such queue. The item fetched before is let
// go either way, as in Kamailio.
func Fetch(ctx *core.Ctx, qname string) int {
	w, i := queue(ctx, "mq_fetch", qname)
	if i < 0 {
		return -1
	}
	k, v, ok := w.qs.list[i].Fetch()
	w.fetched[i] = fetched{k, v, ok}
	if !ok {
		return -2
	}
	return 1
}

// Size is mq_size: the number of queued items, -1 when there is no such
// queue.
func Size(ctx *core.Ctx, qname string) int {
	w, i := queue(ctx, "mq_size", qname)
	if i < 0 {
		return -1
	}
	return w.qs.list[i].Len()
}

// PVFree is mq_pv_free: forget the item this worker fetched.
func PVFree(ctx *core.Ctx, qname string) int {
	w := state(ctx)
	if i, ok := w.qs.byName[qname]; ok {
		w.fetched[i] = fetched{}
	}
	return 1
}

// current returns what this worker fetched from the queue.
func current(ctx *core.Ctx, qname string) (fetched, bool) {
	w := state(ctx)
	i, ok := w.qs.byName[qname]
	if !ok || !w.fetched[i].ok {
		return fetched{}, false
	}
	return w.fetched[i], true
}

func getKey(ctx *core.Ctx, qname string, null core.Value) core.Value {
	if f, ok := current(ctx, qname); ok {
		return core.Str(f.key)
	}
	return null
}

func getVal(ctx *core.Ctx, qname string, null core.Value) core.Value {
	if f, ok := current(ctx, qname); ok {
		return core.Str(f.val)
	}
	return null
}

// MqkGet is mqk_get.
func MqkGet(ctx *core.Ctx, q string) core.Value { return getKey(ctx, q, core.Null()) }

// MqkGete is mqk_gete.
func MqkGete(ctx *core.Ctx, q string) core.Value { return getKey(ctx, q, core.Str("")) }

// MqkGetw is mqk_getw.
func MqkGetw(ctx *core.Ctx, q string) core.Value { return getKey(ctx, q, core.Str("<null>")) }

// MqvGet is mqv_get.
func MqvGet(ctx *core.Ctx, q string) core.Value { return getVal(ctx, q, core.Null()) }

// MqvGete is mqv_gete.
func MqvGete(ctx *core.Ctx, q string) core.Value { return getVal(ctx, q, core.Str("")) }

// MqvGetw is mqv_getw.
func MqvGetw(ctx *core.Ctx, q string) core.Value { return getVal(ctx, q, core.Str("<null>")) }

// pvName resolves the queue name of $mqk(q): literal text, or one
// pseudo-variable ($mqk($var(q))).
func pvName(ctx *core.Ctx, arg string) (string, bool) {
	if len(arg) < 2 || arg[0] != '$' {
		return arg, true
	}
	name, parg, ok := core.SplitPV(arg)
	if !ok {
		return arg, true
	}
	get := core.LookupPV(name)
	if get == nil {
		return "", false
	}
	w := state(ctx)
	b, ok := get(ctx, parg, w.name[:0])
	w.name = b[:0]
	return string(b), ok
}

// getMqk is $mqk(queue).
func getMqk(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	q, ok := pvName(ctx, arg)
	if !ok {
		return dst, false
	}
	f, ok := current(ctx, q)
	if !ok || f.key == "" {
		return dst, false
	}
	return append(dst, f.key...), true
}

// getMqv is $mqv(queue).
func getMqv(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	q, ok := pvName(ctx, arg)
	if !ok {
		return dst, false
	}
	f, ok := current(ctx, q)
	if !ok || f.val == "" {
		return dst, false
	}
	return append(dst, f.val...), true
}

// getMqSize is $mq_size(queue).
func getMqSize(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	q, ok := pvName(ctx, arg)
	if !ok {
		return dst, false
	}
	qq := state(ctx).qs.Queue(q)
	if qq == nil {
		return dst, false
	}
	return strconv.AppendInt(dst, int64(qq.Len()), 10), true
}
