package core

import (
	"errors"
	"sync/atomic"
	"time"
)

// Script run time per callback kind (request_route, failure_route, ...),
// script errors and budget stops: kept in each worker's StatBlock like
// the counters (atomic adds to the worker's own cache lines, no lock, no
// allocation) and summed when read, for Prometheus' histogram.

// RouteBuckets are the upper bounds, in seconds, of the run-time
// histogram's buckets: a few microseconds for a short script, up to the
// budget's second.
var RouteBuckets = [...]float64{
	1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1,
}

// bucketNS are RouteBuckets in nanoseconds.
var bucketNS = func() (b [len(RouteBuckets)]int64) {
	for i, s := range RouteBuckets {
		b[i] = int64(s*1e9 + 0.5)
	}
	return
}()

// numRouteKinds bounds RouteKind values (index 0 is unused).
const numRouteKinds = int(EventRoute) + 1

var routeKindNames = [numRouteKinds]string{"", "request_route", "reply_route", "onreply_route",
	"failure_route", "branch_route", "onsend_route", "event_route"}

// String is the kind's name as a metric label ("request_route").
func (k RouteKind) String() string {
	if int(k) < numRouteKinds && k > 0 {
		return routeKindNames[k]
	}
	return "route"
}

type routeStats struct {
	counts [len(RouteBuckets) + 1]atomic.Uint64 // the last is +Inf
	sumNS  atomic.Uint64
	errs   atomic.Uint64
	budget atomic.Uint64
}

func (r *routeStats) observe(ns int64, err error) {
	i := 0
	for i < len(bucketNS) && ns > bucketNS[i] {
		i++
	}
	r.counts[i].Add(1)
	if ns > 0 {
		r.sumNS.Add(uint64(ns))
	}
	if err != nil {
		r.errs.Add(1)
		if errors.Is(err, ErrBudget) {
			r.budget.Add(1)
		}
	}
}

// ObserveRoute records a callback run of ctx.Route that started at t0
// and ended with err (nil, or ErrNoCallback for a missing function, which
// is not recorded).
func (c *Ctx) ObserveRoute(t0 time.Time, err error) {
	if err == ErrNoCallback {
		return
	}
	ns := int64(time.Since(t0))
	k := c.Route
	if int(k) >= numRouteKinds {
		k = 0
	}
	var b *StatBlock
	switch {
	case c.Stats != nil:
		b = c.Stats
	case c.RT != nil:
		b = &c.RT.st.shared
	default:
		return
	}
	b.routes[k].observe(ns, err)
}

// CallRoute runs the script function name on vm for ctx and records its
// run time, and its error if any, under ctx.Route.
func CallRoute(vm VM, ctx *Ctx, name string) error {
	t0 := time.Now()
	err := vm.Call(ctx, name)
	ctx.ObserveRoute(t0, err)
	return err
}

// RouteStat is one callback kind's run-time histogram and error counts,
// summed over the workers.
type RouteStat struct {
	Kind    RouteKind
	Buckets [len(RouteBuckets)]uint64 // cumulative counts at RouteBuckets
	Count   uint64
	Sum     float64 // seconds
	Errors  uint64  // runs that ended with a script error (budget stops included)
	Budget  uint64  // runs stopped by the step, time or memory budget
}

// RouteStats sums the callback statistics over the workers, for each
// kind that ran at least once.
func (rt *Runtime) RouteStats() []RouteStat {
	rt.st.mu.Lock()
	blocks := append([]*StatBlock{&rt.st.shared}, rt.st.blocks...)
	rt.st.mu.Unlock()
	var out []RouteStat
	for k := 1; k < numRouteKinds; k++ {
		s := RouteStat{Kind: RouteKind(k)}
		var raw [len(RouteBuckets) + 1]uint64
		var sum uint64
		for _, b := range blocks {
			r := &b.routes[k]
			for i := range raw {
				raw[i] += r.counts[i].Load()
			}
			sum += r.sumNS.Load()
			s.Errors += r.errs.Load()
			s.Budget += r.budget.Load()
		}
		var cum uint64
		for i := range s.Buckets {
			cum += raw[i]
			s.Buckets[i] = cum
		}
		s.Count = cum + raw[len(raw)-1]
		s.Sum = float64(sum) / 1e9
		if s.Count > 0 || s.Errors > 0 {
			out = append(out, s)
		}
	}
	return out
}
