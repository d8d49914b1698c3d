// Package debugger implements module debugger: per-module log levels
// (core.Logger.SetModLevel) from the mod_level params and the
// dbg.set_mod_level RPC, as Kamailio's debugger module sets them.
package debugger

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"kemi/core"
)

// accepted are the params of Kamailio's module kemi takes and ignores.
var accepted = []string{"cfgtrace", "breakpoint", "mod_facility_mode", "log_assign", "cfgtest"}

func start(rt *core.Runtime) error {
	levels := rt.ParamValues("debugger", "mod_level")
	on := rt.Param("debugger", "mod_level_mode").I == 1
	for _, v := range levels {
		if v.Kind != core.KStr || v.S == "" {
			continue
		}
		mod, lv, ok := strings.Cut(v.S, "=")
		n, err := strconv.Atoi(strings.TrimSpace(lv))
		mod = strings.TrimSpace(mod)
		if !ok || err != nil || mod == "" || n < core.LAlert || n > core.LDbg+10 {
			return fmt.Errorf(`modparam("debugger", "mod_level", %q): expected "module=level" with a level from -5 to 3`, v.S)
		}
		if on && rt.Log != nil {
			rt.Log.SetModLevel(mod, n)
		}
	}
	if rt.Log == nil {
		return nil
	}
	if len(levels) > 0 && !on {
		rt.Log.Log(core.LNotice, nil, `debugger: mod_level is set but mod_level_mode is not 1; the levels are off (as in Kamailio)`)
	}
	for _, p := range accepted {
		if v := rt.Param("debugger", p); v.Kind == core.KInt && v.I != 0 {
			rt.Log.Log(core.LNotice, nil, fmt.Sprintf(`debugger: modparam %q has no effect in kemi (only the per-module log levels are there)`, p))
		}
	}
	return nil
}

func rpcSetModLevel(rt *core.Runtime, args []core.Value) (any, error) {
	mod, err := core.RPCArgStr("dbg.set_mod_level", args, 0, "module")
	if err != nil {
		return nil, err
	}
	if len(args) < 2 {
		return nil, errors.New("dbg.set_mod_level: missing argument 2 (level)")
	}
	n, err := strconv.Atoi(args[1].String())
	if err != nil || n < core.LAlert || n > core.LDbg+10 {
		return nil, fmt.Errorf("dbg.set_mod_level: level: expected -5 to 3, got %s", core.LogQuote(args[1].String()))
	}
	if mod == "" || len(mod) > 64 {
		return nil, fmt.Errorf("dbg.set_mod_level: module: expected a module name, got %s", core.LogQuote(mod))
	}
	rt.Log.SetModLevel(mod, n)
	return nil, nil
}

func rpcGetModLevel(rt *core.Runtime, args []core.Value) (any, error) {
	mod, err := core.RPCArgStr("dbg.get_mod_level", args, 0, "module")
	if err != nil {
		return nil, err
	}
	if n, ok := rt.Log.ModLevel(mod); ok {
		return n, nil
	}
	return rt.Log.CurLevel(), nil
}
