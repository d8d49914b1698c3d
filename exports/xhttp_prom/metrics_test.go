package xhttp_prom

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestXHTTPProm_Declarations (issue 15, xhttp_prom): Kamailio's
// prom_counter/prom_gauge/prom_histogram specs are read, bad ones are
// refused with what is wrong, and the metrics come out in the text format
// under xhttp_prom_beginning.
func TestXHTTPProm_Declarations(t *testing.T) {
	m := &module{reg: prometheus.NewRegistry(), metrics: map[string]*metric{}}
	for _, d := range []struct{ kind, spec string }{
		{"counter", "name=cnt_first;"},
		{"counter", "name=cnt_second; label=method:IP"},
		{"gauge", "name=gg_first; label=handler;"},
		{"histogram", "name=histo_fourth; label=lbl; buckets=3.1:5:6.5"},
	} {
		if err := m.declare(d.kind, "kamailio_", d.spec); err != nil {
			t.Fatalf("%s %q: %v", d.kind, d.spec, err)
		}
	}
	for _, d := range []struct{ kind, spec, want string }{
		{"counter", "label=a", "no name="},
		{"counter", "name=cnt_first", "declared twice"},
		{"gauge", "name=g2; label=a:b:c:d", "at most three labels"},
		{"histogram", "name=h2; buckets=5:3", "increasing numbers"},
		{"counter", "name=c3; buckets=1", "unknown attribute"},
		{"gauge", "name g", "attribute=value"},
	} {
		if err := m.declare(d.kind, "kamailio_", d.spec); err == nil || !strings.Contains(err.Error(), d.want) {
			t.Errorf("%s %q: got %v, want an error with %q", d.kind, d.spec, err, d.want)
		}
	}
	m.metrics["cnt_second"].c.WithLabelValues("push", "192.168.0.1").Add(10)
	m.metrics["gg_first"].g.WithLabelValues("my_handler").Set(5.2)
	m.metrics["histo_fourth"].h.WithLabelValues("x").Observe(4)
	var b bytes.Buffer
	if err := m.write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`kamailio_cnt_second{IP="192.168.0.1",method="push"} 10`, `kamailio_gg_first{handler="my_handler"} 5.2`,
		`kamailio_histo_fourth_bucket{lbl="x",le="5"} 1`, `kamailio_histo_fourth_bucket{lbl="x",le="3.1"} 0`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
