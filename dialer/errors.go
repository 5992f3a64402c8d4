package dialer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Code classifies a domain error. Each API surface maps codes to its own
// status and envelope in one place; the domain never knows about HTTP.
type Code string

const (
	CodeInvalid      Code = "invalid"      // input failed validation; Fields says which
	CodeNotFound     Code = "not_found"    // no such resource in the caller's tenant
	CodeForbidden    Code = "forbidden"    // exists, but belongs to someone else or needs a permission
	CodeUnauthorized Code = "unauthorized" // no or bad credentials
	CodeConflict     Code = "conflict"     // violates uniqueness or current state
	CodeNotReady     Code = "not_ready"    // the system cannot do this now (starting, draining)
	CodeTooMany      Code = "too_many"     // throttled; retry later
	CodeInternal     Code = "internal"     // our fault, not the caller's
	CodeNotImpl      Code = "not_implemented"
)

// Error is the one error type the domain returns to the API layers.
type Error struct {
	Code    Code
	Message string
	// Fields maps an input field to why it was rejected (CodeInvalid only).
	Fields map[string]string
	// Err is the underlying cause, kept for logs and errors.Is; never shown to clients.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if len(e.Fields) > 0 {
		b.WriteString(" (")
		for i, k := range slices.Sorted(maps.Keys(e.Fields)) {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s: %s", k, e.Fields[k])
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, dialer.ErrNotFound) match any Error of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is; they match every Error with the same Code.
var (
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrForbidden    = &Error{Code: CodeForbidden}
	ErrUnauthorized = &Error{Code: CodeUnauthorized}
	ErrConflict     = &Error{Code: CodeConflict}
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrNotReady     = &Error{Code: CodeNotReady}
)

// ErrorCode returns the Code of err, CodeInternal when err is not a domain error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// NotFound reports that a resource of the given kind does not exist for the caller.
func NotFound(kind string) error {
	return &Error{Code: CodeNotFound, Message: kind + " not found"}
}

// Forbidden reports that the caller may not act on an existing resource.
func Forbidden(msg string) error { return &Error{Code: CodeForbidden, Message: msg} }

// Unauthorized reports missing or bad credentials.
func Unauthorized(msg string) error { return &Error{Code: CodeUnauthorized, Message: msg} }

// Conflict reports a clash with existing state.
func Conflict(msg string) error { return &Error{Code: CodeConflict, Message: msg} }

// NotReady reports that the system cannot serve the request yet.
func NotReady(msg string) error { return &Error{Code: CodeNotReady, Message: msg} }

// Internal wraps an unexpected failure; its message is not shown to clients.
func Internal(err error) error {
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// Invalid collects field errors during validation. The zero value is ready.
// Call Err at the end: it is nil when nothing was added.
type Invalid struct {
	fields map[string]string
}

// Add records why field is invalid; the first reason per field wins.
func (v *Invalid) Add(field, reason string) {
	if v.fields == nil {
		v.fields = map[string]string{}
	}
	if _, dup := v.fields[field]; !dup {
		v.fields[field] = reason
	}
}

// Has reports whether field already has an error.
func (v *Invalid) Has(field string) bool { _, ok := v.fields[field]; return ok }

// Err returns the collected validation error, or nil.
func (v *Invalid) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: "validation failed", Fields: v.fields}
}

// InvalidField is a one-field validation error.
func InvalidField(field, reason string) error {
	var v Invalid
	v.Add(field, reason)
	return v.Err()
}
