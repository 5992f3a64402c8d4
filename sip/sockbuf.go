//go:build unix

package sip

import (
	"fmt"
	"net"
	"syscall"
)

// setReadBuffer asks the kernel for a receive buffer of n bytes on conn
// and returns what it granted: Linux doubles the request for its own
// bookkeeping and caps it at net.core.rmem_max, silently.
func setReadBuffer(conn net.PacketConn, n int) (int, error) {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return 0, fmt.Errorf("sip: %T is not a UDP socket", conn)
	}
	if err := uc.SetReadBuffer(n); err != nil {
		return 0, fmt.Errorf("sip: receive buffer: %w", err)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sip: receive buffer: %w", err)
	}
	var granted int
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		granted, sockErr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil {
		return 0, fmt.Errorf("sip: receive buffer: %w", err)
	}
	if sockErr != nil {
		return 0, fmt.Errorf("sip: receive buffer: %w", sockErr)
	}
	return granted, nil
}
