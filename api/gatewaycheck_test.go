package api

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl"
)

// trunkRules is a checker with the rules of a daemon whose SIP gateway is
// off (sip.listen empty) and whose FreeSWITCH gateway takes prefixes of at
// most 10 digits and no '@' in a username, as the issue saw them. It keeps
// the attempts it was asked about.
type trunkRules struct {
	mu   sync.Mutex
	seen []dialer.Attempt
}

func (c *trunkRules) CheckAttempt(a dialer.Attempt) error {
	c.mu.Lock()
	c.seen = append(c.seen, a)
	c.mu.Unlock()
	r := a.Provider
	switch {
	case r.Gateway == dialer.GatewaySIP:
		return &dialer.FaultError{Fault: dialer.FaultContent, Cause: dialer.CauseNotConfigured, Field: "sip.listen",
			Err: errors.New("the SIP gateway is off")}
	case a.Program != dialer.ProgramSendSMS:
		// As the SIP gateway does: the program before the route.
		return dialer.ContentFault("program", errors.New("this gateway sends SMS only"))
	case len(r.Prefix) > 10:
		return dialer.ContentFault("prefix", errors.New("at most 10 digits"))
	case strings.Contains(r.Username, "@"):
		return dialer.ContentFault("username", errors.New("no @ in a username"))
	case a.Media.Text == "":
		return dialer.ContentFault("text", errors.New("an SMS needs a text"))
	}
	return nil
}

func (c *trunkRules) last() dialer.Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[len(c.seen)-1]
}

// TestProviderIsCheckedByItsGateway: what the provider's gateway cannot dial
// with is refused with a 412 naming the field (or config key), and nothing
// is written, on create and on update. Before: accepted, and every attempt
// through it failed as the provider's fault.
func TestProviderIsCheckedByItsGateway(t *testing.T) {
	chk := &trunkRules{}
	w := newWorld(t, func(d *Deps) { d.Checker = chk })

	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"prefix longer than the gateway takes", map[string]any{"prefix": "1234567890123456"}, "prefix"},
		{"username the gateway refuses", map[string]any{"username": "acct@example.com"}, "username"},
		{"SIP trunk while sip.listen is off", map[string]any{"gateway_flag": 8}, "sip.listen"},
		{"serves nothing", map[string]any{"service_flag": 0}, "service_flag"},
		{"a service its gateway cannot carry", map[string]any{"service_flag": dialer.ServiceEmail}, "service_flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fullProvider()
			for k, v := range tc.body {
				body[k] = v
			}
			w.rejected("POST", "/providers", w.admin, body, 412, tc.field)
		})
	}

	// What the gateway accepts is written, and the gateway saw the route as
	// the store will resolve it for the engine.
	id := w.createProvider(w.admin, map[string]any{"name": "trunk-1", "host": "sip.example.com", "port": 5080, "node_id": 2,
		"username": "acct-1", "password": providerSecret, "prefix": "0044", "settings": `{"transport": "tcp"}`})
	got := chk.last().Provider
	want := dialer.Route{Name: "trunk-1", Host: "sip.example.com", Port: 5080, Username: "acct-1", Password: providerSecret,
		Prefix: "0044", Node: "2", Transport: "tcp", Gateway: dialer.GatewayFreeSWITCH}
	if got != want {
		t.Errorf("the gateway checked %+v, want %+v", got, want)
	}

	// Update: the same checks, and a refusal leaves the provider as it was.
	path := idPath("/providers/%d", id)
	w.rejected("PUT", path, w.admin, map[string]any{"prefix": "00441234567890"}, 412, "prefix")
	w.rejected("PUT", path, w.admin, map[string]any{"gateway_flag": 8, "service_flag": 1}, 412, "sip.listen")
	w.rejected("PUT", path, w.admin, map[string]any{"service_flag": 0}, 412, "service_flag")
	var p dialer.Provider
	w.expect(w.do("PUT", path, w.admin, map[string]any{"prefix": "0033"}), 200).json(t, &p)
	if p.Prefix != "0033" || chk.last().Provider.ProviderID != id {
		t.Errorf("update answered %+v; the gateway checked %+v", p, chk.last().Provider)
	}
}

// TestProviderServiceFlagDefaultsToItsGateway: a provider created without
// service_flag serves what its gateway carries, so it is never the silent
// "serves nothing" of issue 10. Before: 0.
func TestProviderServiceFlagDefaultsToItsGateway(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		gateway, want int64
	}{
		{dialer.GatewayFreeSWITCH, dialer.ServiceVoice | dialer.ServiceFax},
		{dialer.GatewayKannel, dialer.ServiceSMS},
		{dialer.GatewaySendmail, dialer.ServiceEmail},
		{dialer.GatewaySIP, dialer.ServiceVoice | dialer.ServiceSMS},
	} {
		id := w.createProvider(w.admin, map[string]any{"name": "p" + string(rune('0'+tc.gateway)), "host": "10.0.0.7", "gateway_flag": tc.gateway})
		var p dialer.Provider
		w.expect(w.do("GET", idPath("/providers/%d", id), w.admin, nil), 200).json(t, &p)
		if p.ServiceFlag != tc.want {
			t.Errorf("gateway_flag %d: service_flag %d, want %d", tc.gateway, p.ServiceFlag, tc.want)
		}
	}
	// The default is omitted from the request only: a provider moved to
	// another gateway keeps its services, which must fit the new one.
	id := w.createProvider(w.admin, map[string]any{"name": "fax", "host": "10.0.0.8", "service_flag": dialer.ServiceFax})
	w.rejected("PUT", idPath("/providers/%d", id), w.admin, map[string]any{"gateway_flag": dialer.GatewaySIP}, 412, "service_flag")
}

// TestProviderCheckedByTheDaemonsRouter is the daemon's wiring: the
// gateway router with FreeSWITCH and no SIP gateway (sip.listen off). A
// gateway_flag 8 provider is refused naming sip.listen, a FreeSWITCH one
// whose dial string names no endpoint naming dialstring. Before: both
// accepted, and their campaigns stalled or failed as the provider's fault.
func TestProviderCheckedByTheDaemonsRouter(t *testing.T) {
	fs := esl.New(esl.Options{})
	t.Cleanup(func() { fs.Close(context.Background()) })
	router := dialer.NewGatewayRouter(map[int64]dialer.Gateway{dialer.GatewayFreeSWITCH: fs})
	router.NotConfigured(dialer.GatewaySIP, "sip.listen")
	w := newWorld(t, func(d *Deps) { d.Checker = router })

	w.rejected("POST", "/providers", w.admin, map[string]any{"name": "sipp", "host": "127.0.0.1", "gateway_flag": 8}, 412, "sip.listen")
	w.rejected("POST", "/providers", w.admin, map[string]any{"name": "sms", "host": "127.0.0.1", "gateway_flag": 2}, 412, "gateway_flag")
	w.createProvider(w.admin, map[string]any{"name": "trunk-1", "host": "sip.example.com", "prefix": "0044"})
	w.rejected("POST", "/providers", w.admin, map[string]any{"name": "trunk-2", "host": "sip.example.com", "dialstring": "{number}"}, 412, "dialstring")
}
