package esltest

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// moduleExists is mod_commands' "module_exists <name>": "true" or "false".
func (s *Server) moduleExists(name string) string {
	if slices.Contains(s.opts.Modules, name) {
		return "true"
	}
	return "false"
}

// avmdStarted reports whether mod_avmd runs on the channel: the module is
// loaded and an execute_on_answer variable (FreeSWITCH runs every variable
// whose name starts with it) starts it. c.mu need not be held.
func (c *channel) avmdStarted() bool {
	if c.srv.moduleExists("mod_avmd") != "true" {
		return false
	}
	for _, v := range c.orig.Vars {
		if strings.HasPrefix(strings.ToLower(v.Name), "execute_on_answer") && strings.HasPrefix(strings.TrimSpace(v.Value), "avmd_start") {
			return true
		}
	}
	return false
}

// beepTimer is when the far end's beep is heard by mod_avmd, nil when it
// is not (no beep scripted, avmd not running, or already fired).
func (c *channel) beepTimer() (<-chan time.Time, func()) {
	if c.beh.Beep <= 0 || c.beeped || !c.avmdStarted() {
		return nil, func() {}
	}
	t := time.NewTimer(max(0, c.beh.Beep-time.Since(c.answeredAt)))
	return t.C, func() { t.Stop() }
}

// fireBeep is avmd_report_detection: avmd_total_time and avmd_detect=TRUE
// on the channel, then CUSTOM avmd::beep. The event carries no channel
// data: mod_avmd adds only Unique-ID and its own headers.
func (c *channel) fireBeep() {
	c.mu.Lock()
	c.beeped = true
	ms := time.Since(c.answeredAt).Milliseconds()
	c.vars.set("avmd_total_time", "["+strconv.FormatInt(ms, 10)+"]")
	c.vars.set("avmd_detect", "TRUE")
	ev := c.srv.newEvent("CUSTOM")
	ev.Headers = append([]Header{{"Event-Subclass", "avmd::beep"}}, ev.Headers...)
	ev.Headers = append(ev.Headers,
		Header{"Unique-ID", c.uuid},
		Header{"Call-command", "avmd"},
		Header{"Beep-Status", "DETECTED"},
		Header{"Frequency", "1000.000000"},
		Header{"Frequency-variance", "0.000001"},
		Header{"Amplitude", "8000.000000"},
		Header{"Amplitude-variance", "0.000010"},
		Header{"Detection-time", strconv.FormatInt(ms*1000, 10)},
		Header{"Detector-resolution", "1"},
		Header{"Detector-offset", "0"},
		Header{"Detector-index", "0"},
	)
	c.mu.Unlock()
	c.srv.fire(ev)
}
