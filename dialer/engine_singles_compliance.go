package dialer

import (
	"fmt"
	"time"
)

// holdSingle applies the calling window and the redial limit to a due
// single transmission, as dispatch does to a campaign's work: when either
// holds it, its key moves to when it may go and the reason is returned
// ("" when it may be tried now). It waits; it never fails for either.
func (e *Engine) holdSingle(it *workItem, now time.Time) string {
	if e.comp == nil {
		return ""
	}
	if !e.windowAllows(nil, it, now) {
		it.key = e.keyFor(nil, it, now)
		return fmt.Sprintf("%s is outside its calling window; it is sent at %s", it.Phone, it.key.UTC().Format(time.RFC3339))
	}
	if until := e.redialUntil(it, now); !until.IsZero() {
		it.key = until
		return fmt.Sprintf("the redial limit (%d attempts to %s in 24 hours) holds it until %s",
			e.tenantCompliance(it.TenantID).RedialLimit, it.Phone, until.UTC().Format(time.RFC3339))
	}
	return ""
}

// holdSingleQueued tells the caller of Send at once why a single
// transmission it queued waits (the window or the redial limit), rather
// than letting it time out as if there were no capacity. The
// transmission stays queued and goes when it may.
func (e *Engine) holdSingleQueued(it *workItem, now time.Time) {
	why := ""
	if it.key.After(now) && !it.Due.After(now) {
		why = fmt.Sprintf("%s is outside its calling window; it is sent at %s", it.Phone, it.key.UTC().Format(time.RFC3339))
	}
	if why == "" {
		return
	}
	e.failWaiters(it.TransmissionID, NotReady("queued: "+why))
}
