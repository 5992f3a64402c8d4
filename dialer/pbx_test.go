package dialer

import (
	"strings"
	"testing"
)

func TestValidatePBXProfile(t *testing.T) {
	valid := map[PBXType]PBXProfile{
		PBXKazoo: {Type: PBXKazoo, Name: "k", HostRest: "https://rest.example.com", HostWebsocket: "wss://ws.example.com",
			AccountID: "12345", APIKey: "ABCDEF", CountryCode: "US"},
		PBXThreeCX: {Type: PBXThreeCX, Name: "3", LicenseKey: "lic", Username: "user", Password: "pw",
			RecordingArchiveFrequency: "00:20:00"},
		PBXFreeSwitch: {Type: PBXFreeSwitch, Name: "fs", Host: "10.0.0.9", Port: 8021, Password: "ClueCon",
			SessionsPerSecond: 30, MaxSessions: 1000},
	}
	for typ, p := range valid {
		var v Invalid
		ValidatePBXProfile(&p, true, &v)
		if err := v.Err(); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	for _, tc := range []struct {
		typ    PBXType
		field  string
		create bool
		change func(p *PBXProfile)
	}{
		{PBXKazoo, "name", true, func(p *PBXProfile) { p.Name = "  " }},
		{PBXKazoo, "name", true, func(p *PBXProfile) { p.Name = strings.Repeat("n", 129) }},
		{PBXKazoo, "name", true, func(p *PBXProfile) { p.Name = "a\nb" }},
		{PBXKazoo, "hostRest", true, func(p *PBXProfile) { p.HostRest = "rest.example.com" }},
		{PBXKazoo, "hostRest", true, func(p *PBXProfile) { p.HostRest = "https://user:pw@rest.example.com" }},
		{PBXKazoo, "hostWebsocket", true, func(p *PBXProfile) { p.HostWebsocket = "https://ws.example.com" }},
		{PBXKazoo, "accountId", true, func(p *PBXProfile) { p.AccountID = "" }},
		{PBXKazoo, "apiKey", true, func(p *PBXProfile) { p.APIKey = "" }},
		{PBXKazoo, "apiKey", false, func(p *PBXProfile) { p.APIKey = "a\x00b" }},
		{PBXKazoo, "countryCode", true, func(p *PBXProfile) { p.CountryCode = "us" }},
		{PBXThreeCX, "licenseKey", true, func(p *PBXProfile) { p.LicenseKey = "" }},
		{PBXThreeCX, "password", true, func(p *PBXProfile) { p.Password = "" }},
		{PBXThreeCX, "username", true, func(p *PBXProfile) { p.Username = "a b" }},
		{PBXThreeCX, "recordingArchiveFrequency", true, func(p *PBXProfile) { p.RecordingArchiveFrequency = "24:00:00" }},
		{PBXFreeSwitch, "host", true, func(p *PBXProfile) { p.Host = "fs host" }},
		{PBXFreeSwitch, "host", true, func(p *PBXProfile) { p.Host = "" }},
		{PBXFreeSwitch, "port", true, func(p *PBXProfile) { p.Port = 0 }},
		{PBXFreeSwitch, "password", true, func(p *PBXProfile) { p.Password = "Clue Con" }},
		{PBXFreeSwitch, "password", true, func(p *PBXProfile) { p.Password = "ClueCon\n\nevent all" }},
		{PBXFreeSwitch, "sps", true, func(p *PBXProfile) { p.SessionsPerSecond = 1 }},
		{PBXFreeSwitch, "maxSessions", true, func(p *PBXProfile) { p.MaxSessions = 0 }},
		{PBXFreeSwitch, "_type", true, func(p *PBXProfile) { p.Type = "Asterisk" }},
	} {
		p := valid[tc.typ]
		tc.change(&p)
		var v Invalid
		ValidatePBXProfile(&p, tc.create, &v)
		if !v.Has(tc.field) {
			t.Errorf("%s %s: accepted (%v)", tc.typ, tc.field, v.Err())
		}
	}
	// An update may leave a required secret out: the stored one stays.
	p := valid[PBXKazoo]
	p.APIKey = ""
	var v Invalid
	ValidatePBXProfile(&p, false, &v)
	if err := v.Err(); err != nil {
		t.Errorf("update without the key: %v", err)
	}
}
