// Package dialer is dialerd's domain: the types every other package speaks
// (tenants, users, contacts, programs, transmissions, spools, campaigns), the
// errors they return, the rules of who may do what, and the spool engine.
//
// It imports nothing else of this module. Storage, gateways and the HTTP API
// depend on it; it depends on small interfaces (Clock, Store, Gateway) that
// those packages satisfy.
package dialer
