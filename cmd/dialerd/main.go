// Command dialerd is the dialer daemon: it loads its configuration, opens the
// store, wires the engine, gateways and HTTP API together, tells systemd when
// it is ready, and stops cleanly on SIGTERM or SIGINT.
//
// Usage:
//
//	dialerd [--config FILE] [--KEY VALUE ...]          run the daemon
//	dialerd config check FILE [--KEY VALUE ...]        validate a configuration without starting
//	dialerd version                                     print the version
//	dialerd help                                        list every configuration key
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // calling windows need time zones even on a host without zoneinfo

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialerd/dialerd/api"
	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/media"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/sip"
	"github.com/dialerd/dialerd/store"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	os.Exit(runEnviron(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// runEnviron is run with the whole environment, so a DIALERD_* variable
// that is no key stops dialerd (and fails config check) instead of being
// ignored.
func runEnviron(args, environ []string, stdout, stderr io.Writer) int {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if len(args) == 0 || !slices.Contains([]string{"version", "--version", "-v", "help", "--help", "-h"}, args[0]) {
		cfg := defaultConfig()
		if err := checkEnvironment(environ, cfg.keys()); err != nil {
			printConfigError(stderr, err)
			return 2
		}
	}
	return run(args, func(k string) string { return env[k] }, stdout, stderr)
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += " " + bi.GoVersion
	}
	return "dialerd " + v + " (schema " + fmt.Sprint(store.SchemaVersion()) + ")"
}

// run is main without os.Exit, so tests can drive it. It returns the exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-v":
			fmt.Fprintln(stdout, versionString())
			return 0
		case "help", "--help", "-h":
			printHelp(stdout)
			return 0
		case "config":
			return configCommand(args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := loadConfig(args, getenv)
	if err != nil {
		printConfigError(stderr, err)
		return 2
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("dialerd stopped with an error", "err", err)
		return 1
	}
	log.Info("dialerd stopped")
	return 0
}

// printConfigError writes each error of a configuration on its own line.
func printConfigError(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(w, "dialerd: "+line)
	}
}

// configCommand is `dialerd config check FILE [--KEY VALUE ...]`: the file,
// the environment and the flags are loaded and validated as on start, and
// nothing is opened or started.
func configCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "check" || strings.HasPrefix(args[1], "-") {
		fmt.Fprintln(stderr, "usage: dialerd config check FILE [--KEY VALUE ...]")
		return 2
	}
	file := args[1]
	if _, err := loadConfig(append([]string{"--config", file}, args[2:]...), getenv); err != nil {
		printConfigError(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: ok\n", file)
	return 0
}

func printHelp(w io.Writer) {
	cfg := defaultConfig()
	fmt.Fprintln(w, "usage:")
	fmt.Fprintln(w, "  dialerd [--config FILE] [--KEY VALUE ...]     run the daemon")
	fmt.Fprintln(w, "  dialerd config check FILE [--KEY VALUE ...]   validate a configuration (file, environment, flags) without starting")
	fmt.Fprintln(w, "  dialerd version                               print the version")
	fmt.Fprintln(w, "  dialerd help                                  this list")
	fmt.Fprintln(w, "\nconfiguration keys: YAML key (also the flag --KEY), environment variable, default;")
	fmt.Fprintln(w, "a DIALERD_* variable that is none of these stops dialerd:")
	keys := cfg.keys()
	wKey, wEnv := len("KEY"), len("ENVIRONMENT")
	for _, k := range keys {
		wKey, wEnv = max(wKey, len(k.path)), max(wEnv, len(k.env()))
	}
	fmt.Fprintf(w, "\n  %-*s  %-*s  %s\n", wKey, "KEY", wEnv, "ENVIRONMENT", "DEFAULT")
	for _, k := range keys {
		def := fmt.Sprint(k.v.Interface())
		if s, ok := k.v.Interface().(string); ok && s == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %-*s  %-*s  %s\n", wKey, k.path, wEnv, k.env(), def)
		fmt.Fprintf(w, "  %-*s  %s\n", wKey, "", k.help)
	}
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the daemon until ctx is cancelled (a signal), then drains.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	// The seal key encrypts provider and account credentials at rest; losing
	// it loses those credentials (they must be entered again), not the data.
	sealKey, err := loadOrCreateSecret(filepath.Join(cfg.DataDir, "seal.key"), store.SealKeySize)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(cfg.DataDir, "dialerd.db"), store.WithSealKey(sealKey))
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	if err := bootstrapAdmin(ctx, cfg, db, log); err != nil {
		return err
	}
	tokenKey, err := loadOrCreateSecret(filepath.Join(cfg.DataDir, "jwt.key"), 32)
	if err != nil {
		return err
	}

	files, err := store.OpenFiles(filepath.Join(cfg.DataDir, "media"))
	if err != nil {
		return err
	}
	messages := store.NewMessages(db, files)
	// Files of a dialerd from before extensions get theirs first: the sweep
	// and FreeSWITCH go by the new names.
	if mig, err := messages.MigrateFiles(ctx); err != nil {
		return err
	} else if mig != (store.FileMigration{}) {
		log.Info("media files given their extensions", "linked", mig.Linked, "old_names_removed", mig.Removed, "missing", mig.Missing)
	}
	if n, err := messages.SweepFiles(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("removed media files no message names", "count", n)
	}
	fax, err := startFax(ctx, cfg, messages, log)
	if err != nil {
		return err
	}

	// FreeSWITCH: one node per enabled FreeSWITCH profile, of every
	// tenant. A node that cannot connect yet is started all the same: it
	// reconnects with back-off, and /readyz says it is down.
	var mediaSigner *api.MediaSigner
	// The gateways report to the engine, which is built after them.
	link := &engineLink{}
	eslOpts := esl.Options{Log: log, TTSEngine: cfg.ESL.DefaultTTSEngine, TTSVoice: cfg.ESL.DefaultTTSVoice, OnRouteUp: link.RouteUp}
	if eslOpts.FaxDir, err = faxDir(cfg.DataDir); err != nil {
		return err
	}
	faxIn := newFaxInbox(cfg, db, messages, log)
	eslOpts.Fax = faxIn
	// faxtoemail's retries, and the mails a previous run left: stopped
	// before the store closes (deferred calls run in reverse).
	defer startLoop(ctx, faxIn.mail.run)()
	if cfg.Media.PublicURL != "" {
		key, err := loadOrCreateSecret(filepath.Join(cfg.DataDir, "media-url.key"), 32)
		if err != nil {
			return err
		}
		// A URL outlives the call it is made for: ring, talk, and a margin.
		ttl := cfg.Engine.RingTimeout + cfg.Engine.MaxDuration + 10*time.Minute
		if mediaSigner, err = api.NewMediaSigner(key, cfg.Media.PublicURL, ttl, time.Now); err != nil {
			return err
		}
		eslOpts.MediaURL = mediaSigner.URLForPath
	}
	freeswitch := esl.New(eslOpts)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Grace)
		defer cancel()
		if err := freeswitch.Close(ctx); err != nil {
			log.Warn("FreeSWITCH calls did not finish within the grace period", "err", err)
		}
	}()
	nodes, err := db.EnabledFreeSwitchNodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := freeswitch.ApplyNode(n); err != nil {
			log.Error("FreeSWITCH profile not started", "pbx_id", n.ID, "name", n.Name, "err", err)
		}
	}
	// Recovery asks the nodes about the calls of the last run: give them a
	// moment to connect. One still down is asked again later.
	waitCtx, cancelWait := context.WithTimeout(ctx, 5*time.Second)
	if err := freeswitch.WaitConnected(waitCtx); err != nil && len(nodes) > 0 {
		log.Warn("not every FreeSWITCH node is connected; starting anyway", "nodes", freeswitch.NodeHealth())
	}
	cancelWait()

	// The engine after the store, before the API; stopped (with the grace
	// period) before the store closes: deferred calls run in reverse.
	// Validated with the configuration: it parses.
	window, _ := dialer.ParseWindowSpan(cfg.Compliance.DefaultWindow)
	db.SetComplianceDefaults(dialer.TenantCompliance{Window: window, RedialLimit: cfg.Compliance.RedialLimit})
	engineStore := store.NewEngineStore(db)
	if err := engineStore.SharedPools(); err != nil {
		log.Warn("the engine shares the API's store connections; API load can delay its commits", "err", err)
	}
	defer func() {
		if err := engineStore.Close(); err != nil {
			log.Error("closing the engine's store writer", "err", err)
		}
	}()
	gw, sipGW, closeGateways, err := gateways(cfg, db, freeswitch, link, log)
	if err != nil {
		return err
	}
	defer closeGateways() // after the engine has stopped: deferred in reverse
	bus := dialer.NewBus()
	plans, err := loadPlans(cfg.Services.Plans)
	if err != nil {
		return err
	}
	db.UsePlans(plans) // inbound senders become contacts within the plan's limit
	eng, err := startEngine(ctx, cfg, engineStore, bus, gw, link, db.PlanSource(plans), log)
	if err != nil {
		return err
	}
	db.UseLiveCounters(eng.CampaignCounters) // running campaigns: no count per request
	stopMailIn, err := startMailIn(cfg, db, messages, fax, eng, log)
	if err != nil {
		stopEngine(eng, 0, log)
		return err
	}
	defer stopMailIn()

	// The API refuses what no gateway could carry, as the router would.
	checker, _ := gw.(dialer.AttemptChecker)
	checks := []api.ReadyCheck{{Name: "store", Check: db.Ping}}
	var trunkHealth func(int64) (bool, bool)
	collectors := []prometheus.Collector{freeswitch.Collector()}
	if sipGW != nil {
		collectors = append(collectors, sipGW.Collector())
		tw := &trunkWatch{db: db, gw: sipGW, log: log, interval: 15 * time.Second}
		go tw.run(ctx)
		checks = append(checks, api.ReadyCheck{Name: "sip trunks", Check: tw.check, Optional: true})
		trunkHealth = tw.health
	}
	srv, err := api.New(api.Config{
		TokenKey:           tokenKey,
		TokenTTL:           cfg.Auth.TokenTTL,
		MaxBodyBytes:       cfg.HTTP.MaxBodyBytes,
		MaxRecordingBytes:  cfg.Media.MaxRecordingBytes,
		MaxDocumentBytes:   cfg.Media.MaxDocumentBytes,
		MaxTemplateBytes:   cfg.Media.MaxTemplateBytes,
		MaxImportBytes:     cfg.HTTP.MaxImportBytes,
		AccountsRateLimit:  cfg.HTTP.AccountsRateLimit,
		DefaultCountryCode: cfg.Phone.DefaultCountryCode,
		MaxCPM:             cfg.Engine.MaxCPM,
		Live:               api.LiveConfig{MaxClients: cfg.WS.MaxClients, Queue: cfg.WS.Queue, PingInterval: cfg.WS.PingInterval},
		Metrics:            api.MetricsConfig{Access: cfg.Metrics.Access, Token: cfg.Metrics.Token},
	}, log, api.Deps{
		Users:         db,
		Contacts:      db,
		Groups:        db,
		Messages:      messages,
		Programs:      db,
		Accounts:      db,
		Providers:     db,
		PBX:           db,
		Tenants:       db,
		Crossbar:      db,
		Centrex:       db,
		Services:      db,
		Plans:         plans,
		Nodes:         freeswitch,
		Checks:        checks,
		TrunkHealth:   trunkHealth,
		Transmissions: db,
		Campaigns:     db,
		Compliance:    db,
		Engine:        eng,
		Checker:       checker,
		Events:        bus,
		Media:         mediaSigner,
		MediaFiles:    files,
		Fax:           fax,
		Collectors:    collectors,
	})
	if err != nil {
		stopEngine(eng, 0, log)
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		stopEngine(eng, 0, log)
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.Start(ctx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	srv.SetReady(true)
	log.Info("dialerd listening", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "version", version)
	notify(log, daemon.SdNotifyReady)

	err = mainLoop(ctx, db, log, serveErr)

	// Drain: refuse new work first, then let requests and calls in flight
	// finish within one grace period.
	srv.SetReady(false)
	notify(log, daemon.SdNotifyStopping)
	srv.Close() // websocket clients: hijacked, so Shutdown would not close them
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Grace)
	defer cancel()
	if derr := eng.Drain(shutdownCtx); derr != nil {
		log.Warn("engine drain", "err", derr)
	}
	if serr := httpSrv.Shutdown(shutdownCtx); serr != nil {
		log.Warn("HTTP shutdown did not finish within the grace period", "err", serr)
	}
	if serr := eng.Stop(shutdownCtx); serr != nil {
		log.Error("engine stop", "err", serr)
	}
	st := eng.Stats()
	log.Info("engine stopped", "attempts", st.Attempts, "recovered", st.Recovered, "left_to_recovery", st.InFlight)
	return err
}

// startEngine builds the spool engine from the configuration and starts
// it: recovery of what a previous run left happens here.
func startEngine(ctx context.Context, cfg Config, es *store.EngineStore, bus *dialer.Bus, gw dialer.Gateway, link *engineLink,
	plans dialer.PlanSource, log *slog.Logger) (*dialer.Engine, error) {
	ec := dialer.EngineConfig{
		RingTimeout:        cfg.Engine.RingTimeout,
		MaxDuration:        cfg.Engine.MaxDuration,
		RetryDelay:         cfg.Engine.RetryDelay,
		ProviderCPS:        cfg.Engine.ProviderCPS,
		NodeCPS:            cfg.Engine.NodeCPS,
		ProviderChannels:   cfg.Engine.ProviderChannels,
		TenantChannels:     cfg.Engine.TenantChannels,
		MaxCPM:             cfg.Engine.MaxCPM,
		ProviderBackoff:    cfg.Engine.ProviderBackoff,
		ProviderBackoffMax: cfg.Engine.ProviderBackoffMax,
		SendWait:           cfg.Engine.SendWait,
	}
	comp, dnc, err := es.Compliance(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the do-not-call lists: %w", err)
	}
	eng, err := dialer.NewEngine(ec, dialer.EngineDeps{Store: es, Routes: es, Gateway: gw, Clock: dialer.SystemClock{}, Events: bus, Log: log,
		Compliance: comp, DNC: dnc, Plans: plans})
	if err != nil {
		return nil, err
	}
	if err := eng.Start(ctx); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	link.started(eng)
	return eng, nil
}

// engineLink hands the gateways' reports to the engine, which is built
// after them. A route-up before it exists is dropped (nothing is backed
// off yet); a stray answer is kept and handed over once the engine runs,
// since it may be the answer of a spool recovery is about to follow.
type engineLink struct {
	eng atomic.Pointer[dialer.Engine]

	mu    sync.Mutex
	early []strayAnswer
}

type strayAnswer struct {
	callUUID string
	at       time.Time
}

// started hands the engine the stray answers heard before it ran.
func (l *engineLink) started(e *dialer.Engine) {
	l.mu.Lock()
	early := l.early
	l.early = nil
	l.eng.Store(e)
	l.mu.Unlock()
	for _, s := range early {
		e.CallAnswered(s.callUUID, s.at)
	}
}

// RouteUp is the gateways' OnRouteUp.
func (l *engineLink) RouteUp(u dialer.RouteUp) {
	if e := l.eng.Load(); e != nil {
		e.RouteUp(u)
	}
}

// CallAnswered is the SIP gateway's OnStrayAnswer.
func (l *engineLink) CallAnswered(callUUID string, at time.Time) {
	l.mu.Lock()
	e := l.eng.Load()
	if e == nil && len(l.early) < 10000 {
		l.early = append(l.early, strayAnswer{callUUID, at})
	}
	l.mu.Unlock()
	if e != nil {
		e.CallAnswered(callUUID, at)
	}
}

// gateways builds what engine.gateway asks for. live routes each attempt by
// its provider's gateway_flag; a kind not running here fails the attempt
// before the network (its try is kept and the provider backed off). The
// returned close stops the gateways after the engine.
func gateways(cfg Config, db *store.DB, freeswitch *esl.Gateway, link *engineLink, log *slog.Logger) (dialer.Gateway, *sip.Gateway, func(), error) {
	switch cfg.Engine.Gateway {
	case "memory":
		log.Warn("engine.gateway is memory: calls are simulated, nobody is dialled")
		return memgateway.New(dialer.SystemClock{}, memgateway.Script{Kind: memgateway.Answer, Ring: 2 * time.Second, Talk: 10 * time.Second}), nil, func() {}, nil
	case "none":
		log.Warn("engine.gateway is none: transmissions stay queued until a gateway is configured")
		return nil, nil, func() {}, nil
	}
	var sipGW *sip.Gateway
	byFlag := map[int64]dialer.Gateway{dialer.GatewayFreeSWITCH: freeswitch}
	closers := []func(){}
	if cfg.SIP.Listen != "" {
		sg, err := sip.New(sip.Config{
			ListenAddr:      cfg.SIP.Listen,
			AdvertiseHost:   cfg.SIP.Advertise,
			UserAgent:       "dialerd/" + version,
			Logger:          log.With("gateway", "sip"),
			OptionsInterval: cfg.SIP.OptionsInterval,
			ResponseTimeout: cfg.SIP.ResponseTimeout,
			OnMessage:       receiveSMS(db, log),
			OnRouteUp:       link.RouteUp,
			OnStrayAnswer:   link.CallAnswered,
			TTS:             speaker(cfg, log),
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sip.listen %s: %w", cfg.SIP.Listen, err)
		}
		sipGW = sg
		byFlag[dialer.GatewaySIP] = sg
		closers = append(closers, func() {
			if err := sg.Close(); err != nil {
				log.Warn("closing the SIP gateway", "err", err)
			}
		})
		log.Info("SIP trunk gateway listening", "udp", sg.Addr("udp"), "tcp", sg.Addr("tcp"))
	}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	more, err := messageGateways(cfg, db, byFlag, log)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	closers = append(closers, more...)
	router := dialer.NewGatewayRouter(byFlag)
	router.NotConfigured(dialer.GatewaySIP, "sip.listen")
	router.NotConfigured(dialer.GatewayKannel, "kannel.listen")
	return router, sipGW, closeAll, nil
}

// newFaxInbox receives inbound faxes: tiff2pdf keeps them as PDF (without
// it fax calls are refused, and the log says why), and faxtoemail mails
// them through faxMailer, durably (faxMailQueue, whose loop the caller runs).
func newFaxInbox(cfg Config, db *store.DB, messages *store.Messages, log *slog.Logger) *faxInbox {
	in := &faxInbox{db: db, messages: messages, log: log,
		mail: newFaxMailQueue(cfg, faxMailDB{DB: db, messages: messages}, faxMailer(cfg, db), log)}
	conv, err := media.NewTIFF2PDF(cfg.Media.TIFF2PDF)
	if err != nil {
		log.Warn("inbound faxes are refused: they cannot be kept as PDF", "key", "media.tiff2pdf", "tiff2pdf", cfg.Media.TIFF2PDF, "err", err)
	} else {
		in.toPDF = conv.Convert
	}
	return in
}

// speaker is the SIP gateway's voicetts renderer: espeak-ng, caching in
// <data_dir>/tts, or nil (logged) when it is not installed, so that the API
// refuses voicetts for SIP trunks naming media.espeak.
func speaker(cfg Config, log *slog.Logger) sip.Speaker {
	e, err := media.NewEspeak(media.EspeakOptions{Path: cfg.Media.Espeak, CacheDir: filepath.Join(cfg.DataDir, "tts"),
		CacheMaxBytes: cfg.Media.TTSCacheMaxBytes, CacheMaxAge: cfg.Media.TTSCacheMaxAge,
		SweepFailed: func(err error) {
			log.Warn("voicetts: the speech cache could not be swept; it may grow past its bounds", "key", "media.tts_cache_max_bytes", "err", err)
		}})
	if err != nil {
		log.Warn("voicetts cannot go to SIP trunks; such programs are refused", "key", "media.espeak", "espeak", cfg.Media.Espeak, "err", err)
		return nil
	}
	return e
}

// stopEngine stops the engine after a failed start-up, with grace d.
func stopEngine(eng *dialer.Engine, d time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		log.Error("engine stop", "err", err)
	}
}

// mainLoop waits for a stop signal or a server failure and, under a systemd
// watchdog, pings it only while the store still answers: a wedged daemon is
// restarted rather than left half alive.
func mainLoop(ctx context.Context, db *store.DB, log *slog.Logger, serveErr <-chan error) error {
	tick, stopTick := watchdogTicker(log)
	defer stopTick()
	for {
		select {
		case <-ctx.Done():
			log.Info("stop requested; draining")
			return nil
		case err := <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("http server: %w", err)
		case <-tick:
			pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := db.Ping(pingCtx)
			cancel()
			if err != nil {
				log.Error("store does not answer; withholding the watchdog ping", "err", err)
				continue
			}
			notify(log, daemon.SdNotifyWatchdog)
		}
	}
}

// watchdogTicker ticks every third of systemd's WatchdogSec when the unit
// has one; otherwise it never ticks.
func watchdogTicker(log *slog.Logger) (<-chan time.Time, func()) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(interval / 3)
	// As a string: the JSON handler would write a Duration in nanoseconds.
	log.Info("systemd watchdog enabled", "interval", interval.String(), "ping_every", (interval / 3).String())
	return t.C, t.Stop
}

func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// bootstrapAdmin creates the default tenant and the admin user on the first
// start. Without a configured password it generates one and leaves it in
// <data_dir>/admin-password (mode 0600) for the operator.
func bootstrapAdmin(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger) error {
	if _, err := db.DefaultTenant(ctx); err == nil {
		return nil
	} else if !errors.Is(err, dialer.ErrNotFound) {
		return err
	}
	password, generated := cfg.Admin.Password, false
	if password == "" {
		password, generated = rand.Text(), true
	}
	var v dialer.Invalid
	u := dialer.User{Username: cfg.Admin.User, Active: 1}
	dialer.ValidateUser(&u, &v)
	if err := v.Err(); err != nil {
		return fmt.Errorf("config key admin.user: %w", err)
	}
	hash, err := dialer.HashPassword(password, 0)
	if err != nil {
		return err
	}
	pwFile := filepath.Join(cfg.DataDir, "admin-password")
	if generated {
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", pwFile, err)
		}
	}
	created, err := db.Bootstrap(ctx, u.Username, hash)
	if err != nil {
		return err
	}
	if created && generated {
		log.Warn("created the admin user with a generated password", "username", u.Username, "password_file", pwFile)
	} else if created {
		log.Info("created the admin user", "username", u.Username)
	}
	return nil
}

// loadOrCreateSecret reads a key file, creating it with n random bytes and
// mode 0600 on first start. The file is written whole or not at all.
func loadOrCreateSecret(path string, n int) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) < n {
			return nil, fmt.Errorf("%s is shorter than %d bytes; remove it to generate a new one (all tokens become invalid)", path, n)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key = make([]byte, n)
	_, _ = rand.Read(key)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return key, nil
}

// faxConverter is the API's converter of PDF documents, nil without one
// (an interface, so that no nil *media.Ghostscript can stand for "none").
type faxConverter interface {
	PDFToFax(ctx context.Context, src io.Reader, dst io.Writer) (pages int, err error)
}

// startFax finds Ghostscript, which converts PDF documents to fax TIFF,
// and converts the PDFs of a dialerd from before conversion (until then
// they have no fax file and their programs cannot send). Without
// Ghostscript it logs why PDF uploads are refused and returns nil: the API
// then refuses PDFs with a 412 that says so, and takes fax TIFFs.
func startFax(ctx context.Context, cfg Config, messages *store.Messages, log *slog.Logger) (faxConverter, error) {
	gs, err := media.NewGhostscript(media.GhostscriptOptions{Path: cfg.Media.Ghostscript})
	if err != nil {
		log.Warn("PDF documents cannot be converted to fax; PDF uploads are refused, fax TIFFs are taken",
			"key", "media.ghostscript", "ghostscript", cfg.Media.Ghostscript, "err", err)
		return nil, nil
	}
	n, err := messages.ConvertDocuments(ctx, gs)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if n > 0 {
		log.Info("PDF documents converted to fax TIFF", "count", n)
	}
	if err != nil {
		log.Warn("PDF documents that cannot be converted to fax; their programs cannot send until a new file is uploaded", "err", err)
	}
	return gs, nil
}

// startLoop runs loop in its own goroutine until ctx is done or the
// returned func is called, which waits for it to return.
func startLoop(ctx context.Context, loop func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
