// Package statistics implements module statistics: script-defined
// statistics (core.StatVar) declared by the "variable" param or created by
// update_stat, read through stats.get_statistics, $stat and /metrics.
package statistics

import (
	"fmt"
	"strings"

	"kemi/core"
)

// start declares the "variable" params as script:NAME.
func start(rt *core.Runtime) error {
	for _, v := range rt.ParamValues("statistics", "variable") {
		if v.Kind != core.KStr || strings.TrimSpace(v.S) == "" {
			continue
		}
		name, flag, hasFlag := strings.Cut(strings.TrimSpace(v.S), "/")
		if hasFlag && flag != "no_reset" {
			return fmt.Errorf(`modparam("statistics", "variable", %q): unknown flag %q (want no_reset)`, v.S, flag)
		}
		if err := checkName(name); err != nil {
			return fmt.Errorf(`modparam("statistics", "variable", %q): %v`, v.S, err)
		}
		if _, err := rt.NewStatVar("script", name, hasFlag); err != nil {
			return fmt.Errorf(`modparam("statistics", "variable", %q): %v`, v.S, err)
		}
	}
	return nil
}

// checkName wants a name Prometheus and kamcli can carry: letters,
// digits, '_', '-' and '.', at most 64 bytes.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("expected a name of 1 to 64 characters, got %d", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("expected letters, digits, '_', '-' or '.', got %q in %s", c, core.LogQuote(name))
		}
	}
	return nil
}

// UpdateStat is KSR.statistics.update_stat.
func UpdateStat(ctx *core.Ctx, name string, value int) int {
	if v := ctx.RT.StatVarOf(name); v != nil {
		v.Add(int64(value))
		return 1
	}
	group, short, ok := strings.Cut(name, ":")
	if !ok {
		group, short = "dynamic", name
	} else if group != "script" && group != "dynamic" {
		ctx.Log(core.LErr, "KSR.statistics.update_stat: "+core.LogQuote(name)+" is not a script statistic (script:NAME or dynamic:NAME)\n")
		return -1
	}
	if err := checkName(short); err != nil {
		ctx.Log(core.LErr, "KSR.statistics.update_stat: "+err.Error()+"\n")
		return -1
	}
	if err := checkName(group); err != nil {
		ctx.Log(core.LErr, "KSR.statistics.update_stat: group: "+err.Error()+"\n")
		return -1
	}
	v, err := ctx.RT.NewStatVar(group, short, false)
	if err != nil {
		ctx.Log(core.LErr, "KSR.statistics.update_stat: "+err.Error()+"\n")
		return -1
	}
	v.Add(int64(value))
	return 1
}

// ResetStat is KSR.statistics.reset_stat.
func ResetStat(ctx *core.Ctx, name string) int {
	v := ctx.RT.StatVarOf(name)
	if v == nil {
		ctx.Log(core.LErr, "KSR.statistics.reset_stat: no statistic "+core.LogQuote(name)+"\n")
		return -1
	}
	v.Reset()
	return 1
}
