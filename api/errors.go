package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// ictcoreStatus is the ICTCore document's mapping of domain codes to HTTP:
// validation is 412 and "not ready" is 423.
func ictcoreStatus(code dialer.Code) int {
	switch code {
	case dialer.CodeInvalid:
		return http.StatusPreconditionFailed
	case dialer.CodeNotFound:
		return http.StatusNotFound
	case dialer.CodeForbidden:
		return http.StatusForbidden
	case dialer.CodeUnauthorized:
		return http.StatusUnauthorized
	case dialer.CodeConflict:
		return http.StatusConflict
	case dialer.CodeNotReady:
		return http.StatusLocked
	case dialer.CodeTooMany:
		return http.StatusTooManyRequests
	case dialer.CodeNotImpl:
		return http.StatusNotImplemented
	case dialer.CodeNoCredit:
		return http.StatusPaymentRequired // a prepaid tenant at zero credit starts nothing
	default:
		return http.StatusInternalServerError
	}
}

// ictcoreError is the ICTCore surface's error body.
type ictcoreError struct {
	Error ictcoreErrorBody `json:"error"`
}

type ictcoreErrorBody struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// RequestID lets an operator find the log line of a 500.
	RequestID string `json:"request_id,omitempty"`
}

// fail answers a request with err on the ICTCore surface and stops the chain.
// Internal errors are logged with the request id and never shown in detail.
func (s *Server) fail(c *gin.Context, err error) {
	var de *dialer.Error
	if !errors.As(err, &de) {
		de = &dialer.Error{Code: dialer.CodeInternal, Message: "internal error", Err: err}
	}
	status := ictcoreStatus(de.Code)
	msg := de.Message
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(c.Request.Context(), "request failed", "request_id", requestID(c), "err", err)
		msg = "internal error"
	}
	if de.Code == dialer.CodeTooMany {
		if ra, ok := c.Get(ctxRetryAfter); ok {
			c.Header("Retry-After", strconv.Itoa(ra.(int)))
		}
	}
	body := ictcoreError{Error: ictcoreErrorBody{Code: status, Message: msg, Fields: de.Fields}}
	if status >= 500 {
		body.Error.RequestID = requestID(c)
	}
	c.AbortWithStatusJSON(status, body)
}

// badRequest answers a body that could not be read as the resource at all.
func (s *Server) badRequest(c *gin.Context, msg string) {
	c.AbortWithStatusJSON(http.StatusBadRequest, ictcoreError{Error: ictcoreErrorBody{Code: http.StatusBadRequest, Message: msg}})
}
