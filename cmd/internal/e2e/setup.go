package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// SIPProvider creates a direct SIP trunk (gateway_flag 8) to host:port
// over UDP, with the given caps, and returns its id.
func (c *Client) SIPProvider(ctx context.Context, name, host string, port, cps, channels int) (int64, error) {
	return c.Create(ctx, http.MethodPost, "/providers", map[string]any{
		"name": name, "type": "sip", "gateway_flag": 8, "service_flag": 1,
		"host": host, "port": port,
		"settings": fmt.Sprintf(`{"cps": %d, "channels": %d, "transport": "udp", "allow_anonymous": true}`, cps, channels),
		"weight":   1, "active": 1,
	}, "provider_id")
}

// VoiceProgram uploads a tone of length d as a recording and makes a
// voicemessage program that plays it; it returns the program's id.
func (c *Client) VoiceProgram(ctx context.Context, name string, d time.Duration) (int64, error) {
	recID, err := c.Create(ctx, http.MethodPost, "/messages/recordings", map[string]any{"name": name, "description": "e2e"}, "recording_id")
	if err != nil {
		return 0, err
	}
	if err := c.Do(ctx, http.MethodPut, fmt.Sprintf("/messages/recordings/%d/media", recID), ToneWAV(d), "audio/wav", nil); err != nil {
		return 0, err
	}
	return c.Create(ctx, http.MethodPost, "/programs/voicemessage", map[string]any{"name": name, "recording_id": recID}, "program_id")
}

// ImportResult is the answer to a CSV import.
type ImportResult struct {
	Imported int `json:"imported"`
	Existing int `json:"existing"`
	Failed   int `json:"failed"`
	Errors   []struct {
		Line   int    `json:"line"`
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// Group creates a group and imports one contact per number into it by
// CSV; it returns the group's id.
func (c *Client) Group(ctx context.Context, name string, numbers []string) (int64, error) {
	groupID, err := c.Create(ctx, http.MethodPost, "/groups", map[string]any{"name": name}, "group_id")
	if err != nil {
		return 0, err
	}
	var csv strings.Builder
	csv.WriteString("phone,first_name\n")
	for i, num := range numbers {
		fmt.Fprintf(&csv, "%s,c%d\n", num, i)
	}
	var imp ImportResult
	if err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/groups/%d/csv", groupID), []byte(csv.String()), "text/csv", &imp); err != nil {
		return 0, err
	}
	if imp.Imported+imp.Existing != len(numbers) { // disjoint counts: a re-run finds its numbers existing
		return 0, fmt.Errorf("CSV import: %d of %d contacts imported (%d existing, %d failed; first errors %+v)",
			imp.Imported, len(numbers), imp.Existing, imp.Failed, imp.Errors[:min(3, len(imp.Errors))])
	}
	return groupID, nil
}

// Contact is one of GET /groups/{id}/contacts.
type Contact struct {
	ID    int64  `json:"contact_id"`
	Phone string `json:"phone"`
}

// GroupContacts lists a group's contacts, page by page.
func (c *Client) GroupContacts(ctx context.Context, groupID int64) ([]Contact, error) {
	var out []Contact
	for page := 1; ; page++ {
		var batch []Contact
		if err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/groups/%d/contacts?per_page=1000&page=%d", groupID, page), nil, "", &batch); err != nil {
			return nil, err
		}
		out = append(out, batch...)
		if len(batch) < 1000 {
			return out, nil
		}
	}
}

// NANPNumbers are n distinct numbers of area code 555, exchanges from 200
// (they start with 2-9): +1555EEENNNN.
func NANPNumbers(n int) []string {
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1555%03d%04d", 200+i/10000, i%10000)
	}
	return numbers
}

// ToneWAV is a 440 Hz tone of length d as a WAV file in the format
// dialerd plays without conversion: 8 kHz, 16-bit, mono.
func ToneWAV(d time.Duration) []byte {
	const rate = 8000
	n := int(d.Seconds() * rate)
	data := make([]byte, 2*n)
	for i := range n {
		s := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		binary.LittleEndian.PutUint16(data[2*i:], uint16(s))
	}
	out := make([]byte, 0, 44+len(data))
	out = append(out, "RIFF"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(36+len(data)))
	out = append(out, "WAVEfmt "...)
	out = binary.LittleEndian.AppendUint32(out, 16)     // fmt chunk size
	out = binary.LittleEndian.AppendUint16(out, 1)      // PCM
	out = binary.LittleEndian.AppendUint16(out, 1)      // mono
	out = binary.LittleEndian.AppendUint32(out, rate)   // sample rate
	out = binary.LittleEndian.AppendUint32(out, rate*2) // byte rate
	out = binary.LittleEndian.AppendUint16(out, 2)      // block align
	out = binary.LittleEndian.AppendUint16(out, 16)     // bits per sample
	out = append(out, "data"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	return append(out, data...)
}
