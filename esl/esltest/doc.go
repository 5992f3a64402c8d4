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
// Beyond the call life cycle it runs the originate's application as
// FreeSWITCH does (playback's file lookup, speak, txfax with spandsp's
// result event), honours "event ... CUSTOM <subclass>..." (every word after
// CUSTOM is a subclass), answers fsctl sps and fsctl shutdown (Shutdown),
// mod_hash's hash insert/select/delete, uuid_broadcast (run inside the
// running application, as switch_ivr_parse_all_events does, with
// app!cause::args hanging up after it), module_exists (Options.Modules)
// and, with mod_avmd loaded and avmd_start on answer, mod_avmd's
// avmd::beep event at Behaviour.Beep, and runs api_hangup_hook and
// api_reporting_hook with their variables expanded when they run; like
// originate, it drops a {} variable holding "${" unless
// origination_nested_vars=true is in the dial string.
//
// A test starts one with Start, scripts the far end per destination number
// with Server.Script, points the code under test at Server.Addr, and then
// asserts on what the fake was asked (Server.Commands, Server.Originates)
// and on the load it saw (Server.Stats). The frame reader (ReadFrame,
// ParseEventPlain, ParseEventJSON) is exported so tests can also talk to
// the fake, or to captured bytes, directly.
package esltest
