package sip

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
)

func TestDestinationUser(t *testing.T) {
	tests := []struct {
		phone, prefix, want string
		ok                  bool
	}{
		{"+15551234567", "", "+15551234567", true},
		{"+15551234567", "00", "0015551234567", true},
		{"+923001234567", "9", "9923001234567", true},
		{"15551234567", "", "", false},                                                 // no +
		{"+1555123456789012", "", "", false},                                           // 16 digits
		{"+0123", "", "", false},                                                       // no country code 0
		{"+1555;transport=tcp", "", "", false},                                         // URI parameter
		{"+1555@evil.example", "", "", false},                                          // another host
		{"+1555\r\nX-Injected: 1", "", "", false},                                      // a header
		{"+15551234567", "00;user=phone", "", false},                                   // prefix with a parameter
		{"+15551234567", "+", "", false},                                               // prefix is digits only
		{"+15551234567", "1234567890123456", "12345678901234561555123456" + "7", true}, // 16 digits, as the API takes
		{"+15551234567", "12345678901234567", "", false},                               // prefix too long
		{"+1５５５1234567", "", "", false},                                                // fullwidth digits
		{"+15551234567", "0\x00", "", false},                                           // NUL
		{"+15551234567", "\u0660", "", false},                                          // Arabic-Indic zero
		{"+155512345\u200b67", "", "", false},                                          // zero-width space
		{"+15551234567?X-Injected=1", "", "", false},                                   // URI headers
		{"+15551234567>", "", "", false},                                               // closes the URI
		{"+15551234567 SIP/2.0\r\nVia: x", "", "", false},                              // a start line
		{"+15551234567%0d%0aX-Injected:1", "", "", false},                              // escaped CRLF
		{"+15551234567", "00%0d%0aX-Injected:1", "", false},                            // escaped CRLF in prefix
	}
	for _, tt := range tests {
		got, err := destinationUser(tt.phone, tt.prefix)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("destinationUser(%q, %q) = %q, %v", tt.phone, tt.prefix, got, err)
		}
		if err != nil && dialer.ErrorCode(err) != dialer.CodeInvalid {
			t.Errorf("destinationUser(%q, %q) error %v is not a validation error", tt.phone, tt.prefix, err)
		}
	}
}

func TestCallerAndTrunkUsers(t *testing.T) {
	for _, ok := range []string{"", "+15550000000", "15550000000", "1001"} {
		if _, err := callerUser(ok); err != nil {
			t.Errorf("callerUser(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"+", "++1", "1001;tag=x", "1001@evil", "1\r\nX: y", "abc", "123456789012345678901"} {
		if _, err := callerUser(bad); err == nil {
			t.Errorf("callerUser(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"", "trunk1", "acme.trunk-1_x"} {
		if _, err := sipUser("provider.username", ok); err != nil {
			t.Errorf("sipUser(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"a@b", "a;b=c", "a b", "a\r\nb", "a>b", "a:b", strings.Repeat("a", 65)} {
		if _, err := sipUser("provider.username", bad); err == nil {
			t.Errorf("sipUser(%q) accepted", bad)
		}
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Acme Sales", "Acme Sales"},
		{`Evil" <sip:x@y>`, `Evil\" <sip:x@y>`},
		{"a\r\nX-Injected: 1", "aX-Injected: 1"},
		{`back\slash`, `back\\slash`},
		{"Zoë Ünal", "Zoë Ünal"},
		{"tab\there", "tabhere"},
		{"\x00\x7f\u2028", ""},
		{strings.Repeat("x", 100), strings.Repeat("x", maxDisplayName)},
	}
	for _, tt := range tests {
		if got := displayName(tt.in); got != tt.want {
			t.Errorf("displayName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidHost(t *testing.T) {
	for _, ok := range []string{"127.0.0.1", "::1", "sip.example.com", "trunk-1.example"} {
		if !validHost(ok) {
			t.Errorf("validHost(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a b", "evil.example;transport=tcp", "x>y", "a..b", "-a.b", "h\r\nX: y", "user@host", "host:5060"} {
		if validHost(bad) {
			t.Errorf("validHost(%q) = true", bad)
		}
	}
}

// TestHostileCallerCannotInjectHeaders sends an INVITE with a hostile caller
// name to a bare UDP "trunk" and parses what arrives: the name stays inside
// the From header's quotes and no header is added.
func TestHostileCallerCannotInjectHeaders(t *testing.T) {
	g := newTestGateway(t, Config{})
	trunk, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer trunk.Close()

	hostile := "Mallory\" <sip:boss@evil.example>;tag=1\r\nX-Injected: 1\r\nContact: <sip:evil.example>\r\n\r\n"
	a := dialer.Attempt{
		CallUUID: "6b1f3c2e-0000-4000-8000-0000000000aa", Program: dialer.ProgramVoiceMessage,
		Phone: "+15551230001", CallerIDNumber: "+15550000000", CallerIDName: hostile,
		Provider: dialer.Route{Host: "127.0.0.1", Port: trunk.LocalAddr().(*net.UDPAddr).Port},
		Media:    dialer.Media{RecordingPath: writeWAV(t, tone(20*time.Millisecond))},
	}
	type result struct {
		out dialer.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := g.Deliver(testContext(t), a, nil)
		done <- result{out, err}
	}()

	buf := make([]byte, 8192)
	if err := trunk.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, from, err := trunk.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no INVITE arrived: %v", err)
	}
	msg, err := sip.NewParser().ParseSIP(buf[:n])
	if err != nil {
		t.Fatalf("INVITE does not parse: %v\n%s", err, buf[:n])
	}
	req, ok := msg.(*sip.Request)
	if !ok || !req.IsInvite() {
		t.Fatalf("got %T, want an INVITE", msg)
	}
	if h := req.GetHeader("X-Injected"); h != nil {
		t.Errorf("injected header arrived: %v", h)
	}
	if hs := req.GetHeaders("Contact"); len(hs) != 1 || strings.Contains(hs[0].Value(), "evil") {
		t.Errorf("Contact headers %v", hs)
	}
	fromHdr := req.From()
	if fromHdr == nil || fromHdr.Address.Host != "127.0.0.1" || fromHdr.Address.User != "+15550000000" {
		t.Fatalf("From header %v", fromHdr)
	}
	if tag, _ := fromHdr.Params.Get("tag"); tag == "1" {
		t.Error("the caller name set the From tag")
	}
	if got, want := fromHdr.DisplayName, displayName(hostile); got != want {
		t.Errorf("From display name %q, want %q", got, want)
	}
	if strings.Count(string(buf[:n]), "\r\n\r\n") != 1 {
		t.Errorf("the message has more than one blank line:\n%s", buf[:n])
	}

	// Refuse the call so Deliver ends.
	res := sip.NewResponseFromRequest(req, 486, "Busy Here", nil)
	res.To().Params.Add("tag", "trunk")
	if _, err := trunk.WriteToUDP([]byte(res.String()), from); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.out.Cause != CauseUserBusy {
		t.Errorf("Deliver = %+v, %v", r.out, r.err)
	}
}

func TestHostileAttemptsNeverReachTheNetwork(t *testing.T) {
	g := newTestGateway(t, Config{})
	wav := writeWAV(t, tone(20*time.Millisecond))
	base := dialer.Attempt{
		CallUUID: "6b1f3c2e-0000-4000-8000-0000000000bb", Program: dialer.ProgramVoiceMessage,
		Phone:    "+15551230001",
		Provider: dialer.Route{Host: "127.0.0.1", Port: 9},
		Media:    dialer.Media{RecordingPath: wav},
	}
	tests := []struct {
		field  string
		fault  dialer.Fault
		mutate func(*dialer.Attempt)
	}{
		{"phone", dialer.FaultCallee, func(a *dialer.Attempt) { a.Phone = "+1555\r\nX-Injected: 1" }},
		{"phone", dialer.FaultContent, func(a *dialer.Attempt) { a.CallerIDNumber = "1001>;x=y" }},
		{"host", dialer.FaultContent, func(a *dialer.Attempt) { a.Provider.Host = "evil.example;transport=tcp" }},
		{"prefix", dialer.FaultContent, func(a *dialer.Attempt) { a.Provider.Prefix = "00\r\n" }},
		{"username", dialer.FaultContent, func(a *dialer.Attempt) { a.Provider.Username = "u@evil" }},
		{"transport", dialer.FaultContent, func(a *dialer.Attempt) { a.Provider.Transport = "sctp" }},
		{"port", dialer.FaultContent, func(a *dialer.Attempt) { a.Provider.Port = 70000 }},
		{"call_uuid", dialer.FaultContent, func(a *dialer.Attempt) { a.CallUUID = "x\r\nVia: y" }},
	}
	for _, tt := range tests {
		a := base
		tt.mutate(&a)
		_, err := g.Deliver(testContext(t), a, nil)
		var fe *dialer.FaultError
		if !errors.As(err, &fe) || fe.Fault != tt.fault || fe.Field != tt.field {
			t.Errorf("%s: Deliver error %v, want a %s fault naming %s", tt.field, err, tt.fault, tt.field)
		}
	}
}
