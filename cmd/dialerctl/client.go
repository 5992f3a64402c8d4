package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// client speaks to one daemon with one token.
type client struct {
	base  string // scheme://host[:port], no trailing slash
	token string
	http  *http.Client
}

// normaliseServer accepts "host:port" or a URL and returns scheme://host[:port][/prefix].
func normaliseServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", usagef("server %q: want a URL such as %s", s, defaultServer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", usagef("server %q: no query, fragment or user info, please", s)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// request is one call.
type request struct {
	method, path string
	body         io.Reader
	contentType  string
	accept       string
	length       int64 // of body, when known (uploads show progress against it)
}

// send performs r and returns the response when it is 2xx; the caller
// closes its body. Any other status is an *apiError.
func (c *client) send(ctx context.Context, r request) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, r.body)
	if err != nil {
		return nil, err
	}
	if r.length > 0 {
		req.ContentLength = r.length
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", cmp.Or(r.accept, "application/json"))
	req.Header.Set("User-Agent", "dialerctl")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &unreachableError{fmt.Errorf("%s %s: %w", r.method, r.path, unwrapURL(err))}
	}
	if res.StatusCode/100 == 2 {
		return res, nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return nil, newAPIError(r.method, r.path, res.StatusCode, body)
}

// do sends a JSON body (or none) and decodes a JSON answer into out (a
// *json.RawMessage keeps it as it came).
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	r := request{method: method, path: path}
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body, r.contentType = bytes.NewReader(data), "application/json"
	}
	res, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return &unreachableError{fmt.Errorf("%s %s: reading the answer: %w", method, path, err)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer %.200q: %w", method, path, data, err)
	}
	return nil
}

// unwrapURL drops url.Error's repetition of the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
