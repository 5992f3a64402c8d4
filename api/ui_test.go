package api

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLivePageServed: GET / and its assets are served with their types, a
// CSP that allows this origin only, and revalidation by ETag; nothing else
// under /ui/ is.
func TestLivePageServed(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ path, ctype, has string }{
		{"/", "text/html; charset=utf-8", `<script src="/ui/app.js" defer></script>`},
		{"/ui/app.js", "text/javascript; charset=utf-8", "sessionStorage"},
		{"/ui/style.css", "text/css; charset=utf-8", "progress"},
	} {
		res, err := http.Get(e.http.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != tc.ctype || !strings.Contains(body, tc.has) {
			t.Errorf("GET %s: %d %q, body has %q: %v", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.has, strings.Contains(body, tc.has))
		}
		for h, want := range map[string]string{
			"Content-Security-Policy": uiCSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-cache",
		} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("GET %s: %s %q, want %q", tc.path, h, got, want)
			}
		}
		// Revalidation answers 304 without the body.
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+tc.path, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b := readAll(t, res2); res2.StatusCode != http.StatusNotModified || b != "" {
			t.Errorf("GET %s with its ETag: %d %q", tc.path, res2.StatusCode, b)
		}
	}
	for _, p := range []string{"/ui/nothing.js", "/ui/..%2fui.go", "/ui/"} {
		res, err := http.Get(e.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
	if !strings.Contains(uiCSP, "default-src 'self'") || strings.Contains(uiCSP, "unsafe") || strings.Contains(uiCSP, "*") {
		t.Errorf("CSP %q must allow this origin only", uiCSP)
	}
}

// TestLivePageHasNoInlineCode: the CSP forbids inline script and style, so
// the page must have none, nor load anything from another origin.
func TestLivePageHasNoInlineCode(t *testing.T) {
	assets, err := uiAssets()
	if err != nil {
		t.Fatal(err)
	}
	page := string(assets["index.html"].body)
	for _, bad := range []string{"<script>", "style=", "onclick=", "onload=", "onsubmit=", "http://", "https://", "//cdn"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html has %q", bad)
		}
	}
	js := string(assets["app.js"].body)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage.", "http://", "https://"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %q", bad)
		}
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
