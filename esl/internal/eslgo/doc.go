// Package eslgo is github.com/percipia/eslgo v1.5.2 (MPL-2.0, see LICENSE),
// trimmed to the inbound client the FreeSWITCH gateway uses (no outbound
// server, no helpers), with four fixes, each marked "dialerd:" in the code:
//
//   - authLoop and disconnectLoop read the response channel map under its
//     lock. Upstream reads it bare while close() deletes from it: a data
//     race the race detector reports whenever FreeSWITCH drops a young
//     connection, whoever closes it (and a "concurrent map read and map
//     write" crash if the two ever coincide).
//   - Every read error ends the connection and its disconnect is always
//     delivered. Upstream reported only io.EOF, and only if the disconnect
//     loop was waiting at that instant (a non-blocking send).
//   - SendCommand waits for its reply without holding the lock close()
//     needs, and returns when the connection stops. Upstream held it, so a
//     drop during a command went unnoticed until the command timed out.
//   - Dial bounds the TCP connect with AuthTimeout.
//
// What is not changed, and what the gateway works around: event listeners
// run each in a new goroutine (events arrive out of order); SendCommand
// matches replies first in, first out with its write lock released before
// it reads (commands must be serialised by the caller).
package eslgo
