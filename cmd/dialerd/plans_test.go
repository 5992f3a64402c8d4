package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The example catalogue loads, and a misspelt key is refused.
func TestLoadPlans(t *testing.T) {
	cat, err := loadPlans(filepath.Join("..", "..", "configs", "plans.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cat.Plan("prepaid")
	if !ok || !p.Limits.Prepaid || p.Limits.CPM != 60 || p.Items["call_seconds"]["answered"].Rate != 0.0005 || cat.Default != "standard" {
		t.Errorf("prepaid %+v, default %q", p, cat.Default)
	}
	if def, err := loadPlans(""); err != nil || def.Default != "default" {
		t.Errorf("default catalogue %+v %v", def, err)
	}
	bad := filepath.Join(t.TempDir(), "plans.yaml")
	for _, body := range []string{
		"plans:\n  - id: a\n    limits: {cmp: 5}\n",
		"default: b\nplans:\n  - id: a\n",
		"plans:\n  - id: a\n  - id: a\n",
		"plans:\n  - id: a\n    items: {users: {user: {rate: -1}}}\n",
	} {
		if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadPlans(bad); err == nil {
			t.Errorf("accepted %q", body)
		}
	}
}
