package dialer

import (
	"strings"
	"testing"
)

func TestValidateCampaignCPMCap(t *testing.T) {
	for _, tt := range []struct {
		name        string
		cpm, maxCPM int
		wantErr     string // "" when valid
	}{
		{"default cap admits 60000", 60000, 0, ""},
		{"default cap refuses more", 60001, 0, "from 1 to 60000"},
		{"an operator's lower cap", 101, 100, "from 1 to 100"},
		{"at the operator's cap", 100, 100, ""},
		{"zero", 0, 0, "from 1 to 60000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Campaign{ProgramID: 1, GroupID: 1, CPM: tt.cpm, TryAllowed: 1}
			var v Invalid
			ValidateCampaign(&c, tt.maxCPM, &v)
			got := ""
			if v.Has("cpm") {
				got = v.Err().Error()
			}
			if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
				t.Fatalf("cpm %d under cap %d: %q, want %q", tt.cpm, tt.maxCPM, got, tt.wantErr)
			}
		})
	}
}

func TestCampaignCPMWithinEngineCap(t *testing.T) {
	e := &Engine{cfg: EngineConfig{MaxCPM: 600}}
	if got := e.campaignCPM(Campaign{CPM: 6000}); got != 600 {
		t.Fatalf("a stored campaign above the cap runs at %d, want 600", got)
	}
	if got := e.campaignCPM(Campaign{CPM: 60}); got != 60 {
		t.Fatalf("below the cap: %d", got)
	}
}
