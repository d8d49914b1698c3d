package kcore

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"kemi/core"
)

// The core's RPC methods (core.*, stats.*, cfg.*), with Kamailio's names
// and result shapes. They are always there; loadmodule "kex.so" adds only
// kex's script functions (exports/kex).

func rpcCoreVersion(*core.Runtime, []core.Value) (any, error) {
	return "kemi " + core.Version + " (" + runtime.GOARCH + "/" + runtime.GOOS + ")", nil
}

// kamailio's ctime format, without the trailing newline.
const ctime = "Mon Jan _2 15:04:05 2006"

func started(rt *core.Runtime) time.Time {
	if rt.Control != nil && !rt.Control.Started.IsZero() {
		return rt.Control.Started
	}
	return processStart
}

var processStart = time.Now()

func rpcCoreUptime(rt *core.Runtime, _ []core.Value) (any, error) {
	now := time.Now()
	up := started(rt)
	return map[string]any{
		"now":      now.Format(ctime),
		"up_since": up.Format(ctime),
		"uptime":   int64(now.Sub(up).Seconds()),
	}, nil
}

func rpcCoreInfo(*core.Runtime, []core.Value) (any, error) {
	return map[string]any{
		"version":  "kemi " + core.Version,
		"id":       "kemi",
		"compiler": runtime.Version(),
		"compiled": "",
		"flags":    runtime.GOARCH + "/" + runtime.GOOS,
	}, nil
}

func procs(rt *core.Runtime) []core.Proc {
	if rt.Control != nil && rt.Control.Procs != nil {
		return rt.Control.Procs()
	}
	return []core.Proc{{Index: 0, PID: os.Getpid(), Desc: "main process"}}
}

// core.ps is a flat list of PID and description, as kamcmd prints it.
func rpcCorePS(rt *core.Runtime, _ []core.Value) (any, error) {
	var out []any
	for _, p := range procs(rt) {
		out = append(out, p.PID, p.Desc)
	}
	return out, nil
}

func rpcCorePSX(rt *core.Runtime, _ []core.Value) (any, error) {
	var out []map[string]any
	for _, p := range procs(rt) {
		out = append(out, map[string]any{"IDX": p.Index, "PID": p.PID, "DSC": p.Desc})
	}
	return out, nil
}

// stats.get_statistics "all" | "group:" | "group:name" ...: a list of
// "group:name = value" strings, as Kamailio's kex answers.
func rpcStatsGet(rt *core.Runtime, args []core.Value) (any, error) {
	if len(args) == 0 {
		args = []core.Value{core.Str("all")}
	}
	out := []string{}
	for _, a := range args {
		for _, s := range rt.Stats(a.String()) {
			out = append(out, s.Name+" = "+strconv.FormatInt(s.Value, 10))
		}
	}
	return out, nil
}

func rpcStatsReset(rt *core.Runtime, args []core.Value) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("stats.reset_statistics: expected a statistic, \"group:\" or \"all\"")
	}
	for _, a := range args {
		rt.ResetStats(a.String())
	}
	return nil, nil
}

func cfgVar(method string, args []core.Value) error {
	if len(args) < 2 {
		return fmt.Errorf("%s: expected GROUP NAME%s, got %d arguments", method, map[bool]string{true: " VALUE"}[method == "cfg.set"], len(args))
	}
	if args[0].String() != "core" || args[1].String() != "debug" {
		return fmt.Errorf("%s: %s.%s: unknown; kemi has core.debug", method, args[0].String(), args[1].String())
	}
	return nil
}

// cfg.get core debug: the log level in force.
func rpcCfgGet(rt *core.Runtime, args []core.Value) (any, error) {
	if err := cfgVar("cfg.get", args); err != nil {
		return nil, err
	}
	return rt.Log.CurLevel(), nil
}

// cfg.set core debug N: the log level, at once for every worker.
func rpcCfgSet(rt *core.Runtime, args []core.Value) (any, error) {
	if err := cfgVar("cfg.set", args); err != nil {
		return nil, err
	}
	if len(args) < 3 {
		return nil, errors.New("cfg.set: expected GROUP NAME VALUE")
	}
	v := args[2]
	n := v.I
	if v.Kind != core.KInt {
		var ok bool
		if n, ok = core.IntArg(v.String()); !ok {
			return nil, fmt.Errorf("cfg.set core debug: expected a level from -5 to 3, got %q", v.String())
		}
	}
	if n < core.LAlert || n > core.LDbg {
		return nil, fmt.Errorf("cfg.set core debug: expected a level from -5 to 3, got %d", n)
	}
	rt.Log.SetLevel(int(n))
	return 0, nil
}
