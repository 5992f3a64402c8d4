package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
)

// Defaults for a zero Config.
const (
	DefaultListenAddr      = "127.0.0.1:5060"
	DefaultUserAgent       = "dialerd"
	DefaultOptionsInterval = 30 * time.Second
	DefaultOptionsMisses   = 3
	DefaultRegisterExpiry  = time.Hour
	DefaultRingTimeout     = 60 * time.Second
	DefaultMaxDuration     = time.Hour
	// DefaultResponseTimeout bounds the wait for a trunk's first response
	// to an INVITE: a trunk answers 100 Trying within milliseconds, so
	// silence this long means the trunk is down, not the callee away.
	DefaultResponseTimeout = 4 * time.Second
	// DefaultReadBuffer is the UDP receive buffer asked for the SIP socket:
	// a burst of 200 calls a second of answers must not overflow it while
	// the reader is descheduled.
	DefaultReadBuffer = 4 << 20
)

// Timeouts of requests that end something; they must not hang a Deliver
// whose context is already done.
const (
	byeTimeout     = 8 * time.Second
	messageTimeout = 32 * time.Second
	inboundTimeout = 10 * time.Second
)

// Errors Deliver returns when the attempt could not reach the network.
var (
	ErrClosed             = errors.New("sip: gateway closed")
	ErrUnsupportedProgram = errors.New("sip: program type not delivered by the SIP gateway")
	ErrDuplicateCall      = errors.New("sip: a call with this UUID is already live")
	ErrTransport          = errors.New("sip: transport failure before any response")
)

// InboundMessageFunc receives a SIP MESSAGE sent to our user agent: from
// and to are the user parts of the From and To URIs (an E.164 number when
// the trunk sends one), body the text. Return nil to answer 200,
// ErrUnknownRecipient to answer 404, anything else to answer 500.
type InboundMessageFunc func(ctx context.Context, from, to, body string) error

// ErrUnknownRecipient is what an InboundMessageFunc returns when no
// account owns the destination; the sender gets 404.
var ErrUnknownRecipient = errors.New("sip: unknown recipient")

// Config configures a Gateway. The zero value listens on 127.0.0.1:5060.
type Config struct {
	// ListenAddr is the host:port of our user agent, UDP and TCP on the
	// same port. Port 0 picks a free one (see Gateway.Addr).
	ListenAddr string
	// AdvertiseHost is written in Contact and Via headers and in SDP; the
	// listen host by default, which then must not be 0.0.0.0.
	AdvertiseHost string
	// UserAgent is the User-Agent header value.
	UserAgent string
	// Logger receives the gateway's logs and most of sipgo's (a few sipgo
	// warnings go to slog.Default), as is: label it (gateway=sip) before.
	// Default slog.Default.
	Logger *slog.Logger

	// ResponseTimeout is how long an INVITE may go without any response
	// before the attempt is the route's fault (config sip.response_timeout;
	// default DefaultResponseTimeout).
	ResponseTimeout time.Duration
	// ReadBuffer is the UDP receive buffer asked of the kernel for the SIP
	// socket (default DefaultReadBuffer; negative keeps the system's
	// default); the size granted is logged. Linux grants at most
	// net.core.rmem_max (doubled), so raise that sysctl on a busy host.
	ReadBuffer int
	// OnRouteUp is called when a trunk is seen healthy after being unknown
	// or down (an OPTIONS or an INVITE answered), so the engine ends its
	// back-off at once. It must not block. Nil-safe.
	OnRouteUp func(dialer.RouteUp)
	// OnStrayAnswer is called once for a 200 OK to an INVITE no live call
	// of this process owns (a call of a previous process, answered after
	// it died, or after we gave up on a silent trunk): the gateway ACKs
	// and BYEs it, and the engine records the answer so that callee is
	// not dialled again. callUUID is the call's Call-ID. Nil-safe.
	OnStrayAnswer func(callUUID string, at time.Time)

	// OptionsInterval is how often each trunk is pinged with OPTIONS;
	// OptionsMisses unanswered pings in a row mark it down.
	OptionsInterval time.Duration
	OptionsMisses   int
	// RegisterExpiry is the expiry we ask for when registering a trunk.
	RegisterExpiry time.Duration
	// OnHealth is called (from the trunk's monitor goroutine) whenever a
	// trunk goes up or down. It must not block for long.
	OnHealth func(HealthChange)

	// OnMessage handles inbound SIP MESSAGE; without it we answer 404.
	OnMessage InboundMessageFunc

	// TTS renders voicetts texts; without it voicetts is refused as a
	// configuration fault naming ConfigKeyTTS.
	TTS Speaker
}

// Speaker renders a voicetts text (normalised and checked by
// dialer.CheckTTSText) to an 8 kHz 16-bit mono WAV file and returns its
// path; the file stays as long as the gateway may play it. An error other
// than ctx's is the text's: no route can speak it. media.Espeak is one.
type Speaker interface {
	Speak(ctx context.Context, text, voice, language string) (path string, err error)
}

// SpeechHolder is a Speaker whose renderings may be evicted: Hold keeps
// one until release, which the gateway calls once it has decoded it.
// media.Espeak is one.
type SpeechHolder interface {
	Hold(ctx context.Context, text, voice, language string) (path string, release func(), err error)
}

// VoiceChecker is a Speaker that can tell, without rendering, whether it
// has a program's language and voice; CheckAttempt then refuses one it
// lacks, naming the field ("language" or "voice").
type VoiceChecker interface {
	CheckVoice(language, voice string) (field string, err error)
}

// ConfigKeyTTS is the daemon's config key of the SIP gateway's speech
// engine, named by the fault of a voicetts attempt without one.
const ConfigKeyTTS = "media.espeak"

// Gateway is the SIP trunk gateway: one user agent listening on UDP and
// TCP, speaking to every provider through the transport its Route names.
// It implements dialer.Gateway, Placer, AttemptChecker and Recoverer.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	advertise net.IP // in Contact, Via and SDP
	port      int    // of the listener, in Contact and Via
	mediaBind net.IP // where RTP sockets bind: the listen host (nil: all)

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	udp     *sipTransport
	tcp     *sipTransport
	udpConn net.PacketConn
	tcpLn   net.Listener

	// ctx ends when Close starts; every Deliver and monitor derives from it.
	ctx    context.Context
	cancel context.CancelFunc
	work   sync.WaitGroup // Deliver calls, monitors, inbound handlers
	serve  sync.WaitGroup // the two listener loops

	recordings *recordingCache
	rtp        *rtpSender // paces every call's outgoing RTP

	mu     sync.Mutex
	closed bool
	calls  map[string]*liveCall
	// answeredCalls are Call-IDs whose 2xx this process handled, until
	// the far end can no longer retransmit it; strays are Call-IDs of
	// stray answers being ended, so their retransmissions are only ACKed.
	answeredCalls map[string]time.Time
	strays        map[string]time.Time
	trunks        map[int64]*trunkMonitor
	health        map[int64]Health
	misses        map[int64]int // OPTIONS missed in a row, per watched trunk
}

// sipTransport is one network's client side: requests leave through it and
// its dialog cache matches in-dialog requests (a far-end BYE) to calls.
type sipTransport struct {
	network string // udp or tcp
	client  *sipgo.Client
	dialogs *sipgo.DialogClientCache
	contact sip.ContactHeader
}

// liveCall is an entry of the dialog table CallExists reads.
type liveCall struct {
	started time.Time
}

// New starts a gateway: it binds the listen address on UDP and TCP and
// serves until Close.
func New(cfg Config) (*Gateway, error) {
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = DefaultListenAddr
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if strings.ContainsFunc(cfg.UserAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, fmt.Errorf("sip: user agent %q contains control characters", cfg.UserAgent)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OptionsInterval <= 0 {
		cfg.OptionsInterval = DefaultOptionsInterval
	}
	if cfg.OptionsMisses <= 0 {
		cfg.OptionsMisses = DefaultOptionsMisses
	}
	if cfg.RegisterExpiry <= 0 {
		cfg.RegisterExpiry = DefaultRegisterExpiry
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = DefaultReadBuffer
	}
	host, portText, err := net.SplitHostPort(cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("sip: listen address: %w", err)
	}
	if _, err := strconv.Atoi(portText); err != nil {
		return nil, fmt.Errorf("sip: listen port %q: %w", portText, err)
	}
	advertise := cfg.AdvertiseHost
	if advertise == "" {
		advertise = host
	}
	adIP := net.ParseIP(advertise)
	if adIP == nil || adIP.IsUnspecified() {
		return nil, fmt.Errorf("sip: advertised host %q must be a concrete IP address", advertise)
	}

	g := &Gateway{
		cfg:           cfg,
		log:           cfg.Logger,
		advertise:     adIP,
		mediaBind:     net.ParseIP(host),
		calls:         map[string]*liveCall{},
		answeredCalls: map[string]time.Time{},
		strays:        map[string]time.Time{},
		recordings:    newRecordingCache(recordingCacheBytes),
		trunks:        map[int64]*trunkMonitor{},
		health:        map[int64]Health{},
		misses:        map[int64]int{},
	}
	if err := g.listen(host, portText); err != nil {
		return nil, err
	}
	if cfg.ReadBuffer > 0 {
		if granted, err := setReadBuffer(g.udpConn, cfg.ReadBuffer); err != nil {
			g.log.Warn("SIP socket receive buffer", "err", err)
		} else {
			g.log.Info("SIP socket receive buffer", "asked", cfg.ReadBuffer, "granted", granted)
		}
	}
	g.rtp = newRTPSender()
	if err := g.start(); err != nil {
		g.rtp.close()
		// start closed what it opened, sockets included, unless it failed
		// before serving them.
		if g.ua == nil {
			g.udpConn.Close()
			g.tcpLn.Close()
		}
		return nil, err
	}
	return g, nil
}

// listen binds UDP then TCP on the same port; with port 0 it retries a few
// times in case the free UDP port is taken on TCP.
func (g *Gateway) listen(host, port string) error {
	var lastErr error
	for range 10 {
		udpConn, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("sip: listen udp: %w", err)
		}
		_, actual, _ := net.SplitHostPort(udpConn.LocalAddr().String())
		tcpLn, err := net.Listen("tcp", net.JoinHostPort(host, actual))
		if err == nil {
			g.udpConn, g.tcpLn = udpConn, tcpLn
			return nil
		}
		udpConn.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return fmt.Errorf("sip: listen tcp: %w", lastErr)
}

func (g *Gateway) start() error {
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(g.cfg.UserAgent),
		sipgo.WithUserAgentHostname(g.advertise.String()),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(g.log),
			sip.WithTransactionLayerUnhandledResponseHandler(g.handleStrayResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(g.log)),
	)
	if err != nil {
		return fmt.Errorf("sip: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(g.log))
	if err != nil {
		ua.Close()
		return fmt.Errorf("sip: server: %w", err)
	}
	port := g.udpConn.LocalAddr().(*net.UDPAddr).Port
	g.port = port
	adHost := g.advertise.String()

	// UDP requests leave through the listening socket, so responses and
	// in-dialog requests come back to the address we advertise.
	udpClient, err := sipgo.NewClient(ua,
		sipgo.WithClientLogger(g.log),
		sipgo.WithClientHostname(adHost),
		sipgo.WithClientPort(port),
		sipgo.WithClientConnectionAddr(g.udpConn.LocalAddr().String()),
	)
	if err != nil {
		ua.Close()
		return fmt.Errorf("sip: udp client: %w", err)
	}
	// TCP requests use their own connection; its local address fills Via,
	// and the far end reaches our listener through Contact.
	tcpClient, err := sipgo.NewClient(ua, sipgo.WithClientLogger(g.log), sipgo.WithClientHostname(adHost))
	if err != nil {
		ua.Close()
		return fmt.Errorf("sip: tcp client: %w", err)
	}
	g.ua, g.srv = ua, srv
	g.udp = newSIPTransport("udp", udpClient, g.advertise, port)
	g.tcp = newSIPTransport("tcp", tcpClient, g.advertise, port)

	srv.OnBye(g.handleBye)
	srv.OnOptions(g.handleOptions)
	srv.OnMessage(g.handleMessage)
	srv.OnInvite(g.handleInvite)

	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.serve.Add(2)
	go func() {
		defer g.serve.Done()
		if err := srv.ServeUDP(g.udpConn); err != nil && !errors.Is(err, net.ErrClosed) {
			g.log.Debug("udp listener stopped", "err", err)
		}
	}()
	go func() {
		defer g.serve.Done()
		if err := srv.ServeTCP(g.tcpLn); err != nil && !errors.Is(err, net.ErrClosed) {
			g.log.Debug("tcp listener stopped", "err", err)
		}
	}()
	// UDP requests are sent through the listening socket, which sipgo only
	// knows once ServeUDP has registered it: wait for that, briefly.
	for i := 0; ua.TransportLayer().Pool("udp").Size() == 0; i++ {
		if i == 2000 {
			g.cancel()
			ua.Close()
			g.udpConn.Close()
			g.tcpLn.Close()
			g.serve.Wait()
			return errors.New("sip: udp listener did not start")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func newSIPTransport(network string, client *sipgo.Client, host net.IP, port int) *sipTransport {
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "dialerd", Host: host.String(), Port: port}}
	if network == "tcp" {
		contact.Address.UriParams = sip.NewParams()
		contact.Address.UriParams.Add("transport", "tcp")
	}
	return &sipTransport{
		network: network,
		client:  client,
		dialogs: sipgo.NewDialogClientCache(client, contact),
		contact: contact,
	}
}

// Addr is the address the gateway listens on ("udp" or "tcp").
func (g *Gateway) Addr(network string) net.Addr {
	if network == "tcp" {
		return g.tcpLn.Addr()
	}
	return g.udpConn.LocalAddr()
}

// Close ends live calls (CANCEL or BYE), stops trunk monitors (REGISTER
// with expiry 0), waits for them, then closes the sockets.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.mu.Unlock()

	g.cancel()
	g.work.Wait()
	g.rtp.close()
	g.ua.Close()
	g.udpConn.Close()
	g.tcpLn.Close()
	g.serve.Wait()
	return nil
}

// enter registers one unit of work (a Deliver, a monitor, a handler) so
// Close waits for it; it fails once Close has begun.
func (g *Gateway) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.work.Add(1)
	return true
}

// transportFor picks the client side for a route's transport.
func (g *Gateway) transportFor(route dialer.Route) (*sipTransport, error) {
	switch strings.ToLower(route.Transport) {
	case "", "udp":
		return g.udp, nil
	case "tcp":
		return g.tcp, nil
	}
	return nil, dialer.InvalidField("provider.transport", "must be udp or tcp")
}

// trunkURI is the provider's address as a SIP URI with the given user.
func trunkURI(route dialer.Route, tp *sipTransport, user string) (sip.Uri, error) {
	if !validHost(route.Host) {
		return sip.Uri{}, dialer.InvalidField("provider.host", "must be an IP address or a host name")
	}
	port := route.Port
	if port == 0 {
		port = 5060
	}
	if port < 1 || port > 65535 {
		return sip.Uri{}, dialer.InvalidField("provider.port", "must be 1 to 65535")
	}
	uri := sip.Uri{Scheme: "sip", User: user, Host: route.Host, Port: port}
	if tp.network == "tcp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tcp")
	}
	return uri, nil
}

// handleBye ends the matching call when the far end hangs up.
func (g *Gateway) handleBye(req *sip.Request, tx sip.ServerTransaction) {
	for _, tp := range []*sipTransport{g.udp, g.tcp} {
		err := tp.dialogs.ReadBye(req, tx)
		if err == nil {
			return
		}
		if !errors.Is(err, sipgo.ErrDialogDoesNotExists) {
			g.log.Debug("bye", "err", err)
			break
		}
	}
	g.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

// handleOptions answers the far end's keepalives.
func (g *Gateway) handleOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, text/plain"))
	if err := tx.Respond(res); err != nil {
		g.log.Debug("respond to OPTIONS", "err", err)
	}
}

// handleInvite declines inbound calls: dialerd only originates.
func (g *Gateway) handleInvite(req *sip.Request, tx sip.ServerTransaction) {
	g.respond(tx, req, 603, "Decline")
}

func (g *Gateway) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	if err := tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)); err != nil {
		g.log.Debug("respond", "code", code, "err", err)
	}
}

// CallExists reports whether a call with this UUID is live in this
// process. The UUID is the call's SIP Call-ID. SIP calls do not outlive
// the process that placed them (the media is ours), so after a restart
// every spool left initiated is unknown here. node is ignored.
func (g *Gateway) CallExists(ctx context.Context, node, callUUID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.calls[callUUID]
	return ok, nil
}

// Deliver makes one attempt: a call for voicemessage and voicetts (its
// text rendered by Config.TTS, then played as a recording), MESSAGE for
// sendsms.
func (g *Gateway) Deliver(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	if progress == nil {
		progress = func(dialer.Progress) {}
	}
	if !g.enter() {
		return dialer.Outcome{}, ErrClosed
	}
	defer g.work.Done()
	// Close ends every attempt as if its caller had cancelled it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(g.ctx, cancel)
	defer stop()

	// What this gateway cannot carry is the content's fault, whatever
	// let it through.
	if err := g.CheckAttempt(a); err != nil {
		return dialer.Outcome{}, err
	}
	if a.Phone == "" {
		return dialer.Outcome{}, &dialer.FaultError{Fault: dialer.FaultCallee, Cause: dialer.CauseInvalidNumber, Field: "phone",
			Err: dialer.InvalidField("phone", "missing")}
	}
	switch a.Program {
	case "":
		return dialer.Outcome{}, dialer.ContentFault("program", ErrUnsupportedProgram)
	case dialer.ProgramSendSMS:
		return g.sendSMS(ctx, a)
	}
	return g.call(ctx, a, progress)
}

// answerRetransmitWindow is how long a far end may retransmit a 2xx to
// an INVITE (RFC 3261 13.3.1.4: 64*T1).
const answerRetransmitWindow = 32 * time.Second

// track adds a call to the live table; the returned func removes it,
// remembering a call that was answered so that late retransmissions of
// its 2xx are not taken for strays.
func (g *Gateway) track(callID string) (func(answered bool), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.calls[callID]; dup {
		return nil, ErrDuplicateCall
	}
	g.calls[callID] = &liveCall{started: time.Now()}
	return func(answered bool) {
		now := time.Now()
		g.mu.Lock()
		defer g.mu.Unlock()
		delete(g.calls, callID)
		if answered {
			g.answeredCalls[callID] = now
		}
		pruneBefore(g.answeredCalls, now.Add(-answerRetransmitWindow))
		pruneBefore(g.strays, now.Add(-answerRetransmitWindow))
	}, nil
}

func pruneBefore(m map[string]time.Time, t time.Time) {
	for k, at := range m {
		if at.Before(t) {
			delete(m, k)
		}
	}
}
