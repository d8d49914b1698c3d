package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Statistics as Kamailio names them ("core:rcv_requests",
// "sl:sent_replies"): counters that each worker bumps in its own block
// (one uncontended atomic add, no lock, no allocation) and that a reader
// sums over the blocks; and gauges that a module computes when asked
// (tmx:active_transactions, usrloc:registered_users).

// MaxCounters bounds the counters a binary defines.
const MaxCounters = 128

// Counter is a registered counter's index.
type Counter uint16

type counterInfo struct {
	group, name, module string
	// prom, label and value, when prom is set, show the counter in
	// Prometheus as prom{label="value"} instead of under its own name.
	prom, label, value string
}

var counters []counterInfo

// NewCounter registers the counter "group:name", shown when module is
// loaded ("" for the core). Call it from a package's var block (init).
func NewCounter(module, group, name string) Counter {
	if len(counters) >= MaxCounters {
		panic("core: more than MaxCounters counters")
	}
	counters = append(counters, counterInfo{group: group, name: name, module: module})
	return Counter(len(counters) - 1)
}

// NewLabeledCounter is NewCounter for one of a family of counters that
// Prometheus shows as one metric with a label: prom{label="value"}
// (kemi_malformed_messages_total{reason="first_line"}).
func NewLabeledCounter(module, group, name, prom, label, value string) Counter {
	c := NewCounter(module, group, name)
	ci := &counters[c]
	ci.prom, ci.label, ci.value = prom, label, value
	return c
}

// LabeledStat is a labeled counter's value (see NewLabeledCounter).
type LabeledStat struct {
	Stat                    // its statistic name and value
	Prom, Label, LabelValue string
}

// LabeledStats are the labeled counters' values, in registration order.
func (rt *Runtime) LabeledStats() []LabeledStat {
	rt.st.mu.Lock()
	defer rt.st.mu.Unlock()
	var out []LabeledStat
	for i, ci := range counters {
		if ci.prom == "" || !rt.counterShown(ci) {
			continue
		}
		v := rt.st.shared.v[i].Load()
		for _, b := range rt.st.blocks {
			v += b.v[i].Load()
		}
		out = append(out, LabeledStat{Stat{ci.group + ":" + ci.name, int64(v - rt.st.base[i])}, ci.prom, ci.label, ci.value})
	}
	return out
}

// The core's forwarding counters, bumped by whoever forwards (kcore's
// forward, tm's relay, the router's stateless reply forwarding).
var (
	StatFwdRequests = NewCounter("", "core", "fwd_requests")
	StatFwdReplies  = NewCounter("", "core", "fwd_replies")
)

// StatBlock is one worker's counters; the padding keeps two workers'
// blocks off one cache line.
type StatBlock struct {
	_      [64]byte
	v      [MaxCounters]atomic.Uint64
	routes [numRouteKinds]routeStats // routestats.go
	_      [64]byte
}

// Add bumps counter c.
func (b *StatBlock) Add(c Counter, n uint64) { b.v[c].Add(n) }

type statState struct {
	mu     sync.Mutex
	blocks []*StatBlock
	shared StatBlock // for code outside a worker (timers)
	base   [MaxCounters]uint64
	gauges map[string]func() int64
	vecs   []GaugeVec
	// vars are the script statistics by "group:name" and by ":name",
	// replaced as a whole when one is added (read without a lock).
	vars atomic.Pointer[map[string]*StatVar]
}

// NewStatBlock gives a worker its own counters.
func (rt *Runtime) NewStatBlock() *StatBlock {
	b := &StatBlock{}
	rt.st.mu.Lock()
	rt.st.blocks = append(rt.st.blocks, b)
	rt.st.mu.Unlock()
	return b
}

// Count bumps counter c in the worker's block (the runtime's shared one
// outside a worker).
func (c *Ctx) Count(n Counter) {
	if c.Stats != nil {
		c.Stats.v[n].Add(1)
	} else if c.RT != nil {
		c.RT.st.shared.v[n].Add(1)
	}
}

// CountRT bumps counter c outside a worker.
func (rt *Runtime) CountRT(n Counter) { rt.st.shared.v[n].Add(1) }

// AddGauge registers a statistic computed when read, such as
// "tmx:active_transactions". Resets do not touch it.
func (rt *Runtime) AddGauge(name string, get func() int64) {
	rt.st.mu.Lock()
	if rt.st.gauges == nil {
		rt.st.gauges = map[string]func() int64{}
	}
	rt.st.gauges[name] = get
	rt.st.mu.Unlock()
}

// Stat is one statistic's name and value.
type Stat struct {
	Name  string
	Value int64
}

func (rt *Runtime) counterShown(ci counterInfo) bool {
	return ci.module == "" || rt.Reg == nil || rt.Reg.Module(ci.module) != nil
}

// Stats returns the statistics matching what, as Kamailio's
// stats.get_statistics reads it: "all", "group:" for a group, or
// "group:name" / "name" for one; sorted by name.
func (rt *Runtime) Stats(what string) []Stat {
	rt.st.mu.Lock()
	defer rt.st.mu.Unlock()
	var out []Stat
	for i, ci := range counters {
		if !rt.counterShown(ci) {
			continue
		}
		full := ci.group + ":" + ci.name
		if !statMatch(what, ci.group, ci.name) {
			continue
		}
		v := rt.st.shared.v[i].Load()
		for _, b := range rt.st.blocks {
			v += b.v[i].Load()
		}
		out = append(out, Stat{full, int64(v - rt.st.base[i])})
	}
	for name, get := range rt.st.gauges {
		g, n, _ := strings.Cut(name, ":")
		if statMatch(what, g, n) {
			out = append(out, Stat{name, get()})
		}
	}
	for _, v := range rt.statVars() {
		g, n, _ := strings.Cut(v.Name, ":")
		if statMatch(what, g, n) {
			out = append(out, Stat{v.Name, v.Value()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func statMatch(what, group, name string) bool {
	switch {
	case what == "all":
		return true
	case strings.HasSuffix(what, ":"):
		return what[:len(what)-1] == group
	case strings.Contains(what, ":"):
		return what == group+":"+name
	}
	return what == name
}

// ResetStats zeroes the counters matching what (gauges stay) and
// returns how many were reset.
func (rt *Runtime) ResetStats(what string) int {
	rt.st.mu.Lock()
	defer rt.st.mu.Unlock()
	n := 0
	for i, ci := range counters {
		if !rt.counterShown(ci) || !statMatch(what, ci.group, ci.name) {
			continue
		}
		v := rt.st.shared.v[i].Load()
		for _, b := range rt.st.blocks {
			v += b.v[i].Load()
		}
		rt.st.base[i] = v
		n++
	}
	for _, v := range rt.statVars() {
		g, name, _ := strings.Cut(v.Name, ":")
		if statMatch(what, g, name) && v.Reset() {
			n++
		}
	}
	return n
}

// StatVar is a statistic a script declares or updates (the statistics
// module's "variable" param, update_stat, reset_stat): one value shared by
// the workers, changed with an atomic add. It may go down (active calls),
// so it is shown as a gauge.
type StatVar struct {
	Name    string // "group:name"
	NoReset bool   // declared "name/no_reset": resets leave it
	v       atomic.Int64
}

// Add adds n (which may be negative).
func (s *StatVar) Add(n int64) { s.v.Add(n) }

// Value is the current value.
func (s *StatVar) Value() int64 { return s.v.Load() }

// Reset zeroes it unless it is NoReset, and reports whether it did.
func (s *StatVar) Reset() bool {
	if s.NoReset {
		return false
	}
	s.v.Store(0)
	return true
}

// MaxStatVars bounds the statistics scripts may create, so that names
// built from message data cannot grow the table without bound.
const MaxStatVars = 1024

// StatVarOf finds the script statistic named name: "group:name", or a
// bare name, looked up in every group. It reads without a lock.
func (rt *Runtime) StatVarOf(name string) *StatVar {
	m := rt.st.vars.Load()
	if m == nil {
		return nil
	}
	if v, ok := (*m)[name]; ok {
		return v
	}
	if !strings.Contains(name, ":") {
		return (*m)[":"+name]
	}
	return nil
}

// NewStatVar declares "group:name" (or finds it when declared before).
// It fails past MaxStatVars statistics.
func (rt *Runtime) NewStatVar(group, name string, noReset bool) (*StatVar, error) {
	rt.st.mu.Lock()
	defer rt.st.mu.Unlock()
	full := group + ":" + name
	old := rt.st.vars.Load()
	if old != nil {
		if v, ok := (*old)[full]; ok {
			return v, nil
		}
	}
	n := 0
	if old != nil {
		n = len(*old) / 2
	}
	if n >= MaxStatVars {
		return nil, fmt.Errorf("too many statistics (%d); %q is not created", MaxStatVars, full)
	}
	m := make(map[string]*StatVar, 2*n+2)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	v := &StatVar{Name: full, NoReset: noReset}
	m[full] = v
	// A bare name finds it too (update_stat("name", 1)), the first group
	// declaring the name winning.
	if _, ok := m[":"+name]; !ok {
		m[":"+name] = v
	}
	rt.st.vars.Store(&m)
	return v, nil
}

// statVars lists the script statistics once each, by full name.
func (rt *Runtime) statVars() []*StatVar {
	m := rt.st.vars.Load()
	if m == nil {
		return nil
	}
	var out []*StatVar
	for k, v := range *m {
		if k == v.Name {
			out = append(out, v)
		}
	}
	return out
}

// IsStatVar reports whether the statistic named "group:name" is a
// script statistic (a gauge for Prometheus).
func (rt *Runtime) IsStatVar(full string) bool {
	m := rt.st.vars.Load()
	if m == nil {
		return false
	}
	v, ok := (*m)[full]
	return ok && v.Name == full
}

// StatValue is the value of one statistic ("group:name" or a bare name),
// as $stat(name) reads it; false when there is none.
func (rt *Runtime) StatValue(name string) (int64, bool) {
	if v := rt.StatVarOf(name); v != nil {
		return v.Value(), true
	}
	if name == "" || name == "all" || strings.HasSuffix(name, ":") {
		return 0, false
	}
	st := rt.Stats(name)
	if len(st) == 0 {
		return 0, false
	}
	return st[0].Value, true
}

// GaugeVec is a family of gauges computed when read, shown in Prometheus
// as one metric with a label (kemi_transactions{state="proceeding"}).
type GaugeVec struct {
	Name, Help, Label string
	// Get calls add once per label value.
	Get func(add func(value string, n int64))
}

// AddGaugeVec registers a GaugeVec (a module's start; Get runs at scrape
// time, off the message path).
func (rt *Runtime) AddGaugeVec(g GaugeVec) {
	rt.st.mu.Lock()
	rt.st.vecs = append(rt.st.vecs, g)
	rt.st.mu.Unlock()
}

// GaugeVecs are the registered GaugeVecs.
func (rt *Runtime) GaugeVecs() []GaugeVec {
	rt.st.mu.Lock()
	defer rt.st.mu.Unlock()
	return append([]GaugeVec(nil), rt.st.vecs...)
}
