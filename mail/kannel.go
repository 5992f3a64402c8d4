package mail

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Kannel's delivery report types (its dlr-mask bits, %d in a dlr-url).
const (
	DLRDelivered  = 1  // delivered to the phone
	DLRFailed     = 2  // not delivered to the phone
	DLRBuffered   = 4  // queued on the SMSC
	DLRSMSCSubmit = 8  // accepted by the SMSC
	DLRSMSCReject = 16 // rejected by the SMSC
	dlrMaskAll    = DLRDelivered | DLRFailed | DLRBuffered | DLRSMSCSubmit | DLRSMSCReject
)

// KannelConfig configures the Kannel SMS gateway.
type KannelConfig struct {
	// CallbackURL is dialerd's callback listener as Kannel's smsbox
	// reaches it (http://127.0.0.1:8013): the dlr-url of every message
	// points there.
	CallbackURL string
	// Key signs each dlr-url, so that only the report of a message we sent
	// is taken (at least 16 bytes).
	Key []byte
	// MOToken, when set, must be the token parameter of an MO request;
	// when empty only clients on loopback may deliver MO messages.
	MOToken string
	// DLRTimeout is how long a message accepted by Kannel may wait for its
	// final delivery report before it ends as not delivered.
	DLRTimeout time.Duration
	// Timeout bounds the sendsms request.
	Timeout time.Duration
	// OnMO records a mobile-originated message (to: the DID, E.164). It
	// returns dialer.ErrNotFound when nothing receives on to.
	OnMO func(ctx context.Context, from, to, text string, at time.Time) error
	Log  *slog.Logger
	// Client is the HTTP client for smsbox (nil: a default one).
	Client *http.Client
}

// Kannel is the SMS gateway for gateway_flag 2: it sends through smsbox's
// /cgi-bin/sendsms and follows each message's delivery reports, which
// smsbox posts to the dlr-url this gateway gives it. A spool is completed
// only on a "delivered" report (type 1).
type Kannel struct {
	cfg    KannelConfig
	client *http.Client

	mu      sync.Mutex
	waiting map[string]chan DLR // by call UUID
	// early keeps reports for which nobody waits yet (arrived before
	// recovery asked), bounded; finished are the attempts that had their
	// final report, whose late reports (smsbox posts them concurrently, so
	// a "submitted" may come after "delivered") are dropped.
	early    map[string]earlyDLRs
	finished map[string]time.Time
}

type earlyDLRs struct {
	first time.Time
	dlrs  []DLR
}

// DLR is one delivery report.
type DLR struct {
	Type  int    // DLRDelivered, …
	Reply string // the SMSC's reply (%A), flattened to one line
	SMSC  string // the smsc-id (%i)
	At    time.Time
}

// maxEarly bounds the attempts whose reports are kept while nobody waits
// for them, and the finished attempts remembered; each is forgotten after
// keepReports.
const (
	maxEarly    = 10000
	keepReports = 10 * time.Minute
)

// NewKannel returns the Kannel gateway.
func NewKannel(cfg KannelConfig) (*Kannel, error) {
	if _, err := url.Parse(cfg.CallbackURL); err != nil || !strings.HasPrefix(cfg.CallbackURL, "http") {
		return nil, fmt.Errorf("kannel: callback URL %q: must be http(s)://host:port", cfg.CallbackURL)
	}
	if len(cfg.Key) < 16 {
		return nil, errors.New("kannel: the dlr-url key must be at least 16 bytes")
	}
	if cfg.DLRTimeout <= 0 {
		cfg.DLRTimeout = time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{Timeout: cfg.Timeout}
	}
	return &Kannel{cfg: cfg, client: c, waiting: map[string]chan DLR{}, early: map[string]earlyDLRs{},
		finished: map[string]time.Time{}}, nil
}

// CheckAttempt implements dialer.AttemptChecker.
func (k *Kannel) CheckAttempt(a dialer.Attempt) error {
	r := a.Provider
	switch {
	case strings.TrimSpace(r.Host) == "" || hasControl(r.Host) || strings.ContainsAny(r.Host, " /@?#"):
		return dialer.ContentFault("host", errors.New("smsbox's host name or address is required"))
	case r.Port < 1 || r.Port > 65535:
		return dialer.ContentFault("port", errors.New("smsbox's sendsms-port (1-65535) is required"))
	case r.Username == "" || hasControl(r.Username):
		return dialer.ContentFault("username", errors.New("the sendsms-user's username is required, without control characters"))
	case hasControl(r.Password):
		return dialer.ContentFault("password", errLineBreak)
	case hasControl(r.Sender) || len(r.Sender) > 20:
		return dialer.ContentFault("settings", errors.New(`"from" (the sender) must be a number or up to 20 characters without control characters`))
	}
	if a.Program != dialer.ProgramSendSMS {
		return dialer.ContentFault("program", fmt.Errorf("a Kannel provider carries sendsms only, not %s", a.Program))
	}
	if a.Media.Text == "" {
		return dialer.ContentFault("text", errors.New("the SMS text is empty"))
	}
	if n := len(a.Media.Segments); n > maxSegments {
		return dialer.ContentFault("text", fmt.Errorf("the text needs %d segments; Kannel sends at most %d", n, maxSegments))
	}
	return nil
}

// maxSegments is the most parts of one concatenated SMS sent (the
// sendsms-user's max-messages must allow it).
const maxSegments = 10

// sign is the dlr-url signature of call UUID id.
func (k *Kannel) sign(id string) string {
	m := hmac.New(sha256.New, k.cfg.Key)
	m.Write([]byte("kannel-dlr\x00" + id))
	return hex.EncodeToString(m.Sum(nil))
}

// dlrURL is the dlr-url of attempt id: Kannel fills %d (type), %A (the
// SMSC's reply), %i (smsc-id) and %T (time).
func (k *Kannel) dlrURL(id string) string {
	return strings.TrimRight(k.cfg.CallbackURL, "/") + "/kannel/dlr?id=" + url.QueryEscape(id) + "&sig=" + k.sign(id) +
		"&type=%d&reply=%A&smsc=%i&ts=%T"
}

// sendURL is the sendsms request of a.
func (k *Kannel) sendURL(a dialer.Attempt) string {
	r := a.Provider
	q := url.Values{}
	q.Set("username", r.Username)
	q.Set("password", r.Password)
	if r.Sender != "" {
		q.Set("from", r.Sender)
	}
	q.Set("to", r.Prefix+strings.TrimPrefix(a.Phone, "+"))
	if r.Prefix == "" {
		q.Set("to", a.Phone)
	}
	q.Set("text", a.Media.Text)
	q.Set("charset", "UTF-8")
	if dialer.SMSEncoding(a.Media.Text) == dialer.SMSEncodingUCS2 {
		q.Set("coding", "2")
	}
	q.Set("dlr-mask", strconv.Itoa(dlrMaskAll))
	q.Set("dlr-url", k.dlrURL(a.CallUUID))
	host := net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	return "http://" + host + "/cgi-bin/sendsms?" + q.Encode()
}

// wait registers interest in id's reports; cancel ends it.
func (k *Kannel) wait(id string) (<-chan DLR, func()) {
	ch := make(chan DLR, 8)
	k.mu.Lock()
	k.waiting[id] = ch
	early := k.early[id].dlrs
	delete(k.early, id)
	delete(k.finished, id)
	k.mu.Unlock()
	for i, d := range early {
		if i == cap(ch) {
			break
		}
		ch <- d
	}
	return ch, func() {
		k.mu.Lock()
		if k.waiting[id] == ch {
			delete(k.waiting, id)
			k.remember(k.finished, id, time.Now())
		}
		k.mu.Unlock()
	}
}

// Deliver implements dialer.Gateway.
func (k *Kannel) Deliver(ctx context.Context, a dialer.Attempt, progress func(dialer.Progress)) (dialer.Outcome, error) {
	start := time.Now()
	if err := k.CheckAttempt(a); err != nil {
		return dialer.Outcome{}, err
	}
	reports, done := k.wait(a.CallUUID)
	defer done()
	rctx, cancel := context.WithTimeout(ctx, k.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, k.sendURL(a), nil)
	if err != nil {
		return dialer.Outcome{}, dialer.ContentFault("host", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		// Never log err as is: its URL holds the password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return dialer.Outcome{}, dialer.RouteFault(dialer.CauseGatewayError, fmt.Errorf("kannel smsbox %s: %w", a.Provider.Host, err))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	reply := strconv.Itoa(resp.StatusCode) + " " + oneLine(strings.TrimSpace(string(body)))
	results := []dialer.Result{{Type: "kannel", Name: "sendsms", Data: reply}}
	if out, ok := SendSMSOutcome(resp.StatusCode, start, time.Now()); !ok {
		out.Results = results
		return out, nil
	}
	return k.follow(ctx, start, start, reports, results, progress)
}

// SendSMSOutcome is what smsbox's answer to sendsms means: ok when it took
// the message (202), else the outcome of the refusal.
func SendSMSOutcome(status int, start, end time.Time) (dialer.Outcome, bool) {
	out := dialer.Outcome{Start: start, End: end}
	switch {
	case status == http.StatusAccepted || status == http.StatusOK:
		return out, true
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		out.Cause = dialer.CauseAuthFailed // the sendsms-user's credentials
	case status == http.StatusServiceUnavailable || status >= 500:
		out.Cause = "NORMAL_CIRCUIT_CONGESTION" // "Temporal failure, try again later"
	default:
		out.Cause = dialer.CauseSMSRejected // 400: what smsbox will never send as given
	}
	return out, false
}

// follow waits for the final report of a message smsbox took at taken.
func (k *Kannel) follow(ctx context.Context, start, taken time.Time, reports <-chan DLR, results []dialer.Result,
	progress func(dialer.Progress)) (dialer.Outcome, error) {
	timer := time.NewTimer(time.Until(taken.Add(k.cfg.DLRTimeout)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			// The message is with Kannel: recovery waits for its report.
			return dialer.Outcome{}, ctx.Err()
		case <-timer.C:
			now := time.Now()
			results = append(results, dialer.Result{Type: "dlr", Name: "timeout", Data: k.cfg.DLRTimeout.String()})
			return dialer.Outcome{Start: start, Connect: taken, End: now, Failure: dialer.CauseNotDelivered, Results: results}, nil
		case d := <-reports:
			results = append(results, dialer.Result{Type: "dlr", Name: dlrName(d.Type), Data: d.Reply})
			if out, final := DLROutcome(d, start, taken); final {
				out.Results = results
				return out, nil
			}
			if d.Type == DLRSMSCSubmit {
				progress(dialer.Progress{Kind: dialer.ProgressRinging, At: d.At})
			}
		}
	}
}

// DLROutcome is what a delivery report means; final is false for the
// reports that only say where the message is (buffered, SMSC submit).
func DLROutcome(d DLR, start, taken time.Time) (out dialer.Outcome, final bool) {
	out = dialer.Outcome{Start: start, End: d.At}
	switch d.Type {
	case DLRDelivered:
		out.Connect, out.Delivered, out.Cause = taken, true, "NORMAL_CLEARING"
		return out, true
	case DLRFailed:
		out.Connect, out.Failure = taken, dialer.CauseNotDelivered
		return out, true
	case DLRSMSCReject:
		out.Cause = dialer.CauseSMSRejected
		return out, true
	}
	return out, false
}

func dlrName(t int) string {
	switch t {
	case DLRDelivered:
		return "delivered"
	case DLRFailed:
		return "failed"
	case DLRBuffered:
		return "buffered"
	case DLRSMSCSubmit:
		return "smsc_submit"
	case DLRSMSCReject:
		return "smsc_reject"
	}
	return "type_" + strconv.Itoa(t)
}

// Recover implements dialer.Recoverer: a message a previous process sent
// is followed again until its final report or its DLR timeout.
func (k *Kannel) Recover(ctx context.Context, s dialer.RecoverSpool, progress func(dialer.Progress)) (dialer.Outcome, error) {
	if time.Since(s.Spooled) > k.cfg.DLRTimeout {
		return dialer.Outcome{}, dialer.ErrCallGone
	}
	reports, done := k.wait(s.Attempt.CallUUID)
	defer done()
	return k.follow(ctx, s.Spooled, s.Spooled, reports, []dialer.Result{{Type: "kannel", Name: "recovered", Data: "after a restart"}}, progress)
}

// ParseDLR reads a delivery report's query: the attempt's id and the
// report, or an error for anything malformed or not signed by us.
func (k *Kannel) ParseDLR(q url.Values, now time.Time) (string, DLR, error) {
	id := q.Get("id")
	if id == "" || len(id) > 64 || hasControl(id) {
		return "", DLR{}, errors.New("bad id")
	}
	sig, err := hex.DecodeString(q.Get("sig"))
	if err != nil || !hmac.Equal(sig, mustHex(k.sign(id))) {
		return "", DLR{}, errors.New("bad signature")
	}
	t, err := strconv.Atoi(q.Get("type"))
	switch {
	case err != nil:
		return "", DLR{}, errors.New("bad type")
	case t != DLRDelivered && t != DLRFailed && t != DLRBuffered && t != DLRSMSCSubmit && t != DLRSMSCReject:
		return "", DLR{}, fmt.Errorf("unknown report type %d", t)
	}
	reply := oneLine(q.Get("reply"))
	if len(reply) > 512 {
		reply = reply[:512]
	}
	smsc := oneLine(q.Get("smsc"))
	if len(smsc) > 64 {
		smsc = smsc[:64]
	}
	return id, DLR{Type: t, Reply: reply, SMSC: smsc, At: now}, nil
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// report hands a DLR to the attempt waiting for it, or keeps it for one
// that may (recovery) unless that attempt is over.
func (k *Kannel) report(id string, d DLR) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ch, ok := k.waiting[id]; ok {
		select {
		case ch <- d:
		default:
			k.cfg.Log.Warn("kannel: delivery reports of one message queue up; dropped one", "call_uuid", id, "type", d.Type)
		}
		return
	}
	if _, over := k.finished[id]; over {
		return
	}
	e, ok := k.early[id]
	if !ok {
		if len(k.early) >= maxEarly {
			cut := time.Now().Add(-keepReports)
			for id, e := range k.early {
				if e.first.Before(cut) {
					delete(k.early, id)
				}
			}
		}
		if len(k.early) >= maxEarly {
			k.cfg.Log.Warn("kannel: too many delivery reports for messages nobody waits for; dropped one", "call_uuid", id)
			return
		}
		e.first = d.At
	}
	if len(e.dlrs) < 8 {
		e.dlrs = append(e.dlrs, d)
	}
	k.early[id] = e
}

// remember records id in m at t, bounded like early.
func (k *Kannel) remember(m map[string]time.Time, id string, t time.Time) {
	if len(m) >= maxEarly {
		cut := t.Add(-keepReports)
		for id, at := range m {
			if at.Before(cut) {
				delete(m, id)
			}
		}
		if len(m) >= maxEarly {
			return
		}
	}
	m[id] = t
}

// Handler serves smsbox's callbacks: GET/POST /kannel/dlr (delivery
// reports) and /kannel/mo (a get-url of an sms-service).
func (k *Kannel) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/kannel/dlr", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		id, d, err := k.ParseDLR(r.Form, time.Now())
		if err != nil {
			k.cfg.Log.Warn("kannel: delivery report refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		k.report(id, d)
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/kannel/mo", k.serveMO)
	return mux
}

// serveMO records an MO message: from=%p&to=%P&text=%a.
func (k *Kannel) serveMO(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if !k.moAllowed(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	from, to, text, err := ParseMO(r.Form)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if k.cfg.OnMO == nil {
		http.Error(w, "no receiver", http.StatusServiceUnavailable)
		return
	}
	switch err := k.cfg.OnMO(r.Context(), from, to, text, time.Now()); {
	case errors.Is(err, dialer.ErrNotFound):
		// Answered 200 with no reply text: smsbox must not retry, and the
		// sender gets no answer SMS.
		k.cfg.Log.Info("kannel: MO message for a number nothing receives", "to", to)
	case err != nil:
		k.cfg.Log.Error("kannel: recording an MO message", "to", to, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK) // an empty body: smsbox sends no reply
}

func (k *Kannel) moAllowed(r *http.Request) bool {
	if k.cfg.MOToken != "" {
		return subtle.ConstantTimeCompare([]byte(r.Form.Get("token")), []byte(k.cfg.MOToken)) == 1
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// ParseMO reads an MO request: the sender and the DID in E.164 and the
// text.
func ParseMO(q url.Values) (from, to, text string, err error) {
	from, err = e164(q.Get("from"))
	if err != nil {
		return "", "", "", fmt.Errorf("from: %w", err)
	}
	to, err = e164(q.Get("to"))
	if err != nil {
		return "", "", "", fmt.Errorf("to: %w", err)
	}
	text = q.Get("text")
	if len(text) > 64<<10 {
		return "", "", "", errors.New("text: too long")
	}
	return from, to, strings.ToValidUTF8(text, "\uFFFD"), nil
}

// e164 makes a number as an SMSC gives it ("+15551234", "0015551234",
// "15551234") E.164.
func e164(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	if strings.HasPrefix(s, "00") {
		s = s[2:]
	}
	if len(s) < 3 || len(s) > 15 || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", errors.New("not a phone number")
	}
	return "+" + s, nil
}
