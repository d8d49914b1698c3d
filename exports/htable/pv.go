package htable

import (
	"fmt"
	"strconv"
	"strings"

	"kemi/core"
)

// $sht(table=>key). The key is literal text or one pseudo-variable
// ($sht(ipban=>$si)), expanded into a buffer the worker keeps, so reading
// allocates nothing.

// splitArg splits "table=>key".
func splitArg(arg string) (tname, key string, ok bool) {
	tname, key, ok = strings.Cut(arg, "=>")
	return strings.TrimSpace(tname), strings.TrimSpace(key), ok && key != ""
}

// expandKey appends the key's text to buf: a pseudo-variable's value, or
// the key itself.
func expandKey(ctx *core.Ctx, key string, buf []byte) ([]byte, bool) {
	if len(key) < 2 || key[0] != '$' {
		return append(buf, key...), true
	}
	name, arg, ok := core.SplitPV(key)
	if !ok {
		return append(buf, key...), true
	}
	get := core.LookupPV(name)
	if get == nil {
		return buf, false
	}
	return get(ctx, arg, buf)
}

func getPV(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	tname, key, ok := splitArg(arg)
	if !ok {
		return dst, false
	}
	t := table(ctx, tname)
	if t == nil {
		return dst, false
	}
	c := cached(ctx)
	k, ok := expandKey(ctx, key, c.key[:0])
	c.key = k[:0]
	if !ok {
		return dst, false
	}
	it, found := t.Get(string(k)) // string(k) in a map index does not allocate
	switch {
	case found && it.str:
		return append(dst, it.s...), true
	case found:
		return strconv.AppendInt(dst, it.n, 10), true
	case t.HasInit:
		return strconv.AppendInt(dst, t.Init, 10), true
	}
	return dst, false
}

func setPV(ctx *core.Ctx, arg string, v core.Value) error {
	tname, key, ok := splitArg(arg)
	if !ok {
		return fmt.Errorf("$sht(%s): expected $sht(table=>key)", arg)
	}
	t := table(ctx, tname)
	if t == nil {
		return fmt.Errorf("$sht(%s): no such htable %q", arg, tname)
	}
	c := cached(ctx)
	k, ok := expandKey(ctx, key, c.key[:0])
	c.key = k[:0]
	if !ok {
		return fmt.Errorf("$sht(%s): key %s has no value", arg, key)
	}
	switch v.Kind {
	case core.KNull:
		t.Delete(string(k))
	case core.KInt, core.KBool:
		t.Set(string(k), item{n: v.I}, 0)
	case core.KStr:
		t.Set(string(k), item{s: v.S, str: true}, 0)
	default:
		return fmt.Errorf("$sht(%s): expected int, str or null, got %s", arg, v.Kind)
	}
	return nil
}

// The other $sht* variables of Kamailio's htable:
//
//	$shtex(t=>k)   seconds until the item expires (0: never or missing); assigning sets it
//	$shtinc(t=>k)  adds 1 and gives the new value (as sht_inc)
//	$shtdec(t=>k)  subtracts 1 and gives the new value
//	$shtcn(t=>op pattern)  count of items whose name matches ("~~re", "==name", "%~prefix", "~%suffix", "**")
//	$shtcv(t=>op pattern)  the same over string values

func getShtex(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	t, k, ok := pvItem(ctx, arg)
	if !ok {
		return dst, false
	}
	return strconv.AppendInt(dst, t.ExpiresIn(string(k)), 10), true
}

func setShtex(ctx *core.Ctx, arg string, v core.Value) error {
	t, k, ok := pvItem(ctx, arg)
	if !ok {
		return fmt.Errorf("$shtex(%s): expected $shtex(table=>key) of an existing table", arg)
	}
	if v.Kind != core.KInt && v.Kind != core.KNull {
		return fmt.Errorf("$shtex(%s): expected int seconds, got %s", arg, v.Kind)
	}
	t.SetExpire(string(k), int(v.I))
	return nil
}

// The getters module.yaml names for $shtinc, $shtdec, $shtcn and $shtcv.
var (
	getShtinc = pvAdd(1)
	getShtdec = pvAdd(-1)
	getShtcn  = pvCount(false)
	getShtcv  = pvCount(true)
)

func pvAdd(d int64) core.PVGetter {
	return func(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
		t, k, ok := pvItem(ctx, arg)
		if !ok {
			return dst, false
		}
		n, ok := t.Add(string(k), d)
		if !ok {
			return dst, false
		}
		return strconv.AppendInt(dst, n, 10), true
	}
}

func pvCount(byValue bool) core.PVGetter {
	return func(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
		tname, pat, ok := splitArg(arg)
		if !ok || len(pat) < 2 {
			return dst, false
		}
		t := table(ctx, tname)
		if t == nil {
			return dst, false
		}
		n, ok := count(t, pat[:2], pat[2:], byValue)
		if !ok {
			return dst, false
		}
		return strconv.AppendInt(dst, int64(n), 10), true
	}
}

// pvItem resolves "table=>key" with the key expanded.
func pvItem(ctx *core.Ctx, arg string) (*Table, []byte, bool) {
	tname, key, ok := splitArg(arg)
	if !ok {
		return nil, nil, false
	}
	t := table(ctx, tname)
	if t == nil {
		return nil, nil, false
	}
	c := cached(ctx)
	k, ok := expandKey(ctx, key, c.key[:0])
	c.key = k[:0]
	return t, k, ok
}
