package sip

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// tinyUAS is an in-process far end on a UDP socket for the cases SIPp
// scenarios cannot express (silence, challenges on any request, answers
// for INVITEs it never got). handle sees every request; what it does not
// answer goes unanswered.
type tinyUAS struct {
	t    *testing.T
	conn *net.UDPConn

	mu   sync.Mutex
	reqs []*sip.Request
	cond *sync.Cond
}

func startUAS(t *testing.T, handle func(u *tinyUAS, req *sip.Request, from *net.UDPAddr)) *tinyUAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u := &tinyUAS{t: t, conn: conn}
	u.cond = sync.NewCond(&u.mu)
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue
			}
			req, ok := msg.(*sip.Request)
			if !ok {
				continue
			}
			u.mu.Lock()
			u.reqs = append(u.reqs, req)
			u.cond.Broadcast()
			u.mu.Unlock()
			if handle != nil {
				handle(u, req, from)
			}
		}
	}()
	return u
}

func (u *tinyUAS) port() int { return u.conn.LocalAddr().(*net.UDPAddr).Port }

// respond answers req with code; the To gets our tag unless it has one.
func (u *tinyUAS) respond(req *sip.Request, from *net.UDPAddr, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && !to.Params.Has("tag") && code != 100 {
		to.Params.Add("tag", "uas"+strings.ReplaceAll(req.CallID().Value(), "-", "")[:8])
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	u.write(res, from)
}

func (u *tinyUAS) write(m sip.Message, to *net.UDPAddr) {
	if _, err := u.conn.WriteToUDP([]byte(m.String()), to); err != nil {
		u.t.Logf("uas write: %v", err)
	}
}

// requests returns the requests received with method.
func (u *tinyUAS) requests(method sip.RequestMethod) []*sip.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*sip.Request
	for _, r := range u.reqs {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// waitRequests waits until n requests with method arrived.
func (u *tinyUAS) waitRequests(method sip.RequestMethod, n int, within time.Duration) []*sip.Request {
	u.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if got := u.requests(method); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("got %d %s, want %d within %v", len(u.requests(method)), method, n, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sdpAnswer is a minimal SDP answer sending media to port.
func sdpAnswer(port int) []byte {
	return []byte("v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + itoa(port) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

// answer200 answers an INVITE with 200 OK, a Contact and SDP.
func (u *tinyUAS) answer200(req *sip.Request, from *net.UDPAddr, mediaPort int) {
	res := sip.NewResponseFromRequest(req, 200, "OK", sdpAnswer(mediaPort))
	res.To().Params.Add("tag", "uas"+strings.ReplaceAll(req.CallID().Value(), "-", "")[:8])
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: u.port()}})
	ct := sip.ContentTypeHeader("application/sdp")
	res.AppendHeader(&ct)
	u.write(res, from)
}
