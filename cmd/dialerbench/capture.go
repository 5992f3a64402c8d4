package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// wireCapture stamps the INVITEs sent to SIPp's port on the loopback
// interface with the kernel's receive time (SO_TIMESTAMPNS on a packet
// socket, stamped as the loopback interface delivers them), so their
// spacing is what went on the wire, whatever SIPp's
// scheduling: SIPp stamps a datagram when it gets around to reading it,
// and on a busy two-core host that is sometimes hundreds of milliseconds
// later. It needs CAP_NET_RAW (root).
type wireCapture struct {
	fd      int
	stop    atomic.Bool
	done    chan struct{}
	mu      sync.Mutex
	invites map[string]time.Time // Call-ID → first time seen
	dropped uint32               // packets the kernel dropped for want of buffer
	err     error
}

// ethPIP is Linux's ETH_P_IP: IPv4 packets only.
const ethPIP = 0x0800

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startWireCapture starts capturing UDP datagrams to port on lo.
func startWireCapture(port int) (*wireCapture, error) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(ethPIP)))
	if err != nil {
		return nil, fmt.Errorf("capture: packet socket (needs root): %w", err)
	}
	c := &wireCapture{fd: fd, done: make(chan struct{}), invites: map[string]time.Time{}}
	// In the kernel, before any copy: IPv4 UDP, not a fragment, to port.
	filter := []syscall.SockFilter{
		{Code: 0x30, K: 9},                    // ldb [9]: protocol
		{Code: 0x15, Jt: 0, Jf: 6, K: 17},     // UDP, else drop
		{Code: 0x28, K: 6},                    // ldh [6]: flags, fragment offset
		{Code: 0x45, Jt: 4, Jf: 0, K: 0x1fff}, // a fragment: drop
		{Code: 0xb1, K: 0},                    // ldxb 4*([0]&0xf): IP header length
		{Code: 0x48, K: 2},                    // ldh [x+2]: UDP destination port
		{Code: 0x15, Jt: 0, Jf: 1, K: uint32(port)},
		{Code: 0x06, K: 0xffff}, // accept
		{Code: 0x06, K: 0},      // drop
	}
	setup := []error{
		syscall.AttachLsf(fd, filter),
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1),
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 16<<20),
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Usec: 200_000}),
		syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPIP), Ifindex: lo.Index}),
	}
	if err := errors.Join(setup...); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("capture: %w", err)
	}
	go c.read()
	return c, nil
}

func (c *wireCapture) read() {
	defer close(c.done)
	buf := make([]byte, 65536)
	oob := make([]byte, 512)
	for !c.stop.Load() {
		n, oobn, _, from, err := syscall.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			c.err = err
			return
		}
		// A loopback datagram may pass the tap twice, going out and
		// coming in: the earlier stamp is kept.
		if _, ok := from.(*syscall.SockaddrLinklayer); !ok {
			continue
		}
		at, ok := kernelStamp(oob[:oobn])
		if !ok {
			continue
		}
		callID, ok := inviteCallID(buf[:n])
		if !ok {
			continue
		}
		c.mu.Lock()
		if prev, seen := c.invites[callID]; !seen || at.Before(prev) {
			c.invites[callID] = at
		}
		c.mu.Unlock()
	}
}

// finish stops the capture and returns the first time each Call-ID's
// INVITE was seen, and how many packets the kernel dropped.
func (c *wireCapture) finish() (map[string]time.Time, uint32, error) {
	c.stop.Store(true)
	<-c.done
	// PACKET_STATISTICS: tp_packets, tp_drops (reset by the read).
	var stats [2]uint32
	size := uint32(unsafe.Sizeof(stats))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(c.fd), syscall.SOL_PACKET, 6, // PACKET_STATISTICS
		uintptr(unsafe.Pointer(&stats[0])), uintptr(unsafe.Pointer(&size)), 0)
	if errno == 0 {
		c.dropped = stats[1]
	}
	syscall.Close(c.fd)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invites, c.dropped, c.err
}

// kernelStamp reads the SCM_TIMESTAMPNS control message.
func kernelStamp(oob []byte) (time.Time, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

// inviteCallID returns the Call-ID of an IPv4 datagram carrying a SIP
// INVITE.
func inviteCallID(pkt []byte) (string, bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return "", false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if len(pkt) < ihl+8 {
		return "", false
	}
	msg := pkt[ihl+8:]
	if !bytes.HasPrefix(msg, []byte("INVITE ")) {
		return "", false
	}
	for line := range bytes.SplitSeq(msg, []byte("\r\n")) {
		if len(line) == 0 {
			break // end of the headers
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if bytes.EqualFold(name, []byte("Call-ID")) || bytes.Equal(name, []byte("i")) {
			return string(bytes.TrimSpace(value)), true
		}
	}
	return "", false
}
