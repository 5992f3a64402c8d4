// Package api is dialerd's HTTP control API on gin: one engine, one port,
// several surfaces (ICTCore at the root, PBX profiles under /api/v1.0, …),
// each keeping the paths, envelopes and error shapes of its specification
// document, over one authentication system.
//
// Handlers turn requests into calls on small store interfaces declared next
// to them, and domain errors (dialer.Error) into responses in exactly one
// place per surface.
package api
