// Package mailtest runs the real peers of the mail gateways' tests: Debian's
// aiosmtpd, Kannel's bearerbox and smsbox, and a small SMPP SMSC behind them.
package mailtest
