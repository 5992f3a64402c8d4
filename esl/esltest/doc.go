// Package esltest is a fake FreeSWITCH for tests: a TCP server on 127.0.0.1
// that speaks the inbound Event Socket protocol of FreeSWITCH 1.10 byte for
// byte (auth, event plain/json, api, bgapi, exit) and places scripted
// "calls" when it is asked to originate.
//
// Everything it sends is modelled on transcripts captured from a real
// FreeSWITCH 1.10.12 (see esl/testdata/fixtures): frame layout, URL-encoded
// event headers, the header set of each channel event, the order of events
// for each call outcome, BACKGROUND_JOB bodies and api replies.
//
// A test starts one with Start, scripts the far end per destination number
// with Server.Script, points the code under test at Server.Addr, and then
// asserts on what the fake was asked (Server.Commands, Server.Originates)
// and on the load it saw (Server.Stats). The frame reader (ReadFrame,
// ParseEventPlain, ParseEventJSON) is exported so tests can also talk to
// the fake, or to captured bytes, directly.
package esltest
