package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Payload types we offer: the two G.711 laws (static) and RFC 4733
// telephone events on a dynamic type.
const (
	ptPCMU           = 0
	ptPCMA           = 8
	ptTelephoneEvent = 101
)

// codec is the audio format chosen from an SDP answer. pt is the payload
// type to send with, as the answer numbered it.
type codec struct {
	name string // PCMU or PCMA
	pt   uint8
}

// sdpOffer is our one SDP offer: audio on ip:port, PCMU then PCMA, and
// telephone-event for DTMF, 20 ms packets.
func sdpOffer(ip net.IP, port int, sessionID uint64) []byte {
	family := "IP4"
	if ip.To4() == nil {
		family = "IP6"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "v=0\r\n")
	fmt.Fprintf(&b, "o=dialerd %d %d IN %s %s\r\n", sessionID, sessionID, family, ip)
	fmt.Fprintf(&b, "s=dialerd\r\n")
	fmt.Fprintf(&b, "c=IN %s %s\r\n", family, ip)
	fmt.Fprintf(&b, "t=0 0\r\n")
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %d %d %d\r\n", port, ptPCMU, ptPCMA, ptTelephoneEvent)
	fmt.Fprintf(&b, "a=rtpmap:%d PCMU/8000\r\n", ptPCMU)
	fmt.Fprintf(&b, "a=rtpmap:%d PCMA/8000\r\n", ptPCMA)
	fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\n", ptTelephoneEvent)
	fmt.Fprintf(&b, "a=fmtp:%d 0-16\r\n", ptTelephoneEvent)
	fmt.Fprintf(&b, "a=ptime:20\r\n")
	fmt.Fprintf(&b, "a=sendrecv\r\n")
	return b.Bytes()
}

// mediaAnswer is what we use of the far end's SDP answer.
type mediaAnswer struct {
	addr    *net.UDPAddr // where RTP goes
	audio   codec
	eventPT int // telephone-event payload type in the answer, -1 if none
}

var errNoMedia = errors.New("sdp: no usable audio stream")

// parseSDPAnswer reads the first active audio stream of an SDP answer and
// picks the first G.711 format in the answerer's order of preference.
func parseSDPAnswer(body []byte) (mediaAnswer, error) {
	ans := mediaAnswer{eventPT: -1}
	var (
		sessionAddr, mediaAddr string
		inAudio, seenAudio     bool
		port                   int
		formats                []int
		rtpmap                 = map[int]string{}
	)
	for line := range strings.SplitSeq(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		kind, value := line[0], line[2:]
		switch kind {
		case 'm':
			if seenAudio {
				// Only the first audio stream counts; stop at the next m=.
				inAudio = false
				continue
			}
			p, f, ok := parseAudioMedia(value)
			inAudio = ok
			if ok {
				seenAudio = true
				port, formats = p, f
			}
		case 'c':
			addr, ok := parseConnection(value)
			if !ok {
				continue
			}
			switch {
			case !seenAudio:
				sessionAddr = addr
			case inAudio:
				mediaAddr = addr
			}
		case 'a':
			if !inAudio {
				continue
			}
			if rest, ok := strings.CutPrefix(value, "rtpmap:"); ok {
				ptText, enc, ok := strings.Cut(rest, " ")
				pt, err := strconv.Atoi(ptText)
				if ok && err == nil && pt >= 0 && pt < 128 {
					rtpmap[pt] = strings.ToLower(strings.TrimSpace(enc))
				}
			}
		}
	}
	if !seenAudio || port == 0 {
		return ans, errNoMedia
	}
	host := mediaAddr
	if host == "" {
		host = sessionAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return ans, fmt.Errorf("%w: no connection address", errNoMedia)
	}
	ans.addr = &net.UDPAddr{IP: ip, Port: port}

	chosen := false
	for _, pt := range formats {
		enc, mapped := rtpmap[pt]
		if !mapped {
			switch pt {
			case ptPCMU:
				enc = "pcmu/8000"
			case ptPCMA:
				enc = "pcma/8000"
			}
		}
		switch {
		case !chosen && enc == "pcmu/8000":
			ans.audio, chosen = codec{name: "PCMU", pt: uint8(pt)}, true
		case !chosen && enc == "pcma/8000":
			ans.audio, chosen = codec{name: "PCMA", pt: uint8(pt)}, true
		case enc == "telephone-event/8000" && ans.eventPT < 0:
			ans.eventPT = pt
		}
	}
	if !chosen {
		return ans, fmt.Errorf("%w: no PCMU or PCMA in answer", errNoMedia)
	}
	return ans, nil
}

// parseAudioMedia reads "audio <port>[/<n>] RTP/AVP <fmt> ...".
func parseAudioMedia(value string) (port int, formats []int, ok bool) {
	fields := strings.Fields(value)
	if len(fields) < 4 || fields[0] != "audio" {
		return 0, nil, false
	}
	portText, _, _ := strings.Cut(fields[1], "/")
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return 0, nil, false
	}
	if proto := fields[2]; proto != "RTP/AVP" && proto != "RTP/AVPF" {
		return 0, nil, false
	}
	for _, f := range fields[3:] {
		pt, err := strconv.Atoi(f)
		if err == nil && pt >= 0 && pt < 128 {
			formats = append(formats, pt)
		}
	}
	return port, formats, true
}

// parseConnection reads "IN IP4 <addr>[/ttl]".
func parseConnection(value string) (string, bool) {
	fields := strings.Fields(value)
	if len(fields) != 3 || fields[0] != "IN" || (fields[1] != "IP4" && fields[1] != "IP6") {
		return "", false
	}
	addr, _, _ := strings.Cut(fields[2], "/")
	return addr, true
}
