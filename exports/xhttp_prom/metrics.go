package xhttp_prom

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"kemi/core"
)

// metric is one declared metric (prom_counter, prom_gauge,
// prom_histogram), its vector built at start.
type metric struct {
	kind   string // counter, gauge, histogram
	labels int
	c      *prometheus.CounterVec
	g      *prometheus.GaugeVec
	h      *prometheus.HistogramVec
}

// module is the runtime's declared metrics and the registry they are
// listed from.
type module struct {
	reg     *prometheus.Registry
	metrics map[string]*metric
}

var modules = core.NewRuntimeState[module](func(*core.Runtime) *module { return nil })

// defaultBuckets are Kamailio's (and Prometheus') default histogram
// buckets.
var defaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func start(rt *core.Runtime) error {
	m := &module{reg: prometheus.NewRegistry(), metrics: map[string]*metric{}}
	prefix := rt.Param("xhttp_prom", "xhttp_prom_beginning").S
	for _, kind := range []string{"counter", "gauge", "histogram"} {
		param := "prom_" + kind
		for _, v := range rt.ParamValues("xhttp_prom", param) {
			if v.S == "" {
				continue
			}
			if err := m.declare(kind, prefix, v.S); err != nil {
				return fmt.Errorf("modparam(\"xhttp_prom\", %q, %q): %w", param, v.S, err)
			}
		}
	}
	modules.Set(rt, m)
	return nil
}

// declare parses "name=NAME; label=a:b; buckets=1:2" and registers the
// metric.
func (m *module) declare(kind, prefix, spec string) error {
	var name string
	var labels []string
	buckets := defaultBuckets
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("expected attribute=value, got %q", part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case k == "name":
			name = v
		case k == "label":
			labels = strings.Split(v, ":")
			if len(labels) > 3 {
				return fmt.Errorf("at most three labels, got %d", len(labels))
			}
		case k == "buckets" && kind == "histogram":
			buckets = nil
			for _, b := range strings.Split(v, ":") {
				f, err := strconv.ParseFloat(b, 64)
				if err != nil || (len(buckets) > 0 && f <= buckets[len(buckets)-1]) {
					return fmt.Errorf("buckets: expected increasing numbers separated by :, got %q", v)
				}
				buckets = append(buckets, f)
			}
		default:
			return fmt.Errorf("unknown attribute %q (name, label%s)", k, map[bool]string{true: ", buckets"}[kind == "histogram"])
		}
	}
	if name == "" {
		return errors.New("no name=")
	}
	if _, dup := m.metrics[name]; dup {
		return fmt.Errorf("metric %q declared twice", name)
	}
	full, help := prefix+name, "xhttp_prom "+kind+" "+name+" (from the script)."
	mt := &metric{kind: kind, labels: len(labels)}
	var col prometheus.Collector
	switch kind {
	case "counter":
		mt.c = prometheus.NewCounterVec(prometheus.CounterOpts{Name: full, Help: help}, labels)
		col = mt.c
	case "gauge":
		mt.g = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: full, Help: help}, labels)
		col = mt.g
	default:
		mt.h = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: full, Help: help, Buckets: buckets}, labels)
		col = mt.h
	}
	if err := m.reg.Register(col); err != nil {
		return fmt.Errorf("metric %q: %w", full, err)
	}
	m.metrics[name] = mt
	return nil
}

// write appends the script's metrics in the text format.
func (m *module) write(w io.Writer) error {
	mfs, err := m.reg.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if e := enc.Encode(mf); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// find is the declared metric name of kind with n label values, or nil
// after logging why not.
func find(ctx *core.Ctx, fn, kind, name string, n int) *metric {
	m := modules.Peek(ctx.RT)
	if m == nil {
		return nil
	}
	mt := m.metrics[name]
	switch {
	case mt == nil || mt.kind != kind:
		ctx.Log(core.LErr, fmt.Sprintf("xhttp_prom: %s: no %s %s declared (modparam prom_%s)\n", fn, kind, core.LogQuote(name), kind))
		return nil
	case mt.labels != n:
		ctx.Log(core.LErr, fmt.Sprintf("xhttp_prom: %s: %s has %d labels, got %d values\n", fn, core.LogQuote(name), mt.labels, n))
		return nil
	}
	return mt
}

func number(ctx *core.Ctx, fn, s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		ctx.Log(core.LErr, fmt.Sprintf("xhttp_prom: %s: expected a number, got %s\n", fn, core.LogQuote(s)))
		return 0, false
	}
	return f, true
}

func counterReset(ctx *core.Ctx, fn, name string, lv ...string) int {
	mt := find(ctx, fn, "counter", name, len(lv))
	if mt == nil {
		return -1
	}
	// A Prometheus counter only goes up: reset is a new series.
	mt.c.DeleteLabelValues(lv...)
	mt.c.WithLabelValues(lv...)
	return 1
}

func counterInc(ctx *core.Ctx, fn, name string, n int, lv ...string) int {
	mt := find(ctx, fn, "counter", name, len(lv))
	if mt == nil {
		return -1
	}
	if n < 0 {
		ctx.Log(core.LErr, fmt.Sprintf("xhttp_prom: %s: a counter only goes up, got %d\n", fn, n))
		return -1
	}
	mt.c.WithLabelValues(lv...).Add(float64(n))
	return 1
}

func gaugeReset(ctx *core.Ctx, fn, name string, lv ...string) int {
	mt := find(ctx, fn, "gauge", name, len(lv))
	if mt == nil {
		return -1
	}
	mt.g.WithLabelValues(lv...).Set(0)
	return 1
}

func gaugeSet(ctx *core.Ctx, fn, name, v string, add bool, lv ...string) int {
	mt := find(ctx, fn, "gauge", name, len(lv))
	if mt == nil {
		return -1
	}
	f, ok := number(ctx, fn, v)
	if !ok {
		return -1
	}
	if add {
		mt.g.WithLabelValues(lv...).Add(f)
	} else {
		mt.g.WithLabelValues(lv...).Set(f)
	}
	return 1
}

func observe(ctx *core.Ctx, fn, name, v string, lv ...string) int {
	mt := find(ctx, fn, "histogram", name, len(lv))
	if mt == nil {
		return -1
	}
	f, ok := number(ctx, fn, v)
	if !ok {
		return -1
	}
	mt.h.WithLabelValues(lv...).Observe(f)
	return 1
}

// The KSR.xhttp_prom functions: _lN takes N label values, which must be
// as many as the metric's declaration names.

func CounterResetL0(ctx *core.Ctx, name string) int {
	return counterReset(ctx, "counter_reset_l0", name)
}
func CounterResetL1(ctx *core.Ctx, name, l0 string) int {
	return counterReset(ctx, "counter_reset_l1", name, l0)
}
func CounterResetL2(ctx *core.Ctx, name, l0, l1 string) int {
	return counterReset(ctx, "counter_reset_l2", name, l0, l1)
}
func CounterResetL3(ctx *core.Ctx, name, l0, l1, l2 string) int {
	return counterReset(ctx, "counter_reset_l3", name, l0, l1, l2)
}
func GaugeResetL0(ctx *core.Ctx, name string) int { return gaugeReset(ctx, "gauge_reset_l0", name) }
func GaugeResetL1(ctx *core.Ctx, name, l0 string) int {
	return gaugeReset(ctx, "gauge_reset_l1", name, l0)
}
func GaugeResetL2(ctx *core.Ctx, name, l0, l1 string) int {
	return gaugeReset(ctx, "gauge_reset_l2", name, l0, l1)
}
func GaugeResetL3(ctx *core.Ctx, name, l0, l1, l2 string) int {
	return gaugeReset(ctx, "gauge_reset_l3", name, l0, l1, l2)
}
func CounterIncL0(ctx *core.Ctx, name string, n int) int {
	return counterInc(ctx, "counter_inc_l0", name, n)
}
func CounterIncL1(ctx *core.Ctx, name string, n int, l0 string) int {
	return counterInc(ctx, "counter_inc_l1", name, n, l0)
}
func CounterIncL2(ctx *core.Ctx, name string, n int, l0, l1 string) int {
	return counterInc(ctx, "counter_inc_l2", name, n, l0, l1)
}
func CounterIncL3(ctx *core.Ctx, name string, n int, l0, l1, l2 string) int {
	return counterInc(ctx, "counter_inc_l3", name, n, l0, l1, l2)
}
func GaugeSetL0(ctx *core.Ctx, name, v string) int {
	return gaugeSet(ctx, "gauge_set_l0", name, v, false)
}
func GaugeSetL1(ctx *core.Ctx, name, v, l0 string) int {
	return gaugeSet(ctx, "gauge_set_l1", name, v, false, l0)
}
func GaugeSetL2(ctx *core.Ctx, name, v, l0, l1 string) int {
	return gaugeSet(ctx, "gauge_set_l2", name, v, false, l0, l1)
}
func GaugeSetL3(ctx *core.Ctx, name, v, l0, l1, l2 string) int {
	return gaugeSet(ctx, "gauge_set_l3", name, v, false, l0, l1, l2)
}
func GaugeIncL0(ctx *core.Ctx, name, v string) int {
	return gaugeSet(ctx, "gauge_inc_l0", name, v, true)
}
func GaugeIncL1(ctx *core.Ctx, name, v, l0 string) int {
	return gaugeSet(ctx, "gauge_inc_l1", name, v, true, l0)
}
func GaugeIncL2(ctx *core.Ctx, name, v, l0, l1 string) int {
	return gaugeSet(ctx, "gauge_inc_l2", name, v, true, l0, l1)
}
func GaugeIncL3(ctx *core.Ctx, name, v, l0, l1, l2 string) int {
	return gaugeSet(ctx, "gauge_inc_l3", name, v, true, l0, l1, l2)
}
func HistogramObserveL0(ctx *core.Ctx, name, v string) int {
	return observe(ctx, "histogram_observe_l0", name, v)
}
func HistogramObserveL1(ctx *core.Ctx, name, v, l0 string) int {
	return observe(ctx, "histogram_observe_l1", name, v, l0)
}
func HistogramObserveL2(ctx *core.Ctx, name, v, l0, l1 string) int {
	return observe(ctx, "histogram_observe_l2", name, v, l0, l1)
}
func HistogramObserveL3(ctx *core.Ctx, name, v, l0, l1, l2 string) int {
	return observe(ctx, "histogram_observe_l3", name, v, l0, l1, l2)
}
