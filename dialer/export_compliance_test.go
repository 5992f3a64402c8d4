package dialer

// NumberZones exposes numberZones to the external tests.
var NumberZones = numberZones
