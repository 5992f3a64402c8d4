// Package mail carries email for the dialer: SMTP out for sendemail and
// faxtoemail, an SMTP listener for receiveemail and emailtofax, and the
// Kannel SMS gateway (smsbox sendsms out, delivery reports and MO in).
package mail
