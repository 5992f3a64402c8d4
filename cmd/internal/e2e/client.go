package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client speaks to dialerd's REST API as a dashboard would, over
// keep-alive connections.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// NewClient is a client of the API at base ("http://127.0.0.1:8000").
func NewClient(base string) *Client {
	tr := &http.Transport{MaxIdleConns: 16, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}
	return &Client{Base: base, HTTP: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// APIError is a non-2xx answer.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// Do sends a request; body is JSON-encoded unless it is a []byte (sent as
// contentType). The answer is decoded into out when out is not nil.
func (c *Client) Do(ctx context.Context, method, path string, body any, contentType string, out any) error {
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
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return &APIError{Method: method, Path: path, Status: res.StatusCode, Body: string(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding %q: %w", method, path, Truncate(string(data), 200), err)
	}
	return nil
}

// Create POSTs (or PUTs) body and returns the id named key in the answer.
func (c *Client) Create(ctx context.Context, method, path string, body any, key string) (int64, error) {
	var ans map[string]json.RawMessage
	if err := c.Do(ctx, method, path, body, "", &ans); err != nil {
		return 0, err
	}
	var id int64
	if err := json.Unmarshal(ans[key], &id); err != nil || id <= 0 {
		return 0, fmt.Errorf("%s %s: no %s in the answer", method, path, key)
	}
	return id, nil
}

// Login authenticates and keeps the token for the next requests.
func (c *Client) Login(ctx context.Context, user, password string) error {
	var ans struct {
		Token string `json:"token"`
	}
	if err := c.Do(ctx, http.MethodPost, "/authenticate", map[string]string{"username": user, "password": password}, "", &ans); err != nil {
		return err
	}
	if ans.Token == "" {
		return errors.New("POST /authenticate: no token")
	}
	c.Token = ans.Token
	return nil
}

// Counters are a campaign's live counters as GET /campaigns/{id} gives them.
type Counters struct {
	Total    int64 `json:"total"`
	Done     int64 `json:"done"`
	Answered int64 `json:"answered"`
	Failed   int64 `json:"failed"`
	InFlight int64 `json:"in_flight"`
	Pending  int64 `json:"pending"`
}

// Campaign is GET /campaigns/{id}.
type Campaign struct {
	ID         int64    `json:"campaign_id"`
	Status     string   `json:"status"`
	Counters   Counters `json:"counters"`
	StartedAt  int64    `json:"started_at"`
	FinishedAt int64    `json:"finished_at"`
}

// Transmission is one of GET /transmissions.
type Transmission struct {
	ID         int64  `json:"transmission_id"`
	ContactID  int64  `json:"contact_id"`
	CampaignID int64  `json:"campaign_id"`
	Phone      string `json:"phone"`
	Status     string `json:"status"`
	Response   string `json:"response"`
	TryDone    int    `json:"try_done"`
}

// Spool is one of GET /transmissions/{id}/detail: one attempt.
type Spool struct {
	ID          int64  `json:"spool_id"`
	CallUUID    string `json:"call_uuid"`
	Status      string `json:"status"`
	Response    string `json:"response"`
	TimeStart   int64  `json:"time_start"`
	TimeConnect int64  `json:"time_connect"`
	TimeEnd     int64  `json:"time_end"`
}

// Transmissions lists every transmission of a campaign, page by page.
func (c *Client) Transmissions(ctx context.Context, campaignID int64) ([]Transmission, error) {
	var txs []Transmission
	for page := 1; ; page++ {
		var batch []Transmission
		path := fmt.Sprintf("/transmissions?campaign_id=%d&per_page=1000&page=%d", campaignID, page)
		if err := c.Do(ctx, http.MethodGet, path, nil, "", &batch); err != nil {
			return nil, err
		}
		txs = append(txs, batch...)
		if len(batch) < 1000 {
			return txs, nil
		}
	}
}

// Spools reads the spools of each transmission, four requests at a time;
// the result is in the order of txs.
func (c *Client) Spools(ctx context.Context, txs []Transmission) ([][]Spool, error) {
	spools := make([][]Spool, len(txs))
	errs := make([]error, len(txs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				errs[i] = c.Do(ctx, http.MethodGet, fmt.Sprintf("/transmissions/%d/detail", txs[i].ID), nil, "", &spools[i])
			}
		})
	}
	for i := range txs {
		next <- i
	}
	close(next)
	wg.Wait()
	return spools, errors.Join(errs...)
}

// Truncate shortens s to n bytes, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
