// Package pike implements module pike: per source IP flood detection with
// Kamailio's counting rules (tree.go). The tree is built when the config
// loads (core.OnStart) and shared by every worker; a goroutine starts a
// new counting unit every sampling_time_unit seconds and removes idle
// nodes every second, until the runtime stops.
package pike

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"kemi/core"
)

const stateKey = "pike"

// state is what one runtime keeps: the tree and the log level.
type state struct {
	tree     *Tree
	logLevel int
}

func init() {
	core.OnStart("pike", start)
	slot = core.NewSlot()
}

func param(rt *core.Runtime, name string, lo, hi int64) (int64, error) {
	v := rt.Param("pike", name)
	if v.Kind != core.KInt || v.I < lo || v.I > hi {
		return 0, fmt.Errorf(`modparam("pike", %q, %s): expected an integer %d-%d`, name, v, lo, hi)
	}
	return v.I, nil
}

func start(rt *core.Runtime) error {
	unit, err := param(rt, "sampling_time_unit", 1, 3600)
	if err != nil {
		return err
	}
	density, err := param(rt, "reqs_density_per_unit", 1, 0xfffe)
	if err != nil {
		return err
	}
	latency, err := param(rt, "remove_latency", 1, 1<<31-1)
	if err != nil {
		return err
	}
	maxNodes, err := param(rt, "max_nodes", 256, 1<<40)
	if err != nil {
		return err
	}
	lvl := rt.Param("pike", "pike_log_level")
	if latency < unit {
		// Kamailio warns about this too: an address would be forgotten
		// before its unit ends and never be blocked.
		latency = unit
	}
	st := &state{tree: NewTree(int(density), latency*int64(time.Second), maxNodes), logLevel: int(lvl.I)}
	rt.State(stateKey, func() any { return st })
	done := make(chan struct{})
	var once sync.Once
	rt.OnStop(func() { once.Do(func() { close(done) }) })
	go run(st.tree, int(unit), done)
	return nil
}

// run swaps units and cleans idle nodes, as Kamailio's two timers do.
func run(t *Tree, unit int, done <-chan struct{}) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for ticks := 1; ; ticks++ {
		select {
		case <-done:
			return
		case now := <-tk.C:
			t.Clean(now.UnixNano())
			if ticks%unit == 0 {
				t.Swap()
			}
		}
	}
}

var slot int

type cache struct {
	rt *core.Runtime
	st *state
}

func stateOf(ctx *core.Ctx) *state {
	c := ctx.Slot(slot, func() any { return new(cache) }).(*cache)
	if c.rt != ctx.RT {
		c.rt = ctx.RT
		c.st, _ = ctx.RT.State(stateKey, func() any { return (*state)(nil) }).(*state)
	}
	return c.st
}

// now is the clock Mark reads; tests replace it.
var now = func() int64 { return time.Now().UnixNano() }

func check(ctx *core.Ctx, a netip.Addr) int {
	st := stateOf(ctx)
	if st == nil {
		ctx.Log(core.LErr, "pike: the module was not started (no OnStart)\n")
		return int(OK)
	}
	var r Result
	if a = a.Unmap(); a.Is4() {
		b := a.As4()
		r = st.tree.Mark(b[:], now())
	} else {
		b := a.As16()
		r = st.tree.Mark(b[:], now())
	}
	if r == NewBlock {
		ctx.Log(st.logLevel, "PIKE - BLOCKing ip "+a.String()+"\n")
	}
	return int(r)
}

// CheckReq is pike_check_req.
func CheckReq(ctx *core.Ctx) int {
	if !ctx.Src.IsValid() {
		return int(OK)
	}
	return check(ctx, ctx.Src.Addr())
}

// BadIP is what pike_check_ip returns for text that is not an address.
const BadIP = -3

// CheckIP is pike_check_ip.
func CheckIP(ctx *core.Ctx, ip string) int {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		ctx.Log(core.LErr, "pike: pike_check_ip: failed to parse ip address: "+core.LogQuote(ip)+"\n")
		return BadIP
	}
	return check(ctx, a)
}
