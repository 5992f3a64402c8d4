package esl

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
)

// TestMachineNeedsAVMD: on_machine is refused, as the content's fault
// naming on_machine, on a node whose module_exists mod_avmd is false, both
// when a program is checked and when an attempt is delivered (nothing is
// originated); a node with mod_avmd carries it.
func TestMachineNeedsAVMD(t *testing.T) {
	for _, tc := range []struct {
		name    string
		modules []string
		ok      bool
	}{
		{"without mod_avmd", nil, false},
		{"with mod_avmd", []string{"mod_avmd"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := esltest.Start(t, esltest.Options{Modules: tc.modules})
			g := startGateway(t, s, testOptions(), 30, 10)
			s.Script(testNumber, esltest.Answer(10*time.Millisecond, 200*time.Millisecond))
			for _, policy := range []dialer.MachinePolicy{dialer.MachinePlay, dialer.MachineHangUp, dialer.MachinePlayAfterBeep} {
				a := attempt("+4930123456")
				a.Media.OnMachine = policy
				for _, node := range []string{"1", ""} { // the provider's node, or any of the tenant's
					a.Provider.Node = node
					fe := dialer.FaultOf(g.CheckAttempt(a))
					switch {
					case tc.ok && fe != nil:
						t.Errorf("%s, node %q: refused: %v", policy, node, fe)
					case !tc.ok && (fe == nil || fe.Fault != dialer.FaultContent || fe.Field != "on_machine" || !errors.Is(fe, ErrNoAVMD)):
						t.Errorf("%s, node %q: %v, want a content fault naming on_machine", policy, node, fe)
					}
				}
			}
			if tc.ok {
				return
			}
			a := attempt("+4930123456")
			a.Media.OnMachine = dialer.MachineHangUp
			_, err := g.Deliver(context.Background(), a, nil)
			if fe := dialer.FaultOf(err); fe == nil || fe.Field != "on_machine" {
				t.Errorf("Deliver: %v, want a content fault naming on_machine", err)
			}
			if n := len(s.Originates()); n != 0 {
				t.Errorf("%d originates sent for a program the node cannot carry", n)
			}
		})
	}
}

// TestMachinePoliciesOnFreeSWITCH: with mod_avmd, avmd_start runs on
// answer; the avmd::beep event (as mod_avmd fires it) makes the verdict
// machine, and each policy does what it says; without a beep the verdict
// is unknown.
func TestMachinePoliciesOnFreeSWITCH(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    dialer.MachinePolicy
		beep      time.Duration // 0: a person, no beep
		app       string        // the originate's application
		verdict   string
		delivered bool
		failure   string
		command   string // the api command the beep (or its wait) causes, "" none
	}{
		{"hang_up, machine", dialer.MachineHangUp, 300 * time.Millisecond, "playback", dialer.MachineFound, false, dialer.CauseMachineHangUp, "uuid_kill "},
		{"hang_up, person", dialer.MachineHangUp, 0, "playback", dialer.MachineUnknown, true, "", ""},
		{"play, machine", dialer.MachinePlay, 300 * time.Millisecond, "playback", dialer.MachineFound, true, "", ""},
		{"play_after_beep, machine", dialer.MachinePlayAfterBeep, 300 * time.Millisecond, "park", dialer.MachineFound, true, "", "uuid_broadcast "},
		{"play_after_beep, person", dialer.MachinePlayAfterBeep, 0, "park", dialer.MachineUnknown, true, "", "uuid_broadcast "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := esltest.Start(t, esltest.Options{Modules: []string{"mod_avmd"}})
			opts := testOptions()
			opts.BeepWait = 600 * time.Millisecond
			g := startGateway(t, s, opts, 30, 10)
			b := esltest.Answer(20*time.Millisecond, 1500*time.Millisecond)
			if tc.beep > 0 {
				b = b.WithBeep(tc.beep)
			}
			s.Script(testNumber, b)
			a := attempt("+4930123456")
			a.Media.OnMachine = tc.policy
			o, progress := deliver(t, g, a)
			if o.Machine != tc.verdict || o.Delivered != tc.delivered || o.Failure != tc.failure {
				t.Errorf("machine %q delivered %v failure %q; want %q %v %q", o.Machine, o.Delivered, o.Failure,
					tc.verdict, tc.delivered, tc.failure)
			}
			if d := resultData(o, "amd", "machine"); !slices.Equal(d, []string{tc.verdict}) {
				t.Errorf("amd results %v", d)
			}
			if got := slices.Contains(progress, "delivered"); got != tc.delivered {
				t.Errorf("progress %v", progress)
			}
			p := s.Originates()[0]
			if v, _ := p.Var(varAVMDStart); v != "avmd_start" || p.Application != tc.app {
				t.Errorf("originate %s(%s), %s=%q", p.Application, p.AppArgs, varAVMDStart, v)
			}
			if tc.command != "" {
				cmds := apiCommands(s, tc.command+a.CallUUID)
				if len(cmds) != 1 {
					t.Fatalf("%d %q commands", len(cmds), tc.command)
				}
				if tc.command == "uuid_broadcast " && cmds[0].Args != "uuid_broadcast "+a.CallUUID+" playback!NORMAL_CLEARING::"+a.Media.RecordingPath+" aleg" {
					t.Errorf("broadcast %q", cmds[0].Args)
				}
				// play_after_beep plays on the beep, or after BeepWait.
				wait := tc.beep
				if wait == 0 {
					wait = opts.BeepWait
				}
				if d := cmds[0].Time.Sub(o.Connect); d < wait-50*time.Millisecond {
					t.Errorf("%s sent %v after the answer, before the beep or its wait (%v)", tc.command, d, wait)
				}
			}
			if tc.failure == dialer.CauseMachineHangUp {
				if v := dialer.Classify(o); v.Disposition != dialer.Retry || v.Cause != dialer.CauseMachineHangUp {
					t.Errorf("classified %+v", v)
				}
			}
		})
	}
}

// The verdict survives a missed avmd::beep: HANGUP_COMPLETE's
// variable_avmd_detect=TRUE, which mod_avmd sets with the event, says
// machine too.
func TestMachineVerdictFromHangupVariables(t *testing.T) {
	a := attempt("+4930123456")
	a.Media.OnMachine = dialer.MachinePlay
	for _, tc := range []struct {
		evs  []event
		want string
	}{
		{[]event{{name: evHangupComplete, avmdDetect: true}}, dialer.MachineFound},
		{[]event{{name: evCustom, subclass: subclassAVMDBeep}, {name: evHangupComplete}}, dialer.MachineFound},
		{[]event{{name: evHangupComplete}}, dialer.MachineUnknown},
	} {
		f := &follower{a: a}
		o := dialer.Outcome{Connect: time.Now(), Delivered: true}
		f.machineOutcome(&o, tc.evs)
		if o.Machine != tc.want {
			t.Errorf("events %+v: machine %q, want %q", tc.evs, o.Machine, tc.want)
		}
	}
}
