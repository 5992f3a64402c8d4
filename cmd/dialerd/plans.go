package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/dialerd/dialerd/dialer"
	"go.yaml.in/yaml/v3"
)

// loadPlans reads the plan catalogue; an empty path is dialer.DefaultPlans.
// Unknown keys are refused, so a misspelt limit is not silently unlimited.
func loadPlans(path string) (dialer.PlanCatalog, error) {
	if path == "" {
		return dialer.DefaultPlans(), nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return dialer.PlanCatalog{}, fmt.Errorf("plans: %w", err)
	}
	var cat dialer.PlanCatalog
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cat); err != nil {
		return cat, fmt.Errorf("plans %s: %w", path, err)
	}
	if len(cat.Plans) == 0 {
		return cat, fmt.Errorf("plans %s: no plans", path)
	}
	if cat.Default == "" {
		cat.Default = cat.Plans[0].ID
	}
	if err := cat.Validate(); err != nil {
		return cat, fmt.Errorf("plans %s: %w", path, err)
	}
	return cat, nil
}
