package esl

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dialerd/dialerd/esl/esltest"
)

// replayServer plays a transcript captured from a real FreeSWITCH to the
// gateway: on its first connection it sends the captured frames, byte for
// byte, in their captured order; everything the gateway asks that the
// capture answers is answered from it; anything else gets the reply a
// FreeSWITCH would give (heartbeats, mod_hash, the second subscription).
// Later connections (a reconnect after the capture's disconnect) get a
// switch that answers but has no calls.
//
// The capture's commands are gates: frames after a bgapi originate wait
// until the gateway sends the originate with the same origination_uuid
// (its Job-UUID is then written over the capture's, same length), and
// frames after an "api uuid_exists" until the gateway asks it. Replies to
// the capture's other commands (fsctl, uuid_kill, exit) are dropped and
// the events after them flow on.
type replayServer struct {
	t     testing.TB
	ln    net.Listener
	items []replayItem

	mu      sync.Mutex
	conns   int
	cmds    []string
	matched map[int]bool
	jobs    map[string]string // capture Job-UUID -> gateway Job-UUID
	pos     int
	dropped map[int]bool // reply frames not to send
	wake    chan struct{}

	recovering bool
}

type replayItem struct {
	command string // a command the capture's client sent, or ""
	raw     []byte // a frame FreeSWITCH sent
	frame   esltest.Frame
}

func loadReplay(t testing.TB, name string) []replayItem {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	var items []replayItem
	for len(data) > 0 {
		if rest, ok := bytes.CutPrefix(data, []byte(">>> ")); ok {
			line, after, _ := bytes.Cut(rest, []byte("\n"))
			items = append(items, replayItem{command: strings.ReplaceAll(string(line), `\n`, "\n")})
			data = after
			continue
		}
		r := bytes.NewReader(data)
		br := bufio.NewReader(r)
		f, err := esltest.ReadFrame(br)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := len(data) - r.Len() - br.Buffered()
		items = append(items, replayItem{raw: data[:n], frame: f})
		data = data[n:]
	}
	return items
}

// startReplay serves the capture name. With recovering, the capture's
// originates do not hold anything back: they were sent by a process that
// is gone, and their events went to nobody.
func startReplay(t testing.TB, name string, recovering bool) *replayServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &replayServer{t: t, ln: ln, items: loadReplay(t, name), matched: map[int]bool{}, jobs: map[string]string{},
		dropped: map[int]bool{}, wake: make(chan struct{}, 1), recovering: recovering}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			first := s.conns == 1
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				s.serve(nc, first)
			}()
		}
	}()
	return s
}

func (s *replayServer) addr() (string, int) {
	a := s.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func (s *replayServer) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

var originateUUID = regexp.MustCompile(`origination_uuid=([0-9a-f-]{36})`)

// kind is what a command is matched on: "bgapi originate <uuid>",
// "api uuid_exists <uuid>", or its first word(s).
func kind(cmd string) string {
	line, _, _ := strings.Cut(cmd, "\n")
	switch {
	case strings.HasPrefix(line, "bgapi originate "):
		if m := originateUUID.FindStringSubmatch(line); m != nil {
			return "originate " + m[1]
		}
	case strings.HasPrefix(line, "api uuid_exists "):
		return strings.TrimSpace(line)
	case strings.HasPrefix(line, "auth "):
		return "auth"
	case strings.HasPrefix(line, "event "):
		return "event"
	}
	return line
}

func jobOf(cmd string) string {
	for _, l := range strings.Split(cmd, "\n") {
		if v, ok := strings.CutPrefix(l, "Job-UUID: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// gate reports whether a capture command holds back what follows it until
// the gateway sends it.
func (s *replayServer) gate(cmd string) bool {
	k := kind(cmd)
	if strings.HasPrefix(k, "originate ") {
		return !s.recovering
	}
	return strings.HasPrefix(k, "api uuid_exists ") || k == "auth" || k == "event"
}

// replyIndex is the capture's reply to the command at i: the first
// command/reply or api/response frame after it.
func (s *replayServer) replyIndex(i int) int {
	for j := i + 1; j < len(s.items); j++ {
		if s.items[j].command != "" {
			continue
		}
		switch s.items[j].frame.ContentType() {
		case "command/reply", "api/response":
			if !s.dropped[j] {
				return j
			}
		}
	}
	return -1
}

func (s *replayServer) serve(nc net.Conn, first bool) {
	var wmu sync.Mutex
	write := func(b []byte) bool {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := nc.Write(b)
		return err == nil
	}
	reply := func(text string) bool {
		return write(esltest.Frame{Headers: []esltest.Header{{Name: "Content-Type", Value: "command/reply"}, {Name: "Reply-Text", Value: text}}}.Bytes())
	}
	api := func(body string) bool {
		return write([]byte("Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body))
	}
	if !write([]byte("Content-Type: auth/request\n\n")) {
		return
	}
	done := make(chan struct{})
	defer close(done)
	if first {
		go s.stream(nc, write, done)
	}
	br := bufio.NewReader(nc)
	for {
		cmd, err := readCmd(br)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cmds = append(s.cmds, cmd)
		var answer []byte
		k := kind(cmd)
		if first && k != "exit" { // exit is always answered and ends the connection
			for i := s.pos; i < len(s.items); i++ {
				it := s.items[i]
				if it.command == "" || s.matched[i] || kind(it.command) != k {
					continue
				}
				if strings.HasPrefix(k, "originate ") {
					s.jobs[jobOf(it.command)] = jobOf(cmd)
				}
				s.matched[i] = true
				if j := s.replyIndex(i); j >= 0 {
					s.dropped[j] = true
					answer = s.subst(s.items[j].raw)
				}
				break
			}
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		line, _, _ := strings.Cut(cmd, "\n")
		switch {
		case answer != nil:
			if !write(answer) {
				return
			}
		case strings.HasPrefix(line, "auth "):
			reply("+OK accepted")
		case strings.HasPrefix(line, "event "):
			reply("+OK event listener enabled plain")
		case strings.HasPrefix(line, "bgapi "):
			reply("+OK Job-UUID: " + jobOf(cmd))
		case line == "exit":
			reply("+OK bye")
			write([]byte("Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"))
			return
		case strings.HasPrefix(line, "api status"):
			api("UP 0 years, 0 days, 0 hours, 1 minutes, 0 seconds, 0 milliseconds, 0 microseconds\nFreeSWITCH (Version 1.10.12 -release 64bit) is ready\n")
		case strings.HasPrefix(line, "api hash select/"):
			api("")
		case strings.HasPrefix(line, "api hash delete/"):
			api("-ERR Not found\n")
		case strings.HasPrefix(line, "api uuid_exists "):
			api("false")
		case strings.HasPrefix(line, "api uuid_kill "):
			api("-ERR No Such Channel!\n")
		default:
			api("-ERR " + line + " Command not found!\n")
		}
	}
}

// stream sends the capture's frames in order, holding at gates.
func (s *replayServer) stream(nc net.Conn, write func([]byte) bool, done <-chan struct{}) {
	for {
		s.mu.Lock()
		var out []byte
		closeAfter := false
		for s.pos < len(s.items) {
			it := s.items[s.pos]
			if it.command != "" {
				if s.gate(it.command) && !s.matched[s.pos] {
					break
				}
				if !s.matched[s.pos] {
					if j := s.replyIndex(s.pos); j >= 0 {
						s.dropped[j] = true // the gateway never asked this
					}
				}
				s.pos++
				continue
			}
			// serve wrote its own auth/request: the capture's would be a
			// second one, which FreeSWITCH never sends.
			if !s.dropped[s.pos] && it.frame.ContentType() != "auth/request" {
				out = append(out, s.subst(it.raw)...)
				if it.frame.ContentType() == "text/disconnect-notice" {
					closeAfter = true
					s.pos++
					break
				}
			}
			s.pos++
		}
		end := s.pos >= len(s.items)
		s.mu.Unlock()
		if len(out) > 0 && !write(out) {
			return
		}
		if closeAfter {
			nc.Close() // FreeSWITCH closes after its disconnect notice
			return
		}
		if end {
			return
		}
		select {
		case <-s.wake:
		case <-done:
			return
		}
	}
}

// subst writes the gateway's Job-UUIDs over the capture's. s.mu is held.
func (s *replayServer) subst(b []byte) []byte {
	out := b
	for from, to := range s.jobs {
		if len(from) == len(to) && bytes.Contains(out, []byte(from)) {
			out = bytes.ReplaceAll(out, []byte(from), []byte(to))
		}
	}
	return out
}

func readCmd(br *bufio.Reader) (string, error) {
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			if len(lines) == 0 {
				continue
			}
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, l)
	}
}
