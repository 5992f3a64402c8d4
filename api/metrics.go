package api

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsConfig says who may read GET /metrics.
type MetricsConfig struct {
	// Access is "loopback" (the default: clients on this host only), "open"
	// (anyone who reaches the port) or "token" (requests with
	// "Authorization: Bearer <Token>").
	Access string
	Token  string
}

// Metric access modes.
const (
	MetricsLoopback = "loopback"
	MetricsOpen     = "open"
	MetricsToken    = "token"
)

// metrics owns dialerd's Prometheus registry: its own, not the global
// default, so tests and several servers in one process never collide.
type metrics struct {
	cfg MetricsConfig
	reg *prometheus.Registry

	httpDuration  *prometheus.HistogramVec
	attempts      *prometheus.CounterVec
	answerLatency prometheus.Histogram
	channels      *prometheus.GaugeVec

	sub  *dialer.Subscription // nil without an event source
	done chan struct{}

	mu        sync.Mutex
	started   map[int64]spoolStart  // live spools: when and where they began
	launches  map[int64][]time.Time // per running campaign: originations in the last minute
	blockedBy map[int64]blockedInfo // blocked campaigns, as their last campaign.blocked said
	// blocked lists the campaigns that cannot dial: the engine's own list
	// when it has one, else blockedCampaigns (from the events).
	blocked func() []dialer.BlockedCampaign
	now     func() time.Time
	// platform reports whether a request is the platform admin's (see
	// Server.metricsPlatform); nil: nobody's.
	platform func(*gin.Context) bool
}

// blockedInfo is what /readyz shows of a blocked campaign: no tenant and
// no free text, since /readyz answers anyone who reaches the port.
type blockedInfo struct {
	fault, field string
}

type spoolStart struct {
	at             time.Time
	provider, node string
}

// cpmWindow is the span over which achieved CPM is counted.
const cpmWindow = time.Minute

// newMetrics builds the registry; blocked, when not nil, is the engine's
// list of the campaigns that cannot dial.
func newMetrics(cfg MetricsConfig, src eventSource, now func() time.Time, blocked func() []dialer.BlockedCampaign,
	extra []prometheus.Collector) (*metrics, error) {
	if cfg.Access == "" {
		cfg.Access = MetricsLoopback
	}
	m := &metrics{
		cfg: cfg,
		reg: prometheus.NewRegistry(),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dialerd_http_request_duration_seconds",
			Help:    "HTTP request durations by route pattern, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method", "code"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialerd_attempts_total",
			Help: "Ended attempts (spools) by final status, response (hangup cause) and fault (callee, route, content; none when delivered).",
		}, []string{"status", "response", "fault"}),
		answerLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dialerd_spool_answer_seconds",
			Help:    "Time from an attempt's initiation to its answer.",
			Buckets: []float64{.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60},
		}),
		channels: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dialerd_channels_in_use",
			Help: "Attempts in flight by provider and FreeSWITCH node.",
		}, []string{"provider", "node"}),
		blockedBy: map[int64]blockedInfo{},
		started:   map[int64]spoolStart{},
		launches:  map[int64][]time.Time{},
		now:       now,
		done:      make(chan struct{}),
	}
	m.blocked = blocked
	if m.blocked == nil {
		m.blocked = m.blockedCampaigns
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpDuration, m.attempts, m.answerLatency, m.channels, newCPMCollector(m), newBlockedCollector(m),
	}
	if src != nil {
		m.sub = src.Subscribe(busBuffer)
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "dialerd_metrics_events_dropped_total",
			Help: "Engine events the metrics consumer missed because it fell behind.",
		}, func() float64 { return float64(m.sub.Dropped()) }))
	}
	for _, c := range append(cs, extra...) {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// run folds engine events into the metrics until the subscription closes.
func (m *metrics) run(ctx context.Context) {
	defer close(m.done)
	if m.sub == nil {
		return
	}
	for {
		select {
		case ev, ok := <-m.sub.C():
			if !ok {
				return
			}
			m.observe(ev)
		case <-ctx.Done():
			return
		}
	}
}

func (m *metrics) stop() {
	if m.sub != nil {
		m.sub.Close()
		<-m.done
	}
}

func (m *metrics) observe(ev dialer.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch ev.Type {
	case dialer.EventSpoolInitiated:
		st := spoolStart{at: ev.At, provider: strconv.FormatInt(ev.ProviderID, 10), node: ev.Node}
		m.started[ev.SpoolID] = st
		m.channels.WithLabelValues(st.provider, st.node).Inc()
		if ev.CampaignID != 0 {
			m.launches[ev.CampaignID] = append(m.launches[ev.CampaignID], ev.At)
		}
	case dialer.EventSpoolAnswered:
		if st, ok := m.started[ev.SpoolID]; ok {
			m.answerLatency.Observe(ev.At.Sub(st.at).Seconds())
		}
	case dialer.EventSpoolEnded:
		if st, ok := m.started[ev.SpoolID]; ok {
			delete(m.started, ev.SpoolID)
			m.channels.WithLabelValues(st.provider, st.node).Dec()
		}
		m.attempts.WithLabelValues(ev.Status, causeLabel(ev.Response), faultLabel(ev.Fault)).Inc()
	case dialer.EventCampaignBlocked:
		m.unblock(ev.CampaignID)
		b := blockedInfo{fault: faultLabel(ev.Fault), field: ev.Field}
		m.blockedBy[ev.CampaignID] = b
	case dialer.EventCampaignUnblocked:
		m.unblock(ev.CampaignID)
	case dialer.EventCampaignCompleted, dialer.EventCampaignStopped:
		delete(m.launches, ev.CampaignID)
		m.unblock(ev.CampaignID)
	}
}

// unblock forgets a campaign's block.
func (m *metrics) unblock(id int64) { delete(m.blockedBy, id) }

// blockedCampaigns is what the campaign.blocked events said is blocked
// now, for /readyz when the engine cannot say itself.
func (m *metrics) blockedCampaigns() []dialer.BlockedCampaign {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]dialer.BlockedCampaign, 0, len(m.blockedBy))
	for id, b := range m.blockedBy {
		out = append(out, dialer.BlockedCampaign{CampaignID: id, Blocked: dialer.Blocked{Fault: b.fault, Field: b.field}})
	}
	return out
}

// faultLabel keeps the fault label to the kinds of dialer.Fault.
func faultLabel(s string) string {
	switch s {
	case "":
		return "none"
	case dialer.FaultCallee.String(), dialer.FaultRoute.String(), dialer.FaultContent.String():
		return s
	}
	return "other"
}

// causeLabel keeps the response label to cause-shaped names (A-Z, 0-9, _),
// so a strange response cannot explode the label set.
func causeLabel(s string) string {
	if s == "" || len(s) > 48 {
		return "other"
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return "other"
		}
	}
	return s
}

// blockedCollector reports the campaigns that cannot dial, by fault: route
// and content always (0 when none), so a dashboard's series never vanish.
type blockedCollector struct {
	m    *metrics
	desc *prometheus.Desc
}

func newBlockedCollector(m *metrics) blockedCollector {
	return blockedCollector{m: m, desc: prometheus.NewDesc("dialerd_campaigns_blocked",
		"Active campaigns that cannot dial, by fault (route: no provider or gateway can take them now; content: a gateway refused what they send or how).",
		[]string{"fault"}, nil)}
}

func (c blockedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c blockedCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[string]int{dialer.FaultRoute.String(): 0, dialer.FaultContent.String(): 0}
	for _, b := range c.m.blocked() {
		n[faultLabel(b.Blocked.Fault)]++
	}
	for fault, count := range n {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(count), fault)
	}
}

// cpmCollector reports each running campaign's originations in the last minute.
type cpmCollector struct {
	m    *metrics
	desc *prometheus.Desc
}

func newCPMCollector(m *metrics) cpmCollector {
	return cpmCollector{m: m, desc: prometheus.NewDesc("dialerd_campaign_cpm",
		"Originations in the last minute, by running campaign (achieved calls per minute).",
		[]string{"campaign_id"}, nil)}
}

func (c cpmCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c cpmCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	cutoff := m.now().Add(-cpmWindow)
	for id, times := range m.launches {
		i := 0
		for i < len(times) && times[i].Before(cutoff) {
			i++
		}
		times = times[i:]
		m.launches[id] = times
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(len(times)), strconv.FormatInt(id, 10))
	}
}

// measure records every request's duration by route pattern.
func (m *metrics) measure() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched" // never the raw path: unbounded labels
		}
		m.httpDuration.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).
			Observe(time.Since(start).Seconds())
	}
}

// serve is GET /metrics, guarded as the config says.
func (m *metrics) serve() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return func(c *gin.Context) {
		if !m.allowed(c) {
			c.AbortWithStatusJSON(http.StatusForbidden, ictcoreError{Error: ictcoreErrorBody{
				Code: http.StatusForbidden, Message: "metrics are not served to this client; see metrics.access"}})
			return
		}
		h.ServeHTTP(c.Writer, c.Request)
	}
}

func (m *metrics) allowed(c *gin.Context) bool {
	r := c.Request
	switch m.cfg.Access {
	case MetricsOpen:
		return true
	case MetricsToken:
		got := bearer(r)
		if m.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(m.cfg.Token)) == 1 {
			return true
		}
		// The metrics are the whole platform's: the platform admin's
		// token or key reads them too, no tenant's.
		return m.platform != nil && m.platform(c)
	default:
		// The connection's own address, never a forwarded header.
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		return err == nil && ip != nil && ip.IsLoopback()
	}
}
