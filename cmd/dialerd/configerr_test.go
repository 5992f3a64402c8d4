package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigErrorMessages: each bad input, from the file, the environment
// and the flags, and the one line dialerd answers it with: where the value
// came from, the full key, and what is wrong. Before, a nested unknown key
// printed ~1,500 characters of Go struct, a wrong type named no key and a
// misspelt variable was ignored.
func TestConfigErrorMessages(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		f, err := os.CreateTemp(dir, "*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(body); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return f.Name()
	}
	empty := file("")
	for _, tc := range []struct {
		name    string
		args    []string
		environ []string
		want    string // the whole message; FILE stands for the file's path
	}{
		{"unknown nested key", []string{"--config", file("engine:\n  ring_timeout: 30s\n  ringtimeout: 5s\n")}, nil,
			"config file FILE line 3: config key engine.ringtimeout: unknown (did you mean engine.ring_timeout?)"},
		{"unknown top key", []string{"--config", file("listne: 127.0.0.1:1\n")}, nil,
			"config file FILE line 1: config key listne: unknown (did you mean listen?)"},
		{"unknown section", []string{"--config", file("smtpd:\n  host: x\n")}, nil,
			"config file FILE line 1: config key smtpd: unknown (dialerd help lists every key)"},
		{"wrong type integer", []string{"--config", file("engine:\n  provider_cps: fast\n")}, nil,
			`config file FILE line 2: config key engine.provider_cps: "fast" is not an integer`},
		{"wrong type duration", []string{"--config", file("engine:\n  ring_timeout: 30\n")}, nil,
			`config file FILE line 2: config key engine.ring_timeout: "30" is not a duration such as 30s or 24h`},
		{"section is a value", []string{"--config", file("engine: 5\n")}, nil,
			`config file FILE line 1: config key engine: must be a mapping of keys (key: value lines), not the value "5"`},
		{"leaf is a mapping", []string{"--config", file("log:\n  level:\n    x: 1\n")}, nil,
			"config file FILE line 3: config key log.level: must be a single value, not a mapping"},
		{"leaf is a list", []string{"--config", file("listen: [a, b]\n")}, nil,
			"config file FILE line 1: config key listen: must be a single value, not a list"},
		{"key twice", []string{"--config", file("log:\n  level: info\n  level: debug\n")}, nil,
			"config file FILE line 3: config key log.level: given twice (lines 2 and 3)"},
		{"file is a list", []string{"--config", file("- a\n")}, nil,
			"config file FILE line 1: the file must be a mapping of keys (key: value lines), not a list"},
		{"two documents", []string{"--config", file("listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n")}, nil,
			"config file FILE line 2: a second YAML document (---); dialerd reads one"},
		{"bad value in file", []string{"--config", file("log:\n  level: loud\n")}, nil,
			`config key log.level: "loud" is not debug, info, warn or error`},
		{"misspelt variable", nil, []string{"DIALERD_ENGINE_RINGTIMEOUT=5s"},
			"environment DIALERD_ENGINE_RINGTIMEOUT: no such configuration variable (did you mean DIALERD_ENGINE_RING_TIMEOUT?)"},
		{"unknown variable", nil, []string{"DIALERD_SOMETHING_ELSE_ENTIRELY=1"},
			"environment DIALERD_SOMETHING_ELSE_ENTIRELY: no such configuration variable (dialerd help lists every variable)"},
		{"wrong type variable", nil, []string{"DIALERD_WS_QUEUE=lots"},
			`environment DIALERD_WS_QUEUE: config key ws.queue: "lots" is not an integer`},
		{"bad value variable", nil, []string{"DIALERD_LOG_FORMAT=xml"},
			`config key log.format: "xml" is not text or json`},
		{"unknown flag", []string{"--listn", "x"}, nil,
			"flag --listn: no such config key (did you mean --listen?)"},
		{"flag without value", []string{"--listen"}, nil,
			"flag --listen: needs a value (--listen VALUE or --listen=VALUE)"},
		{"wrong type flag", []string{"--engine.node_cps=many"}, nil,
			`flag --engine.node_cps: config key engine.node_cps: "many" is not an integer`},
		{"stray argument", []string{"start"}, nil,
			`unexpected argument "start" (settings are --KEY VALUE; dialerd help lists them)`},
		{"config check of a bad file", []string{"config", "check", file("sip:\n  options_intervall: 5s\n")}, nil,
			"config file FILE line 2: config key sip.options_intervall: unknown (did you mean sip.options_interval?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An empty file unless the case names one: never the host's
			// /etc/dialerd/dialerd.yaml.
			environ := append([]string{"DIALERD_DATA_DIR=" + filepath.Join(dir, "data"), "DIALERD_CONFIG=" + empty}, tc.environ...)
			var stdout, stderr bytes.Buffer
			code := runEnviron(tc.args, environ, &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			want := "dialerd: " + tc.want + "\n"
			for _, a := range tc.args {
				if strings.HasPrefix(a, dir) {
					want = strings.ReplaceAll(want, "FILE", a)
				}
			}
			if got := stderr.String(); got != want {
				t.Errorf("stderr\n%q\nwant\n%q", got, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

// TestConfigCheck validates the shipped example without starting anything.
func TestConfigCheck(t *testing.T) {
	var stdout, stderr bytes.Buffer
	path := filepath.Join("..", "..", "configs", "dialerd.yaml")
	dataDir := filepath.Join(t.TempDir(), "never-made")
	if code := runEnviron([]string{"config", "check", path}, []string{"DIALERD_DATA_DIR=" + dataDir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if stdout.String() != path+": ok\n" {
		t.Errorf("stdout %q", stdout.String())
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("config check created the data dir: %v", err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := runEnviron([]string{"config", "check"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: dialerd config check FILE") {
		t.Errorf("no file: exit %d, %q", code, stderr.String())
	}
}

// TestHelpColumnsAligned: the environment and default columns of
// `dialerd help` start at the same place on every key's line.
func TestHelpColumnsAligned(t *testing.T) {
	var out bytes.Buffer
	printHelp(&out)
	cfg := defaultConfig()
	envCol, defCol := -1, -1
	lines := strings.Split(out.String(), "\n")
	for _, k := range cfg.keys() {
		var line string
		for _, l := range lines {
			if strings.HasPrefix(l, "  "+k.path+" ") {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("no line for %s", k.path)
		}
		e := strings.Index(line, k.env())
		d := e + len(k.env())
		for d < len(line) && line[d] == ' ' {
			d++
		}
		if envCol == -1 {
			envCol, defCol = e, d
		}
		if e != envCol || d != defCol {
			t.Errorf("%s: columns at %d and %d, others at %d and %d:\n%s", k.path, e, d, envCol, defCol, line)
		}
	}
}
