package esl

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the state of every node for /metrics:
//
//	dialerd_esl_node_up{node}        1 while its connection is up
//	dialerd_esl_node_stopping{node}  1 after FreeSWITCH announced its shutdown
//	dialerd_esl_calls{node}          attempts the node is following now
//
// Register it with the daemon's own registry (api's metrics take extra
// collectors). Values are read at scrape time.
func (g *Gateway) Collector() prometheus.Collector {
	return collector{
		g: g,
		up: prometheus.NewDesc("dialerd_esl_node_up",
			"Whether the FreeSWITCH node's event socket connection is up (1) or not (0).", []string{"node"}, nil),
		stopping: prometheus.NewDesc("dialerd_esl_node_stopping",
			"Whether the FreeSWITCH node announced its shutdown and takes no new calls (1).", []string{"node"}, nil),
		calls: prometheus.NewDesc("dialerd_esl_calls",
			"Attempts the gateway is following on the FreeSWITCH node.", []string{"node"}, nil),
	}
}

type collector struct {
	g                   *Gateway
	up, stopping, calls *prometheus.Desc
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.stopping
	ch <- c.calls
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.g.mu.Lock()
	nodes := make([]*node, 0, len(c.g.nodes))
	for _, n := range c.g.nodes {
		nodes = append(nodes, n)
	}
	c.g.mu.Unlock()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, n := range nodes {
		up, stopping, active := n.state()
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, b(up), n.id)
		ch <- prometheus.MustNewConstMetric(c.stopping, prometheus.GaugeValue, b(stopping), n.id)
		ch <- prometheus.MustNewConstMetric(c.calls, prometheus.GaugeValue, float64(active), n.id)
	}
}
