package api

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAPILint lints /openapi.json with Redocly's CLI and its
// recommended rules: 0 errors. make test-deps installs the CLI outside the
// repository and make exports its path as REDOCLY; without it the test
// skips, except in CI.
func TestOpenAPILint(t *testing.T) {
	redocly := os.Getenv("REDOCLY")
	if _, err := os.Stat(redocly); redocly == "" || err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("REDOCLY=%q is not the Redocly CLI; make test-deps installs it", redocly)
		}
		t.Skip("the Redocly CLI is not installed (make test-deps installs it; make test sets REDOCLY)")
	}
	e := newEnv(t)
	doc := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(doc, e.srv.openapiDoc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.CommandContext(t.Context(), redocly, "lint", "--extends=recommended", "--format=stylish", doc)
	cmd.Dir = t.TempDir() // no redocly.yaml of anyone's but the rules named
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint --extends=recommended: %v\n%s", err, out)
	}
	t.Logf("redocly lint: %s", lastLine(out))
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
