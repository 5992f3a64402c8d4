package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// A FreeSWITCH node on another host cannot open dialerd's files, so it
// plays a recording from a URL: GET /media/<content hash>.wav with an expiry
// and an HMAC signature, made by MediaSigner. The URL is the credential; it
// names one file, for a limited time, and needs no token.

// MediaSigner makes and checks signed media URLs.
type MediaSigner struct {
	key  []byte // HMAC-SHA256 key
	base string // how the nodes reach this API, e.g. http://10.0.0.2:8000
	ttl  time.Duration
	now  func() time.Time
}

// NewMediaSigner signs with key (at least 32 bytes); base is the API's URL
// as FreeSWITCH nodes reach it; a URL stays valid for ttl.
func NewMediaSigner(key []byte, base string, ttl time.Duration, now func() time.Time) (*MediaSigner, error) {
	if len(key) < 32 {
		return nil, errors.New("api: media URL key must be at least 32 bytes")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("api: media base URL %q is not http(s)://host[:port][/path]", base)
	}
	if now == nil {
		now = time.Now
	}
	return &MediaSigner{key: key, base: strings.TrimSuffix(base, "/"), ttl: ttl, now: now}, nil
}

// contentHash is what a media file is named by: sha256 in hex.
var contentHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// URLForPath is the signed URL of the recording at path, a file of the
// store's media directory named <content hash>.wav.
func (m *MediaSigner) URLForPath(path string) (string, error) {
	hash, ok := strings.CutSuffix(filepath.Base(path), ".wav")
	if !ok || !contentHash.MatchString(hash) {
		return "", fmt.Errorf("%q is not a media file of the store", path)
	}
	exp := m.now().Add(m.ttl).Unix()
	return fmt.Sprintf("%s/media/%s.wav?exp=%d&sig=%s", m.base, hash, exp, m.sign(hash, exp)), nil
}

func (m *MediaSigner) sign(hash string, exp int64) string {
	mac := hmac.New(sha256.New, m.key)
	fmt.Fprintf(mac, "media|%s|%d", hash, exp)
	return hex.EncodeToString(mac.Sum(nil))
}

// valid checks a URL's signature and expiry in constant time.
func (m *MediaSigner) valid(hash, expRaw, sig string) bool {
	exp, err := strconv.ParseInt(expRaw, 10, 64)
	if err != nil || m.now().Unix() > exp {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(m.sign(hash, exp)))
}

// mediaFiles is what serving media needs of the store.
type mediaFiles interface {
	Open(hash, ext string) (*os.File, error)
}

// serveSignedMedia is GET /media/:name, name being <hash>.wav.
func (s *Server) serveSignedMedia(c *gin.Context) {
	hash, ok := strings.CutSuffix(c.Param("name"), ".wav")
	if s.deps.Media == nil || s.deps.MediaFiles == nil {
		s.fail(c, dialer.NotFound("media file"))
		return
	}
	if !ok || !contentHash.MatchString(hash) || !s.deps.Media.valid(hash, c.Query("exp"), c.Query("sig")) {
		c.AbortWithStatusJSON(http.StatusForbidden, ictcoreError{Error: ictcoreErrorBody{
			Code: http.StatusForbidden, Message: "media URL signature invalid or expired"}})
		return
	}
	f, err := s.deps.MediaFiles.Open(hash, "wav")
	if err != nil {
		s.fail(c, dialer.NotFound("media file"))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Type", "audio/wav")
	c.Header("Cache-Control", "private, max-age=300")
	http.ServeContent(c.Writer, c.Request, hash+".wav", st.ModTime(), f)
}
