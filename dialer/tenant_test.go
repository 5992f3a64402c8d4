package dialer

import (
	"slices"
	"strings"
	"testing"
)

func TestTenantIDs(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 5000 {
		id := NewTenantID()
		if !ValidTenantID(id) || seen[id] {
			t.Fatalf("id %q invalid or repeated", id)
		}
		seen[id] = true
		for _, c := range id {
			counts[c]++
		}
	}
	// 110,000 characters over 62: each 1774 ± 42; a biased draw (bytes
	// mod 62 without rejection) would give the first 8 about 2148.
	for _, c := range base62 {
		if n := counts[c]; n < 1574 || n > 1974 {
			t.Errorf("%q drawn %d times of 110000", c, n)
		}
	}
	for id, want := range map[string]bool{
		"Jaim1Cu1Q55uooxSens6yk": true, "ABCDEFGHIJKLMNOPQRSTUV": true, "short": false,
		"Jaim1Cu1Q55uooxSens6y-": false, "Jaim1Cu1Q55uooxSens6ykX": false, "": false,
	} {
		if ValidTenantID(id) != want {
			t.Errorf("ValidTenantID(%q) != %v", id, want)
		}
	}
}

func TestAccountRoles(t *testing.T) {
	owner, ok := AccountRolePerms(RoleAccountOwner)
	admin, _ := RoleByID(RoleAdmin)
	if !ok || !slices.Equal(owner, admin.Permissions) {
		t.Errorf("account-owner %v, want the admin role's %v", owner, admin.Permissions)
	}
	term, ok := AccountRolePerms(RoleMerchantTerminal)
	if !ok {
		t.Fatal("merchant-terminal unknown")
	}
	for _, p := range []string{PermUserRead, PermUserWrite, PermProviderWrite, PermPBXWrite, PermAccountWrite} {
		if slices.Contains(term, p) {
			t.Errorf("merchant-terminal holds %s", p)
		}
	}
	for _, p := range []string{PermCampaignWrite, PermTransmissionWrite, PermContactWrite, PermProviderRead, PermPBXRead} {
		if !slices.Contains(term, p) {
			t.Errorf("merchant-terminal lacks %s", p)
		}
	}
	if _, ok := AccountRolePerms("admin"); ok {
		t.Error("an unknown role has permissions")
	}
	a := Actor{TenantID: "T", Admin: true, Perms: term}
	if a.ManagesTenant() {
		t.Error("a terminal manages its tenant")
	}
	for a, want := range map[*Actor]string{
		{UserID: 7}:                      "crn::user:7",
		{TenantID: "Acc", KeyName: "K1"}: "crn:Acc:api-key:K1",
	} {
		if got := a.CRN(); got != want || !strings.HasPrefix(got, "crn:") {
			t.Errorf("CRN %q, want %q", got, want)
		}
	}
}
