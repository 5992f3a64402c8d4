package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

func fsProfile(tenant string, by int64, name string, enabled bool) dialer.PBXProfile {
	return dialer.PBXProfile{TenantID: tenant, CreatedBy: by, Type: dialer.PBXFreeSwitch, Name: name, Enabled: enabled,
		Host: "10.0.0.9", Port: 8021, Password: "Esl-Secret-" + name, SessionsPerSecond: 30, MaxSessions: 100}
}

func TestPBXProfilesSealedAndScoped(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	kazoo := dialer.PBXProfile{TenantID: w.tenant, CreatedBy: w.admin, Type: dialer.PBXKazoo, Name: "k",
		HostRest: "https://rest.example.com", HostWebsocket: "wss://ws.example.com", AccountID: "12345",
		APIKey: "ABCDEF-kazoo-key", CountryCode: "US"}
	kid, err := w.db.CreatePBX(ctx, kazoo)
	if err != nil {
		t.Fatal(err)
	}
	three := dialer.PBXProfile{TenantID: w.tenant, CreatedBy: w.user, Type: dialer.PBXThreeCX, Name: "3cx",
		LicenseKey: "licence-3cx-key", Username: "u", Password: "3cx-password", EnableRecordingArchive: true,
		RecordingArchiveFrequency: "00:20:00"}
	tid, err := w.db.CreatePBX(ctx, three)
	if err != nil {
		t.Fatal(err)
	}
	fid, err := w.db.CreatePBX(ctx, fsProfile(w.tenant, w.admin, "fs", true))
	if err != nil {
		t.Fatal(err)
	}

	// Secrets are sealed at rest and never read back by the API's reads.
	for _, tc := range []struct {
		id     int64
		col    string
		secret string
	}{{kid, "key_sealed", "ABCDEF-kazoo-key"}, {tid, "key_sealed", "licence-3cx-key"}, {tid, "password_sealed", "3cx-password"}, {fid, "password_sealed", "Esl-Secret-fs"}} {
		raw := w.rawColumn(t, "pbx_profiles", tc.col, "pbx_id", tc.id)
		if !strings.HasPrefix(raw, "v1:") || strings.Contains(raw, tc.secret) {
			t.Errorf("%s of %d stored as %q", tc.col, tc.id, raw)
		}
	}
	got, err := w.db.PBX(ctx, w.adminScope(), kid)
	if err != nil || got.APIKey != "" || !got.HasAPIKey || got.AccountID != "12345" || got.HostRest != kazoo.HostRest {
		t.Errorf("kazoo %+v %v", got, err)
	}
	got, err = w.db.PBX(ctx, w.adminScope(), tid)
	if err != nil || got.LicenseKey != "" || got.Password != "" || !got.HasLicenseKey || !got.HasPassword || !got.EnableRecordingArchive {
		t.Errorf("3cx %+v %v", got, err)
	}

	// Ownership: another tenant sees nothing; a plain user only its own.
	if _, err := w.db.PBX(ctx, w.otherScope(), kid); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("other tenant: %v", err)
	}
	if _, err := w.db.PBX(ctx, w.userScope(), kid); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("user reads admin's: %v", err)
	}
	if list, err := w.db.PBXs(ctx, w.userScope(), dialer.ListQuery{}); err != nil || len(list) != 1 || list[0].ID != tid {
		t.Errorf("user's list %+v %v", list, err)
	}
	if list, err := w.db.PBXs(ctx, w.adminScope(), dialer.ListQuery{Filters: map[string]string{"_type": string(dialer.PBXFreeSwitch)}}); err != nil || len(list) != 1 || list[0].ID != fid {
		t.Errorf("filtered list %+v %v", list, err)
	}
	if _, err := w.db.PBXs(ctx, w.adminScope(), dialer.ListQuery{Filters: map[string]string{"password": "x"}}); !errors.Is(err, dialer.ErrInvalid) {
		t.Errorf("filter on a secret: %v", err)
	}
	if _, err := w.db.CreatePBX(ctx, fsProfile(w.tenant, w.admin, "FS", false)); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := w.db.CreatePBX(ctx, fsProfile(w.other, w.stranger, "fs", true)); err != nil {
		t.Errorf("same name in another tenant: %v", err)
	}

	// The gateway's view: password unsealed, enabled profiles of all tenants.
	node, err := w.db.FreeSwitchNode(ctx, w.tenant, fid)
	if err != nil || node.Password != "Esl-Secret-fs" || node.ID != strconv.FormatInt(fid, 10) || node.Port != 8021 ||
		node.SessionsPerSecond != 30 || node.MaxSessions != 100 || node.TenantID != w.tenant {
		t.Errorf("node %+v %v", node, err)
	}
	if _, err := w.db.FreeSwitchNode(ctx, w.tenant, kid); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("kazoo as a node: %v", err)
	}
	if _, err := w.db.FreeSwitchNode(ctx, w.other, fid); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("node of another tenant: %v", err)
	}
	nodes, err := w.db.EnabledFreeSwitchNodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].TenantID != w.tenant || nodes[1].TenantID != w.other || nodes[1].Password != "Esl-Secret-fs" {
		t.Errorf("enabled nodes %+v %v", nodes, err)
	}

	// Update: an empty secret keeps the stored one, a new one replaces it.
	p, _ := w.db.PBX(ctx, w.adminScope(), fid)
	p.Enabled, p.SessionsPerSecond = false, 50
	if err := w.db.UpdatePBX(ctx, w.adminScope(), p); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.db.FreeSwitchNode(ctx, w.tenant, fid); n.Password != "Esl-Secret-fs" || n.SessionsPerSecond != 50 {
		t.Errorf("after update %+v", n)
	}
	if nodes, _ := w.db.EnabledFreeSwitchNodes(ctx); len(nodes) != 1 {
		t.Errorf("disabled node still listed: %+v", nodes)
	}
	p.Password = "New-Esl-Secret"
	if err := w.db.UpdatePBX(ctx, w.adminScope(), p); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.db.FreeSwitchNode(ctx, w.tenant, fid); n.Password != "New-Esl-Secret" {
		t.Errorf("password not replaced: %q", n.Password)
	}
	if err := w.db.UpdatePBX(ctx, w.userScope(), p); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("user updates admin's: %v", err)
	}
	p.Name = "K"
	if err := w.db.UpdatePBX(ctx, w.adminScope(), p); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("rename onto another: %v", err)
	}

	// A sealed secret moved to another tenant does not open.
	if _, err := w.db.w.Exec(`UPDATE pbx_profiles SET password_sealed = (SELECT password_sealed FROM pbx_profiles WHERE pbx_id = ?)
		WHERE tenant_id = ?`, fid, w.other); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.EnabledFreeSwitchNodes(ctx); !errors.Is(err, ErrSealBroken) {
		t.Errorf("moved secret: %v", err)
	}

	if err := w.db.DeletePBX(ctx, w.otherScope(), fid); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("delete from another tenant: %v", err)
	}
	if err := w.db.DeletePBX(ctx, w.adminScope(), fid); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.PBX(ctx, w.adminScope(), fid); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
