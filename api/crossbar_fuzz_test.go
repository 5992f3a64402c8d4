package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// Whatever a client sends as a centrex or centrex account, reading and
// validating it never panics, and what passes is what the store may take:
// a name within bounds, a callflow or user id, an E.164 number.
func FuzzCrossbarDocuments(f *testing.F) {
	for _, seed := range []string{
		`{"name": "centrex_main_service", "description": "d", "callflow_id": "12"}`,
		`{"id": "main", "name": "x", "callflow_id": 3}`,
		`{"user_id": "7", "number_offnet": "(415) 555-0101", "name": "n"}`,
		`{"user_id": -1, "number_offnet": "+1 415 555 0101;x=1"}`,
		`{"name": null, "callflow_id": {"a": 1}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fields map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &fields) != nil {
			return
		}
		fields = cbMerge(cbFields(centrexDoc{Name: "old", CallflowID: "1"}), fields)
		var v dialer.Invalid
		cx := centrexFrom(fields, &v)
		dialer.ValidateCentrex(&cx, &v)
		if v.Err() == nil && (cx.CallflowID <= 0 || cx.Name == "" || len([]rune(cx.Name)) > 128 || (cx.ID != "" && !dialer.ValidCrossbarID(cx.ID))) {
			t.Fatalf("accepted centrex %+v", cx)
		}
		var va dialer.Invalid
		a := centrexAccountFrom(fields, &va)
		dialer.ValidateCentrexAccount(&a, "1", &va)
		if va.Err() == nil && (a.UserID <= 0 || !strings.HasPrefix(a.NumberOffnet, "+") || strings.ContainsAny(a.NumberOffnet, " ;()-")) {
			t.Fatalf("accepted account %+v", a)
		}
	})
}
