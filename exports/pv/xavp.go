package pv

import (
	"strconv"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// An xavp (extended AVP) is a named value that is either plain (an int or
// a string) or a list of named children, as Kamailio's $xavp. Items with
// the same name stack: the newest is index 0. They live for one message,
// as $avp does.
//
// Items and children are appended and indexed from the end, so adding one
// is an append and per-message reset keeps every slice's capacity.
type xitem struct {
	v    core.Value
	list bool
	kids []xkid // when list: children, newest last
}

type xkid struct {
	name string
	v    core.Value
}

// maxNames bounds the names a worker's maps keep between messages: names
// built at run time would otherwise grow them forever. Past it the maps
// are dropped at the next message.
const maxNames = 1024

// xitems is the stack of name, newest last.
func xitems(ctx *core.Ctx, name string) []xitem { return store(ctx).xavps[name] }

// xnth returns the idx-th newest item of name (negative idx counts from
// the oldest), or nil.
func xnth(items []xitem, idx int) *xitem {
	if p := xpos(items, idx); p >= 0 {
		return &items[p]
	}
	return nil
}

// xpos is the position in items of the idx-th newest item, or -1.
func xpos(items []xitem, idx int) int {
	if idx < 0 {
		idx += len(items)
	}
	if idx < 0 || idx >= len(items) {
		return -1
	}
	return len(items) - 1 - idx
}

// kidPos returns the position in kids of the idx-th newest child named
// name (negative idx counts from the oldest), or -1.
func kidPos(kids []xkid, name string, idx int) int {
	if idx < 0 {
		n := 0
		for i := range kids {
			if kids[i].name == name {
				n++
			}
		}
		idx += n
		if idx < 0 {
			return -1
		}
	}
	for i := len(kids) - 1; i >= 0; i-- {
		if kids[i].name == name {
			if idx == 0 {
				return i
			}
			idx--
		}
	}
	return -1
}

// pushItem adds a new newest item to name and returns it, reusing the
// children slice a reset left behind.
func pushItem(ctx *core.Ctx, name string) *xitem {
	st := store(ctx)
	items := st.xavps[name]
	if len(items) < cap(items) {
		items = items[:len(items)+1]
	} else {
		items = append(items, xitem{})
	}
	it := &items[len(items)-1]
	it.v, it.list, it.kids = core.Value{}, false, it.kids[:0]
	st.xavps[name] = items
	return it
}

// XavpAdd adds a plain value as the newest item of $xavp(name).
func XavpAdd(ctx *core.Ctx, name string, v core.Value) { pushItem(ctx, name).v = v }

// XavpAddList adds a new newest item to $xavp(name) whose children are
// names[i] = vals[i] (sqlops' sql_xquery: one item per row, a child per
// column). A null value is a child that reads as $null.
func XavpAddList(ctx *core.Ctx, name string, names []string, vals []core.Value) {
	x := pushItem(ctx, name)
	x.list = true
	for i, n := range names {
		if i < len(vals) {
			x.kids = append(x.kids, xkid{name: n, v: vals[i]})
		}
	}
}

// XavpGet returns the value of the newest item of $xavp(name): its value,
// "<<xavp>>" for a list of children (Kamailio prints an address there), or
// false when there is none or it is null.
func XavpGet(ctx *core.Ctx, name string) (core.Value, bool) {
	it := xnth(xitems(ctx, name), 0)
	if it == nil {
		return core.Value{}, false
	}
	return itemValue(it)
}

func itemValue(it *xitem) (core.Value, bool) {
	if it.list {
		return core.Str("<<xavp>>"), true
	}
	return it.v, !it.v.IsNull()
}

// XavpRemove removes the newest item of $xavp(name) (all of them when
// all is set).
func XavpRemove(ctx *core.Ctx, name string, all bool) {
	st := store(ctx)
	items := st.xavps[name]
	if len(items) == 0 {
		return
	}
	if all {
		st.xavps[name] = items[:0]
		return
	}
	st.xavps[name] = items[:len(items)-1]
}

// XavpParamsExplode adds a new newest item to $xavp(name) holding one
// string child per parameter of params, "a=1;b=2" (a trailing ';' is
// allowed, quotes are removed). It fails for an empty list or name, or a
// parameter without a name.
func XavpParamsExplode(ctx *core.Ctx, params, name string) error {
	if params == "" || name == "" {
		return &pvError{"expected a parameter list and an xavp name, got " + strconv.Quote(clipText(params)) + " and " + strconv.Quote(clipText(name))}
	}
	var kids []xkid
	it := sip.Params(params).Iter()
	for it.Next() {
		n := it.Name()
		if len(n) == 0 {
			return &pvError{"a parameter without a name in " + strconv.Quote(clipText(params))}
		}
		kids = append(kids, xkid{name: string(n), v: core.Str(string(it.Value()))})
	}
	if len(kids) == 0 {
		return &pvError{"no parameters in " + strconv.Quote(clipText(params))}
	}
	x := pushItem(ctx, name)
	x.list = true
	x.kids = append(x.kids, kids...)
	return nil
}

func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// xname is a parsed $xavp argument: "name[idx]=>key[kidx]".
type xname struct {
	name, key string
	idx, kidx int
	hasIdx    bool
	allIdx    bool // name[*]
	hasKidx   bool
	allKidx   bool // key[*]
	hasKey    bool
}

// parseXname parses "a", "a[1]", "a=>b", "a[0]=>b[-1]", "a[*]", "a=>b[*]".
func parseXname(arg string) (xname, bool) {
	var x xname
	first, second, hasKey := strings.Cut(arg, "=>")
	var ok bool
	if x.name, x.idx, x.hasIdx, x.allIdx, ok = parseIndexed(first); !ok {
		return x, false
	}
	if hasKey {
		x.hasKey = true
		if x.key, x.kidx, x.hasKidx, x.allKidx, ok = parseIndexed(second); !ok {
			return x, false
		}
	}
	return x, true
}

func parseIndexed(s string) (name string, idx int, has, all, ok bool) {
	s = strings.TrimSpace(s)
	lb := strings.IndexByte(s, '[')
	if lb < 0 {
		return s, 0, false, false, s != ""
	}
	if !strings.HasSuffix(s, "]") || lb == 0 {
		return "", 0, false, false, false
	}
	name, in := s[:lb], s[lb+1:len(s)-1]
	if in == "*" {
		return name, 0, true, true, true
	}
	n, err := strconv.Atoi(in)
	if err != nil {
		return "", 0, false, false, false
	}
	return name, n, true, false, true
}

// xavpValue reads $xavp(arg).
func xavpValue(ctx *core.Ctx, arg string) (core.Value, bool) {
	x, ok := parseXname(arg)
	if !ok || x.allIdx {
		return core.Value{}, false
	}
	it := xnth(xitems(ctx, x.name), x.idx)
	if it == nil {
		return core.Value{}, false
	}
	if !x.hasKey {
		return itemValue(it)
	}
	if !it.list {
		return core.Value{}, false
	}
	if x.allKidx {
		// Every value of the key, newest first, joined as Kamailio does.
		var b []byte
		n := 0
		for i := len(it.kids) - 1; i >= 0; i-- {
			if it.kids[i].name != x.key {
				continue
			}
			if n > 0 {
				b = append(b, ", "...)
			}
			b, _ = appendValue(b, it.kids[i].v)
			n++
		}
		if n == 0 {
			return core.Value{}, false
		}
		return core.Str(string(b)), true
	}
	p := kidPos(it.kids, x.key, x.kidx)
	if p < 0 || it.kids[p].v.IsNull() {
		return core.Value{}, false
	}
	return it.kids[p].v, true
}

// setXavp assigns to $xavp(arg) as Kamailio's pv_set_xavp does: without
// an index a value is added as the newest item (or, with a key, as a new
// item holding that one child); with an index it replaces the value there
// (or adds the key to that item). Null removes the newest item, the
// indexed one, or all with [*]; with a key it removes that child.
func setXavp(ctx *core.Ctx, arg string, v core.Value) error {
	x, ok := parseXname(arg)
	if !ok {
		return &pvError{"$xavp(" + clipText(arg) + "): expected name, name[index] or name[index]=>key[index]"}
	}
	st := store(ctx)
	items := st.xavps[x.name]
	if v.IsNull() {
		if !x.hasKey {
			switch {
			case x.allIdx:
				XavpRemove(ctx, x.name, true)
			case !x.hasIdx || x.idx == 0:
				XavpRemove(ctx, x.name, false)
			default:
				if i := xpos(items, x.idx); i >= 0 {
					copy(items[i:], items[i+1:])
					// The vacated slot would share its children with the
					// item shifted out of it.
					items[len(items)-1] = xitem{}
					st.xavps[x.name] = items[:len(items)-1]
				}
			}
			return nil
		}
		rm := func(it *xitem) {
			if !it.list {
				return
			}
			if x.allKidx {
				k := it.kids[:0]
				for _, kid := range it.kids {
					if kid.name != x.key {
						k = append(k, kid)
					}
				}
				it.kids = k
				return
			}
			if p := kidPos(it.kids, x.key, x.kidx); p >= 0 {
				it.kids = append(it.kids[:p], it.kids[p+1:]...)
			}
		}
		if x.allIdx {
			for i := range items {
				rm(&items[i])
			}
		} else if it := xnth(items, x.idx); it != nil {
			rm(it)
		}
		return nil
	}
	if v.Kind != core.KInt && v.Kind != core.KStr {
		v = core.Str(v.String())
	}
	if !x.hasKey {
		if x.allIdx {
			return &pvError{"$xavp(" + clipText(arg) + "): cannot assign to every item at once"}
		}
		if !x.hasIdx {
			XavpAdd(ctx, x.name, v)
			return nil
		}
		it := xnth(items, x.idx)
		if it == nil {
			return &pvError{"$xavp(" + clipText(arg) + "): no such item"}
		}
		it.v, it.list, it.kids = v, false, it.kids[:0]
		return nil
	}
	if !x.hasIdx {
		it := pushItem(ctx, x.name)
		it.list = true
		it.kids = append(it.kids, xkid{x.key, v})
		return nil
	}
	if x.allIdx {
		return nil // Kamailio ignores it too
	}
	it := xnth(items, x.idx)
	if it == nil {
		return nil // as Kamailio: nothing to add the key to, and no error
	}
	if !it.list {
		return &pvError{"$xavp(" + clipText(arg) + "): the item holds a value, not a list of keys"}
	}
	if x.hasKidx && !x.allKidx {
		if p := kidPos(it.kids, x.key, x.kidx); p >= 0 {
			it.kids[p].v = v
		}
		return nil
	}
	it.kids = append(it.kids, xkid{x.key, v})
	return nil
}
