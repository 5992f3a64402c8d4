package api

import (
	"bytes"
	"encoding/json"
	"errors"
)

// flexString accepts a JSON string or number. The ICTCore document types
// phone numbers as numbers ("phone: 03001234567 (number)"), which loses
// leading zeros, so clients send both; dialerd always answers strings.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("must be a string or a number")
	}
	*f = flexString(n.String())
	return nil
}
