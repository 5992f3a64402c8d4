package dialer

import (
	"net"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Gateway flags: a provider's gateway_flag says which gateway carries its
// attempts. 1, 2 and 4 are ICTCore's own (Freeswitch, Kannel, Sendmail);
// 8, a SIP trunk dialled directly with no FreeSWITCH in between, is dialerd's.
const (
	GatewayFreeSWITCH int64 = 1
	GatewayKannel     int64 = 2
	GatewaySendmail   int64 = 4
	GatewaySIP        int64 = 8
)

// Provider is a trunk or gateway: a FreeSWITCH gateway, a SIP trunk, an SMS
// or SMTP service. Field names follow the ICTCore Provider object. Its
// password is write-only and never part of this type; the store seals it
// and hands it, unsealed, only to gateways in a Route.
type Provider struct {
	ID          int64  `json:"provider_id"`
	TenantID    string `json:"-"`
	Name        string `json:"name"`
	GatewayFlag int64  `json:"gateway_flag" enum:"1,2,4,8"`
	ServiceFlag int64  `json:"service_flag"`
	// NodeID is the FreeSWITCH node (PBX profile) to use, nil for any.
	NodeID   *int64 `json:"node_id"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	// DialString is a template for the FreeSWITCH dial string; see
	// ValidateDialString for what it may contain.
	DialString string `json:"dialstring"`
	Prefix     string `json:"prefix"`
	Settings   string `json:"settings"`
	Register   int    `json:"register"`
	Weight     int    `json:"weight"`
	Type       string `json:"type"`
	Active     int    `json:"active"`
	CreatedBy  int64  `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
	// Health is "up" or "down" for a trunk its gateway watches (OPTIONS),
	// empty otherwise. Read-only.
	Health string `json:"health,omitempty"`
}

// DialStringNumber is the one placeholder a dial string template may hold:
// the gateway replaces it with the prefix and the destination number.
const DialStringNumber = "{number}"

// Provider defaults and limits.
const (
	DefaultProviderWeight = 10
	DefaultProviderType   = "sip"
	MaxProviderWeight     = 1_000_000
	maxProviderPassword   = 256
	maxProviderSettings   = 4096
	maxDialString         = 255
)

var (
	// A provider name may become a FreeSWITCH gateway name: no spaces or
	// characters with a meaning in a dial string.
	providerNamePattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	providerHostnamePattern = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*\.?$`)
	providerUsernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@+=:-]{1,128}$`)
	providerPrefixPattern   = regexp.MustCompile(`^[0-9]{0,16}$`)
	providerTypePattern     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	// dialStringChars is everything a dial string may hold around the
	// placeholder: no braces or brackets (channel variables), no commas or
	// pipes (several legs), no quotes, no whitespace (the originate command
	// is split on spaces), no $ (variable expansion).
	dialStringChars = regexp.MustCompile(`^[A-Za-z0-9_./:@+=;%#*-]*$`)
)

// ValidateProvider checks the fields of p a client sets, trimming spaces
// around the text fields first.
func ValidateProvider(p *Provider, v *Invalid) {
	for _, f := range []*string{&p.Name, &p.Host, &p.Username, &p.DialString, &p.Prefix, &p.Type} {
		*f = strings.TrimSpace(*f)
	}
	if !providerNamePattern.MatchString(p.Name) {
		v.Add("name", "1-64 letters, digits or _ . -, starting with a letter or digit")
	}
	switch p.GatewayFlag {
	case GatewayFreeSWITCH, GatewayKannel, GatewaySendmail, GatewaySIP:
	default:
		v.Add("gateway_flag", "must be 1 (FreeSWITCH), 2 (Kannel), 4 (Sendmail) or 8 (SIP trunk)")
	}
	if p.ServiceFlag < 0 {
		v.Add("service_flag", "must be 0 or more")
	}
	if p.NodeID != nil && *p.NodeID <= 0 {
		v.Add("node_id", "must be a node id (1 or more) or null")
	}
	if !ValidProviderHost(p.Host) {
		v.Add("host", "a host name or an IP address")
	}
	if p.Port < 0 || p.Port > 65535 {
		v.Add("port", "0-65535 (0: the service's default)")
	}
	if p.Username != "" && !providerUsernamePattern.MatchString(p.Username) {
		v.Add("username", "1-128 letters, digits or . _ @ + = : -")
	}
	ValidateDialString(p.DialString, v)
	if !providerPrefixPattern.MatchString(p.Prefix) {
		v.Add("prefix", "digits only, at most 16")
	}
	switch {
	case !utf8.ValidString(p.Settings):
		v.Add("settings", "must be UTF-8")
	case len(p.Settings) > maxProviderSettings:
		v.Add("settings", "at most 4096 bytes")
	case strings.ContainsFunc(p.Settings, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }):
		v.Add("settings", "no control characters but newline and tab")
	default:
		validateCallerIDSettings(p.Settings, v)
	}
	if p.Register != 0 && p.Register != 1 {
		v.Add("register", "must be 0 or 1")
	}
	if p.Weight < 1 || p.Weight > MaxProviderWeight {
		v.Add("weight", "1 or more (lighter is used more often)")
	}
	if !providerTypePattern.MatchString(p.Type) {
		v.Add("type", "1-32 of a-z 0-9 _ -, starting with a letter (e.g. sip)")
	}
	if p.Active != 0 && p.Active != 1 {
		v.Add("active", "must be 0 or 1")
	}
}

// ValidProviderHost reports whether host is a host name or an IP address.
func ValidProviderHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	return len(host) <= 253 && providerHostnamePattern.MatchString(host)
}

// ValidateDialString checks a dial string template such as
// "sofia/gateway/trunk1/{number}". It is placed into a FreeSWITCH originate
// command, so beside the placeholder {number}, which it must hold exactly
// once, it may hold only letters, digits and _ . / : @ + = ; % # * -. Any
// other brace, a bracket, comma, pipe, quote, $, whitespace, control
// character or the ":_:" separator could add channel variables, legs or
// applications, and is refused. An empty template means the gateway's default.
func ValidateDialString(tmpl string, v *Invalid) {
	if len(tmpl) > maxDialString {
		v.Add("dialstring", "at most 255 bytes")
		return
	}
	if tmpl == "" {
		return
	}
	if strings.Count(tmpl, DialStringNumber) != 1 {
		v.Add("dialstring", "must hold the placeholder {number} exactly once")
		return
	}
	rest := strings.Replace(tmpl, DialStringNumber, "", 1)
	if !dialStringChars.MatchString(rest) {
		v.Add("dialstring", "only letters, digits, _ . / : @ + = ; % # * - and the placeholder {number}")
		return
	}
	// ":_:" separates the legs of an enterprise originate: a second leg.
	if strings.Contains(tmpl, ":_:") {
		v.Add("dialstring", "must not hold the leg separator :_:")
	}
}

// ValidateProviderPassword checks a new provider password: printable, at
// most 256 bytes; "" clears it.
func ValidateProviderPassword(p string, v *Invalid) {
	switch {
	case len(p) > maxProviderPassword:
		v.Add("password", "at most 256 bytes")
	case !programPrintable(p):
		v.Add("password", "printable characters only")
	}
}
