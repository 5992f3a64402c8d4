// Package e2e holds what the end-to-end programs (cmd/dialerbench and
// cmd/crashsuite) share: child processes in their own process groups,
// free loopback ports, a client of dialerd's REST API, dialerd started (and
// restarted) on a data directory of its own, the setup of a campaign
// through the API, and SIPp run as a UAS with its message log read back
// per Call-ID.
package e2e
