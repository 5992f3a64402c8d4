package media

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ErrNoEspeak is NewEspeak's error when the espeak-ng binary is not there:
// voicetts cannot go to a SIP trunk without it.
var ErrNoEspeak = errors.New("espeak-ng not found: install the Debian package espeak-ng")

// ErrSpeech is the error of a text espeak-ng could not render: the
// content's fault, not the route's.
var ErrSpeech = errors.New("media: espeak-ng could not render the text")

// Defaults of EspeakOptions. A rendering runs before the call's INVITE, so
// it must stay short; espeak-ng renders a 4,000 byte text in well under a
// second.
const (
	DefaultEspeakTimeout = 20 * time.Second
	DefaultEspeakJobs    = 2
	// maxSpeechBytes bounds espeak-ng's WAV: 4,000 bytes of text speak for
	// about five minutes, 13 MB at 22,050 Hz; an hour is far beyond it.
	maxSpeechBytes = 256 << 20
)

var (
	espeakLanguage = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,3})?$`)
	espeakVariant  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// EspeakOptions configure an Espeak.
type EspeakOptions struct {
	// Path is the espeak-ng binary; "" looks up espeak-ng in PATH.
	Path string
	// CacheDir keeps the renderings (created when missing).
	CacheDir string
	// Timeout bounds one rendering (DefaultEspeakTimeout when 0).
	Timeout time.Duration
	// Jobs is how many renderings run at once (DefaultEspeakJobs when 0).
	Jobs int
	// CacheMaxBytes bounds the renderings kept, in bytes (0: unbounded);
	// CacheMaxAge evicts one unused for longer (0: kept while there is
	// room). See Sweep.
	CacheMaxBytes int64
	CacheMaxAge   time.Duration
	// SweepFailed is told of a background sweep that failed (it is tried
	// again at the next rendering); nil: not told.
	SweepFailed func(error)
}

// Espeak renders texts to telephony WAV (8 kHz 16-bit mono) with
// espeak-ng, once per text, voice and language: a rendering lives in
// CacheDir under the SHA-256 of what made it, as the store keeps media by
// content, and a campaign that speaks one text to every callee renders it
// once. Concurrent requests for the same rendering wait for one run.
type Espeak struct {
	path    string
	dir     string
	timeout time.Duration
	jobs    chan struct{}

	// languages and variants espeak-ng lists (--voices, --voices=variant),
	// lower case; nil when it could not list them (nothing is checked).
	languages, variants map[string]bool

	mu      sync.Mutex
	running map[string]*rendering
	cache   speechCache // guarded by mu
}

type rendering struct {
	done chan struct{}
	err  error
}

// NewEspeak finds the espeak-ng binary (ErrNoEspeak without one) and
// creates the cache directory.
func NewEspeak(o EspeakOptions) (*Espeak, error) {
	path, err := exec.LookPath(cmp.Or(o.Path, "espeak-ng"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoEspeak, err)
	}
	if o.CacheDir == "" {
		return nil, errors.New("media: espeak-ng needs a cache directory")
	}
	if err := os.MkdirAll(o.CacheDir, 0o750); err != nil {
		return nil, fmt.Errorf("media: speech cache: %w", err)
	}
	e := &Espeak{
		path:    path,
		dir:     o.CacheDir,
		timeout: cmp.Or(o.Timeout, DefaultEspeakTimeout),
		jobs:    make(chan struct{}, cmp.Or(o.Jobs, DefaultEspeakJobs)),
		running: map[string]*rendering{},
		cache: speechCache{maxBytes: o.CacheMaxBytes, maxAge: o.CacheMaxAge, now: time.Now, failed: o.SweepFailed,
			held: map[string]int{}, used: map[string]time.Time{}},
	}
	e.languages, e.variants = e.listVoices()
	// What an earlier run left is bounded before anything is spoken.
	if _, err := e.Sweep(context.Background()); err != nil {
		return nil, err
	}
	return e, nil
}

// listVoices reads the languages and variants espeak-ng has, once: a
// program is checked against them when it is written (CheckVoice), so an
// unknown language is a 412 rather than a failed campaign.
func (e *Espeak) listVoices() (languages, variants map[string]bool) {
	list := func(arg string, col func(fields []string) []string) map[string]bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, e.path, arg).Output()
		if err != nil {
			return nil
		}
		set := map[string]bool{}
		for i, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); i > 0 && len(f) >= 5 {
				for _, v := range col(f) {
					set[strings.ToLower(v)] = true
				}
			}
		}
		if len(set) == 0 {
			return nil
		}
		return set
	}
	languages = list("--voices", func(f []string) []string {
		out := []string{f[1]}
		for _, o := range f[5:] { // "(en 2)": other languages the voice speaks
			if l := strings.TrimPrefix(o, "("); l != o {
				out = append(out, l)
			}
		}
		return out
	})
	variants = list("--voices=variant", func(f []string) []string {
		return []string{filepath.Base(f[len(f)-1])} // !v/f3: spoken as +f3
	})
	return languages, variants
}

// CheckVoice reports whether espeak-ng has the language (a tag such as
// en-US; "" is en) and the voice variant ("" is none), naming the field
// ("language" or "voice") it lacks. When espeak-ng could not list its
// voices nothing is refused: the rendering says.
func (e *Espeak) CheckVoice(language, voice string) (field string, err error) {
	if _, ok := EspeakVoice(language, voice); !ok {
		return "language", fmt.Errorf("%w: language %q or voice %q is not an espeak-ng voice name", ErrSpeech, language, voice)
	}
	if lang := strings.ToLower(cmp.Or(language, "en")); e.languages != nil && !e.languages[lang] {
		return "language", fmt.Errorf("%w: espeak-ng has no language %q (espeak-ng --voices lists them)", ErrSpeech, language)
	}
	if voice != "" && e.variants != nil && !e.variants[strings.ToLower(voice)] {
		return "voice", fmt.Errorf("%w: espeak-ng has no voice variant %q (espeak-ng --voices=variant lists them)", ErrSpeech, voice)
	}
	return "", nil
}

// EspeakVoice is espeak-ng's -v argument for a program's language (a tag
// such as en or en-US; "" is en) and voice (a variant such as f3 or klatt;
// "" is the language's default). ok is false for what is neither.
func EspeakVoice(language, voice string) (v string, ok bool) {
	lang := strings.ToLower(cmp.Or(language, "en"))
	if !espeakLanguage.MatchString(lang) || (voice != "" && !espeakVariant.MatchString(voice)) {
		return "", false
	}
	if voice != "" {
		lang += "+" + voice
	}
	return lang, true
}

// Speak renders text (already normalised and checked by the caller) in
// the voice of language and voice, and returns the path of its 8 kHz
// 16-bit mono WAV. A text espeak-ng refuses (an unknown language, a failed
// run, no audio) wraps ErrSpeech; ctx ending first gives ctx's error. The
// file is kept for at least speechGrace after Speak returns; a caller that
// reads it later uses Hold.
func (e *Espeak) Speak(ctx context.Context, text, voice, language string) (string, error) {
	path, release, err := e.Hold(ctx, text, voice, language)
	if err != nil {
		return "", err
	}
	release()
	return path, nil
}

// Hold is Speak for a caller that reads the file later: the cache does not
// evict it until release is called (once; more calls do nothing).
func (e *Espeak) Hold(ctx context.Context, text, voice, language string) (path string, release func(), err error) {
	v, ok := EspeakVoice(language, voice)
	if !ok {
		return "", nil, fmt.Errorf("%w: language %q or voice %q is not an espeak-ng voice name", ErrSpeech, language, voice)
	}
	sum := sha256.Sum256([]byte("espeak-ng\x00" + v + "\x00" + text))
	h := hex.EncodeToString(sum[:])
	path = filepath.Join(e.dir, h[:2], h+".wav")
	for {
		// The look and the hold are one step under mu, as is an eviction:
		// a file found here is not removed before it is held.
		e.mu.Lock()
		if _, err := os.Stat(path); err == nil {
			release = e.holdLocked(h)
			e.mu.Unlock()
			e.sweepSoon(false)
			return path, release, nil
		}
		r, busy := e.running[h]
		if !busy {
			r = &rendering{done: make(chan struct{})}
			e.running[h] = r
		}
		e.mu.Unlock()
		if busy {
			select {
			case <-r.done:
			case <-ctx.Done():
				return "", nil, ctx.Err()
			}
			if r.err != nil {
				return "", nil, r.err
			}
			continue // rendered: the file is there
		}
		r.err = e.render(ctx, text, v, path)
		e.mu.Lock()
		delete(e.running, h)
		if r.err == nil {
			release = e.holdLocked(h)
		}
		e.mu.Unlock()
		close(r.done)
		if r.err != nil {
			return "", nil, r.err
		}
		e.sweepSoon(true)
		return path, release, nil
	}
}

// render runs espeak-ng once and puts its output, converted, at path.
func (e *Espeak) render(ctx context.Context, text, voice, path string) error {
	select {
	case e.jobs <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.jobs }()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("media: speech cache: %w", err)
	}
	scratch, err := os.MkdirTemp(e.dir, ".speak-")
	if err != nil {
		return fmt.Errorf("media: speech scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	raw := filepath.Join(scratch, "espeak.wav")

	runCtx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	// The text goes on stdin, never on the command line, so nothing in it
	// can be read as an option; -b 1 reads it as UTF-8, and without -m
	// espeak-ng speaks markup rather than obeying it.
	cmd := exec.CommandContext(runCtx, e.path, "-b", "1", "-v", voice, "-w", raw, "--stdin")
	cmd.Stdin = strings.NewReader(text)
	cmd.Dir = scratch
	cmd.Env = []string{"HOME=" + scratch}
	stderr := &limitedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case runCtx.Err() != nil:
		return fmt.Errorf("%w: took longer than %s", ErrSpeech, e.timeout)
	case runErr != nil:
		var exit *exec.ExitError
		if !errors.As(runErr, &exit) {
			return fmt.Errorf("media: running espeak-ng: %w", runErr)
		}
		return fmt.Errorf("%w (voice %s): %s", ErrSpeech, voice, truncate(strings.TrimSpace(string(stderr.Bytes())), 160))
	}
	src, err := os.Open(raw)
	if err != nil {
		return fmt.Errorf("%w: no output: %w", ErrSpeech, err)
	}
	defer src.Close()
	var out bytes.Buffer
	info, err := ConvertToTelephonyWAV(src, &out, maxSpeechBytes)
	if err != nil {
		return fmt.Errorf("%w: its output: %w", ErrSpeech, err)
	}
	if info.Duration <= 0 {
		return fmt.Errorf("%w: no audio", ErrSpeech)
	}
	tmp := filepath.Join(scratch, "telephony.wav")
	if err := os.WriteFile(tmp, out.Bytes(), 0o640); err != nil {
		return fmt.Errorf("media: speech cache: %w", err)
	}
	// Same file system: the rename puts a whole file in place or nothing.
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("media: speech cache: %w", err)
	}
	return nil
}
