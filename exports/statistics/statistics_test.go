package statistics

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"kemi/core"
)

// TestOps_StatisticsBoundedAndNoAlloc (issue 15, statistics): names built
// from message data cannot grow the table past core.MaxStatVars, bad
// names are refused, and updating a known statistic allocates nothing.
func TestOps_StatisticsBoundedAndNoAlloc(t *testing.T) {
	var log bytes.Buffer
	rt := &core.Runtime{Log: &core.Logger{Level: core.LErr, Out: &log},
		Params: map[string]map[string][]core.Value{"statistics": {"variable": {core.Str("calls"), core.Str("active/no_reset")}}}}
	if err := start(rt); err != nil {
		t.Fatal(err)
	}
	ctx := &core.Ctx{RT: rt}
	ok := 0
	for i := 0; i < core.MaxStatVars+100; i++ {
		if UpdateStat(ctx, "from-"+strconv.Itoa(i), 1) == 1 {
			ok++
		}
	}
	if ok != core.MaxStatVars-2 {
		t.Errorf("%d statistics created, want %d (the bound less the two declared)", ok, core.MaxStatVars-2)
	}
	if !strings.Contains(log.String(), "too many statistics") {
		t.Errorf("the bound was not logged: %s", log.String())
	}
	for _, bad := range []string{"", "a b", "x\r\ny", strings.Repeat("a", 65), "core:rcv_requests", "sl:x"} {
		if UpdateStat(ctx, bad, 1) != -1 {
			t.Errorf("update_stat(%q) accepted", bad)
		}
	}
	if n := testing.AllocsPerRun(100, func() { UpdateStat(ctx, "calls", 1) }); n != 0 {
		t.Errorf("update_stat of a known statistic allocates %v times", n)
	}
	if v, _ := rt.StatValue("script:calls"); v != 101 { // AllocsPerRun runs it once more
		t.Errorf("script:calls = %d, want 101", v)
	}
	UpdateStat(ctx, "active", 5)
	if rt.ResetStats("script:") != 1 {
		t.Error("reset of script: did not reset calls alone")
	}
	if v, _ := rt.StatValue("active"); v != 5 {
		t.Errorf("active (no_reset) = %d after a reset, want 5", v)
	}
	for _, bad := range []string{"x/y", "a b", ""} {
		rt2 := &core.Runtime{Params: map[string]map[string][]core.Value{"statistics": {"variable": {core.Str(bad)}}}}
		if err := start(rt2); err == nil && bad != "" {
			t.Errorf("variable %q accepted", bad)
		}
	}
}
