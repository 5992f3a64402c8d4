package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/api"
	"github.com/dialerd/dialerd/dialer"
)

// Config is dialerd's whole configuration. Every leaf has a YAML key (its
// dotted path), an environment variable (DIALERD_ + the path in upper case
// with _ for .) and a flag (--path). Priority rises: defaults, file, env, flags.
type Config struct {
	Listen  string `yaml:"listen" help:"address the HTTP API listens on (host:port)"`
	DataDir string `yaml:"data_dir" help:"directory for the database, keys and media files"`
	Log     struct {
		Format string `yaml:"format" help:"log format: text or json"`
		Level  string `yaml:"level" help:"log level: debug, info, warn or error"`
	} `yaml:"log"`
	Admin struct {
		User     string `yaml:"user" help:"username of the admin created on first start"`
		Password string `yaml:"password" help:"password of that admin; generated into <data_dir>/admin-password when empty"`
	} `yaml:"admin"`
	Auth struct {
		TokenTTL time.Duration `yaml:"token_ttl" help:"how long an issued JWT is valid"`
	} `yaml:"auth"`
	HTTP struct {
		ReadTimeout  time.Duration `yaml:"read_timeout" help:"maximum time to read a whole request"`
		WriteTimeout time.Duration `yaml:"write_timeout" help:"maximum time to write a response"`
		IdleTimeout  time.Duration `yaml:"idle_timeout" help:"keep-alive connections close after this idle time"`
		MaxBodyBytes int64         `yaml:"max_body_bytes" help:"largest accepted JSON request body, in bytes"`
		// MaxImportBytes is streamed, never held: it bounds disk and time, not memory.
		MaxImportBytes    int64 `yaml:"max_import_bytes" help:"largest accepted CSV import (POST /groups/{id}/csv), in bytes"`
		AccountsRateLimit int   `yaml:"accounts_rate_limit" help:"requests a minute each account may make of /api/accounts (429 with Retry-After above it); negative: no limit"`
	} `yaml:"http"`
	Phone struct {
		DefaultCountryCode string `yaml:"default_country_code" help:"country calling code (1-3 digits) that completes national phone numbers of contacts"`
	} `yaml:"phone"`
	Shutdown struct {
		Grace time.Duration `yaml:"grace" help:"on SIGTERM, how long calls in flight and requests may finish"`
	} `yaml:"shutdown"`
	Media struct {
		MaxRecordingBytes int64         `yaml:"max_recording_bytes" help:"largest accepted recording upload (WAV, MP3), in bytes"`
		MaxDocumentBytes  int64         `yaml:"max_document_bytes" help:"largest accepted document upload (PDF, TIFF), in bytes"`
		MaxTemplateBytes  int64         `yaml:"max_template_bytes" help:"largest accepted email template attachment, in bytes"`
		Ghostscript       string        `yaml:"ghostscript" help:"Ghostscript binary that converts PDF documents to fax TIFF (Debian package ghostscript), a path or a name looked up in PATH; when absent, PDF uploads are refused with 412 and only fax TIFFs are taken"`
		Espeak            string        `yaml:"espeak" help:"espeak-ng binary that renders voicetts texts for SIP trunks (Debian package espeak-ng), a path or a name looked up in PATH; renderings are cached in <data_dir>/tts; when absent, voicetts programs are refused for SIP trunks (FreeSWITCH speaks with flite)"`
		TTSCacheMaxBytes  int64         `yaml:"tts_cache_max_bytes" help:"largest size of the espeak-ng renderings kept in <data_dir>/tts, in bytes; the least recently used go first, never one a call is using"`
		TTSCacheMaxAge    time.Duration `yaml:"tts_cache_max_age" help:"a rendering unused for longer is removed (0: only the size bound)"`
		TIFF2PDF          string        `yaml:"tiff2pdf" help:"tiff2pdf binary that keeps received faxes as PDF (Debian package libtiff-tools), a path or a name looked up in PATH; when absent, inbound fax calls are refused"`
		PublicURL         string        `yaml:"public_url" help:"this API's URL as FreeSWITCH nodes on other hosts reach it, for signed recording URLs (e.g. http://10.0.0.2:8000); empty: only nodes on this host can play recordings"`
	} `yaml:"media"`
	// FreeSWITCH nodes come from the enabled FreeSWITCH PBX profiles, not
	// from here; these keys are what no profile says.
	ESL struct {
		DefaultTTSEngine string `yaml:"default_tts_engine" help:"FreeSWITCH speak engine for voicetts programs (mod_flite: flite)"`
		DefaultTTSVoice  string `yaml:"default_tts_voice" help:"voice for voicetts programs that name none"`
	} `yaml:"esl"`
	Engine struct {
		Gateway            string        `yaml:"gateway" help:"how attempts are delivered: live (each provider's gateway_flag picks FreeSWITCH or a direct SIP trunk), none (work stays queued, nobody is dialled) or memory (simulated calls, to try the API without a PBX)"`
		RingTimeout        time.Duration `yaml:"ring_timeout" help:"an unanswered call is given up after this long"`
		MaxDuration        time.Duration `yaml:"max_duration" help:"an answered call is hung up after this long"`
		RetryDelay         time.Duration `yaml:"retry_delay" help:"wait between tries of a single transmission (campaigns set their own retry_delay)"`
		ProviderCPS        int           `yaml:"provider_cps" help:"calls started per second per provider, never exceeded (a provider's settings {\"cps\": N} override it)"`
		NodeCPS            int           `yaml:"node_cps" help:"calls started per second per FreeSWITCH node, never exceeded"`
		ProviderChannels   int           `yaml:"provider_channels" help:"concurrent calls per provider (a provider's settings {\"channels\": N} override it)"`
		TenantChannels     int           `yaml:"tenant_channels" help:"concurrent calls per tenant"`
		MaxCPM             int           `yaml:"max_cpm" help:"the highest cpm a campaign may ask for; the API refuses more and a stored campaign above it runs at it"`
		ProviderBackoff    time.Duration `yaml:"provider_backoff" help:"a failing route (no response, 503, node down) is skipped this long, doubling with each failure in a row, and at once again when its gateway sees it healthy"`
		ProviderBackoffMax time.Duration `yaml:"provider_backoff_max" help:"the longest a failing provider is skipped"`
		SendWait           time.Duration `yaml:"send_wait" help:"how long POST /transmissions/{id}/send waits for capacity before answering 423 (the transmission stays queued)"`
	} `yaml:"engine"`
	Compliance struct {
		DefaultWindow string `yaml:"default_window" help:"calling window HH:MM-HH:MM, in the called party's local time, of every tenant that set none with PUT /compliance (campaigns may override it)"`
		RedialLimit   int    `yaml:"redial_limit" help:"most attempts to one number per rolling 24 hours across a tenant's campaigns, for tenants that set none"`
	} `yaml:"compliance"`
	SIP struct {
		Listen          string        `yaml:"listen" help:"address the SIP trunk gateway listens on (UDP and TCP, host:port); empty disables direct SIP trunks"`
		Advertise       string        `yaml:"advertise" help:"IP address put in Contact, Via and SDP; the listen host when empty"`
		OptionsInterval time.Duration `yaml:"options_interval" help:"how often each SIP trunk is pinged with OPTIONS"`
		ResponseTimeout time.Duration `yaml:"response_timeout" help:"a trunk that sends no response at all to an INVITE within this long is down: the attempt moves to another route without spending a try"`
	} `yaml:"sip"`
	Mail   MailConfig   `yaml:"mail"`
	Kannel KannelConfig `yaml:"kannel"`
	WS     struct {
		MaxClients   int           `yaml:"max_clients" help:"most websocket clients at once; more are refused with 503"`
		Queue        int           `yaml:"queue" help:"events queued per websocket client; a client that falls this far behind is disconnected"`
		PingInterval time.Duration `yaml:"ping_interval" help:"websocket ping interval; a client that misses two pongs is dropped"`
	} `yaml:"ws"`
	Metrics struct {
		Access string `yaml:"access" help:"who may read /metrics: loopback, open, or token"`
		Token  string `yaml:"token" help:"bearer token for /metrics when access is token"`
	} `yaml:"metrics"`
	Services struct {
		Plans string `yaml:"plans" help:"the plan catalogue of the crossbar services (a YAML file, see configs/plans.yaml); empty: one postpaid plan, default, with no limits"`
	} `yaml:"services"`
}

// defaultConfig runs on a laptop with no file: `make run`.
func defaultConfig() Config {
	var c Config
	c.Listen = "127.0.0.1:8000"
	c.DataDir = "./var"
	c.Log.Format = "text"
	c.Log.Level = "info"
	c.Admin.User = "admin"
	c.Auth.TokenTTL = 24 * time.Hour
	c.HTTP.ReadTimeout = 30 * time.Second
	c.HTTP.WriteTimeout = 60 * time.Second
	c.HTTP.IdleTimeout = 120 * time.Second
	c.HTTP.MaxBodyBytes = 1 << 20
	c.HTTP.MaxImportBytes = 1 << 30
	c.HTTP.AccountsRateLimit = 200
	c.Phone.DefaultCountryCode = "1"
	c.Shutdown.Grace = 30 * time.Second
	c.WS.MaxClients = 2000
	c.WS.Queue = 256
	c.WS.PingInterval = 30 * time.Second
	c.Metrics.Access = api.MetricsLoopback
	c.Media.MaxRecordingBytes = api.DefaultMaxRecordingBytes
	c.Media.MaxDocumentBytes = api.DefaultMaxDocumentBytes
	c.Media.MaxTemplateBytes = api.DefaultMaxTemplateBytes
	c.Media.Ghostscript = "gs"
	c.Media.Espeak = "espeak-ng"
	c.Media.TIFF2PDF = "tiff2pdf"
	c.Media.TTSCacheMaxBytes = 1 << 30
	c.Media.TTSCacheMaxAge = 30 * 24 * time.Hour
	c.Engine.Gateway = "live"
	c.SIP.OptionsInterval = 30 * time.Second
	c.SIP.ResponseTimeout = 4 * time.Second
	c.ESL.DefaultTTSEngine = "flite"
	c.ESL.DefaultTTSVoice = "kal"
	c.Engine.RingTimeout = 30 * time.Second
	c.Engine.MaxDuration = 10 * time.Minute
	c.Engine.RetryDelay = 5 * time.Minute
	c.Engine.ProviderCPS = 10
	c.Engine.NodeCPS = 30
	c.Engine.ProviderChannels = 30
	c.Engine.TenantChannels = 100
	c.Engine.MaxCPM = dialer.DefaultMaxCPM
	c.Engine.ProviderBackoff = 2 * time.Second
	c.Engine.ProviderBackoffMax = 5 * time.Minute
	c.Engine.SendWait = 10 * time.Second
	c.Compliance.DefaultWindow = "08:00-21:00"
	c.Compliance.RedialLimit = dialer.DefaultRedialLimit
	messagingDefaults(&c)
	return c
}

// Validate checks every key and names the first bad one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, why string) { errs = append(errs, fmt.Errorf("config key %s: %s", key, why)) }
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", fmt.Sprintf("%q is not host:port", c.Listen))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("listen", fmt.Sprintf("port %q is not a number from 0 to 65535", port))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must not be empty")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", fmt.Sprintf("%q is not text or json", c.Log.Format))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", fmt.Sprintf("%q is not debug, info, warn or error", c.Log.Level))
	}
	if c.Admin.User == "" {
		bad("admin.user", "must not be empty")
	}
	if p := c.Admin.Password; p != "" && (len(p) < 8 || len(p) > 72) {
		bad("admin.password", "must be 8 to 72 bytes long")
	}
	positive := map[string]time.Duration{
		"auth.token_ttl": c.Auth.TokenTTL, "http.read_timeout": c.HTTP.ReadTimeout,
		"http.write_timeout": c.HTTP.WriteTimeout, "http.idle_timeout": c.HTTP.IdleTimeout,
	}
	for _, k := range []string{"auth.token_ttl", "http.read_timeout", "http.write_timeout", "http.idle_timeout"} {
		if positive[k] <= 0 {
			bad(k, "must be a positive duration such as 30s or 24h")
		}
	}
	if c.Shutdown.Grace < 0 {
		bad("shutdown.grace", "must not be negative")
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes", "must be at least 1024")
	}
	if c.WS.MaxClients < 1 {
		bad("ws.max_clients", "must be at least 1")
	}
	if c.WS.Queue < 1 {
		bad("ws.queue", "must be at least 1")
	}
	if c.WS.PingInterval < time.Second {
		bad("ws.ping_interval", "must be at least 1s")
	}
	switch c.Metrics.Access {
	case api.MetricsLoopback, api.MetricsOpen:
	case api.MetricsToken:
		if len(c.Metrics.Token) < 16 {
			bad("metrics.token", "must be at least 16 characters when metrics.access is token")
		}
	default:
		bad("metrics.access", fmt.Sprintf("%q is not loopback, open or token", c.Metrics.Access))
	}
	for _, k := range []struct {
		key string
		n   int64
	}{
		{"media.max_recording_bytes", c.Media.MaxRecordingBytes},
		{"media.max_document_bytes", c.Media.MaxDocumentBytes},
		{"media.max_template_bytes", c.Media.MaxTemplateBytes},
	} {
		if k.n < 1024 {
			bad(k.key, "must be at least 1024")
		}
	}
	if c.Media.TTSCacheMaxBytes < 1<<20 {
		bad("media.tts_cache_max_bytes", "must be at least 1048576 (1 MiB)")
	}
	if c.Media.TTSCacheMaxAge < 0 {
		bad("media.tts_cache_max_age", "must be 0 (no age limit) or a duration such as 720h")
	}
	switch c.Engine.Gateway {
	case "live", "none", "memory":
	default:
		bad("engine.gateway", fmt.Sprintf("%q is not live, none or memory", c.Engine.Gateway))
	}
	if c.Media.PublicURL != "" {
		if u, err := url.Parse(c.Media.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("media.public_url", fmt.Sprintf("%q is not http(s)://host[:port][/path]", c.Media.PublicURL))
		}
	}
	if c.SIP.Listen != "" {
		if _, port, err := net.SplitHostPort(c.SIP.Listen); err != nil {
			bad("sip.listen", fmt.Sprintf("%q is not host:port", c.SIP.Listen))
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("sip.listen", fmt.Sprintf("port %q is not a number from 0 to 65535", port))
		}
	}
	if c.SIP.Advertise != "" && net.ParseIP(c.SIP.Advertise) == nil {
		bad("sip.advertise", fmt.Sprintf("%q is not an IP address", c.SIP.Advertise))
	}
	if _, err := dialer.ParseWindowSpan(c.Compliance.DefaultWindow); err != nil {
		bad("compliance.default_window", err.Error())
	}
	if c.Compliance.RedialLimit < 1 || c.Compliance.RedialLimit > dialer.MaxRedialLimit {
		bad("compliance.redial_limit", "from 1 to 100")
	}
	if c.SIP.OptionsInterval < time.Second {
		bad("sip.options_interval", "must be at least 1s")
	}
	for _, k := range []struct{ key, v string }{
		{"esl.default_tts_engine", c.ESL.DefaultTTSEngine}, {"esl.default_tts_voice", c.ESL.DefaultTTSVoice},
	} {
		if !ttsName.MatchString(k.v) {
			bad(k.key, fmt.Sprintf("%q is not a plain name (letters, digits, _ . -)", k.v))
		}
	}
	engineDurations := []struct {
		key string
		d   time.Duration
	}{
		{"engine.ring_timeout", c.Engine.RingTimeout}, {"engine.max_duration", c.Engine.MaxDuration},
		{"engine.retry_delay", c.Engine.RetryDelay}, {"engine.provider_backoff", c.Engine.ProviderBackoff},
		{"engine.provider_backoff_max", c.Engine.ProviderBackoffMax}, {"engine.send_wait", c.Engine.SendWait},
	}
	for _, k := range engineDurations {
		if k.d <= 0 {
			bad(k.key, "must be a positive duration such as 30s")
		}
	}
	engineCounts := []struct {
		key string
		n   int
	}{
		{"engine.provider_cps", c.Engine.ProviderCPS}, {"engine.node_cps", c.Engine.NodeCPS},
		{"engine.provider_channels", c.Engine.ProviderChannels}, {"engine.tenant_channels", c.Engine.TenantChannels},
		{"engine.max_cpm", c.Engine.MaxCPM},
	}
	for _, k := range engineCounts {
		if k.n < 1 {
			bad(k.key, "must be at least 1")
		}
	}
	if c.HTTP.MaxImportBytes < 1024 {
		bad("http.max_import_bytes", "must be at least 1024")
	}
	if dialer.ValidateCountryCode(c.Phone.DefaultCountryCode) != nil {
		bad("phone.default_country_code", fmt.Sprintf("%q is not a country calling code: 1 to 3 digits, not starting with 0, without +", c.Phone.DefaultCountryCode))
	}
	c.validateMessaging(bad)
	return errors.Join(errs...)
}

// ttsName is a speak engine or voice name, as the gateway accepts it.
var ttsName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// configKey is one leaf of Config.
type configKey struct {
	path string // YAML dotted path
	help string
	v    reflect.Value
}

func (k configKey) env() string {
	return "DIALERD_" + strings.ToUpper(strings.ReplaceAll(k.path, ".", "_"))
}

// keys lists every leaf of c, in declaration order.
func (c *Config) keys() []configKey {
	var out []configKey
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			path := prefix + name
			if f.Type.Kind() == reflect.Struct {
				walk(path+".", v.Field(i))
				continue
			}
			out = append(out, configKey{path: path, help: f.Tag.Get("help"), v: v.Field(i)})
		}
	}
	walk("", reflect.ValueOf(c).Elem())
	return out
}

// set parses s into the key's field.
func (k configKey) set(s string) error {
	switch k.v.Interface().(type) {
	case string:
		k.v.SetString(s)
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("config key %s: %q is not a duration such as 30s or 24h", k.path, s)
		}
		k.v.SetInt(int64(d))
	case int, int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("config key %s: %q is not an integer", k.path, s)
		}
		k.v.SetInt(n)
	case float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("config key %s: %q is not a number", k.path, s)
		}
		k.v.SetFloat(f)
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("config key %s: %q is not true or false", k.path, s)
		}
		k.v.SetBool(b)
	default:
		return fmt.Errorf("config key %s: unsupported type %s", k.path, k.v.Type())
	}
	return nil
}

const defaultConfigPath = "/etc/dialerd/dialerd.yaml"

// loadConfig builds the configuration from args (without the program name)
// and the environment. An explicit --config (or DIALERD_CONFIG) must exist;
// the default path is read only when present.
func loadConfig(args []string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	fset := flag.NewFlagSet("dialerd", flag.ContinueOnError)
	fset.SetOutput(new(bytes.Buffer))
	configPath := fset.String("config", "", "YAML configuration file (default "+defaultConfigPath+" when present)")
	keys := cfg.keys()
	flagVals := map[string]*string{}
	for _, k := range keys {
		flagVals[k.path] = fset.String(k.path, "", k.help+" (env "+k.env()+")")
	}
	if err := checkFlags(args, keys); err != nil {
		return cfg, err
	}
	if err := fset.Parse(args); err != nil {
		return cfg, fmt.Errorf("flags: %w", err)
	}
	if fset.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (settings are --KEY VALUE; dialerd help lists them)", fset.Arg(0))
	}

	path, explicit := *configPath, true
	if path == "" {
		path = getenv("DIALERD_CONFIG")
	}
	if path == "" {
		path, explicit = defaultConfigPath, false
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := applyYAML(data, path, keys); err != nil {
			return cfg, err
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
	default:
		return cfg, fmt.Errorf("config file: %w", err)
	}

	for _, k := range keys {
		if v := getenv(k.env()); v != "" {
			if err := k.set(v); err != nil {
				return cfg, fmt.Errorf("environment %s: %w", k.env(), err)
			}
		}
	}
	var ferr error
	fset.Visit(func(f *flag.Flag) {
		for _, k := range keys {
			if k.path == f.Name && ferr == nil {
				if err := k.set(*flagVals[k.path]); err != nil {
					ferr = fmt.Errorf("flag --%s: %w", f.Name, err)
				}
			}
		}
	})
	if ferr != nil {
		return cfg, ferr
	}
	return cfg, cfg.Validate()
}
