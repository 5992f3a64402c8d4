package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/mail"
	"github.com/dialerd/dialerd/store"
)

// MailConfig is SMTP out (providers with gateway_flag 4 say where) and the
// SMTP listener for receiveemail and emailtofax.
type MailConfig struct {
	HELO            string        `yaml:"helo" help:"name dialerd gives in EHLO when it sends mail; empty: the host name"`
	Timeout         time.Duration `yaml:"timeout" help:"one outgoing mail, connect to the last reply, must finish within this"`
	Listen          string        `yaml:"listen" help:"address the SMTP listener (receiveemail, emailtofax) listens on, host:port; empty disables it"`
	Domain          string        `yaml:"domain" help:"the SMTP listener's host name, in its greeting"`
	FaxDomain       string        `yaml:"fax_domain" help:"mail to <number>@<fax_domain> with a PDF or TIFF attachment is faxed to that number; empty: only email accounts with an emailtofax program fax"`
	MaxMessageBytes int64         `yaml:"max_message_bytes" help:"largest accepted inbound message, in bytes (SIZE)"`
	MaxRecipients   int           `yaml:"max_recipients" help:"most recipients of one inbound message"`
	RelayHosts      string        `yaml:"relay_hosts" help:"comma-separated IP addresses or CIDR prefixes whose mail may be faxed without AUTH; everyone else must AUTH PLAIN over TLS as a dialerd user"`
	TLSCert         string        `yaml:"tls_cert" help:"PEM certificate of the SMTP listener (STARTTLS); without it AUTH is not offered and only relay_hosts can fax"`
	TLSKey          string        `yaml:"tls_key" help:"PEM private key of tls_cert"`
	In              MailInConfig  `yaml:"in"`
	// FaxToEmailMaxAge bounds the retries of a received fax's mail.
	FaxToEmailMaxAge time.Duration `yaml:"faxtoemail_max_age" help:"a received fax whose mail every email provider refuses for now (SMTP 4xx, no answer) is tried again after 1, 5, 15, 30 minutes and then hourly until this long after it came; then its transmission fails naming the last reply (0: no retry)"`
}

// MailInConfig bounds what the SMTP listener keeps of one receiveemail
// message (mail.in.*): the message itself is bounded by max_message_bytes.
type MailInConfig struct {
	MaxDocuments   int   `yaml:"max_documents" help:"most attachments of one received message kept as documents; the others are only listed in its results (not stored: more than N attachments)"`
	MaxHeaderBytes int64 `yaml:"max_header_bytes" help:"most bytes of a received message's header block kept in its results; the rest is cut"`
	MaxTextBytes   int64 `yaml:"max_text_bytes" help:"most bytes of a received message's text, and of its HTML, kept in its results; longer ones are cut and end [truncated]"`
}

// KannelConfig is the Kannel SMS gateway (gateway_flag 2).
type KannelConfig struct {
	Listen      string        `yaml:"listen" help:"address of the listener smsbox calls back (delivery reports, MO get-url), host:port; empty disables Kannel providers"`
	CallbackURL string        `yaml:"callback_url" help:"that listener's URL as smsbox reaches it (dlr-url base); empty: http://<listen>"`
	MOToken     string        `yaml:"mo_token" help:"token the MO get-url must carry (&token=…); empty: MO is taken from loopback only"`
	DLRTimeout  time.Duration `yaml:"dlr_timeout" help:"a message smsbox took that has no final delivery report after this long ends as not delivered"`
}

func messagingDefaults(c *Config) {
	c.Mail.Timeout = 2 * time.Minute
	c.Mail.FaxToEmailMaxAge = 24 * time.Hour
	c.Mail.Domain = "localhost"
	c.Mail.MaxMessageBytes = 25 << 20
	c.Mail.MaxRecipients = 20
	c.Mail.In.MaxDocuments = store.DefaultMaxEmailDocuments
	c.Mail.In.MaxHeaderBytes = mail.DefaultMaxHeaderBytes
	c.Mail.In.MaxTextBytes = store.DefaultMaxEmailText
	c.Kannel.DLRTimeout = time.Hour
}

func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= 0 && p <= 65535
}

// relayPrefixes parses mail.relay_hosts.
func relayPrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (c *Config) validateMessaging(bad func(key, why string)) {
	if c.Mail.Timeout <= 0 {
		bad("mail.timeout", "must be a positive duration such as 2m")
	}
	if c.Mail.FaxToEmailMaxAge < 0 || c.Mail.FaxToEmailMaxAge > 30*24*time.Hour {
		bad("mail.faxtoemail_max_age", "must be from 0 (no retry) to 720h, a duration such as 24h")
	}
	if c.Mail.Listen != "" && !validHostPort(c.Mail.Listen) {
		bad("mail.listen", fmt.Sprintf("%q is not host:port", c.Mail.Listen))
	}
	if hasCtl(c.Mail.HELO) || strings.ContainsAny(c.Mail.HELO, " <>") {
		bad("mail.helo", "must be a host name")
	}
	if c.Mail.Domain == "" || hasCtl(c.Mail.Domain) || strings.ContainsAny(c.Mail.Domain, " <>@") {
		bad("mail.domain", "must be a host name")
	}
	if hasCtl(c.Mail.FaxDomain) || strings.ContainsAny(c.Mail.FaxDomain, " <>@") {
		bad("mail.fax_domain", "must be a domain name")
	}
	if c.Mail.MaxMessageBytes < 1024 {
		bad("mail.max_message_bytes", "must be at least 1024")
	}
	if c.Mail.MaxRecipients < 1 {
		bad("mail.max_recipients", "must be at least 1")
	}
	if _, err := relayPrefixes(c.Mail.RelayHosts); err != nil {
		bad("mail.relay_hosts", err.Error())
	}
	if n := c.Mail.In.MaxDocuments; n < 0 || n > 1000 {
		bad("mail.in.max_documents", "must be from 0 (attachments only listed) to 1000")
	}
	for _, k := range []struct {
		key string
		n   int64
	}{{"mail.in.max_header_bytes", c.Mail.In.MaxHeaderBytes}, {"mail.in.max_text_bytes", c.Mail.In.MaxTextBytes}} {
		if k.n < 1024 || k.n > 1<<30 {
			bad(k.key, "must be from 1024 to 1073741824 bytes")
		}
	}
	if (c.Mail.TLSCert == "") != (c.Mail.TLSKey == "") {
		bad("mail.tls_cert", "mail.tls_cert and mail.tls_key go together")
	}
	if c.Kannel.Listen != "" && !validHostPort(c.Kannel.Listen) {
		bad("kannel.listen", fmt.Sprintf("%q is not host:port", c.Kannel.Listen))
	}
	if u := c.Kannel.CallbackURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" {
			bad("kannel.callback_url", fmt.Sprintf("%q is not http(s)://host[:port]", u))
		}
	}
	if c.Kannel.MOToken != "" && len(c.Kannel.MOToken) < 16 {
		bad("kannel.mo_token", "must be at least 16 characters")
	}
	if c.Kannel.DLRTimeout < time.Second {
		bad("kannel.dlr_timeout", "must be at least 1s")
	}
}

func hasCtl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
