package esltest_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/esl/esltest"
)

// TestFixturesParse reads every transcript with ReadFrame: all frames must
// parse, Content-Length must account for every byte, event bodies must
// parse with their nested Content-Length exact, and re-encoding a frame must
// give back FreeSWITCH's bytes.
func TestFixturesParse(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			items := loadTranscript(t, name)
			frames, events := 0, 0
			for i, it := range items {
				if it.command != "" {
					continue
				}
				frames++
				if got := it.frame.Bytes(); !bytes.Equal(got, it.raw) {
					t.Errorf("item %d: re-encoded frame differs:\n got %q\nwant %q", i, got, it.raw)
				}
				if cl := it.frame.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(it.frame.Body)) {
					t.Errorf("item %d: Content-Length %s, body %d bytes", i, cl, len(it.frame.Body))
				}
				if it.frame.ContentType() != "text/event-plain" {
					continue
				}
				ev, err := esltest.ParseEventPlain(it.frame.Body)
				if err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
				events++
				if ev.Name() == "BACKGROUND_JOB" {
					if cl := ev.Get("Content-Length"); cl != fmt.Sprint(len(ev.Body)) || len(ev.Body) == 0 {
						t.Errorf("BACKGROUND_JOB: Content-Length %s, body %q", cl, ev.Body)
					}
				}
			}
			if frames == 0 || events == 0 {
				t.Fatalf("parsed %d frames, %d events", frames, events)
			}
		})
	}
}

// transcriptItem is one element of a fixture transcript: a client command
// (with real newlines) or a server frame with its exact bytes.
type transcriptItem struct {
	command string
	frame   esltest.Frame
	raw     []byte
}

const fixtureDir = "../testdata/fixtures"

// loadTranscript splits a fixture into commands and frames. The ">>> "
// lines are recognised only at frame boundaries: after a body without a
// final newline ("false") the marker starts mid-line.
func loadTranscript(t testing.TB, name string) []transcriptItem {
	t.Helper()
	return loadTranscriptIn(t, name, "")
}

// loadTranscriptIn loads a transcript with /tmp/esl-capture replaced by
// dir, a path of the same length (or left alone when dir is "").
func loadTranscriptIn(t testing.TB, name, dir string) []transcriptItem {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if dir != "" {
		data = bytes.ReplaceAll(data, []byte("/tmp/esl-capture"), []byte(dir))
	}
	var items []transcriptItem
	for len(data) > 0 {
		if rest, ok := bytes.CutPrefix(data, []byte(">>> ")); ok {
			line, after, found := bytes.Cut(rest, []byte("\n"))
			if !found {
				t.Fatalf("%s: unterminated command line", name)
			}
			items = append(items, transcriptItem{command: strings.ReplaceAll(string(line), `\n`, "\n")})
			data = after
			continue
		}
		r := bytes.NewReader(data)
		br := bufio.NewReader(r)
		f, err := esltest.ReadFrame(br)
		if err != nil {
			t.Fatalf("%s: frame %d: %v", name, len(items), err)
		}
		n := len(data) - r.Len() - br.Buffered()
		items = append(items, transcriptItem{frame: f, raw: data[:n]})
		data = data[n:]
	}
	return items
}

func fixtureNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}
