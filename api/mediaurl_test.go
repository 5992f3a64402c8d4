package api

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/store"
)

func TestSignedMediaURLs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	files, err := store.OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Now()}
	signer, err := NewMediaSigner(bytes.Repeat([]byte("m"), 32), "http://10.0.0.2:8000/", time.Hour, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	var msgs *store.Messages
	e := newEnv(t, func(d *Deps) {
		msgs = store.NewMessages(d.Users.(*store.DB), files)
		d.Messages = msgs
		d.Media, d.MediaFiles = signer, files
	})

	// A recording, uploaded: its telephony WAV is what nodes fetch.
	r := e.expect(e.do("POST", "/messages/recordings", e.admin, map[string]string{"name": "greeting"}), 200)
	var created struct {
		ID int64 `json:"recording_id"`
	}
	json.Unmarshal(r.Body, &created)
	e.expect(e.do("PUT", "/messages/recordings/"+strconv.FormatInt(created.ID, 10)+"/media", e.admin, testWAV(8000, 1, 0.5), "Content-Type", "audio/wav"), 200)
	var stored []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored = append(stored, p)
		}
		return nil
	})
	// Before: files were stored as <sha256> and URLForPath signed any such
	// name. After: the telephony WAV is <sha256>.wav, and so is the URL.
	tenant, err := e.db.DefaultTenant(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := msgs.Recording(t.Context(), tenant.ID, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, rec.TelephonyHash[:2], rec.TelephonyHash+".wav")
	if !slices.Contains(stored, file) {
		t.Fatalf("stored %v, want %s among them", stored, file)
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	u, err := signer.URLForPath(file)
	if err != nil || !strings.HasPrefix(u, "http://10.0.0.2:8000/media/"+filepath.Base(file)+"?exp=") {
		t.Fatalf("URL %q, %v", u, err)
	}
	path := strings.TrimPrefix(u, "http://10.0.0.2:8000")
	got := e.expect(e.do("GET", path, "", nil), 200)
	if !bytes.Equal(got.Body, want) || got.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("served %d bytes (%s), want the file's %d", len(got.Body), got.Header.Get("Content-Type"), len(want))
	}

	tampered := path[:len(path)-1] + map[bool]string{true: "0", false: "1"}[!strings.HasSuffix(path, "0")]
	other, _ := signer.URLForPath(filepath.Join(dir, "ab", strings.Repeat("ab", 32)+".wav"))
	for name, tc := range map[string]struct {
		path   string
		status int
	}{
		"tampered signature":  {tampered, http.StatusForbidden},
		"no signature":        {"/media/" + filepath.Base(file), http.StatusForbidden},
		"not a hash":          {"/media/not-a-hash.wav?exp=9999999999&sig=x", http.StatusForbidden},
		"a path (no route)":   {"/media/..%2F..%2Fdialerd.db.wav?exp=1&sig=x", http.StatusNotFound},
		"signed, but no file": {strings.TrimPrefix(other, "http://10.0.0.2:8000"), http.StatusNotFound},
		"sig of another file": {"/media/" + strings.Repeat("ab", 32) + ".wav" + path[strings.Index(path, "?"):], http.StatusForbidden},
	} {
		if r := e.do("GET", tc.path, "", nil); r.Status != tc.status {
			t.Errorf("%s: status %d, want %d", name, r.Status, tc.status)
		}
	}
	clock.Add(2 * time.Hour)
	e.expect(e.do("GET", path, "", nil), http.StatusForbidden)

	for _, p := range []string{"/etc/passwd", strings.TrimSuffix(file, ".wav"), strings.TrimSuffix(file, ".wav") + ".mp3"} {
		if _, err := signer.URLForPath(p); err == nil {
			t.Errorf("%s was signed: only a store's .wav is played", p)
		}
	}
	if _, err := NewMediaSigner(bytes.Repeat([]byte("m"), 32), "ftp://x", time.Hour, nil); err == nil {
		t.Error("a non-http base was accepted")
	}
}
