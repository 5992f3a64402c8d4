package api

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// The live page: GET / is a small HTML page (api/ui/) to log in, watch
// campaigns over /ws, start and stop them, and see trunk and node health.
// It is plain HTML, CSS and one script embedded in the binary: no build
// step, nothing fetched from elsewhere.

//go:embed ui
var uiFiles embed.FS

// uiCSP allows this origin only: no inline script or style, no other host,
// no framing (so no clickjacking of the start/stop buttons).
const uiCSP = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'"

// uiAsset is one embedded file, ready to serve.
type uiAsset struct {
	body        []byte
	contentType string
	etag        string
}

// uiAssets reads the embedded files once, at New.
func uiAssets() (map[string]uiAsset, error) {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	assets := map[string]uiAsset{}
	err := fs.WalkDir(uiFiles, "ui", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := uiFiles.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets[path.Base(name)] = uiAsset{body: body, contentType: types[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return assets, err
}

// uiRoutes serves GET / and GET /ui/{file}.
func (s *Server) uiRoutes(e *gin.Engine) {
	assets, err := uiAssets()
	if err != nil {
		panic("api: embedded page: " + err.Error()) // the files are compiled in: this cannot fail at run time
	}
	serve := func(c *gin.Context, name string) {
		a, ok := assets[name]
		if !ok || a.contentType == "" {
			s.fail(c, dialer.NotFound("route "+c.Request.URL.Path))
			return
		}
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// Revalidated on every load, so an upgraded daemon's page is used at once.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if c.GetHeader("If-None-Match") == a.etag {
			c.Status(http.StatusNotModified)
			return
		}
		c.Data(http.StatusOK, a.contentType, a.body)
	}
	e.GET("/", func(c *gin.Context) { serve(c, "index.html") })
	e.GET("/ui/:file", func(c *gin.Context) {
		if c.Param("file") == "index.html" {
			c.Redirect(http.StatusMovedPermanently, "/")
			return
		}
		serve(c, c.Param("file"))
	})
}

// uiDocs documents the page's routes in /openapi.json.
func uiDocs() []routeDoc {
	return []routeDoc{
		{"GET", "/", "Service", "The live page (HTML): log in, campaigns with live progress from /ws, start/stop, trunk and node health", noToken, nil, pageText("text/html")},
		{"GET", "/ui/:file", "Service", "The live page's script, style sheet and icon (app.js, style.css, icon.svg)", noToken, nil, pageText("text/javascript text/css image/svg+xml")},
	}
}

// pageText is a text body of one of the media types it names (space-separated).
type pageText string

func (p pageText) content() map[string]any {
	c := map[string]any{}
	for _, t := range strings.Fields(string(p)) {
		c[t] = map[string]any{"schema": map[string]any{"type": "string"}}
	}
	return c
}
