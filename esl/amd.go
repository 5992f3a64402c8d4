package esl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Answering machines on FreeSWITCH: mod_avmd (see doc.go, "Answering
// machines").
const (
	subclassAVMDBeep = "avmd::beep"
	// varAVMDStart starts mod_avmd when the call is answered: FreeSWITCH
	// runs every variable whose name starts with execute_on_answer, so it
	// goes beside the sched_hangup of execute_on_answer.
	varAVMDStart = "execute_on_answer_dialerd_avmd"
)

// ErrNoAVMD refuses on_machine on a node without mod_avmd.
var ErrNoAVMD = errors.New("esl: the FreeSWITCH node has no mod_avmd (module_exists mod_avmd is false): on_machine cannot be carried")

// avmd is what a node said of mod_avmd at connect.
type avmd int8

const (
	avmdUnknown avmd = iota // not asked yet (never connected)
	avmdPresent
	avmdAbsent
)

// probeAVMD asks a new connection's node whether mod_avmd is loaded. A
// failed question leaves the node as it was known.
func (n *node) probeAVMD(ctx context.Context, c *conn) {
	out, err := c.api(ctx, "module_exists mod_avmd")
	if err != nil {
		n.g.log.Warn("esl: module_exists mod_avmd failed", "node", n.id, "err", err)
		return
	}
	has := avmdAbsent
	if strings.TrimSpace(out) == "true" {
		has = avmdPresent
	}
	n.mu.Lock()
	n.avmd = has
	n.mu.Unlock()
}

func (n *node) hasAVMD() avmd {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.avmd
}

// carries reports whether the node can carry the attempt's on_machine.
func (n *node) carries(a dialer.Attempt) bool {
	return a.Media.OnMachine == dialer.MachineIgnore || n.hasAVMD() == avmdPresent
}

// checkMachine refuses on_machine where it cannot be carried: on a node
// known to lack mod_avmd, or, with no node named, when no node of the
// tenant is known to have it. A node not asked yet (never connected) is
// refused too: nothing says the option would work.
func (g *Gateway) checkMachine(a dialer.Attempt) error {
	if a.Media.OnMachine == dialer.MachineIgnore {
		return nil
	}
	if !a.Media.OnMachine.Valid() {
		return dialer.ContentFault("on_machine", dialer.InvalidField("on_machine", "one of play_after_beep, hang_up or play"))
	}
	if a.Program != dialer.ProgramVoiceMessage {
		return dialer.ContentFault("on_machine", dialer.InvalidField("on_machine", "only a voicemessage detects answering machines"))
	}
	if a.Provider.Node != "" {
		n, err := g.node(a.Provider.Node, "")
		if err != nil {
			return dialer.ContentFault("on_machine", fmt.Errorf("%w: node %s: %w", ErrNoAVMD, a.Provider.Node, err))
		}
		if !n.carries(a) {
			return dialer.ContentFault("on_machine", fmt.Errorf("%w: node %s", ErrNoAVMD, n.id))
		}
		return nil
	}
	g.mu.Lock()
	nodes := make([]*node, 0, len(g.nodes))
	for _, n := range g.nodes {
		if a.TenantID == "" || n.cfg.TenantID == a.TenantID {
			nodes = append(nodes, n)
		}
	}
	g.mu.Unlock()
	for _, n := range nodes {
		if n.carries(a) {
			return nil
		}
	}
	return dialer.ContentFault("on_machine", fmt.Errorf("%w: no node has it", ErrNoAVMD))
}

// amdState is what a follower did about an answering machine.
type amdState struct {
	beep     bool // avmd::beep heard
	hungUp   bool // hang_up: killed on the beep
	played   bool // play_after_beep: the message broadcast
	playedAt time.Time
}

// machineStep acts on the on_machine policy once the call is answered:
// hang_up kills the call on the beep; play_after_beep broadcasts the
// message (with a hangup after it) on the beep, or after Options.BeepWait
// without one (avmd hears beeps, not people). It reports whether it sent a command.
func (f *follower) machineStep(ctx context.Context, cur *conn, evs []event, fs facts, now time.Time) bool {
	policy := f.a.Media.OnMachine
	if policy == dialer.MachineIgnore || f.answeredRcv.IsZero() || fs.hangup != nil || fs.complete != nil || cur == nil {
		return false
	}
	if !f.amd.beep {
		for _, e := range evs {
			if e.name == evCustom && e.subclass == subclassAVMDBeep {
				f.amd.beep = true
			}
		}
	}
	switch {
	case policy == dialer.MachineHangUp && f.amd.beep && !f.amd.hungUp:
		f.amd.hungUp = true
		f.kill(ctx, cur, "NORMAL_CLEARING")
		return true
	case policy == dialer.MachinePlayAfterBeep && !f.amd.played && (f.amd.beep || !now.Before(f.answeredRcv.Add(f.g.opts.BeepWait))):
		f.amd.played, f.amd.playedAt = true, now
		ref := f.a.Media.RecordingPath
		if !f.n.local {
			ref = f.a.Media.RecordingURL
		}
		out, err := cur.api(ctx, "uuid_broadcast "+f.c.uuid+" playback!NORMAL_CLEARING::"+ref+" aleg")
		if err != nil || !strings.HasPrefix(out, "+OK") {
			f.g.log.Warn("esl: message not broadcast after the beep; hanging up", "node", f.n.id, "uuid", f.c.uuid, "reply", out, "err", err)
			f.kill(ctx, cur, "NORMAL_CLEARING")
		}
		return true
	}
	return false
}

// machineWake is when machineStep has something to do without an event.
func (f *follower) machineWake() time.Time {
	if f.a.Media.OnMachine != dialer.MachinePlayAfterBeep || f.amd.played || f.answeredRcv.IsZero() {
		return time.Time{}
	}
	return f.answeredRcv.Add(f.g.opts.BeepWait)
}

// machineOutcome writes the verdict of an answered call whose program
// detects machines: machine when avmd heard a beep, unknown otherwise
// (avmd hears beeps, not people), and MACHINE_HANGUP for a call hang_up
// ended on the beep before the message was played.
func (f *follower) machineOutcome(o *dialer.Outcome, evs []event) {
	if f.a.Media.OnMachine == dialer.MachineIgnore || o.Connect.IsZero() {
		return
	}
	for _, e := range evs {
		if (e.name == evCustom && e.subclass == subclassAVMDBeep) || e.avmdDetect {
			f.amd.beep = true
		}
	}
	o.Machine = dialer.MachineUnknown
	if f.amd.beep {
		o.Machine = dialer.MachineFound
	}
	o.Results = append(o.Results, dialer.Result{Type: "amd", Name: "machine", Data: o.Machine})
	if f.amd.hungUp && !o.Delivered {
		o.Failure = dialer.CauseMachineHangUp
	}
}
