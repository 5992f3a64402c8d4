package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// Config is the API's part of dialerd's configuration.
type Config struct {
	// TokenKey signs JWTs (HS256); at least 32 bytes.
	TokenKey []byte
	// TokenTTL is how long an issued token is valid.
	TokenTTL time.Duration
	// MaxBodyBytes caps a request body outside upload routes.
	MaxBodyBytes int64
	// MaxRecordingBytes, MaxDocumentBytes and MaxTemplateBytes cap the media
	// files of recordings, documents and templates (defaults 50, 20, 10 MiB).
	MaxRecordingBytes int64
	MaxDocumentBytes  int64
	MaxTemplateBytes  int64
	// PasswordCost is the bcrypt cost of new password hashes; 0 means
	// bcrypt's default. Only tests lower it.
	PasswordCost int
	// Live tunes GET /ws; Metrics guards GET /metrics.
	Live    LiveConfig
	Metrics MetricsConfig
	// MaxCPM caps a campaign's cpm (dialer.DefaultMaxCPM when zero); the
	// daemon passes engine.max_cpm, the engine's own cap.
	MaxCPM int
	// MaxImportBytes caps a CSV import body (POST /groups/{id}/csv); 1 GiB when zero.
	MaxImportBytes int64
	// DefaultCountryCode completes national phone numbers ("0300 1234567"
	// with "92" is +923001234567); "1" when empty.
	DefaultCountryCode string
	// StoreReads and StoreWrites bound the ICTCore requests using the
	// store at once, reads (GET) and writes apart, so API load cannot
	// starve the spool engine of the store's connections; defaults
	// DefaultStoreReads and DefaultStoreWrites.
	StoreReads, StoreWrites int
	// AccountsRateLimit is how many requests a minute each account may make
	// of /api/accounts (seed 002's 200 when 0; none when negative).
	AccountsRateLimit int
	// Now is the server's clock: tokens, login throttling, the CPM metric's
	// window and the pacing of campaign.progress on GET /ws; time.Now when nil.
	Now func() time.Time
}

// ReadyCheck is one thing /readyz asks about.
type ReadyCheck struct {
	Name  string
	Check func(context.Context) error
	// Optional checks are reported but never make dialerd "not ready": a
	// dead trunk should be seen, not take the API down with it.
	Optional bool
}

// Deps are the stores and checks the handlers use. Each field's interface is
// declared beside the handlers that use it.
type Deps struct {
	Users    userStore
	Contacts contactStore
	Groups   groupStore
	Messages messageStore
	Programs programStore
	Accounts accountStore
	// Tenants are the tenant accounts of /api/accounts, their API keys and
	// members; nil serves no such routes and knows no API key.
	Tenants   tenantStore
	Providers providerStore
	PBX       pbxStore
	// Nodes runs the FreeSWITCH nodes of enabled FreeSWITCH profiles;
	// nil when no gateway is configured.
	Nodes  NodeRegistry
	Checks []ReadyCheck
	// The spool engine and its stores; the Transmission, Campaign and
	// Reports routes are served only when all three are set.
	Transmissions transmissionStore
	Campaigns     campaignStore
	Engine        spoolEngine
	// TrunkHealth says whether a watched trunk answers (known=false for a
	// provider no gateway watches); providers are answered with it.
	TrunkHealth func(providerID int64) (up, known bool)
	// Media signs the URLs of recordings for remote FreeSWITCH nodes and
	// MediaFiles serves them at GET /media/{hash}.wav; nil serves none.
	Media      *MediaSigner
	MediaFiles mediaFiles
	// Fax converts uploaded PDF documents to fax TIFF; nil refuses PDF
	// uploads with a 412 that says Ghostscript is needed.
	Fax faxConverter
	// Events feeds GET /ws and the event metrics; nil serves neither.
	Events eventSource
	// Collectors are more metrics to serve, e.g. gateway health.
	Collectors []prometheus.Collector
	// Checker is the gateways' own validation (the daemon's GatewayRouter):
	// providers, programs and messages are checked against it when written,
	// so what no gateway can carry is refused with a 412 naming the field.
	// Nil checks nothing.
	Checker dialer.AttemptChecker
	// Changes is told after every write of a provider, program or message,
	// so the engine re-reads them; Blocked says why an active campaign
	// cannot dial. Both default to Engine when it implements them.
	Changes configWatcher
	Blocked campaignBlocker
	// Compliance serves /dnc, /compliance and /campaigns/{id}/report; nil
	// serves none of them.
	Compliance complianceStore
	// The crossbar surface (/v2/accounts/{ACCOUNT_ID}/…, crossbar.go): its
	// account check, centrex and services; served when Crossbar is set.
	Crossbar crossbarTenants
	Centrex  centrexStore
	Services servicesStore
	// Plans is the plan catalogue (configs/plans.yaml); dialer.DefaultPlans
	// when empty. Credit is told when a tenant's credit or plans change;
	// it defaults to Engine when that implements it.
	Plans  dialer.PlanCatalog
	Credit creditWatcher
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	deps    Deps
	engine  *gin.Engine
	tokens  *tokenIssuer
	keyHash apiKeyHasher
	// engineBehind is the engine's lateness (engineLag), nil without one.
	engineBehind func() time.Duration
	// platformID is the default tenant's id once read (see platformTenant).
	platformID    atomic.Pointer[string]
	accountsLimit *rateLimiter
	throttle      *loginGuard
	dummyHash     string
	// checkPassword compares a password with its hash; a seam for tests
	// that count checks.
	checkPassword func(hash, password string) bool
	ready         atomic.Bool
	// openapiDoc is GET /openapi.json, built from the routes by New.
	openapiDoc []byte
	live       *hub // nil without Deps.Events
	metrics    *metrics
	stopBg     context.CancelFunc
	quantities quantityWatch // services.go
}

// New builds the server and its routes. It is not ready (ICTCore routes
// answer 423) until SetReady(true).
func New(cfg Config, log *slog.Logger, deps Deps) (*Server, error) {
	if len(cfg.TokenKey) < 32 {
		return nil, errors.New("api: token key must be at least 32 bytes")
	}
	if cfg.TokenTTL <= 0 {
		return nil, errors.New("api: token ttl must be positive")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = 1 << 30
	}
	if cfg.DefaultCountryCode == "" {
		cfg.DefaultCountryCode = "1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.StoreReads = cmp.Or(max(cfg.StoreReads, 0), DefaultStoreReads)
	cfg.StoreWrites = cmp.Or(max(cfg.StoreWrites, 0), DefaultStoreWrites)
	cfg.MaxRecordingBytes = cmp.Or(max(cfg.MaxRecordingBytes, 0), DefaultMaxRecordingBytes)
	cfg.MaxDocumentBytes = cmp.Or(max(cfg.MaxDocumentBytes, 0), DefaultMaxDocumentBytes)
	cfg.MaxTemplateBytes = cmp.Or(max(cfg.MaxTemplateBytes, 0), DefaultMaxTemplateBytes)
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = bcrypt.DefaultCost
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("dialerd timing equaliser"), cfg.PasswordCost)
	if err != nil {
		return nil, err
	}
	if w, ok := deps.Engine.(configWatcher); ok && deps.Changes == nil {
		deps.Changes = w
	}
	if b, ok := deps.Engine.(campaignBlocker); ok && deps.Blocked == nil {
		deps.Blocked = b
	}
	if w, ok := deps.Engine.(creditWatcher); ok && deps.Credit == nil {
		deps.Credit = w
	}
	s := &Server{
		cfg:           cfg,
		log:           log,
		deps:          deps,
		tokens:        &tokenIssuer{key: cfg.TokenKey, ttl: cfg.TokenTTL, now: cfg.Now, users: deps.Users, verified: newVerifiedTokens(verifiedTokensMax)},
		throttle:      newLoginGuard(cfg.Now),
		dummyHash:     string(dummy),
		checkPassword: dialer.CheckPassword,
	}
	s.keyHash = newAPIKeyHasher(cfg.TokenKey)
	s.accountsLimit = newRateLimiter(cfg.AccountsRateLimit, cfg.Now)
	// Blocked campaigns as the engine knows them, or as its events said.
	var blocked func() []dialer.BlockedCampaign
	if l, ok := deps.Engine.(blockedLister); ok {
		blocked = l.BlockedCampaigns
	}
	if s.metrics, err = newMetrics(cfg.Metrics, deps.Events, cfg.Now, blocked, deps.Collectors); err != nil {
		return nil, fmt.Errorf("api: metrics: %w", err)
	}
	// /readyz shows them, and never becomes not ready for them.
	if blocked != nil || deps.Events != nil {
		s.deps.Checks = append(slices.Clip(deps.Checks), ReadyCheck{Name: "campaigns", Check: blockedCheck(s.metrics.blocked), Optional: true})
	}
	if deps.Events != nil {
		s.live = newHub(cfg.Live, log, deps.Events, cfg.Now)
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dialerd_ws_clients", Help: "Connected websocket clients.",
		}, func() float64 { return float64(s.live.count.Load()) }), prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "dialerd_ws_evicted_total", Help: "Websocket clients disconnected for falling behind.",
		}, func() float64 { return float64(s.live.evicted.Load()) }))
	}
	if b, ok := deps.Engine.(engineLag); ok {
		s.engineBehind = b.Behind
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dialerd_engine_behind_seconds",
			Help: "How late the spool engine is with the calls it owes now; above 0.05 the API serves one request at a time.",
		}, func() float64 { return b.Behind().Seconds() }))
	}
	s.metrics.platform = s.metricsPlatform
	s.engine = s.routes()
	if err := s.describeAPI(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start runs the live stream and the event metrics until Close.
func (s *Server) Start(ctx context.Context) {
	ctx, s.stopBg = context.WithCancel(ctx)
	go s.metrics.run(ctx)
	if s.live != nil {
		go s.live.run(ctx)
	}
}

// Close disconnects websocket clients ("going away") and stops the
// background consumers. http.Server.Shutdown does not close hijacked
// connections, so the daemon calls this before it.
func (s *Server) Close() {
	if s.live != nil {
		s.live.shutdown()
	}
	s.metrics.stop()
	if s.stopBg != nil {
		s.stopBg()
	}
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// SetReady opens (true) or closes (false) the ICTCore routes.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// Trust no proxy: the client address (login throttling, logs) is the
	// connection's own, so X-Forwarded-For cannot dodge the throttle.
	if err := e.SetTrustedProxies(nil); err != nil {
		panic(err) // nil is always accepted
	}
	e.ContextWithFallback = true
	e.Use(withRequestID(), s.accessLog(), s.metrics.measure(), s.recoverJSON(), limitBody(s.cfg.MaxBodyBytes))
	e.Use(s.quantitiesAfterWrites())
	e.NoRoute(func(c *gin.Context) {
		if crossbarPath(c.Request.URL.Path) {
			s.cbFail(c, dialer.NotFound("path")) // crossbar.go's envelope
			return
		}
		s.fail(c, dialer.NotFound("route "+c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ictcoreError{Error: ictcoreErrorBody{
			Code: http.StatusMethodNotAllowed, Message: "method " + c.Request.Method + " not allowed on " + c.Request.URL.Path}})
	})

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics.serve())
	// Not behind readiness: calls still in flight while draining play from it.
	e.GET("/media/:name", s.serveSignedMedia)
	s.liveRoutes(e)
	e.GET("/openapi.json", s.openapi)
	s.uiRoutes(e)

	ict := e.Group("/", s.requireReady())
	// A login is one indexed read and a bcrypt hash: it does not hold the
	// store, so it is not counted against it.
	ict.POST("/authenticate", s.login)

	// Every other ICTCore request reads the store, if only to authenticate.
	limit := newStoreLimit(s.cfg.StoreReads, s.cfg.StoreWrites, storeWait, s.engineBehind,
		"/transmissions/:transmission_id/send", "/transmissions/:transmission_id/retry")
	authed := ict.Group("/", limit.handler(), s.authenticate())
	s.userRoutes(authed)
	s.contactRoutes(authed)
	s.groupRoutes(authed)
	s.messageRoutes(authed)
	s.programRoutes(authed)
	s.accountRoutes(authed)
	s.providerRoutes(authed)
	s.engineRoutes(authed)
	s.dncRoutes(authed)

	// Other surfaces, with their own readiness, auth and error envelopes.
	s.pbxRoutes(e)
	s.tenantRoutes(e)
	s.crossbarRoutes(e)
	return e
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "alive"})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status, code := "ready", http.StatusOK
	if !s.ready.Load() {
		status, code = "starting", http.StatusServiceUnavailable
	}
	for _, ch := range s.deps.Checks {
		if err := ch.Check(ctx); err != nil {
			checks[ch.Name] = err.Error()
			if !ch.Optional {
				status, code = "not ready", http.StatusServiceUnavailable
			}
			continue
		}
		checks[ch.Name] = "ok"
	}
	if !s.nodeChecks(checks) {
		status, code = "not ready", http.StatusServiceUnavailable
	}
	c.JSON(code, gin.H{"status": status, "checks": checks})
}

// bindJSON decodes the body into dst, answering 400 (unreadable, too large)
// and returning false when it cannot. Unknown fields are ignored, as ICTCore
// clients send whole objects back.
func (s *Server) bindJSON(c *gin.Context, dst any) bool {
	dec := json.NewDecoder(c.Request.Body)
	err := dec.Decode(dst)
	if err == nil {
		// One JSON value per body: trailing garbage is an error, not ignored.
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, ictcoreError{Error: ictcoreErrorBody{
			Code: http.StatusRequestEntityTooLarge, Message: "request body too large"}})
	case errors.Is(err, io.EOF):
		s.badRequest(c, "request body is empty; a JSON object is required")
	case errors.As(err, &typeErr):
		field := strings.TrimPrefix(typeErr.Field, ".")
		if field == "" {
			field = "body"
		}
		s.fail(c, dialer.InvalidField(field, "wrong JSON type: "+typeErr.Value+" where "+typeErr.Type.Kind().String()+" is expected"))
	default:
		s.badRequest(c, "malformed JSON: "+err.Error())
	}
	return false
}
