package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestWatchEndsOnTheEvent: dialerd publishes campaign.completed before its
// store shows the status, so watch takes the end from the event and does
// not wait for a read that still says active. Here the read never catches
// up; watch ends with the counters of the last progress event. Before, it
// waited for ever.
func TestWatchEndsOnTheEvent(t *testing.T) {
	t.Parallel()
	const active = `{"campaign_id":5,"group_id":1,"status":"active","counters":{"total":2,"done":0,"in_flight":2}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"error":{"code":401,"message":"no token"}}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/campaigns/5":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(active))
		case "/ws":
			conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer conn.Close()
			var sub map[string]map[string]int64
			if err := conn.ReadJSON(&sub); err != nil || sub["subscribe"]["campaign_id"] != 5 {
				t.Errorf("subscription %v, %v; want campaign 5", sub, err)
				return
			}
			for _, ev := range []string{
				`{"type":"campaign.progress","campaign_id":4,"counters":{"total":9,"done":9}}`, // another campaign's
				`{"type":"campaign.progress","campaign_id":5,"counters":{"total":2,"done":2,"answered":1,"failed":1}}`,
				`{"type":"campaign.completed","campaign_id":5,"status":"completed"}`,
			} {
				conn.WriteMessage(websocket.TextMessage, []byte(ev))
			}
			conn.ReadMessage() // until watch hangs up
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &cli{t: t, configDir: t.TempDir(), env: map[string]string{"DIALERCTL_TOKEN": "tok", "DIALERCTL_SERVER": srv.URL}}
	r := c.must(0, "", "campaigns", "watch", "5")
	want := "campaign 5 completed: total 2, done 2, answered 1, failed 1, in flight 0, pending 0"
	if strings.TrimSpace(r.stdout) != want {
		t.Errorf("watch printed %q, want %q", r.stdout, want)
	}
}
