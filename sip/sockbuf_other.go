//go:build !unix

package sip

import (
	"fmt"
	"net"
)

// setReadBuffer asks for a receive buffer of n bytes; where the granted
// size cannot be read back, it reports the request.
func setReadBuffer(conn net.PacketConn, n int) (int, error) {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return 0, fmt.Errorf("sip: %T is not a UDP socket", conn)
	}
	if err := uc.SetReadBuffer(n); err != nil {
		return 0, fmt.Errorf("sip: receive buffer: %w", err)
	}
	return n, nil
}
