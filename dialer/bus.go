package dialer

import (
	"sync"
	"sync/atomic"
	"time"
)

// EventType names a state change.
type EventType string

// The events the engine publishes.
const (
	EventSpoolInitiated     EventType = "spool.initiated" // the attempt is committed and handed to the gateway
	EventSpoolRinging       EventType = "spool.ringing"
	EventSpoolAnswered      EventType = "spool.answered"
	EventSpoolDTMF          EventType = "spool.dtmf"
	EventSpoolEnded         EventType = "spool.ended" // Status is the spool's, Response the cause
	EventTransmissionStatus EventType = "transmission.status"
	EventCampaignStarted    EventType = "campaign.started"
	EventCampaignPaused     EventType = "campaign.paused"  // its remaining work waits for the calling window
	EventCampaignResumed    EventType = "campaign.resumed" // the window opened again
	EventCampaignStopped    EventType = "campaign.stopped"
	EventCampaignCompleted  EventType = "campaign.completed"
	EventCampaignProgress   EventType = "campaign.progress" // Counters holds the campaign's counters
	// EventCampaignBlocked: the campaign cannot dial; Response is the
	// reason, Field the config key or resource to fix, Fault whose it is.
	EventCampaignBlocked   EventType = "campaign.blocked"
	EventCampaignUnblocked EventType = "campaign.unblocked"
	// EventContactOptedOut: the callee pressed the opt-out key; Number is
	// now on the tenant's default do-not-call list.
	EventContactOptedOut EventType = "contact.opted_out"
)

// Event is one state change. Ids that do not apply are 0.
type Event struct {
	Type           EventType         `json:"type"`
	At             time.Time         `json:"at"`
	TenantID       string            `json:"tenant_id"`
	CampaignID     int64             `json:"campaign_id"`
	TransmissionID int64             `json:"transmission_id"`
	SpoolID        int64             `json:"spool_id"`
	Status         string            `json:"status,omitempty"`
	Response       string            `json:"response,omitempty"`
	Digit          string            `json:"digit,omitempty"`
	Number         string            `json:"number,omitempty"` // contact.opted_out
	Field          string            `json:"field,omitempty"`  // campaign.blocked, and a spool ended by a content fault
	Fault          string            `json:"fault,omitempty"`  // spool.ended and campaign.blocked: callee, route or content
	Counters       *CampaignCounters `json:"counters,omitempty"`

	// OwnerID is the user who owns the transmission or campaign: the live
	// stream shows a non-admin only its own resources' events.
	OwnerID int64 `json:"-"`
	// ProviderID and Node name the route of a spool event, for metrics.
	ProviderID int64  `json:"provider_id,omitempty"`
	Node       string `json:"node,omitempty"`
}

// Publisher is where the engine sends its events.
type Publisher interface {
	Publish(Event)
}

// Bus is the in-process event bus. Publish never blocks: each subscriber
// has a bounded buffer, and a subscriber that falls behind loses events
// (counted) rather than slowing dialing.
type Bus struct {
	mu        sync.RWMutex
	subs      map[*Subscription]struct{}
	published atomic.Uint64
}

// NewBus returns a bus without subscribers.
func NewBus() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// DefaultSubscriberBuffer is the buffer of a subscriber that asks for none.
const DefaultSubscriberBuffer = 1024

// Subscribe adds a subscriber with room for buffer events (at least one).
// Close it when done.
func (b *Bus) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultSubscriberBuffer
	}
	s := &Subscription{bus: b, c: make(chan Event, buffer)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Publish hands e to every subscriber that has room.
func (b *Bus) Publish(e Event) {
	b.published.Add(1)
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.c <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// Published counts the events published since the bus was made.
func (b *Bus) Published() uint64 { return b.published.Load() }

// Subscription is one subscriber's feed.
type Subscription struct {
	bus     *Bus
	c       chan Event
	dropped atomic.Uint64
	once    sync.Once
}

// C delivers the events; it is closed by Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped counts the events this subscriber lost because its buffer was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes and closes C. It is safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.c)
	})
}
