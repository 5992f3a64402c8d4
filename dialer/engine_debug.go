package dialer

import (
	"context"
	"fmt"
)

func (e *Engine) DebugString() string {
	var s string
	_ = e.do(context.Background(), func() error {
		s = fmt.Sprintf("tenants %v singles %d runs %d inflight %d wakeAt %v\n", e.caps.channels, e.singles.Len(), len(e.runs), len(e.inflight), e.wakeAt)
		for id, r := range e.runs {
			s += fmt.Sprintf(" run %d queue %d inflight %d pacer next %v\n", id, r.queue.Len(), r.inFlight, r.pacer.Next())
			for _, it := range r.queue.items {
				s += fmt.Sprintf("   item %d key %v due %v\n", it.TransmissionID, it.key, it.Due)
			}
		}
		for id, p := range e.caps.providers {
			s += fmt.Sprintf(" prov %d ch %d/%d backoff %v fails %d\n", id, p.channels, p.channelLimit(&e.cfg), p.backoffUntil, p.failures)
		}
		return nil
	})
	return s
}
