package sip

// eventDigits names RFC 4733 DTMF events 0 to 15.
const eventDigits = "0123456789*#ABCD"

// dtmfDetector turns RFC 4733 telephone-event packets into digits.
//
// One key press is one event: every packet of it (the first, the duration
// updates, the end packet and its retransmissions) carries the RTP
// timestamp of the event's start. A digit is reported on the first packet
// of an event seen, whatever its duration: senders such as SIPp start an
// event with duration 0, and a reader that waits for a non-zero duration
// loses those digits. Later packets with the same timestamp, including the
// three end-bit packets, are ignored, and so is a late packet of an earlier
// event, because the last few event timestamps are remembered. An event
// whose first packets were lost is still reported by its end packets.
type dtmfDetector struct {
	recent [8]eventKey
	n      int // how many of recent are filled, up to len(recent)
	next   int
}

type eventKey struct {
	timestamp uint32
	event     uint8
}

// feed reads one telephone-event payload of an RTP packet with the given
// timestamp and returns a digit when it starts a new event.
func (d *dtmfDetector) feed(timestamp uint32, payload []byte) (string, bool) {
	if len(payload) < 4 {
		return "", false
	}
	event := payload[0]
	if int(event) >= len(eventDigits) {
		return "", false // a tone or a line event, not a key
	}
	key := eventKey{timestamp: timestamp, event: event}
	for i := range d.n {
		if d.recent[i] == key {
			return "", false
		}
	}
	d.recent[d.next] = key
	d.next = (d.next + 1) % len(d.recent)
	d.n = min(d.n+1, len(d.recent))
	return eventDigits[event : event+1], true
}
