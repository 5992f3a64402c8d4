package esl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Inbound faxes. The dialplan (configs/freeswitch/dialplan/public) marks a
// call to a DID that may be a fax with the channel variable dialerd_inbound
// = fax and parks it. The node's one connection hears CHANNEL_PARK (it is
// subscribed), asks Options.Fax whether a receivefax or faxtoemail program
// receives on that number, and drives the parked channel with sendmsg on
// the same connection: execute answer, execute rxfax into Options.FaxDir,
// and hangup when rxfax has completed. FreeSWITCH parks the call rather than
// connecting it to an outbound event socket so that nothing new has to
// listen: the node's connection already follows every channel and
// reconnects by itself.
//
// The result is spandsp's: CHANNEL_EXECUTE_COMPLETE of rxfax carries
// variable_fax_success, _result_code, _result_text and
// _document_transferred_pages (fax_tiff_ok.txt, the receiving leg), as
// does CHANNEL_HANGUP_COMPLETE when the caller hung up first. A fax is
// received only with fax_success 1.

// Event names and variables of the inbound side.
const (
	evPark              = "CHANNEL_PARK"
	subclassRxFaxResult = "spandsp::rxfaxresult"
	varInbound          = "dialerd_inbound"
	inboundFax          = "fax"
)

// inboundTimeout bounds one inbound fax call: 100 pages at 9600 bit/s take
// well under an hour.
const inboundTimeout = time.Hour

// FaxReceiver is what receives the faxes that FreeSWITCH nodes take
// (Options.Fax): the store, through the daemon.
type FaxReceiver interface {
	// AcceptFax says whether a fax call to the DID did (E.164) is
	// received here; false or an error hangs it up unanswered.
	AcceptFax(ctx context.Context, did string) (bool, error)
	// FaxReceived is told how an accepted fax call ended. f.Path is
	// rxfax's file, removed once FaxReceived returns.
	FaxReceived(ctx context.Context, f ReceivedFax)
}

// ReceivedFax is an accepted fax call as rxfax ended it.
type ReceivedFax struct {
	Node, CallUUID string
	From, To       string // Caller-Caller-ID-Number; the DID as E.164
	Path           string // rxfax's TIFF, "" when it wrote none
	Success        bool   // fax_success 1
	ResultCode     int
	ResultText     string
	Pages          int
	Answered, End  time.Time
	HangupCause    string // when the call ended before rxfax completed
}

var didPattern = regexp.MustCompile(`^\+?[1-9][0-9]{5,14}$`)

// inboundCall is one parked fax call a node drives.
type inboundCall struct {
	uuid   string
	events chan event
}

// inboundCalls is a node's parked calls, by channel UUID.
type inboundCalls struct {
	mu    sync.Mutex
	calls map[string]*inboundCall
	n     atomic.Int32   // len(calls): every event of every call asks, most when none is parked
	wg    sync.WaitGroup // the goroutines driving them
}

// busy reports whether a fax call is being received: Close gives it the
// grace period, as it does an attempt.
func (ic *inboundCalls) busy() bool {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return len(ic.calls) > 0
}

func (ic *inboundCalls) get(uuid string) *inboundCall {
	if ic.n.Load() == 0 {
		return nil
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.calls[uuid]
}

// claim registers uuid once; false when it is already driven.
func (ic *inboundCalls) claim(uuid string) (*inboundCall, bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.calls == nil {
		ic.calls = map[string]*inboundCall{}
	}
	if _, ok := ic.calls[uuid]; ok {
		return nil, false
	}
	c := &inboundCall{uuid: uuid, events: make(chan event, 64)}
	ic.calls[uuid] = c
	ic.n.Add(1)
	ic.wg.Add(1)
	return c, true
}

func (ic *inboundCalls) drop(uuid string) {
	ic.mu.Lock()
	delete(ic.calls, uuid)
	ic.n.Add(-1)
	ic.mu.Unlock()
	ic.wg.Done()
}

// routeInbound hands e to the parked call it belongs to, or starts
// driving a call the dialplan parked for dialerd. It reports whether e was
// an inbound call's.
func (n *node) routeInbound(e event) bool {
	if c := n.inbound.get(e.uuid); c != nil {
		select {
		case c.events <- e:
		default:
			n.g.log.Warn("esl: inbound fax call event dropped: queue full", "node", n.id, "uuid", e.uuid, "event", e.name)
		}
		return true
	}
	if e.name != evPark || e.inbound != inboundFax || !uuidPattern.MatchString(e.uuid) {
		return false
	}
	c, ok := n.inbound.claim(e.uuid)
	if !ok {
		return true
	}
	go n.driveFax(c, e)
	return true
}

// driveFax answers a parked fax call with rxfax when a fax program
// receives on its number, and hangs it up otherwise.
func (n *node) driveFax(c *inboundCall, park event) {
	defer n.inbound.drop(c.uuid)
	ctx, cancel := context.WithTimeout(n.g.ctx, inboundTimeout)
	defer cancel()
	log := n.g.log.With("node", n.id, "uuid", c.uuid)
	to := strings.TrimSpace(park.dest)
	if to != "" && !strings.HasPrefix(to, "+") {
		to = "+" + to
	}
	recv, dir := n.g.opts.Fax, n.g.opts.FaxDir
	accepted := false
	var err error
	switch {
	case recv == nil || dir == "":
		err = fmt.Errorf("no fax receiver configured")
	case !n.local:
		// rxfax writes on the node's own disk: only a node on this host
		// hands dialerd the file.
		err = fmt.Errorf("the node is not on this host: rxfax would write the fax there")
	case !didPattern.MatchString(to):
		err = fmt.Errorf("destination %q is not a number", park.dest)
	default:
		accepted, err = recv.AcceptFax(ctx, to)
	}
	if !accepted {
		// Nobody receives faxes there; a lookup that failed is ours, and
		// the caller may try again.
		cause := "UNALLOCATED_NUMBER"
		if err != nil {
			cause = "NORMAL_TEMPORARY_FAILURE"
		}
		log.Info("esl: inbound fax call refused", "to", to, "cause", cause, "err", err)
		_ = n.sendmsg(ctx, c.uuid, "call-command: hangup\nhangup-cause: "+cause)
		return
	}
	path := filepath.Join(dir, c.uuid+".tif")
	if !mediaPathPattern.MatchString(path) {
		log.Error("esl: inbound fax directory is not a plain absolute path", "dir", dir)
		_ = n.sendmsg(ctx, c.uuid, "call-command: hangup\nhangup-cause: NORMAL_TEMPORARY_FAILURE")
		return
	}
	defer os.Remove(path)
	f := ReceivedFax{Node: n.id, CallUUID: c.uuid, From: callerNumber(park.caller), To: to}
	for _, app := range []string{"answer", "rxfax " + path} {
		name, arg, _ := strings.Cut(app, " ")
		msg := "call-command: execute\nexecute-app-name: " + name + "\nevent-lock: true"
		if arg != "" {
			msg += "\nexecute-app-arg: " + arg
		}
		if err := n.sendmsg(ctx, c.uuid, msg); err != nil {
			log.Warn("esl: inbound fax call: sendmsg failed", "app", name, "err", err)
		}
	}
	if !n.followFax(ctx, c, &f) {
		// The gateway closed (after its grace period) while the fax was
		// still coming: FreeSWITCH carries on, but nobody reads the result.
		log.Warn("esl: inbound fax abandoned: the gateway closed before it ended", "to", to)
		return
	}
	if f.Success {
		if _, err := os.Stat(path); err == nil {
			f.Path = path
		}
	}
	recv.FaxReceived(context.WithoutCancel(ctx), f)
}

// followFax reads the call's events until rxfax has completed (then it
// hangs up) and the channel is gone. It reports false when ctx ended
// first and nothing is known of the fax.
func (n *node) followFax(ctx context.Context, c *inboundCall, f *ReceivedFax) bool {
	done, hungUp := false, false
	var grace <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return done
		case <-grace:
			// rxfax's result is in hand; the hangup's report went astray.
			f.End = time.Now()
			return true
		case e := <-c.events:
			switch {
			case e.name == evAnswer:
				f.Answered = e.at
			case e.name == evCustom && e.subclass == subclassRxFaxResult && e.fax.known:
				setFax(f, e.fax)
			case e.name == evExecuteComplete && strings.EqualFold(e.app, "rxfax") && !done:
				done = true
				if e.fax.known {
					setFax(f, e.fax)
				}
				if !hungUp {
					_ = n.sendmsg(ctx, c.uuid, "call-command: hangup\nhangup-cause: NORMAL_CLEARING")
				}
				grace = time.After(n.g.opts.ChannelGrace)
			case e.name == evHangup:
				hungUp = true
				if !done {
					f.HangupCause = e.cause
				}
			case e.name == evHangupComplete:
				if e.fax.known && !done {
					setFax(f, e.fax)
				}
				f.End = e.at
				if f.End.IsZero() {
					f.End = time.Now()
				}
				return true
			}
		}
	}
}

func setFax(f *ReceivedFax, r faxResult) {
	f.Success, f.ResultCode, f.ResultText, f.Pages = r.success, r.code, r.text, r.pages
}

// sendmsg sends a message to a channel on the node's connection.
func (n *node) sendmsg(ctx context.Context, uuid, msg string) error {
	c, _ := n.connState()
	if c == nil {
		return errConnGone
	}
	reply, err := c.commandCtx(ctx, "sendmsg "+uuid+"\n"+msg)
	if err == nil && !strings.HasPrefix(reply, "+OK") {
		err = fmt.Errorf("sendmsg: %s", reply)
	}
	return err
}

// callerNumber is the caller's number as the trunk sent it, kept to what a
// number is made of (a leading + and at most 20 digits): it becomes a
// contact's phone, and a header value could carry anything. "" when there
// is none.
func callerNumber(s string) string {
	s = strings.TrimSpace(s)
	plus := strings.HasPrefix(s, "+")
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(digits) > 20 {
		digits = digits[:20]
	}
	if plus && digits != "" {
		return "+" + digits
	}
	return digits
}
