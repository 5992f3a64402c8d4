package dialer

import (
	"container/heap"
	"time"
)

// workItem is a queued transmission. key is when it may next be tried:
// its due time, moved into its calling window for a campaign.
type workItem struct {
	Work
	key   time.Time
	index int // in its heap; -1 when in none
	// deferred: its wait for the calling window is recorded.
	deferred bool
}

// workHeap orders items by key, then transmission id (oldest first).
type workHeap struct{ items []*workItem }

func (h *workHeap) Len() int { return len(h.items) }
func (h *workHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if !a.key.Equal(b.key) {
		return a.key.Before(b.key)
	}
	return a.TransmissionID < b.TransmissionID
}
func (h *workHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *workHeap) Push(x any) {
	it := x.(*workItem)
	it.index = len(h.items)
	h.items = append(h.items, it)
}
func (h *workHeap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	it.index = -1
	return it
}

func (h *workHeap) peek() *workItem { return h.items[0] }
func (h *workHeap) push(it *workItem) {
	if it.index >= 0 {
		heap.Fix(h, it.index)
		return
	}
	heap.Push(h, it)
}
func (h *workHeap) pop() *workItem   { return heap.Pop(h).(*workItem) }
func (h *workHeap) fix(it *workItem) { heap.Fix(h, it.index) }
func (h *workHeap) remove(it *workItem) {
	if it.index >= 0 {
		heap.Remove(h, it.index)
	}
}

// campaignRun is a running campaign: its pacer, its queue and counters.
type campaignRun struct {
	c         Campaign
	loc       *time.Location
	window    Window
	pacer     *Pacer
	queue     workHeap
	inFlight  int
	counters  CampaignCounters
	paused    bool        // all its due work waits for the calling window
	blocked   *blockState // why it cannot dial; nil when it can
	published CampaignCounters
	// Its pending work is read from the store in pages (see refill).
	cursor    int64 // the highest transmission id read so far
	exhausted bool  // the last page was short: nothing above cursor
	loading   bool  // a page is being read
	// materializing: transmissions of its group are still being created
	// off the loop (see materialize); it cannot be complete before.
	materializing bool
	made          int       // materialization steps that added rows: a page read across one may have missed them
	loadAfter     time.Time // a failed read is tried again from then
}

// itemLoc is the time zone an item's window is read in: its contact's
// when known, else the campaign's (UTC for a single transmission).
func (e *Engine) itemLoc(r *campaignRun, it *workItem) *time.Location {
	if loc := e.location(it.ContactTZ); loc != nil {
		return loc
	}
	if r == nil {
		return time.UTC
	}
	return r.loc
}

// keyFor computes when an item may be tried: its due time, or the next
// opening of its window when that is closed then. A due time in the past
// is kept as it is, so an item that waited keeps its place in the queue.
func (e *Engine) keyFor(r *campaignRun, it *workItem, now time.Time) time.Time {
	at := it.Due
	if at.Before(now) {
		at = now
	}
	next, ok := e.windowNext(r, it, at)
	switch {
	case !ok:
		e.noteDeferred(it)
		return at.Add(24 * time.Hour) // windows that never meet; validation prevents most
	case next.Equal(at):
		return it.Due
	}
	e.noteDeferred(it)
	return next
}

// queueSingle puts (or moves) a single transmission in the queue.
func (e *Engine) queueSingle(w Work) {
	it, ok := e.queued[w.TransmissionID]
	if !ok {
		it = &workItem{index: -1}
		e.queued[w.TransmissionID] = it
	}
	it.Work = w
	it.key = e.keyFor(nil, it, e.clock.Now())
	e.singles.push(it)
}

// queueCampaignWork puts a campaign's pending transmission in its queue.
func (e *Engine) queueCampaignWork(r *campaignRun, w Work, now time.Time) {
	it, ok := e.queued[w.TransmissionID]
	if !ok {
		it = &workItem{index: -1}
		e.queued[w.TransmissionID] = it
	}
	it.Work = w
	it.key = e.keyFor(r, it, now)
	r.queue.push(it)
}

// nextEligible returns a campaign's first item that may be tried at now,
// or nil and when to look again.
func (e *Engine) nextEligible(r *campaignRun, now time.Time) (*workItem, time.Time) {
	for r.queue.Len() > 0 {
		it := r.queue.peek()
		if it.key.After(now) {
			return nil, it.key
		}
		if e.windowAllows(r, it, now) {
			if until := e.redialUntil(it, now); !until.IsZero() {
				// The redial limit: it waits, keeping its due time.
				it.key = until
				r.queue.fix(it)
				continue
			}
			return it, time.Time{}
		}
		// Its window closed since its key was computed.
		it.key = e.keyFor(r, it, now)
		r.queue.fix(it)
	}
	return nil, time.Time{}
}

// scheduleHeap holds campaign schedules by run time.
type scheduleHeap struct{ items []Schedule }

func (h *scheduleHeap) Len() int { return len(h.items) }
func (h *scheduleHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if !a.RunAt.Equal(b.RunAt) {
		return a.RunAt.Before(b.RunAt)
	}
	return a.ID < b.ID
}
func (h *scheduleHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *scheduleHeap) Push(x any)    { h.items = append(h.items, x.(Schedule)) }
func (h *scheduleHeap) Pop() any {
	n := len(h.items) - 1
	s := h.items[n]
	h.items = h.items[:n]
	return s
}
func (h *scheduleHeap) push(s Schedule) { heap.Push(h, s) }
func (h *scheduleHeap) drop(id int64) {
	for i, s := range h.items {
		if s.ID == id {
			heap.Remove(h, i)
			return
		}
	}
}
