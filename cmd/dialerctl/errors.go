package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Exit codes; doc.go explains them.
const (
	exitOK          = 0
	exitUsage       = 1
	exitAPI         = 2
	exitAuth        = 3
	exitUnreachable = 4
	exitPartial     = 5
	exitInterrupted = 130
)

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// authError is a missing or refused credential.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// unreachableError is a daemon that did not answer.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// partialError is a command that ran but did not fully succeed; what went
// wrong has been printed already.
type partialError struct{ msg string }

func (e *partialError) Error() string { return e.msg }

// apiError is a non-2xx answer, with the message of whichever error shape
// the surface uses.
type apiError struct {
	Method, Path string
	Status       int
	Message      string
	Fields       map[string]string
	Body         []byte // as it came (at most 64 KiB)
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s: %s", k, e.Fields[k])
	}
	return b.String()
}

// newAPIError reads the ICTCore error shape {"error": {"code", "message",
// "fields"}}, or takes the body as the message.
func newAPIError(method, path string, status int, body []byte) *apiError {
	e := &apiError{Method: method, Path: path, Status: status, Body: body}
	var ict struct {
		Error struct {
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &ict) == nil && ict.Error.Message != "" {
		e.Message, e.Fields = ict.Error.Message, ict.Error.Fields
		return e
	}
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 300 {
		e.Message = e.Message[:300] + "…"
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// exitCode is the documented exit code for err.
func exitCode(err error) int {
	var (
		usage   *usageError
		auth    *authError
		unreach *unreachableError
		partial *partialError
		api     *apiError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &auth):
		return exitAuth
	case errors.As(err, &api):
		if api.Status == http.StatusUnauthorized || api.Status == http.StatusForbidden {
			return exitAuth
		}
		return exitAPI
	case errors.As(err, &unreach):
		return exitUnreachable
	case errors.As(err, &partial):
		return exitPartial
	}
	return exitUsage
}
