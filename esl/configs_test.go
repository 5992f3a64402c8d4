package esl

import (
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// TestFreeSwitchConfigs keeps configs/freeswitch well-formed XML, its
// event socket on dialerd's defaults, and its switch.conf limits on the
// PBX profile's defaults.
func TestFreeSwitchConfigs(t *testing.T) {
	root := filepath.Join("..", "configs", "freeswitch")
	params := map[string]string{}
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".xml") {
			return err
		}
		n++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := xml.NewDecoder(f)
		for {
			tok, err := dec.Token()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				t.Errorf("%s: %v", path, err)
				return nil
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "load" {
				for _, a := range se.Attr {
					if a.Name.Local == "module" {
						params[filepath.Base(path)+":load:"+a.Value] = "yes"
					}
				}
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "param" {
				var name, value string
				for _, a := range se.Attr {
					switch a.Name.Local {
					case "name":
						name = a.Value
					case "value":
						value = a.Value
					}
				}
				params[filepath.Base(path)+":"+name] = value
			}
		}
	})
	if err != nil || n < 4 {
		t.Fatalf("%d files: %v", n, err)
	}
	for key, want := range map[string]string{
		"event_socket.conf.xml:listen-port":           strconv.Itoa(dialer.DefaultFreeSwitchPort),
		"event_socket.conf.xml:password":              dialer.DefaultFreeSwitchPassword,
		"switch.conf.snippet.xml:sessions-per-second": strconv.Itoa(dialer.DefaultFreeSwitchSPS),
		"switch.conf.snippet.xml:max-sessions":        strconv.Itoa(dialer.DefaultFreeSwitchSessions),
		"dialerd-trunk.xml:caller-id-in-from":         "true",
		// The call records of recovery (record.go) live in mod_hash.
		"modules.conf.snippet.xml:load:mod_hash":    "yes",
		"modules.conf.snippet.xml:load:mod_sndfile": "yes",
		"modules.conf.snippet.xml:load:mod_spandsp": "yes",
	} {
		if params[key] != want {
			t.Errorf("%s = %q, want %q", key, params[key], want)
		}
	}
}
