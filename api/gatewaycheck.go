package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dialerd/dialerd/dialer"
)

// What a gateway cannot carry is refused when it is written, not found out
// when a campaign dials it: providers, programs and messages are checked
// against Deps.Checker (the daemon's GatewayRouter, which hands each check
// to the gateway of the provider's gateway_flag) before the store changes.
// A refusal is a 412 naming the field the gateway named; nothing is written.
//
//   - A provider is checked as its route: the fields the gateway dials with.
//     Only a refusal naming a provider field or a config key (sip.listen)
//     counts; what a gateway says of content is the program's business.
//   - A program (and a text that programs use) is checked as its content,
//     against the gateway of each of the tenant's active providers that
//     serve its service. It is accepted when one of them accepts it (the
//     engine may route it there) or when none refuses its content; with no
//     such provider it is checked against FreeSWITCH (gateway_flag 1),
//     dialerd's main road. Only a refusal naming a program field or a
//     config key counts: a provider's own defect is the provider's check.
//
// After every successful write the engine is told (Deps.Changes), so it
// re-reads the tenant's providers and content and releases the campaigns
// that the old configuration blocked.

// configWatcher is told that a tenant's providers, programs or messages
// changed. It must not block.
type configWatcher interface {
	ConfigChanged(tenantID string)
}

// campaignBlocker says why an active campaign cannot dial; nil when it can.
type campaignBlocker interface {
	CampaignBlocked(tenantID string, id int64) *dialer.Blocked
}

// configChanged tells the engine about a write of tenantID's configuration.
func (s *Server) configChanged(tenantID string) {
	if s.deps.Changes != nil {
		s.deps.Changes.ConfigChanged(tenantID)
	}
}

// gatewayServices is the service_flag a gateway_flag serves, and so the
// default of a new provider's: FreeSWITCH calls and faxes, Kannel sends SMS,
// Sendmail email, and the SIP gateway calls (voicemessage) and sends SMS as
// SIP MESSAGE.
func gatewayServices(gatewayFlag int64) int64 {
	switch gatewayFlag {
	case dialer.GatewayFreeSWITCH:
		return dialer.ServiceVoice | dialer.ServiceFax
	case dialer.GatewayKannel:
		return dialer.ServiceSMS
	case dialer.GatewaySendmail:
		return dialer.ServiceEmail
	case dialer.GatewaySIP:
		return dialer.ServiceVoice | dialer.ServiceSMS
	}
	return 0
}

// validateServices refuses a service_flag that serves nothing (a provider
// no campaign can use: the silent stall of issue 10) or a service its
// gateway cannot carry.
func validateServices(p *dialer.Provider, v *dialer.Invalid) {
	if v.Has("gateway_flag") || v.Has("service_flag") {
		return
	}
	served := gatewayServices(p.GatewayFlag)
	switch {
	case p.ServiceFlag == 0:
		v.Add("service_flag", "0 serves nothing: no campaign could use this provider; "+
			"set the services it carries ("+strconv.FormatInt(served, 10)+" for gateway_flag "+
			strconv.FormatInt(p.GatewayFlag, 10)+"), or active 0 to park it")
	case p.ServiceFlag&^served != 0:
		v.Add("service_flag", "gateway_flag "+strconv.FormatInt(p.GatewayFlag, 10)+" carries only the services "+
			strconv.FormatInt(served, 10)+" (1 voice, 2 fax, 4 SMS, 8 email)")
	}
}

// Stand-ins for what only a real attempt has: a check dials nobody.
const (
	probeCallUUID = "00000000-0000-4000-8000-000000000000"
	probePhone    = "+15555550100"
	probeEmail    = "check@example.com"
)

// probe is the attempt a gateway checks for route r carrying program typ
// with media m, built as the engine builds a real one.
func probe(tenantID string, r dialer.Route, typ dialer.ProgramType, m dialer.Media) dialer.Attempt {
	cfg := dialer.DefaultEngineConfig()
	return dialer.Attempt{CallUUID: probeCallUUID, TenantID: tenantID, Program: typ, Phone: probePhone, Email: probeEmail,
		Provider: r, RingTimeout: cfg.RingTimeout, MaxDuration: cfg.MaxDuration, Media: m}
}

// routeOf is provider p as the store resolves it for the engine
// (store.ProviderRoute): the node as its decimal id, the transport from the
// settings object. password is "" when the request does not change it: the
// API never reads a stored password back.
func routeOf(p dialer.Provider, password string) dialer.Route {
	r := dialer.Route{ProviderID: p.ID, Name: p.Name, Host: p.Host, Port: p.Port, Username: p.Username, Password: password,
		Prefix: p.Prefix, DialString: p.DialString, Gateway: p.GatewayFlag}
	if p.NodeID != nil {
		r.Node = strconv.FormatInt(*p.NodeID, 10)
	}
	if strings.HasPrefix(strings.TrimSpace(p.Settings), "{") {
		var ps struct {
			Transport string `json:"transport"`
			TLS       string `json:"tls"`
			Sender    string `json:"from"`
		}
		_ = json.Unmarshal([]byte(p.Settings), &ps) // not JSON: no transport, as the store reads it
		r.Transport, r.TLS, r.Sender = ps.Transport, ps.TLS, ps.Sender
	}
	return r
}

// providerFields maps what a gateway may name in a route check to the
// provider's API field.
var providerFields = map[string]string{
	"name": "name", "gateway_flag": "gateway_flag", "gateway": "gateway_flag", "service_flag": "service_flag",
	"node_id": "node_id", "node": "node_id", "host": "host", "port": "port", "username": "username",
	"password": "password", "dialstring": "dialstring", "dial_string": "dialstring", "prefix": "prefix",
	"settings": "settings", "transport": "settings", "tls": "settings", "from": "settings", "sender": "settings", "register": "register", "type": "type",
}

// attemptFields are what a gateway may name of the attempt itself rather
// than of the provider or the program: the check's stand-ins, never the
// client's to fix.
var attemptFields = map[string]bool{"phone": true, "email": true, "caller_id_number": true, "caller_id_name": true, "call_uuid": true}

// contentField reports whether a gateway's refusal names the program's
// content: neither a provider field, a config key nor the attempt's own.
func contentField(field string) bool {
	return field != "" && providerFields[field] == "" && !isConfigKey(field) && !attemptFields[field]
}

// isConfigKey reports whether a gateway named a key of the daemon's
// configuration (sip.listen, esl.tts_engine) rather than a field.
func isConfigKey(field string) bool { return strings.Contains(field, ".") }

// faultMessage is what a 412 says of a gateway's refusal.
func faultMessage(fe *dialer.FaultError) string {
	msg := "the gateway refuses it"
	if fe.Err != nil {
		msg = fe.Err.Error()
	}
	if fe.Cause == dialer.CauseNotConfigured {
		msg = "this daemon runs no gateway for it: " + msg
	}
	return msg
}

// providerProbes are contents a gateway can carry with no file on this
// host, one per service that has one: a provider is checked with each in
// turn until its gateway judges the route. Gateways check the program and
// its content too (the SIP gateway without espeak-ng refuses voicetts
// naming media.espeak; FreeSWITCH names the media before the prefix), so an
// attempt with no content would never reach the route's rules.
var providerProbes = []struct {
	program dialer.ProgramType
	media   dialer.Media
}{
	{dialer.ProgramVoiceTTS, dialer.Media{TTSText: "This is a check."}},
	{dialer.ProgramSendSMS, dialer.Media{Text: "check", Segments: []string{"check"}}},
	{dialer.ProgramSendEmail, dialer.Media{Subject: "check", Body: "<p>check</p>", BodyAlt: "check"}},
}

// checkProvider asks the provider's gateway whether it can dial with p: a
// refusal naming a provider field or a config key is the provider's. A
// route that is down now is health, not configuration, and is not refused.
func (s *Server) checkProvider(p dialer.Provider, password string) error {
	if s.deps.Checker == nil {
		return nil
	}
	route := routeOf(p, password)
	// A config key one probe needs (the SIP gateway's media.espeak for
	// voicetts) is the provider's refusal only when no other probe passes:
	// the route carries the other services.
	var missingConfig error
	for _, pr := range providerProbes {
		fe := dialer.FaultOf(s.deps.Checker.CheckAttempt(probe(p.TenantID, route, pr.program, pr.media)))
		if fe == nil {
			return nil
		}
		if fe.Fault != dialer.FaultContent {
			continue
		}
		switch field := fe.Field; {
		case isConfigKey(field):
			if missingConfig == nil {
				missingConfig = dialer.InvalidField(field, faultMessage(fe))
			}
		case providerFields[field] != "":
			return dialer.InvalidField(providerFields[field], faultMessage(fe))
		case field == "" && fe.Cause == dialer.CauseNotConfigured:
			return dialer.InvalidField("gateway_flag", faultMessage(fe))
		}
		// The probe's content, not the route: try the next one.
	}
	return missingConfig
}

// checkProgram asks the gateways that could carry program p whether they
// can carry its content, as the rule at the top of this file says. text,
// when not nil, stands for the stored text of that id (a text being
// changed is checked before it is saved).
func (s *Server) checkProgram(ctx context.Context, tenantID string, p dialer.Program, text *dialer.Text) error {
	svc, ok := dialer.ServiceOf(p.Type)
	if s.deps.Checker == nil || !ok {
		return nil
	}
	m, err := s.programMedia(ctx, tenantID, p, text)
	if err != nil {
		// A reference the store cannot resolve is its to refuse, with the
		// answer it gives for it.
		return nil
	}
	routes, err := s.serviceRoutes(ctx, tenantID, int64(svc))
	if err != nil {
		return err
	}
	if len(routes) == 0 {
		// A route no gateway finds fault with, so that the content is judged.
		routes = []dialer.Route{{Name: "check", Host: "127.0.0.1", Gateway: dialer.GatewayFreeSWITCH}}
	}
	// Every gateway's refusal is named: the client sees all that keeps
	// its program off every route.
	var refused dialer.Invalid
	for _, r := range routes {
		fe := dialer.FaultOf(s.deps.Checker.CheckAttempt(probe(tenantID, r, p.Type, m)))
		if fe == nil {
			return nil
		}
		// A config key the gateway lacks to carry the program (the SIP
		// gateway's media.espeak for voicetts) is refused too: the program
		// could not be delivered by it until the daemon is configured.
		if fe.Fault == dialer.FaultContent && (contentField(fe.Field) || isConfigKey(fe.Field)) {
			if field := programField(p, fe.Field); !refused.Has(field) {
				refused.Add(field, faultMessage(fe))
			}
		}
	}
	return refused.Err()
}

// programField names the program's field for what a gateway refused: the
// reference when the content came through one.
func programField(p dialer.Program, field string) string {
	switch field {
	case "text", "tts_text", "data":
		if p.TextID != nil {
			return "text_id"
		}
		return "text"
	case "recording", "recording_path", "recording_url":
		return "recording_id"
	case "opt_out_confirm", "opt_out_confirm_path", "opt_out_confirm_url":
		return "opt_out_recording_id"
	case "document", "document_path", "document_url":
		return "document_id"
	case "template", "subject", "body", "body_alt":
		return "template_id"
	case "tts_voice":
		return "voice"
	case "tts_language":
		return "language"
	}
	return field
}

// serviceRoutes are the routes of tenantID's active providers that serve svc.
func (s *Server) serviceRoutes(ctx context.Context, tenantID string, svc int64) ([]dialer.Route, error) {
	if s.deps.Providers == nil {
		return nil, nil
	}
	providers, err := s.deps.Providers.Providers(ctx, dialer.Scope{TenantID: tenantID},
		dialer.ListQuery{Filters: map[string]string{"active": "1"}, Limit: dialer.MaxPageSize})
	if err != nil {
		return nil, err
	}
	var out []dialer.Route
	for _, p := range providers {
		if p.ServiceFlag&svc != 0 {
			out = append(out, routeOf(p, ""))
		}
	}
	return out, nil
}

// programMedia is what program p would carry, resolved as
// store.EngineStore.ProgramMedia resolves it for the engine, including a
// voicetts program's stored text (text_id). text, when not nil, is used
// for the text it names.
func (s *Server) programMedia(ctx context.Context, tenantID string, p dialer.Program, text *dialer.Text) (dialer.Media, error) {
	m := dialer.Media{TTSText: p.TTSText, TTSVoice: p.TTSVoice, TTSLanguage: p.TTSLanguage, OptOutDigit: p.OptOutDigit,
		OnMachine: p.OnMachine}
	msgs := s.deps.Messages
	needsStore := p.RecordingID != nil || p.DocumentID != nil || p.TemplateID != nil || p.OptOutRecordingID != nil ||
		(p.TextID != nil && (text == nil || text.ID != *p.TextID))
	if msgs == nil && needsStore {
		return m, errors.New("api: no message store to resolve the program's references")
	}
	if p.TextID != nil {
		t := text
		if t == nil || t.ID != *p.TextID {
			stored, err := msgs.Text(ctx, tenantID, *p.TextID)
			if err != nil {
				return m, err
			}
			t = &stored
		}
		switch p.Type {
		case dialer.ProgramVoiceTTS:
			m.TTSText = t.Data
		default:
			m.Text = t.Data
			if m.Text != "" {
				m.Segments = dialer.SplitSMS(m.Text)
			}
		}
	}
	if p.RecordingID != nil {
		r, err := msgs.Recording(ctx, tenantID, *p.RecordingID)
		if err != nil {
			return m, err
		}
		m.RecordingPath = s.recordingPath(ctx, r)
	}
	if p.OptOutRecordingID != nil {
		r, err := msgs.Recording(ctx, tenantID, *p.OptOutRecordingID)
		if err != nil {
			return m, err
		}
		m.OptOutConfirmPath = s.recordingPath(ctx, r)
	}
	if p.DocumentID != nil {
		d, err := msgs.Document(ctx, tenantID, *p.DocumentID)
		if err != nil {
			return m, err
		}
		m.DocumentPath = s.mediaPath(ctx, d.FileHash, "tif") // txfax sends the fax TIFF
	}
	if p.TemplateID != nil {
		t, err := msgs.Template(ctx, tenantID, *p.TemplateID)
		if err != nil {
			return m, err
		}
		m.Subject, m.Body, m.BodyAlt = t.Subject, t.Body, t.BodyAlt
	}
	return m, nil
}

// recordingPath is the file a gateway plays for r: the telephony WAV when
// the upload was converted, else the upload.
func (s *Server) recordingPath(ctx context.Context, r dialer.Recording) string {
	ext := "wav"
	if r.TelephonyHash == "" {
		ext = r.Type
	}
	return s.mediaPath(ctx, cmp.Or(r.TelephonyHash, r.FileHash), ext)
}

// mediaPath is where the store keeps the media file of hash with extension
// ext, "" when it has none: the path the engine will hand the gateway.
func (s *Server) mediaPath(ctx context.Context, hash, ext string) string {
	if hash == "" || s.deps.Messages == nil {
		return ""
	}
	f, err := s.deps.Messages.OpenFile(ctx, hash, ext)
	if err != nil {
		return ""
	}
	defer f.Close()
	return f.Name()
}

// blockedLister lists the campaigns that cannot dial (the engine).
type blockedLister interface {
	BlockedCampaigns() []dialer.BlockedCampaign
}

// maxBlockedShown bounds the campaigns /readyz lists.
const maxBlockedShown = 10

// blockedCheck is /readyz's optional "campaigns" check: it fails, listing
// them, while campaigns cannot dial. It is optional because one tenant's
// misconfiguration must not take dialerd out of a load balancer for every
// tenant. It names campaign ids, whose fault and the field to fix, never a
// tenant or the reason's words: /readyz answers anyone who reaches it.
func blockedCheck(list func() []dialer.BlockedCampaign) func(context.Context) error {
	return func(context.Context) error {
		blocked := list()
		if len(blocked) == 0 {
			return nil
		}
		slices.SortFunc(blocked, func(a, b dialer.BlockedCampaign) int { return cmp.Compare(a.CampaignID, b.CampaignID) })
		var b strings.Builder
		fmt.Fprintf(&b, "%d blocked:", len(blocked))
		for i, c := range blocked {
			if i == maxBlockedShown {
				b.WriteString(" …")
				break
			}
			fmt.Fprintf(&b, " campaign %d (%s", c.CampaignID, c.Blocked.Fault)
			if c.Blocked.Field != "" {
				b.WriteString(": " + c.Blocked.Field)
			}
			b.WriteByte(')')
		}
		return errors.New(b.String())
	}
}
