package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigPriority(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dialerd.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9001\nlog:\n  format: json\n  level: warn\nauth:\n  token_ttl: 2h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		listen string
		format string
		level  string
		ttl    time.Duration
	}{
		{"defaults", nil, nil, "127.0.0.1:8000", "text", "info", 24 * time.Hour},
		{"file", []string{"--config", file}, nil, "127.0.0.1:9001", "json", "warn", 2 * time.Hour},
		{"env over file", []string{"--config", file}, map[string]string{"DIALERD_LISTEN": "127.0.0.1:9002", "DIALERD_AUTH_TOKEN_TTL": "3h"}, "127.0.0.1:9002", "json", "warn", 3 * time.Hour},
		{"flag over env", []string{"--config", file, "--listen", "127.0.0.1:9003", "--log.level=debug"}, map[string]string{"DIALERD_LISTEN": "127.0.0.1:9002"}, "127.0.0.1:9003", "json", "debug", 2 * time.Hour},
		{"config from env", nil, map[string]string{"DIALERD_CONFIG": file}, "127.0.0.1:9001", "json", "warn", 2 * time.Hour},
	} {
		cfg, err := loadConfig(tc.args, envOf(tc.env))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cfg.Listen != tc.listen || cfg.Log.Format != tc.format || cfg.Log.Level != tc.level || cfg.Auth.TokenTTL != tc.ttl {
			t.Errorf("%s: got listen=%s format=%s level=%s ttl=%v", tc.name, cfg.Listen, cfg.Log.Format, cfg.Log.Level, cfg.Auth.TokenTTL)
		}
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad format env", nil, map[string]string{"DIALERD_LOG_FORMAT": "xml"}, "log.format"},
		{"bad listen flag", []string{"--listen", "nowhere"}, nil, "listen"},
		{"bad port", []string{"--listen", "127.0.0.1:99999"}, nil, "listen"},
		{"bad duration", nil, map[string]string{"DIALERD_AUTH_TOKEN_TTL": "soon"}, "auth.token_ttl"},
		{"zero ttl", nil, map[string]string{"DIALERD_AUTH_TOKEN_TTL": "0s"}, "auth.token_ttl"},
		{"short admin password", nil, map[string]string{"DIALERD_ADMIN_PASSWORD": "abc"}, "admin.password"},
		{"bad number", []string{"--http.max_body_bytes", "lots"}, nil, "http.max_body_bytes"},
		{"small import limit", []string{"--http.max_import_bytes", "10"}, nil, "http.max_import_bytes"},
		{"country code with plus", nil, map[string]string{"DIALERD_PHONE_DEFAULT_COUNTRY_CODE": "+1"}, "phone.default_country_code"},
		{"country code too long", []string{"--phone.default_country_code", "1234"}, nil, "phone.default_country_code"},
		{"empty country code", []string{"--phone.default_country_code="}, nil, "phone.default_country_code"},
		{"unknown file key", []string{"--config", write("unknown.yaml", "listne: 1\n")}, nil, "listne"},
		{"bad file value", []string{"--config", write("bad.yaml", "log:\n  level: loud\n")}, nil, "log.level"},
		{"missing explicit file", []string{"--config", filepath.Join(dir, "absent.yaml")}, nil, "absent.yaml"},
		{"unknown flag", []string{"--no-such-flag"}, nil, "no-such-flag"},
		{"tiny tts cache", []string{"--media.tts_cache_max_bytes", "1000"}, nil, "media.tts_cache_max_bytes"},
		{"negative tts cache age", nil, map[string]string{"DIALERD_MEDIA_TTS_CACHE_MAX_AGE": "-1h"}, "media.tts_cache_max_age"},
		{"negative faxtoemail max age", nil, map[string]string{"DIALERD_MAIL_FAXTOEMAIL_MAX_AGE": "-1m"}, "mail.faxtoemail_max_age"},
		{"faxtoemail max age too long", []string{"--mail.faxtoemail_max_age", "721h"}, nil, "mail.faxtoemail_max_age"},
		{"faxtoemail max age no duration", nil, map[string]string{"DIALERD_MAIL_FAXTOEMAIL_MAX_AGE": "a day"}, "mail.faxtoemail_max_age"},
		{"negative max documents", []string{"--mail.in.max_documents", "-1"}, nil, "mail.in.max_documents"},
		{"max documents no number", nil, map[string]string{"DIALERD_MAIL_IN_MAX_DOCUMENTS": "ten"}, "mail.in.max_documents"},
		{"tiny header limit", nil, map[string]string{"DIALERD_MAIL_IN_MAX_HEADER_BYTES": "100"}, "mail.in.max_header_bytes"},
		{"tiny text limit", []string{"--config", write("text.yaml", "mail:\n  in:\n    max_text_bytes: 10\n")}, nil, "mail.in.max_text_bytes"},
	} {
		_, err := loadConfig(tc.args, envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to name %q", tc.name, err, tc.want)
		}
	}
}

// TestExampleConfigHasEveryKey keeps configs/dialerd.yaml complete: it must
// load cleanly, set every key, and set each to its default.
func TestExampleConfigHasEveryKey(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "dialerd.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"--config", path}, envOf(nil))
	if err != nil {
		t.Fatalf("example config does not load: %v", err)
	}
	def := defaultConfig()
	for i, k := range cfg.keys() {
		var node any = tree
		for _, part := range strings.Split(k.path, ".") {
			m, _ := node.(map[string]any)
			node = m[part]
		}
		if node == nil && k.path != "admin.password" {
			t.Errorf("configs/dialerd.yaml lacks key %s", k.path)
		}
		if got, want := k.v.Interface(), def.keys()[i].v.Interface(); got != want {
			t.Errorf("configs/dialerd.yaml sets %s to %v, the default is %v", k.path, got, want)
		}
	}
}
