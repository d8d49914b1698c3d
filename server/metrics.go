package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kemi/core"
)

// statsCollector exposes the runtime's statistics (stats.get_statistics)
// at scrape time, named as Kamailio's xhttp_prom does: "core:rcv_requests"
// is kamailio_core_rcv_requests, with Prometheus' _total suffix for a
// counter (promtool's lint asks for it). Gauges (computed when read) are
// gauges, the rest counters. Reading sums the workers' blocks; nothing is added
// to the message path.
type statsCollector struct {
	rt *core.Runtime
}

func (c *statsCollector) Describe(chan<- *prometheus.Desc) {} // unchecked: the set follows the loaded modules

var gaugeStats = map[string]bool{"tmx:active_transactions": true, "usrloc:registered_users": true, "usrloc:location-contacts": true}

func promName(stat string) string {
	r := strings.NewReplacer(":", "_", "-", "_", ".", "_")
	return "kamailio_" + r.Replace(stat)
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.rt.Stats("all") {
		name, kind, help := promName(s.Name)+"_total", prometheus.CounterValue, "Kamailio statistic "+s.Name+" (a counter)."
		if gaugeStats[s.Name] || c.rt.IsStatVar(s.Name) {
			name, kind, help = promName(s.Name), prometheus.GaugeValue, "Kamailio statistic "+s.Name+" (a gauge)."
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), kind, float64(s.Value))
	}
}

// startMetrics serves /metrics on metrics_listen when the config sets it.
func (s *Server) startMetrics() error {
	v, ok := s.Setup.RT.Globals["metrics_listen"]
	if !ok || v.Kind != core.KStr || v.S == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&statsCollector{rt: s.Setup.RT},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
