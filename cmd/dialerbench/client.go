package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiClient speaks to dialerd's REST API as a dashboard would, over
// keep-alive connections.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(base string) *apiClient {
	tr := &http.Transport{MaxIdleConns: 16, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}
	return &apiClient{base: base, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// apiError is a non-2xx answer.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, strings.TrimSpace(e.body))
}

// do sends a request; body is JSON-encoded unless it is a []byte (sent as
// contentType). The answer is decoded into out when out is not nil.
func (c *apiClient) do(ctx context.Context, method, path string, body any, contentType string, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, contentType = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return &apiError{method: method, path: path, status: res.StatusCode, body: string(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding %q: %w", method, path, truncate(string(data), 200), err)
	}
	return nil
}

// create POSTs (or PUTs) body and returns the id named key in the answer.
func (c *apiClient) create(ctx context.Context, method, path string, body any, key string) (int64, error) {
	var ans map[string]json.RawMessage
	if err := c.do(ctx, method, path, body, "", &ans); err != nil {
		return 0, err
	}
	var id int64
	if err := json.Unmarshal(ans[key], &id); err != nil || id <= 0 {
		return 0, fmt.Errorf("%s %s: no %s in the answer", method, path, key)
	}
	return id, nil
}

func (c *apiClient) login(ctx context.Context, user, password string) error {
	var ans struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, "/authenticate", map[string]string{"username": user, "password": password}, "", &ans); err != nil {
		return err
	}
	if ans.Token == "" {
		return fmt.Errorf("POST /authenticate: no token")
	}
	c.token = ans.Token
	return nil
}

// counters are a campaign's live counters as GET /campaigns/{id} gives them.
type counters struct {
	Total    int64 `json:"total"`
	Done     int64 `json:"done"`
	Answered int64 `json:"answered"`
	Failed   int64 `json:"failed"`
	InFlight int64 `json:"in_flight"`
	Pending  int64 `json:"pending"`
}

type campaign struct {
	ID         int64    `json:"campaign_id"`
	Status     string   `json:"status"`
	Counters   counters `json:"counters"`
	StartedAt  int64    `json:"started_at"`
	FinishedAt int64    `json:"finished_at"`
}

type transmission struct {
	ID         int64  `json:"transmission_id"`
	ContactID  int64  `json:"contact_id"`
	CampaignID int64  `json:"campaign_id"`
	Status     string `json:"status"`
	Response   string `json:"response"`
	TryDone    int    `json:"try_done"`
}

type spool struct {
	ID       int64  `json:"spool_id"`
	CallUUID string `json:"call_uuid"`
	Status   string `json:"status"`
	Response string `json:"response"`
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
