package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"kemi/core"
	"kemi/sip/transport"
)

// statsCollector exposes the runtime's statistics (stats.get_statistics)
// at scrape time, named as Kamailio's xhttp_prom does: "core:rcv_requests"
// is kamailio_core_rcv_requests, with Prometheus' _total suffix for a
// counter (promtool's lint asks for it). Gauges (computed when read, and
// the statistics module's variables) are gauges, the rest counters. Beside
// them, kemi's own: the script's run time per callback kind as a histogram
// (kemi_script_duration_seconds), script errors and budget stops, malformed
// messages by reason, transactions by state and connections by transport.
// Reading sums the workers' blocks; nothing is added to the message path
// but the workers' own atomic adds.
type statsCollector struct {
	s      *Server
	rt     *core.Runtime
	engine string
}

func (c *statsCollector) Describe(chan<- *prometheus.Desc) {} // unchecked: the set follows the loaded modules

var gaugeStats = map[string]bool{"tmx:active_transactions": true, "usrloc:registered_users": true, "usrloc:location-contacts": true}

func promName(stat string) string {
	r := strings.NewReplacer(":", "_", "-", "_", ".", "_")
	return "kamailio_" + r.Replace(stat)
}

var (
	descScriptDur = prometheus.NewDesc("kemi_script_duration_seconds",
		"Run time of the script's callbacks by kind (request_route, failure_route, ...).", []string{"engine", "callback"}, nil)
	descScriptErr = prometheus.NewDesc("kemi_script_errors_total",
		"Script callback runs that ended with an error, by kind (budget stops included).", []string{"engine", "callback"}, nil)
	descBudget = prometheus.NewDesc("kemi_script_budget_stops_total",
		"Script callback runs stopped by the step, time or memory budget, by kind.", []string{"engine", "callback"}, nil)
	descConns = prometheus.NewDesc("kemi_connections",
		"Connections open now by transport: tcp, tls, and ws, wss once upgraded to WebSocket (UDP has none).", []string{"transport"}, nil)
	descListens = prometheus.NewDesc("kemi_listen_sockets",
		"Sockets kemi listens on by transport.", []string{"transport"}, nil)
	descUDPRecv = prometheus.NewDesc("kemi_udp_received_total",
		"Datagrams received on the UDP sockets.", nil, nil)
	descStreamRecv = prometheus.NewDesc("kemi_stream_received_total",
		"Messages received over TCP and TLS connections.", nil, nil)
)

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	labeled := c.rt.LabeledStats()
	skip := make(map[string]bool, len(labeled))
	for _, l := range labeled {
		skip[l.Name] = true
	}
	for _, s := range c.rt.Stats("all") {
		if skip[s.Name] {
			continue
		}
		name, kind, help := promName(s.Name)+"_total", prometheus.CounterValue, "Kamailio statistic "+s.Name+" (a counter)."
		if gaugeStats[s.Name] || c.rt.IsStatVar(s.Name) {
			name, kind, help = promName(s.Name), prometheus.GaugeValue, "Kamailio statistic "+s.Name+" (a gauge)."
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), kind, float64(s.Value))
	}
	descs := map[string]*prometheus.Desc{}
	for _, l := range labeled {
		d := descs[l.Prom]
		if d == nil {
			d = prometheus.NewDesc(l.Prom, "kemi statistics kemi:"+strings.TrimSuffix(strings.TrimPrefix(l.Prom, "kemi_"), "_total")+"_* by "+l.Label+".", []string{l.Label}, nil)
			descs[l.Prom] = d
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(l.Stat.Value), l.LabelValue)
	}
	for _, r := range c.rt.RouteStats() {
		b := make(map[float64]uint64, len(r.Buckets))
		for i, ub := range core.RouteBuckets {
			b[ub] = r.Buckets[i]
		}
		kind := r.Kind.String()
		ch <- prometheus.MustNewConstHistogram(descScriptDur, r.Count, r.Sum, b, c.engine, kind)
		ch <- prometheus.MustNewConstMetric(descScriptErr, prometheus.CounterValue, float64(r.Errors), c.engine, kind)
		ch <- prometheus.MustNewConstMetric(descBudget, prometheus.CounterValue, float64(r.Budget), c.engine, kind)
	}
	for _, g := range c.rt.GaugeVecs() {
		d := prometheus.NewDesc(g.Name, g.Help, []string{g.Label}, nil)
		g.Get(func(v string, n int64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n), v) })
	}
	if c.s == nil {
		return
	}
	var udpRecv uint64
	for _, u := range c.s.conns {
		udpRecv += u.Stats().Received
	}
	ch <- prometheus.MustNewConstMetric(descUDPRecv, prometheus.CounterValue, float64(udpRecv))
	nTCP, nTLS := 0, 0
	for _, l := range c.s.streamLs {
		if l.Proto() == transport.TLS {
			nTLS++
		} else {
			nTCP++
		}
	}
	ch <- prometheus.MustNewConstMetric(descListens, prometheus.GaugeValue, float64(len(c.s.conns)), "udp")
	ch <- prometheus.MustNewConstMetric(descListens, prometheus.GaugeValue, float64(nTCP), "tcp")
	ch <- prometheus.MustNewConstMetric(descListens, prometheus.GaugeValue, float64(nTLS), "tls")
	// Connections by what they carry now: a WebSocket upgrade moves one
	// from tcp to ws (tls to wss). Counted over the table at scrape time.
	var open [4]int64 // tcp, tls, ws, wss
	var streamRecv uint64
	if st := c.s.streams; st != nil {
		streamRecv = st.Stats.Received.Load()
		st.Each(func(cn *transport.Conn) {
			// Proto is already WS or WSS once upgraded.
			switch cn.Proto() {
			case transport.TLS:
				open[1]++
			case transport.WS:
				open[2]++
			case transport.WSS:
				open[3]++
			default:
				open[0]++
			}
		})
	}
	for i, name := range [...]string{"tcp", "tls", "ws", "wss"} {
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(open[i]), name)
	}
	ch <- prometheus.MustNewConstMetric(descStreamRecv, prometheus.CounterValue, float64(streamRecv))
}

// promRegistry is the server's Prometheus registry, built on first use:
// Kamailio's statistics and Go's runtime and process metrics. Served on
// metrics_listen and by xhttp_prom through the script's xhttp callback.
func (s *Server) promRegistry() *prometheus.Registry {
	s.promOnce.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(&statsCollector{s: s, rt: s.Setup.RT, engine: strings.TrimPrefix(s.Setup.Engine.Module, "app_")},
			collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		s.prom = reg
	})
	return s.prom
}

// writeMetrics writes the registry in the Prometheus text format
// (core.Control.Metrics, for xhttp_prom).
func (s *Server) writeMetrics(w io.Writer) error {
	mfs, err := s.promRegistry().Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if e := enc.Encode(mf); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// startMetrics serves /metrics on metrics_listen when the config sets it.
func (s *Server) startMetrics() error {
	v, ok := s.Setup.RT.Globals["metrics_listen"]
	if !ok || v.Kind != core.KStr || v.S == "" {
		return nil
	}
	reg := s.promRegistry()
	ln, err := net.Listen("tcp", v.S)
	if err != nil {
		return fmt.Errorf("metrics_listen=%q: %w", v.S, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4, Timeout: 10 * time.Second}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, MaxHeaderBytes: 8 << 10}
	s.metrics = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Log(core.LErr, nil, "kemi: metrics: "+err.Error())
		}
	}()
	s.log.Log(core.LNotice, nil, "kemi: Prometheus metrics on http://"+ln.Addr().String()+"/metrics")
	return nil
}

func (s *Server) stopMetrics() {
	if s.metrics != nil {
		s.metrics.Close()
		s.metrics = nil
	}
}
