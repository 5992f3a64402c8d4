package mailtest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// SMSC is a tiny SMPP 3.4 SMSC for Kannel's smsc = smpp: it binds one
// transceiver, answers submit_sm and sends back a delivery receipt by the
// destination's last digits: ...02 UNDELIV, ...03 the submit is refused
// (Kannel's report 16), ...04 nothing at all, anything else DELIVRD
// (after an ENROUTE receipt for ...05). MO messages go out with sendMO.
type SMSC struct {
	t  testing.TB
	ln net.Listener

	mu      sync.Mutex
	conn    net.Conn
	seq     uint32
	nextID  int
	submits []Submit
	// Bound is closed once Kannel has bound its transceiver.
	Bound chan struct{}
}

// Submit is a message the SMSC took.
type Submit struct {
	From, To string
	Coding   byte
	Text     string
	DLR      bool
	At       time.Time // when it arrived
	ID       string    // the message id the SMSC gave it
}

const (
	smppBindTRX     = 0x00000009
	smppSubmit      = 0x00000004
	smppDeliver     = 0x00000005
	smppEnquire     = 0x00000015
	smppUnbind      = 0x00000006
	smppGenericNack = 0x80000000
	smppResp        = 0x80000000
)

// StartSMSC listens on loopback until the test ends.
func StartSMSC(t testing.TB) *SMSC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMSC{t: t, ln: ln, Bound: make(chan struct{}), nextID: 1000}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
	})
	go s.accept()
	return s
}

// Port is the SMSC's TCP port.
func (s *SMSC) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *SMSC) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serve(c)
	}
}

func cstring(r *bytes.Reader) string {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil || c == 0 {
			return b.String()
		}
		b.WriteByte(c)
	}
}

func (s *SMSC) write(c net.Conn, id, status, seq uint32, body []byte) {
	h := make([]byte, 16)
	binary.BigEndian.PutUint32(h[0:], uint32(16+len(body)))
	binary.BigEndian.PutUint32(h[4:], id)
	binary.BigEndian.PutUint32(h[8:], status)
	binary.BigEndian.PutUint32(h[12:], seq)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = c.Write(append(h, body...))
}

func (s *SMSC) nextSeq() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

func (s *SMSC) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		h := make([]byte, 16)
		if _, err := io.ReadFull(r, h); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(h[0:])
		id := binary.BigEndian.Uint32(h[4:])
		seq := binary.BigEndian.Uint32(h[12:])
		if n < 16 || n > 1<<16 {
			return
		}
		body := make([]byte, n-16)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch id {
		case smppBindTRX:
			s.write(c, id|smppResp, 0, seq, []byte("fakesmsc\x00"))
			s.mu.Lock()
			s.conn = c
			select {
			case <-s.Bound:
			default:
				close(s.Bound)
			}
			s.mu.Unlock()
		case smppEnquire, smppUnbind:
			s.write(c, id|smppResp, 0, seq, nil)
		case smppSubmit:
			s.onSubmit(c, seq, body)
		case smppDeliver | smppResp, smppEnquire | smppResp:
		default:
			s.write(c, smppGenericNack, 3, seq, nil) // ESME_RINVCMDID
		}
	}
}

func (s *SMSC) onSubmit(c net.Conn, seq uint32, body []byte) {
	r := bytes.NewReader(body)
	cstring(r) // service_type
	r.ReadByte()
	r.ReadByte()
	from := cstring(r)
	r.ReadByte()
	r.ReadByte()
	to := cstring(r)
	r.ReadByte() // esm_class
	r.ReadByte() // protocol_id
	r.ReadByte() // priority
	cstring(r)   // schedule_delivery_time
	cstring(r)   // validity_period
	reg, _ := r.ReadByte()
	r.ReadByte() // replace_if_present
	coding, _ := r.ReadByte()
	r.ReadByte() // sm_default_msg_id
	l, _ := r.ReadByte()
	sm := make([]byte, l)
	io.ReadFull(r, sm)
	text := string(sm)
	if coding == 0x08 {
		u := make([]uint16, len(sm)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(sm[2*i:])
		}
		text = string(utf16.Decode(u))
	}
	sub := Submit{From: from, To: to, Coding: coding, Text: text, DLR: reg&1 != 0, At: time.Now()}
	s.mu.Lock()
	s.nextID++
	msgID := fmt.Sprint(s.nextID)
	sub.ID = msgID
	s.submits = append(s.submits, sub)
	s.mu.Unlock()
	if strings.HasSuffix(to, "03") {
		s.write(c, smppSubmit|smppResp, 0x45, seq, []byte{0}) // ESME_RSUBMITFAIL
		return
	}
	s.write(c, smppSubmit|smppResp, 0, seq, []byte(msgID+"\x00"))
	if !sub.DLR || strings.HasSuffix(to, "04") {
		return
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		if strings.HasSuffix(to, "05") {
			s.receipt(c, msgID, to, from, "ENROUTE")
			time.Sleep(50 * time.Millisecond)
		}
		stat := "DELIVRD"
		if strings.HasSuffix(to, "02") {
			stat = "UNDELIV"
		}
		s.receipt(c, msgID, to, from, stat)
	}()
}

// receipt sends a delivery receipt for msgID.
func (s *SMSC) receipt(c net.Conn, msgID, from, to, stat string) {
	now := time.Now().Format("0601021504")
	dl := "001"
	if stat != "DELIVRD" {
		dl = "000"
	}
	text := fmt.Sprintf("id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:000 text:", msgID, dl, now, now, stat)
	state := map[string]byte{"ENROUTE": 1, "DELIVRD": 2, "UNDELIV": 5}[stat]
	s.deliver(c, from, to, 0x04, text, msgID, state)
}

// deliver sends a deliver_sm (GSM 7-bit default alphabet as ASCII).
func (s *SMSC) deliver(c net.Conn, from, to string, esm byte, text, receipted string, state byte) {
	s.deliverCoded(c, from, to, esm, 0, []byte(text), receipted, state)
}

func (s *SMSC) deliverCoded(c net.Conn, from, to string, esm, coding byte, sm []byte, receipted string, state byte) {
	var b bytes.Buffer
	b.WriteByte(0) // service_type ""
	b.Write([]byte{1, 1})
	b.WriteString(strings.TrimPrefix(from, "+") + "\x00")
	b.Write([]byte{1, 1})
	b.WriteString(strings.TrimPrefix(to, "+") + "\x00")
	b.Write([]byte{esm, 0, 0})
	b.Write([]byte{0, 0})            // schedule, validity ""
	b.Write([]byte{0, 0, coding, 0}) // registered_delivery, replace, data_coding, sm_default_msg_id
	b.WriteByte(byte(len(sm)))
	b.Write(sm)
	if receipted != "" {
		v := receipted + "\x00"
		b.Write([]byte{0x00, 0x1E, 0, byte(len(v))}) // receipted_message_id
		b.WriteString(v)
		b.Write([]byte{0x04, 0x27, 0, 1, state}) // message_state
	}
	s.write(c, smppDeliver, 0, s.nextSeq(), b.Bytes())
}

// SendMO sends a mobile-originated message to Kannel.
func (s *SMSC) SendMO(from, to, text string) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		s.t.Fatal("no bound transceiver")
	}
	s.deliver(c, from, to, 0, text, "", 0)
}

// Submitted lists the messages taken so far.
// SendMOUCS2 sends an MO message coded UCS-2 (data_coding 8).
func (s *SMSC) SendMOUCS2(from, to, text string) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		s.t.Fatal("no bound transceiver")
	}
	var sm []byte
	for _, u := range utf16.Encode([]rune(text)) {
		sm = binary.BigEndian.AppendUint16(sm, u)
	}
	s.deliverCoded(c, from, to, 0, 0x08, sm, "", 0)
}

func (s *SMSC) Submitted() []Submit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Submit(nil), s.submits...)
}
