package sip

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns a Prometheus collector of the gateway's trunk health,
// read when scraped: dialerd_sip_trunk_up{provider="<id>"} is 1 or 0 for
// each watched trunk whose state is known; a trunk whose state is still
// unknown is absent, so an alert on "== 0" never fires before the first
// probe.
func (g *Gateway) Collector() prometheus.Collector {
	return trunkCollector{g: g, up: prometheus.NewDesc(
		"dialerd_sip_trunk_up",
		"SIP trunk health per watched provider: 1 up (answered an OPTIONS or an INVITE), 0 down "+
			"(OptionsMisses pings unanswered). A trunk not probed yet (unknown) has no sample.",
		[]string{"provider"}, nil,
	)}
}

type trunkCollector struct {
	g  *Gateway
	up *prometheus.Desc
}

func (c trunkCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.up }

func (c trunkCollector) Collect(ch chan<- prometheus.Metric) {
	c.g.mu.Lock()
	samples := make(map[int64]float64, len(c.g.health))
	for id, h := range c.g.health {
		switch h.State {
		case TrunkUp:
			samples[id] = 1
		case TrunkDown:
			samples[id] = 0
		}
	}
	c.g.mu.Unlock()
	for id, v := range samples {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, v, strconv.FormatInt(id, 10))
	}
}
