package main

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// The capture sees an INVITE sent over loopback once, with a kernel time
// stamp taken when it was sent, and ignores other datagrams.
func TestWireCapture(t *testing.T) {
	rx, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	port := rx.LocalAddr().(*net.UDPAddr).Port
	c, err := startWireCapture(port)
	if errors.Is(err, syscall.EPERM) {
		t.Skip("packet capture needs root:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	tx, err := net.Dial("udp", rx.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	before := time.Now()
	for _, msg := range []string{
		"INVITE sip:+15552000000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nCall-ID: one\r\n\r\n",
		"INVITE sip:+15552000000@127.0.0.1 SIP/2.0\r\nCall-ID: one\r\n\r\n", // a retransmission
		"INVITE sip:+15552000001@127.0.0.1 SIP/2.0\r\ni: two\r\n\r\n",
		"BYE sip:+15552000000@127.0.0.1 SIP/2.0\r\nCall-ID: three\r\n\r\n",
		"\x80\x00 RTP-ish",
	} {
		if _, err := tx.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	after := time.Now()
	time.Sleep(50 * time.Millisecond)
	got, dropped, err := c.finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || dropped != 0 {
		t.Fatalf("captured %v (dropped %d), want Call-IDs one and two", got, dropped)
	}
	for id, at := range got {
		if at.Before(before) || at.After(after) {
			t.Errorf("%s stamped %v, outside the %v it was sent in", id, at, after.Sub(before))
		}
	}
	if !got["one"].Before(got["two"]) {
		t.Errorf("one at %v is not before two at %v", got["one"], got["two"])
	}
}
