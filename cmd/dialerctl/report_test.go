package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReportPassthrough: a daemon that serves GET /campaigns/{id}/report
// has its CSV written as it came, asked for with the token and as CSV.
func TestReportPassthrough(t *testing.T) {
	const body = "number,outcome\n'+15552000001,answered\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"error":{"code":401,"message":"no token"}}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/campaigns/7":
			w.Write([]byte(`{"campaign_id":7,"group_id":1,"status":"completed"}`))
		case "/campaigns/7/report":
			if r.URL.Query().Get("format") != "csv" || r.Header.Get("Accept") != "text/csv" {
				http.Error(w, "want csv", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "text/csv")
			w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &cli{t: t, configDir: t.TempDir(), env: map[string]string{"DIALERCTL_TOKEN": "tok", "DIALERCTL_SERVER": srv.URL}}
	r := c.must(0, "", "report", "7", "--csv")
	if r.stdout != body || r.stderr != "" {
		t.Errorf("report: stdout %q stderr %q, want the CSV as served", r.stdout, r.stderr)
	}
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"NORMAL":        "NORMAL",
		"+15552000001":  "'+15552000001",
		"=HYPERLINK(1)": "'=HYPERLINK(1)",
		"-1":            "'-1",
		"@x":            "'@x",
		"\tx":           "'\tx",
		"'=x":           "''=x",
		"'x":            "'x",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormaliseServer(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8000":          "http://127.0.0.1:8000",
		"http://h:1/":             "http://h:1",
		"https://h/dialer/":       "https://h/dialer",
		"ftp://h":                 "",
		"http://u:p@h":            "",
		"http://h/?token=x":       "",
		"  http://localhost:8000": "http://localhost:8000",
	} {
		got, err := normaliseServer(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("normaliseServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if !strings.HasPrefix(defaultServer, "http://") {
		t.Error(defaultServer)
	}
}

func TestSecureTransport(t *testing.T) {
	for server, want := range map[string]bool{
		"http://127.0.0.1:8000": true, "http://localhost:8000": true, "http://[::1]:8000": true,
		"https://dialer.example": true, "http://dialer.example": false, "http://10.0.0.5:8000": false,
	} {
		if got := secureTransport(server); got != want {
			t.Errorf("secureTransport(%q) = %v, want %v", server, got, want)
		}
	}
}
