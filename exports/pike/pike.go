// Package pike implements module pike: per source IP flood detection with
// Kamailio's counting rules (tree.go). The tree is built when the config
// loads (start: in module.yaml) and shared by every worker; a goroutine starts a
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

// state is what one runtime keeps: the tree and the log level.
type state struct {
	tree     *Tree
	logLevel int

	done     chan struct{} // closed by stop to end the timer
	stopOnce sync.Once
}

// states is each runtime's state, set by start (nil when not started).
var states = core.NewRuntimeState[state](nil)

// stop ends the timer (stop: in module.yaml).
func stop(rt *core.Runtime) {
	if st := states.Peek(rt); st != nil {
		st.stopOnce.Do(func() { close(st.done) })
	}
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
	st := &state{tree: NewTree(int(density), latency*int64(time.Second), maxNodes), logLevel: int(lvl.I), done: make(chan struct{})}
	states.Set(rt, st)
	go run(st.tree, int(unit), st.done)
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

func stateOf(ctx *core.Ctx) *state { return states.Peek(ctx.RT) }

// now is the clock Mark reads; tests replace it.
var now = func() int64 { return time.Now().UnixNano() }

func check(ctx *core.Ctx, a netip.Addr) int {
	st := stateOf(ctx)
	if st == nil {
		ctx.Log(core.LErr, "pike: the module was not started\n")
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
