package dialer

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func fieldErrorsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func TestValidateDialString(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		ok   bool
	}{
		{"", true},
		{"sofia/gateway/trunk1/{number}", true},
		{"sofia/external/{number}@10.0.0.1:5060;transport=tcp", true},
		{"user/{number}%example.com", true},
		{"sofia/gateway/trunk1/", false}, // no placeholder
		{"sofia/gateway/{number}/{number}", false},
		{"{origination_caller_id_number=1}sofia/gateway/t/{number}", false},
		{"[leg_timeout=5]sofia/gateway/t/{number}", false},
		{"sofia/gateway/t/{number},sofia/gateway/u/{number}", false},
		{"sofia/gateway/t/{number}|sofia/gateway/u/1", false},
		{"sofia/gateway/t/{number}:_:sofia/gateway/u/1", false},
		{"sofia/gateway/t/{number} &park()", false},
		{"sofia/gateway/t/{number}\n", false},
		{"sofia/gateway/t/{number}\tx", false},
		{"sofia/gateway/t/${number}", false},
		{"sofia/gateway/t/{Number}", false},
		{"sofia/gateway/t/{number}'", false},
		{`sofia/gateway/t/{number}"`, false},
		{"sofia/gateway/t/{numbe{number}r}", false},
		{"sofia/gateway/t/{number}" + strings.Repeat("x", 255), false},
	} {
		var v Invalid
		ValidateDialString(tc.tmpl, &v)
		if got := v.Err() == nil; got != tc.ok {
			t.Errorf("ValidateDialString(%q) ok = %v, want %v (%v)", tc.tmpl, got, tc.ok, v.Err())
		}
	}
}

// FuzzDialString checks that whatever the validation accepts, once the
// placeholder is replaced by a number, holds nothing FreeSWITCH reads as
// variables, legs, applications or a new command.
func FuzzDialString(f *testing.F) {
	for _, s := range []string{"sofia/gateway/t/{number}", "{a}{number}", "x:_:{number}", "{number}[x]", "a b{number}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		var v Invalid
		ValidateDialString(tmpl, &v)
		if v.Err() != nil || tmpl == "" {
			return
		}
		dial := strings.Replace(tmpl, DialStringNumber, "+15551234567", 1)
		if strings.ContainsAny(dial, "{}[],|'\"$&<>\\^`!") || strings.Contains(dial, ":_:") ||
			strings.ContainsFunc(dial, unicode.IsSpace) || strings.ContainsFunc(dial, unicode.IsControl) {
			t.Fatalf("accepted %q, which dials as %q", tmpl, dial)
		}
	})
}

func validProvider() Provider {
	return Provider{Name: "trunk-1", GatewayFlag: GatewayFreeSWITCH, Host: "sip.example.com", Port: 5060, Username: "acct", Weight: 10, Type: "sip", Active: 1,
		DialString: "sofia/gateway/trunk-1/{number}", Prefix: "00"}
}

func TestValidateProvider(t *testing.T) {
	node := int64(0)
	for _, tc := range []struct {
		field string
		edit  func(*Provider)
	}{
		{"", func(*Provider) {}},
		{"", func(p *Provider) { p.Host = "10.1.2.3" }},
		{"", func(p *Provider) { p.Host = "2001:db8::1" }},
		{"", func(p *Provider) { p.Port, p.Username, p.Prefix, p.DialString = 0, "", "", "" }},
		{"name", func(p *Provider) { p.Name = "my trunk" }},
		{"name", func(p *Provider) { p.Name = "" }},
		{"host", func(p *Provider) { p.Host = "" }},
		{"host", func(p *Provider) { p.Host = "sip example.com" }},
		{"host", func(p *Provider) { p.Host = "sip.example.com;x=1" }},
		{"host", func(p *Provider) { p.Host = "-bad.example.com" }},
		{"host", func(p *Provider) { p.Host = strings.Repeat("a", 64) + ".com" }},
		{"port", func(p *Provider) { p.Port = 65536 }},
		{"port", func(p *Provider) { p.Port = -1 }},
		{"prefix", func(p *Provider) { p.Prefix = "+1" }},
		{"prefix", func(p *Provider) { p.Prefix = "12a" }},
		{"weight", func(p *Provider) { p.Weight = 0 }},
		{"gateway_flag", func(p *Provider) { p.GatewayFlag = -1 }},
		{"gateway_flag", func(p *Provider) { p.GatewayFlag = 0 }}, // no gateway: nothing could dial it
		{"gateway_flag", func(p *Provider) { p.GatewayFlag = 3 }},
		{"", func(p *Provider) { p.GatewayFlag = GatewaySIP }},
		{"service_flag", func(p *Provider) { p.ServiceFlag = -2 }},
		{"node_id", func(p *Provider) { p.NodeID = &node }},
		{"username", func(p *Provider) { p.Username = "a b" }},
		{"dialstring", func(p *Provider) { p.DialString = "{x=1}sofia/{number}" }},
		{"register", func(p *Provider) { p.Register = 2 }},
		{"active", func(p *Provider) { p.Active = 3 }},
		{"type", func(p *Provider) { p.Type = "SIP TRUNK" }},
		{"settings", func(p *Provider) { p.Settings = "a\x00b" }},
	} {
		p := validProvider()
		tc.edit(&p)
		var v Invalid
		ValidateProvider(&p, &v)
		fields := fieldErrorsOf(v.Err())
		if tc.field == "" && fields != nil {
			t.Errorf("%+v rejected: %v", p, fields)
		}
		if tc.field != "" && fields[tc.field] == "" {
			t.Errorf("%+v: fields %v lack %s", p, fields, tc.field)
		}
	}
	var v Invalid
	ValidateProviderPassword("pass\nword", &v)
	if v.Err() == nil {
		t.Error("a password with a newline was accepted")
	}
}

func TestValidateProviderCallerIDSettings(t *testing.T) {
	for _, tc := range []struct {
		settings string
		ok       bool
	}{
		{"", true},
		{"free text the gateway reads", true},
		{`{"caller_ids": ["+14155550100", "4155550101"], "allow_anonymous": true}`, true},
		{`{"allow_anonymous": false, "cps": 5}`, true},
		{`{"allow_anonymous": "yes"}`, false},
		{`{"caller_ids": "+14155550100"}`, false},
		{`{"caller_ids": ["+1 415 555"]}`, false},
		{`{"caller_ids": ["anonymous"]}`, false},
		{`{"caller_ids": [`, false},
	} {
		p := Provider{Name: "p", GatewayFlag: GatewaySIP, Host: "127.0.0.1", Weight: 1, Type: "sip", Settings: tc.settings}
		var v Invalid
		ValidateProvider(&p, &v)
		if got := v.Err() == nil; got != tc.ok {
			t.Errorf("settings %q: valid %v, want %v (%v)", tc.settings, got, tc.ok, v.Err())
		}
	}
}
