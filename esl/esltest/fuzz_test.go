package esltest_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/dialerd/dialerd/esl/esltest"
)

// FuzzReadFrame feeds arbitrary bytes to ReadFrame and the event parsers.
// They must never panic, every frame they accept must account for its
// Content-Length exactly, and re-encoding an accepted frame must read back
// the same.
func FuzzReadFrame(f *testing.F) {
	for _, name := range fixtureNames(f) {
		for _, it := range loadTranscript(f, name) {
			if it.command == "" {
				f.Add(it.raw)
			}
		}
	}
	for _, seed := range []string{
		"",
		"\n",
		"Content-Type: auth/request\n\n",
		"Content-Length: 5\n\nfalseContent-Type: command/reply\nReply-Text: +OK\n\n",
		"Content-Length: -1\n\n",
		"Content-Length: 99999999999\n\n",
		"Content-Length: 3\nContent-Length: 4\n\nabcd",
		"Content-Type: text/event-plain\nContent-Length: 40\n\nEvent-Name: X\nContent-Length: 99\n\nshort",
		"Content-Type: text/event-json\nContent-Length: 14\n\n{\"_body\":[1]}",
		"X: a\r\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		for {
			fr, err := esltest.ReadFrame(br)
			if err != nil {
				if errors.Is(err, io.EOF) && br.Buffered() != 0 {
					t.Fatalf("EOF with %d bytes unread", br.Buffered())
				}
				return
			}
			checkFrame(t, fr)
		}
	})
}

func checkFrame(t *testing.T, fr esltest.Frame) {
	t.Helper()
	if len(fr.Headers) == 0 || len(fr.Headers) > esltest.MaxHeaders {
		t.Fatalf("accepted a frame with %d headers", len(fr.Headers))
	}
	if cl := fr.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err != nil || n != len(fr.Body) {
			t.Fatalf("Content-Length %q with a %d-byte body", cl, len(fr.Body))
		}
	} else if len(fr.Body) != 0 {
		t.Fatalf("body without Content-Length")
	}
	again, err := esltest.ReadFrame(bufio.NewReader(bytes.NewReader(fr.Bytes())))
	if err != nil {
		t.Fatalf("re-reading %q: %v", fr.Bytes(), err)
	}
	if !bytes.Equal(again.Bytes(), fr.Bytes()) {
		t.Fatalf("round trip changed the frame:\n%q\n%q", fr.Bytes(), again.Bytes())
	}
	switch fr.ContentType() {
	case "text/event-plain":
		ev, err := esltest.ParseEventPlain(fr.Body)
		if err == nil && ev.Has("Content-Length") {
			if n, err := strconv.Atoi(ev.Get("Content-Length")); err != nil || n != len(ev.Body) {
				t.Fatalf("event Content-Length %q with a %d-byte body", ev.Get("Content-Length"), len(ev.Body))
			}
		}
	case "text/event-json":
		_, _ = esltest.ParseEventJSON(fr.Body)
	}
}
