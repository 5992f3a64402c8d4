package esltest_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

// TestModuleExists: mod_commands' answer, true only for a loaded module.
func TestModuleExists(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Modules: []string{"mod_avmd"}})
	c := login(t, s)
	if got := c.api("module_exists mod_avmd"); got != "true" {
		t.Errorf("mod_avmd: %q", got)
	}
	if got := c.api("module_exists mod_vmd"); got != "false" {
		t.Errorf("mod_vmd: %q", got)
	}
	if got := login(t, esltest.Start(t, esltest.Options{})).api("module_exists mod_avmd"); got != "false" {
		t.Errorf("mod_avmd not loaded: %q", got)
	}
}

// TestAVMDBeepAndBroadcast: with avmd started on answer, the scripted beep
// is mod_avmd's CUSTOM avmd::beep (Unique-ID, Beep-Status DETECTED, no
// channel data); a broadcast with !cause plays inside the parked call and
// hangs it up, the nested playback completing FILE PLAYED.
func TestAVMDBeepAndBroadcast(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Modules: []string{"mod_avmd"}})
	s.Script("15551230001", esltest.Answer(10*time.Millisecond, 5*time.Second).WithBeep(100*time.Millisecond))
	wav := writeFile(t, filepath.Join(t.TempDir(), "m.wav"), append(wavHeader, make([]byte, 1600)...))
	c := login(t, s, append(allCallEvents, "avmd::beep")...)
	const uuid, job = "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"
	c.expectReply("bgapi originate {origination_uuid="+uuid+",execute_on_answer_x=avmd_start}sofia/gateway/carrier/15551230001 &park()\nJob-UUID: "+job,
		"+OK Job-UUID: "+job)
	beep := c.event(func(ev esltest.Event) bool { return ev.Get("Event-Subclass") == "avmd::beep" })
	if beep.Get("Unique-ID") != uuid || beep.Get("Beep-Status") != "DETECTED" || beep.Get("Channel-State") != "" {
		t.Errorf("beep event %+v", beep)
	}
	if got := c.api("uuid_broadcast " + uuid + " playback!NORMAL_CLEARING::" + wav + " aleg"); got != "+OK Message sent\n" {
		t.Errorf("uuid_broadcast: %q", got)
	}
	evs := c.callEvents(uuid, "")
	var seq []string
	for _, ev := range evs {
		seq = append(seq, ev.Name()+":"+ev.Get("Application")+":"+ev.Get("Application-Response"))
	}
	want := []string{"CHANNEL_EXECUTE:playback:", "CHANNEL_EXECUTE_COMPLETE:playback:FILE PLAYED", "CHANNEL_HANGUP::",
		"CHANNEL_EXECUTE_COMPLETE:park:_none_", "CHANNEL_HANGUP_COMPLETE::"}
	if !slices.Equal(seq, want) {
		t.Errorf("events %q, want %q", seq, want)
	}
	if v := find(evs, "CHANNEL_HANGUP_COMPLETE").Get("variable_avmd_detect"); v != "TRUE" {
		t.Errorf("avmd_detect %q", v)
	}
}
