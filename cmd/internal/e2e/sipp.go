package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SIPp is a SIPp UAS on 127.0.0.1 with its message log (-trace_msg).
type SIPp struct {
	Port      int
	MediaPort int
	Proc      *Child
	dir       string
}

// SIPpOptions say how to run SIPp as a UAS.
type SIPpOptions struct {
	Bin string // default "sipp"
	Dir string // work directory: sipp.out, sipp-messages.log, sipp-errors.log
	// Scenario is a scenario file; empty runs SIPp's built-in "uas".
	Scenario string
	// Calls ends SIPp after that many calls (-m); zero: it runs until
	// stopped.
	Calls int
	// Timeout ends SIPp after that long in any case (-timeout).
	Timeout time.Duration
	// Args are more arguments, e.g. "-key", "name", "value".
	Args []string
	// UAC, when set, runs SIPp's built-in "uac" against this host:port
	// instead of a UAS (Scenario is then ignored).
	UAC string
}

// StartSIPp starts a UAS and waits until it has bound its port.
func StartSIPp(ctx context.Context, o SIPpOptions) (*SIPp, error) {
	bin, err := exec.LookPath(cmpOr(o.Bin, "sipp"))
	if err != nil {
		return nil, fmt.Errorf("sipp not found (install Debian's sip-tester: make test-deps): %w", err)
	}
	s := &SIPp{dir: o.Dir}
	if s.Port, err = FreeUDPPorts(1, false); err != nil {
		return nil, err
	}
	// SIPp binds its media port and the one two above it (RTP, and video).
	if s.MediaPort, err = FreeUDPPorts(4, false); err != nil {
		return nil, err
	}
	args := []string{"-i", "127.0.0.1", "-bind_local", "-p", strconv.Itoa(s.Port), "-mp", strconv.Itoa(s.MediaPort), "-nostdin", "-f", "5",
		"-trace_msg", "-message_file", s.MessageLog(),
		"-trace_err", "-error_file", filepath.Join(o.Dir, "sipp-errors.log")}
	switch {
	case o.UAC != "":
		args = append([]string{o.UAC, "-sn", "uac"}, args...)
	case o.Scenario != "":
		// SIPp runs in Dir: a relative path is the caller's.
		sf, err := filepath.Abs(o.Scenario)
		if err != nil {
			return nil, err
		}
		args = append(args, "-sf", sf)
	default:
		args = append(args, "-sn", "uas")
	}
	if o.Calls > 0 {
		args = append(args, "-m", strconv.Itoa(o.Calls))
	}
	if o.Timeout > 0 {
		args = append(args, "-timeout", strconv.Itoa(int(o.Timeout.Seconds()))+"s", "-timeout_error")
	}
	args = append(args, o.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = o.Dir
	if s.Proc, err = StartChild("sipp", cmd, s.OutPath()); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !UDPBound(s.Port) {
		if s.Proc.Exited() {
			return nil, fmt.Errorf("sipp exited at start (%v): %s", s.Proc.Err(), Tail(s.OutPath(), 2000))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, errors.Join(errors.New("sipp did not bind its port within 10s"), ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

// OutPath is SIPp's screen output.
func (s *SIPp) OutPath() string { return filepath.Join(s.dir, "sipp.out") }

// MessageLog is SIPp's message log.
func (s *SIPp) MessageLog() string { return filepath.Join(s.dir, "sipp-messages.log") }

// Trace reads the message log.
func (s *SIPp) Trace() (Trace, error) {
	f, err := os.Open(s.MessageLog())
	if err != nil {
		return Trace{}, err
	}
	defer f.Close()
	return ParseTrace(f, time.Local)
}

// Counts reads the cumulative successful and failed calls from the last
// statistics screen SIPp printed.
func (s *SIPp) Counts() (ok, failed int) { return SIPpCounts(s.OutPath()) }

// SIPpCounts reads the cumulative successful and failed calls from the
// last statistics screen in a SIPp output file.
func SIPpCounts(path string) (ok, failed int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	re := regexp.MustCompile(`(?m)^\s*(Successful|Failed) call\s*\|\s*\d+\s*\|\s*(\d+)`)
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "Successful" {
			ok = n
		} else {
			failed = n
		}
	}
	return ok, failed
}

// SIPpVersion is the version line of a SIPp binary.
func SIPpVersion(bin string) string {
	out, _ := exec.Command(cmpOr(bin, "sipp"), "-v").CombinedOutput()
	for line := range strings.Lines(string(out)) {
		if i := strings.Index(line, "SIPp v"); i >= 0 {
			return strings.TrimSpace(line[i:])
		}
	}
	return "unknown"
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Message is one SIP message in SIPp's log: received by SIPp (sent by
// dialerd) or sent by SIPp.
type Message struct {
	At       time.Time
	Received bool
	// Method is the request's method, or "" for a response.
	Method string
	// Status is the response's code, or 0 for a request.
	Status int
	// User is the Request-URI's user part of a request: the number dialled.
	User   string
	CallID string
	// CSeqMethod is the method of the CSeq header.
	CSeqMethod string
}

// Trace is SIPp's message log, in the order it was written.
type Trace struct {
	Messages []Message
}

// Requests counts the dialogs (Call-IDs) in which SIPp received a request
// of method m.
func (t Trace) Requests(m string) int {
	seen := map[string]bool{}
	for _, msg := range t.Messages {
		if msg.Received && msg.Method == m {
			seen[msg.CallID] = true
		}
	}
	return len(seen)
}

// traceStamp is how SIPp 3.6 stamps each message of its log, with
// microseconds, in local time.
const traceStamp = "2006-01-02 15:04:05.000000"

// ParseTrace reads a SIPp message log. Each entry starts with a line of
// dashes and a time stamp, then "UDP message received [N] bytes :" or
// "... sent ...", a blank line, and the message. The stamp is taken when
// SIPp reads (or sends) the datagram. A last entry cut within its headers
// (SIPp stopped while writing) is dropped unless its Call-ID was written.
func ParseTrace(r io.Reader, loc *time.Location) (Trace, error) {
	const marker = "----------------------------------------------- "
	var out Trace
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		cur   Message
		start string // the current entry's start line
		state int    // 0 before the message, 1 in its headers, 2 after them
		open  bool   // an entry has begun
	)
	flush := func() error {
		defer func() { cur, start, state, open = Message{}, "", 0, false }()
		if !open || start == "" {
			return nil
		}
		if cur.CallID == "" {
			return fmt.Errorf("%q at %s without Call-ID", start, cur.At.Format(traceStamp))
		}
		if rest, ok := strings.CutPrefix(start, "SIP/2.0 "); ok {
			code, _, _ := strings.Cut(rest, " ")
			cur.Status, _ = strconv.Atoi(code)
		} else {
			cur.Method, _, _ = strings.Cut(start, " ")
			cur.User = RequestUser(start)
		}
		out.Messages = append(out.Messages, cur)
		return nil
	}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if rest, ok := strings.CutPrefix(text, marker); ok {
			if err := flush(); err != nil {
				return out, err
			}
			t, err := time.ParseInLocation(traceStamp, strings.TrimSpace(rest), loc)
			if err != nil {
				return out, fmt.Errorf("line %d: time stamp %q: %w", line, rest, err)
			}
			cur.At, open = t, true
			continue
		}
		switch state {
		case 0:
			if strings.Contains(text, "message received") {
				cur.Received = true
			}
			if text != "" && !strings.Contains(text, " message ") {
				start, state = text, 1
			}
		case 1:
			if text == "" {
				state = 2
				continue
			}
			name, value, ok := strings.Cut(text, ":")
			if !ok {
				continue
			}
			switch n := strings.TrimSpace(name); {
			case strings.EqualFold(n, "Call-ID") || n == "i":
				cur.CallID = strings.TrimSpace(value)
			case strings.EqualFold(n, "CSeq"):
				f := strings.Fields(value)
				if len(f) == 2 {
					cur.CSeqMethod = f[1]
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if cur.CallID == "" && state < 2 {
		cur, open = Message{}, false // cut within its headers: dropped
	}
	return out, flush()
}

// Invite is the first copy of one Call-ID's INVITE SIPp received.
type Invite struct {
	At     time.Time
	CallID string
	User   string // Request-URI user part: the dialled number
}

// Invites are the INVITEs SIPp received, the first copy of each Call-ID,
// by arrival time, and how many further copies (retransmissions) came.
func (t Trace) Invites() (invites []Invite, retransmissions int) {
	seen := map[string]bool{}
	for _, m := range t.Messages {
		if !m.Received || m.Method != "INVITE" {
			continue
		}
		if seen[m.CallID] {
			retransmissions++
			continue
		}
		seen[m.CallID] = true
		invites = append(invites, Invite{At: m.At, CallID: m.CallID, User: m.User})
	}
	slices.SortStableFunc(invites, func(a, b Invite) int { return a.At.Compare(b.At) })
	return invites, retransmissions
}

// Call is what the wire shows of one Call-ID between dialerd (the UAC)
// and SIPp (the UAS).
type Call struct {
	CallID string
	Number string
	// Invited is when the first INVITE arrived; Invites counts the copies
	// (more than one: retransmitted).
	Invited time.Time
	Invites int
	// Ringing: SIPp sent 180. Answered: it sent 200 to the INVITE (OKs
	// counts the copies: more than one, dialerd did not ACK in time).
	Ringing    bool
	Answered   bool
	AnsweredAt time.Time
	OKs        int
	// Final is SIPp's first final error to the INVITE (486, 487...), 0
	// if none.
	Final int
	// ACKed: dialerd sent ACK (for a 200, the dialog is confirmed).
	ACKed bool
	// Cancelled: dialerd sent CANCEL. Byes counts dialerd's BYEs (more
	// than one: retransmitted, SIPp's 200 not taken in time); ByeOK: SIPp
	// answered one 200.
	Cancelled bool
	Byes      int
	ByeAt     time.Time
	ByeOK     bool
}

// Calls groups the trace by Call-ID, in order of first INVITE.
func (t Trace) Calls() []*Call {
	by := map[string]*Call{}
	var order []*Call
	for _, m := range t.Messages {
		c := by[m.CallID]
		if c == nil {
			if !(m.Received && m.Method == "INVITE") {
				continue // an OPTIONS ping, or a stray message
			}
			c = &Call{CallID: m.CallID, Number: m.User, Invited: m.At}
			by[m.CallID] = c
			order = append(order, c)
		}
		switch {
		case m.Received && m.Method == "INVITE":
			c.Invites++
		case m.Received && m.Method == "ACK":
			c.ACKed = true
		case m.Received && m.Method == "CANCEL":
			c.Cancelled = true
		case m.Received && m.Method == "BYE":
			c.Byes++
			if c.ByeAt.IsZero() {
				c.ByeAt = m.At
			}
		case !m.Received && m.CSeqMethod == "INVITE" && m.Status == 180:
			c.Ringing = true
		case !m.Received && m.CSeqMethod == "INVITE" && m.Status/100 == 2:
			c.OKs++
			if !c.Answered {
				c.Answered, c.AnsweredAt = true, m.At
			}
		case !m.Received && m.CSeqMethod == "INVITE" && m.Status >= 300 && c.Final == 0:
			c.Final = m.Status
		case !m.Received && m.CSeqMethod == "BYE" && m.Status/100 == 2:
			c.ByeOK = true
		}
	}
	return order
}

// RequestUser is the user part of a request line's URI:
// "INVITE sip:+15550000001@127.0.0.1:5060 SIP/2.0" gives "+15550000001".
func RequestUser(startLine string) string {
	f := strings.Fields(startLine)
	if len(f) < 2 {
		return ""
	}
	uri := f[1]
	if i := strings.IndexByte(uri, ':'); i >= 0 {
		uri = uri[i+1:]
	}
	user, _, ok := strings.Cut(uri, "@")
	if !ok {
		return ""
	}
	return user
}
