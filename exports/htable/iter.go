package htable

import (
	"strconv"

	"kemi/core"
)

// Iterators (sht_iterator_start/next/end and $shtitkey/$shtitval) walk a
// table one shard at a time. Kamailio's iterator holds the lock of the
// slot it stands in between two calls of the script, so a script that
// forgets sht_iterator_end, or fails in the loop, wedges every worker that
// touches that slot. kemi never holds a lock while the script runs: when
// an iterator enters a shard it copies that shard's live items (the string
// headers, not the bytes) into a buffer the iterator keeps, and walks the
// copy. Items set or removed in a shard the iterator has not reached yet
// are seen; changes to the shard it stands in, or has passed, are not.
//
// As in Kamailio a worker has at most MaxIterators named iterators, with
// names shorter than MaxIteratorName bytes. Unlike Kamailio they last one
// message: the worker's first htable call for another message ends them
// all, so an iterator a script never ends costs nothing past its message
// and cannot use up the worker's iterators for good.

// MaxIterators is how many iterators a worker has at once (Kamailio's
// HT_ITERATOR_SIZE).
const MaxIterators = 4

// MaxIteratorName bounds an iterator's name (Kamailio's
// HT_ITERATOR_NAME_SIZE, which counts the terminating NUL).
const MaxIteratorName = 32

// keepSnapshot is the largest snapshot buffer an iterator keeps for reuse
// once its message is done; a bigger one (a huge shard) is let go.
const keepSnapshot = 4096

type snapItem struct {
	key string
	it  item
}

type iterator struct {
	name  string // "" when the iterator is free
	t     *Table
	shard int        // next shard to copy
	items []snapItem // the copy of the shard being walked
	pos   int        // current index in items; -1 before the first next
}

// cur returns the item the iterator stands on, or nil.
func (it *iterator) cur() *snapItem {
	if it.t == nil || it.pos < 0 || it.pos >= len(it.items) {
		return nil
	}
	return &it.items[it.pos]
}

func (it *iterator) release() {
	clear(it.items)
	it.items = it.items[:0]
	if cap(it.items) > keepSnapshot {
		it.items = nil
	}
	it.name, it.t, it.shard, it.pos = "", nil, 0, -1
}

type iterators [MaxIterators]iterator

func (its *iterators) reset() {
	for i := range its {
		its[i].release()
	}
}

// find returns the iterator named name, or nil.
func (its *iterators) find(name string) *iterator {
	for i := range its {
		if its[i].name != "" && its[i].name == name {
			return &its[i]
		}
	}
	return nil
}

// IteratorStart is sht_iterator_start.
func IteratorStart(ctx *core.Ctx, iname, tname string) int {
	c := cached(ctx)
	switch {
	case iname == "":
		ctx.Log(core.LErr, "htable: sht_iterator_start: expected an iterator name, got \"\"\n")
		return -1
	case len(iname) >= MaxIteratorName:
		ctx.Log(core.LErr, "htable: sht_iterator_start: iterator name "+core.LogQuote(iname)+" is too long (at most "+strconv.Itoa(MaxIteratorName-1)+" bytes)\n")
		return -1
	}
	t := c.ts.byName[tname]
	if t == nil {
		ctx.Log(core.LErr, "htable: sht_iterator_start: no such htable: "+core.LogQuote(tname)+"\n")
		return -1
	}
	it := c.iters.find(iname)
	if it == nil {
		for i := range c.iters {
			if c.iters[i].name == "" {
				it = &c.iters[i]
				break
			}
		}
	}
	if it == nil {
		ctx.Log(core.LErr, "htable: sht_iterator_start: no iterator free for "+core.LogQuote(iname)+" (at most "+strconv.Itoa(MaxIterators)+" per worker; end one with sht_iterator_end)\n")
		return -1
	}
	it.release()
	it.name, it.t = iname, t
	return 1
}

// IteratorNext is sht_iterator_next: move to the next item.
func IteratorNext(ctx *core.Ctx, iname string) int {
	it := cached(ctx).iters.find(iname)
	if it == nil || it.t == nil {
		ctx.Log(core.LErr, "htable: sht_iterator_next: no iterator "+core.LogQuote(iname)+" (start it with sht_iterator_start)\n")
		return -1
	}
	it.pos++
	t := it.t
	for it.pos >= len(it.items) {
		clear(it.items)
		it.items = it.items[:0]
		it.pos = 0
		if it.shard >= len(t.shards) {
			it.pos = -1
			return -1
		}
		it.items = t.snapshot(it.shard, it.items)
		it.shard++
	}
	return 1
}

// IteratorEnd is sht_iterator_end.
func IteratorEnd(ctx *core.Ctx, iname string) int {
	it := cached(ctx).iters.find(iname)
	if it == nil {
		return -1
	}
	it.release()
	return 1
}

// current returns the item iterator iname stands on, logging when there
// is none.
func current(ctx *core.Ctx, fn, iname string) (*iterator, *snapItem) {
	it := cached(ctx).iters.find(iname)
	if it == nil {
		ctx.Log(core.LErr, "htable: "+fn+": no iterator "+core.LogQuote(iname)+"\n")
		return nil, nil
	}
	cur := it.cur()
	if cur == nil {
		ctx.Log(core.LErr, "htable: "+fn+": iterator "+core.LogQuote(iname)+" stands on no item (call sht_iterator_next first)\n")
		return nil, nil
	}
	return it, cur
}

// IteratorRm is sht_iterator_rm: remove the current item from the table.
// $shtitkey and $shtitval still give it until the next sht_iterator_next.
func IteratorRm(ctx *core.Ctx, iname string) int {
	it, cur := current(ctx, "sht_iterator_rm", iname)
	if cur == nil {
		return -1
	}
	it.t.Delete(cur.key)
	return 1
}

// IteratorSets is sht_iterator_sets: set the current item to a string.
func IteratorSets(ctx *core.Ctx, iname, v string) int {
	it, cur := current(ctx, "sht_iterator_sets", iname)
	if cur == nil {
		return -1
	}
	cur.it = item{s: v, str: true}
	it.t.Set(cur.key, cur.it, 0)
	return 1
}

// IteratorSeti is sht_iterator_seti: set the current item to an integer.
func IteratorSeti(ctx *core.Ctx, iname string, v int) int {
	it, cur := current(ctx, "sht_iterator_seti", iname)
	if cur == nil {
		return -1
	}
	cur.it = item{n: int64(v)}
	it.t.Set(cur.key, cur.it, 0)
	return 1
}

// IteratorSetex is sht_iterator_setex: set the current item's expiry.
func IteratorSetex(ctx *core.Ctx, iname string, expire int) int {
	it, cur := current(ctx, "sht_iterator_setex", iname)
	if cur == nil {
		return -1
	}
	it.t.SetExpire(cur.key, expire)
	return 1
}

// snapshot appends the live items of shard i to dst.
func (t *Table) snapshot(i int, dst []snapItem) []snapItem {
	sh := &t.shards[i]
	sh.mu.Lock()
	now := t.now()
	for k, it := range sh.m {
		if !t.live(&it, now) {
			delete(sh.m, k)
			continue
		}
		dst = append(dst, snapItem{k, it})
	}
	sh.mu.Unlock()
	return dst
}

// getShtitkey is $shtitkey(iname).
func getShtitkey(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	it := cached(ctx).iters.find(arg)
	if it == nil || it.cur() == nil {
		return dst, false
	}
	return append(dst, it.cur().key...), true
}

// getShtitval is $shtitval(iname).
func getShtitval(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	it := cached(ctx).iters.find(arg)
	if it == nil || it.cur() == nil {
		return dst, false
	}
	v := it.cur().it
	if v.str {
		return append(dst, v.s...), true
	}
	return strconv.AppendInt(dst, v.n, 10), true
}
