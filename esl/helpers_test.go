package esl

import (
	"errors"
	"log/slog"
	"os"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// testLog logs to stderr at debug level when ESL_DEBUG is set.
func testLog() *slog.Logger {
	if os.Getenv("ESL_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
