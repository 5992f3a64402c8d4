package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
)

// GET /ws streams the engine's events to dashboards. One bus subscription
// feeds every client: each event is encoded once and offered to each
// client's bounded queue without waiting. A client whose queue is full is
// disconnected with a close reason, so no client can slow another or the
// engine. campaign.progress is coalesced to at most one per second (of the
// server's clock, Config.Now) per campaign; the latest counters are always
// delivered.

// eventSource is what the live stream needs of the engine's bus.
type eventSource interface {
	Subscribe(buffer int) *dialer.Subscription
}

// LiveConfig tunes the websocket stream.
type LiveConfig struct {
	MaxClients   int           // connections beyond this are refused with 503
	Queue        int           // events buffered per client before it is dropped
	PingInterval time.Duration // a client that misses two pongs is dropped
	WriteTimeout time.Duration // one frame must be written within this
}

func (c *LiveConfig) defaults() {
	if c.MaxClients <= 0 {
		c.MaxClients = 2000
	}
	if c.Queue <= 0 {
		c.Queue = 256
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
}

// Close codes and reasons a client may see.
const (
	closeTooSlow  = "too slow: event queue full"
	closeShutdown = "dialerd is shutting down"
	// progressEvery is the least time between two progress events of one campaign.
	progressEvery = time.Second
	// busBuffer absorbs bursts between the bus and the hub's loop.
	busBuffer = 8192
)

// hub fans bus events out to websocket clients.
type hub struct {
	cfg LiveConfig
	log *slog.Logger
	sub *dialer.Subscription
	now func() time.Time // the server's clock, which paces progress

	mu      sync.Mutex
	clients map[*liveClient]struct{}
	closed  bool

	count   atomic.Int64  // connected clients, for metrics
	evicted atomic.Uint64 // clients dropped for being slow
	done    chan struct{} // closed when run returns

	// progress coalescing, touched only by run's goroutine
	lastProgress map[int64]time.Time
	pending      map[int64]dialer.Event
}

func newHub(cfg LiveConfig, log *slog.Logger, src eventSource, now func() time.Time) *hub {
	cfg.defaults()
	return &hub{
		cfg: cfg, log: log, sub: src.Subscribe(busBuffer), now: now,
		clients:      map[*liveClient]struct{}{},
		done:         make(chan struct{}),
		lastProgress: map[int64]time.Time{},
		pending:      map[int64]dialer.Event{},
	}
}

// run dispatches events until the subscription closes or ctx ends.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	tick := time.NewTicker(progressEvery / 5)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-h.sub.C():
			if !ok {
				return
			}
			h.handle(ev, h.now())
		case <-tick.C:
			h.flushProgress(h.now(), 0)
		case <-ctx.Done():
			return
		}
	}
}

func (h *hub) handle(ev dialer.Event, now time.Time) {
	switch ev.Type {
	case dialer.EventCampaignProgress:
		if now.Sub(h.lastProgress[ev.CampaignID]) < progressEvery {
			h.pending[ev.CampaignID] = ev // keep only the latest counters
			return
		}
		delete(h.pending, ev.CampaignID)
		h.lastProgress[ev.CampaignID] = now
	case dialer.EventCampaignCompleted, dialer.EventCampaignStopped:
		// The final counters go out before the campaign's last word.
		h.flushProgress(now, ev.CampaignID)
		delete(h.lastProgress, ev.CampaignID)
	}
	h.broadcast(ev)
}

// flushProgress sends pending progress whose second has passed, or that of
// one campaign at once when only is non-zero.
func (h *hub) flushProgress(now time.Time, only int64) {
	for id, ev := range h.pending {
		if id == only || (only == 0 && now.Sub(h.lastProgress[id]) >= progressEvery) {
			delete(h.pending, id)
			h.lastProgress[id] = now
			h.broadcast(ev)
		}
	}
}

// maxBatch bounds the frames written in one system call.
const maxBatch = 64

// textFrame frames payload as a websocket text message from the server:
// final and unmasked (RFC 6455, section 5.2).
func textFrame(payload []byte) []byte {
	n := len(payload)
	var frame []byte
	switch {
	case n < 126:
		frame = append(make([]byte, 0, 2+n), 0x81, byte(n))
	case n <= 0xFFFF:
		frame = append(make([]byte, 0, 4+n), 0x81, 126, byte(n>>8), byte(n))
	default:
		frame = binary.BigEndian.AppendUint64(append(make([]byte, 0, 10+n), 0x81, 127), uint64(n))
	}
	return append(frame, payload...)
}

// broadcast encodes ev once and offers it to every client that may see it.
func (h *hub) broadcast(ev dialer.Event) {
	payload, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("encode event", "type", ev.Type, "err", err)
		return
	}
	// Framed once for every client, not once per client.
	frame := textFrame(payload)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if !c.wants(ev) {
			continue
		}
		select {
		case c.out <- frame:
		default:
			h.evictLocked(c, websocket.ClosePolicyViolation, closeTooSlow)
			h.evicted.Add(1)
			// The writer is not hurried: cutting a write short could end
			// mid-frame and lose the close reason. A client that never reads
			// again is cut off by the write timeout.
		}
	}
}

// full reports whether the connection cap is reached.
func (h *hub) full() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed || len(h.clients) >= h.cfg.MaxClients
}

// add registers a connected client, or reports false when the cap is
// reached (or the hub is shutting down).
func (h *hub) add(c *liveClient) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.clients) >= h.cfg.MaxClients {
		return false
	}
	h.clients[c] = struct{}{}
	h.count.Store(int64(len(h.clients)))
	return true
}

func (h *hub) remove(c *liveClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.evictLocked(c, websocket.CloseNormalClosure, "")
}

// evictLocked removes c and tells its writer why; the writer sends the
// close frame, so the hub never waits on a client's connection.
func (h *hub) evictLocked(c *liveClient, code int, reason string) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	h.count.Store(int64(len(h.clients)))
	c.closeCode, c.closeReason = code, reason
	close(c.gone)
}

// shutdown disconnects every client with "going away" and refuses new ones.
func (h *hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		h.evictLocked(c, websocket.CloseGoingAway, closeShutdown)
	}
	h.mu.Unlock()
	h.sub.Close()
	<-h.done
}

// liveFilter narrows a client's stream; zero fields match everything.
type liveFilter struct {
	CampaignID     int64 `json:"campaign_id"`
	TransmissionID int64 `json:"transmission_id"`
}

// liveClient is one websocket connection.
type liveClient struct {
	conn   *websocket.Conn
	actor  dialer.Actor
	out    chan []byte   // framed events, shared by every client: never modified
	gone   chan struct{} // closed by the hub on eviction
	filter atomic.Pointer[liveFilter]
	// set by the hub before gone is closed
	closeCode   int
	closeReason string
}

// wants reports whether the client may and wants to see ev: its tenant's
// events only, its own resources' unless admin, and within its filter.
func (c *liveClient) wants(ev dialer.Event) bool {
	if ev.TenantID != c.actor.TenantID {
		return false
	}
	if !c.actor.Admin && ev.OwnerID != c.actor.UserID {
		return false
	}
	f := c.filter.Load()
	if f == nil {
		return true
	}
	return (f.CampaignID == 0 || f.CampaignID == ev.CampaignID) &&
		(f.TransmissionID == 0 || f.TransmissionID == ev.TransmissionID)
}

// liveControl is what a client may send: {"subscribe": {"campaign_id": 3}}
// narrows the stream, {"subscribe": {}} widens it to everything again.
type liveControl struct {
	Subscribe *liveFilter `json:"subscribe"`
}

// maxControlBytes bounds one client message.
const maxControlBytes = 4096

func (s *Server) liveRoutes(e *gin.Engine) {
	// Browsers cannot set headers on a websocket, so the token may also
	// come as ?token=; the access log never records query strings.
	e.GET("/ws", s.requireReady(), s.authenticateLive(), s.serveLive)
}

// authenticateLive accepts the usual credentials or ?token=, and refuses
// the upgrade with 401 before any websocket handshake.
func (s *Server) authenticateLive() gin.HandlerFunc {
	return func(c *gin.Context) {
		if tok := c.Query("token"); tok != "" && bearer(c.Request) == "" {
			a, err := s.actorForSecret(c.Request.Context(), tok)
			if err == nil {
				a, err = s.actAs(c, a)
			}
			if err != nil {
				s.fail(c, err)
				return
			}
			c.Set(ctxActor, a)
			c.Next()
			return
		}
		s.authenticate()(c)
	}
}

func (s *Server) serveLive(c *gin.Context) {
	if s.live == nil {
		s.fail(c, dialer.NotReady("the live stream is not running"))
		return
	}
	if s.live.full() {
		c.Header("Retry-After", "5")
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, ictcoreError{Error: ictcoreErrorBody{
			Code: http.StatusServiceUnavailable, Message: "too many live connections"}})
		return
	}
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Credentials are tokens, never cookies, so a foreign page cannot
		// ride on a browser's session: any origin may connect.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	conn, err := up.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		return // Upgrade has answered the client already
	}
	c.Set(ctxStatus, http.StatusSwitchingProtocols) // gin's writer never saw the hijacked 101
	client := &liveClient{conn: conn, actor: actor(c), out: make(chan []byte, s.live.cfg.Queue), gone: make(chan struct{})}
	if !s.live.add(client) {
		// Others connected during the handshake: the cap still holds.
		msg := websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too many live connections")
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		conn.Close()
		return
	}
	go s.live.write(client)
	s.live.read(client)
}

// read handles control messages and pongs until the connection fails.
func (h *hub) read(c *liveClient) {
	defer h.remove(c)
	c.conn.SetReadLimit(maxControlBytes)
	deadline := func() { _ = c.conn.SetReadDeadline(time.Now().Add(2*h.cfg.PingInterval + h.cfg.WriteTimeout)) }
	deadline()
	c.conn.SetPongHandler(func(string) error { deadline(); return nil })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		deadline()
		var ctl liveControl
		if err := json.Unmarshal(data, &ctl); err != nil || ctl.Subscribe == nil {
			continue // not a control message; ignore rather than drop the client
		}
		f := *ctl.Subscribe
		if f == (liveFilter{}) {
			c.filter.Store(nil)
		} else {
			c.filter.Store(&f)
		}
	}
}

// write sends queued events and pings, and the close frame on eviction.
func (h *hub) write(c *liveClient) {
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	defer c.conn.Close()
	// Events are written as ready-made frames (no extension is negotiated,
	// so one frame suits every client) to the connection itself, bypassing
	// gorilla's one-write-per-message path. The connection serialises whole
	// writes, so they never interleave with the control frames gorilla
	// writes (pings and the close here, pongs from read). A pong sets its
	// own 1 s deadline, which may only cut short a write to a client that
	// pings while it is not reading; browsers do not ping.
	raw := c.conn.UnderlyingConn()
	for {
		select {
		case frame := <-c.out:
			// Everything queued now goes in one write (writev) under one
			// deadline: a burst of events costs a client one system call,
			// not one per event.
			batch := net.Buffers{frame}
			for more := true; more && len(batch) < maxBatch; {
				select {
				case frame = <-c.out:
					batch = append(batch, frame)
				default:
					more = false
				}
			}
			_ = raw.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
			if _, err := batch.WriteTo(raw); err != nil {
				h.remove(c)
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.cfg.WriteTimeout)); err != nil {
				h.remove(c)
				return
			}
		case <-c.gone:
			if c.closeReason != "" || c.closeCode != websocket.CloseNormalClosure {
				msg := websocket.FormatCloseMessage(c.closeCode, c.closeReason)
				err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
					h.log.Debug("close frame not sent", "err", err)
				}
			}
			return
		}
	}
}
