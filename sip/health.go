package sip

import "time"

// Health is a trunk's state as its OPTIONS pings see it.
type Health struct {
	Up         bool
	LastChange time.Time
}

// HealthChange is reported to Config.OnHealth when a trunk goes up or down.
type HealthChange struct {
	ProviderID int64
	Up         bool
	At         time.Time
}

type trunkMonitor struct{}
