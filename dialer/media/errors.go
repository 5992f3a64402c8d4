package media

import (
	"fmt"

	"github.com/dialerd/dialerd/dialer"
)

// Error is a kind of rejected upload. Being a string type, the kinds are
// constants that errors.Is can still match through the *dialer.Error the
// functions of this package return.
type Error string

func (e Error) Error() string { return string(e) }

// Kinds of rejected uploads.
const (
	ErrNotAudio    Error = "not audio"      // neither WAV nor MP3
	ErrBadAudio    Error = "bad audio"      // WAV or MP3, but damaged or of an unsupported kind
	ErrTooLarge    Error = "too large"      // over the byte limit, MaxSamples or MaxDuration
	ErrNotDocument Error = "not a document" // neither PDF nor TIFF
	ErrBadDocument Error = "bad document"   // PDF or TIFF, but damaged
)

// invalid returns the validation error for a rejected upload: reason,
// formatted with args, is what the client is told; kind and cause are for
// errors.Is and the logs.
func invalid(kind Error, cause error, reason string, args ...any) error {
	reason = fmt.Sprintf(reason, args...)
	var err error = kind
	if cause != nil {
		err = fmt.Errorf("%w: %w", kind, cause)
	}
	return &dialer.Error{
		Code:    dialer.CodeInvalid,
		Message: "validation failed",
		Fields:  map[string]string{"file": reason},
		Err:     err,
	}
}
