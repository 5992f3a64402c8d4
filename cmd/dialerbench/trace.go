package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// invite is one INVITE SIPp received: the first copy of its Call-ID.
type invite struct {
	at     time.Time
	callID string
	user   string // Request-URI user part: the dialled number
}

// inviteTrace is what the SIPp message log (-trace_msg) tells about the
// INVITEs it received.
type inviteTrace struct {
	invites         []invite // by arrival time
	retransmissions int      // further copies of a Call-ID already seen
}

// traceStamp is how SIPp 3.6 stamps each message of its log, with
// microseconds, in local time.
const traceStamp = "2006-01-02 15:04:05.000000"

// parseTrace reads a SIPp message log. Each entry starts with a line of
// dashes and a time stamp, then "UDP message received [N] bytes :" or
// "... sent ...", a blank line, and the message. The stamp is taken when
// SIPp reads the datagram, so gaps between INVITEs are what arrived on the
// wire as SIPp saw it.
func parseTrace(r io.Reader, loc *time.Location) (inviteTrace, error) {
	const marker = "----------------------------------------------- "
	var out inviteTrace
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)

	var (
		at       time.Time
		received bool   // the current entry is a received message
		start    string // its start line
		callID   string
		state    int // 0 before the message, 1 in its headers, 2 after them
	)
	flush := func() error {
		defer func() { start, callID, received, state = "", "", false, 0 }()
		if !received || !strings.HasPrefix(start, "INVITE ") {
			return nil
		}
		if callID == "" {
			return fmt.Errorf("INVITE at %s without Call-ID", at.Format(traceStamp))
		}
		if seen[callID] {
			out.retransmissions++
			return nil
		}
		seen[callID] = true
		out.invites = append(out.invites, invite{at: at, callID: callID, user: requestUser(start)})
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
			at = t
			continue
		}
		switch state {
		case 0:
			if strings.Contains(text, "message received") {
				received = true
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
			if ok && (strings.EqualFold(strings.TrimSpace(name), "Call-ID") || strings.TrimSpace(name) == "i") {
				callID = strings.TrimSpace(value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if err := flush(); err != nil {
		return out, err
	}
	slices.SortStableFunc(out.invites, func(a, b invite) int { return a.at.Compare(b.at) })
	return out, nil
}

// requestUser is the user part of a request line's URI:
// "INVITE sip:+15550000001@127.0.0.1:5060 SIP/2.0" gives "+15550000001".
func requestUser(startLine string) string {
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
