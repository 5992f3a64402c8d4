package main

import (
	"bytes"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestWatchdogIntervalLoggedAsDuration: under the unit's WatchdogSec=30s
// the journal (JSON) reads "30s", not 30000000000.
func TestWatchdogIntervalLoggedAsDuration(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var buf bytes.Buffer
	tick, stop := watchdogTicker(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer stop()
	if tick == nil {
		t.Fatal("no watchdog ticker under WATCHDOG_USEC")
	}
	if got := buf.String(); !strings.Contains(got, `"interval":"30s"`) || !strings.Contains(got, `"ping_every":"10s"`) {
		t.Errorf("log line: %s", got)
	}
}
