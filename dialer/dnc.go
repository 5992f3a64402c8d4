package dialer

import (
	"slices"
	"strconv"
	"sync"
	"time"
)

// DNCList is a do-not-call list: a tenant's, or platform-wide (TenantID
// ""), which every tenant's attempts are scrubbed against. A tenant's
// default lists apply to every attempt of the tenant; the others apply to
// the campaigns and transmissions that name them.
type DNCList struct {
	ID          int64  `json:"dnc_id"`
	TenantID    string `json:"-"`
	Platform    bool   `json:"platform"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Default     bool   `json:"is_default"`
	Numbers     int64  `json:"numbers"` // read-only
	CreatedBy   int64  `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// DNCNumber is one number of a list, E.164, with an optional expiry
// (Unix seconds; 0 never): an expired entry no longer suppresses.
type DNCNumber struct {
	Number    string `json:"number"`
	ExpiresAt int64  `json:"expires_at"`
	Source    string `json:"source"` // api, import, opt-out
	CreatedAt int64  `json:"date_created"`
}

// ValidateDNCList checks the client-settable fields of l.
func ValidateDNCList(l *DNCList, v *Invalid) {
	if l.Name == "" {
		v.Add("name", "required")
	}
	if len(l.Name) > 200 {
		v.Add("name", "at most 200 characters")
	}
	if len(l.Description) > 2000 {
		v.Add("description", "at most 2000 characters")
	}
	if l.Platform && l.Default {
		v.Add("is_default", "a platform list applies to every tenant already; it cannot be a tenant default")
	}
}

// DNCKey packs an E.164 number into an integer map key: a leading 1 keeps
// its leading digits (there are none in E.164, but "+0…" would not
// collide either). ok is false for anything that is not "+" and 1 to 15
// digits.
func DNCKey(e164 string) (key uint64, ok bool) {
	if len(e164) < 2 || len(e164) > 16 || e164[0] != '+' {
		return 0, false
	}
	k := uint64(1)
	for i := 1; i < len(e164); i++ {
		c := e164[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		k = k*10 + uint64(c-'0')
	}
	return k, true
}

// DNCNumberOf is DNCKey's inverse.
func DNCNumberOf(key uint64) string {
	s := strconv.FormatUint(key, 10)
	return "+" + s[1:]
}

// DNCSet is every do-not-call list in memory, for an O(1) scrub of each
// attempt at dispatch: one map look-up per list that applies. The store
// keeps it in step with what it commits (Add/Remove after each write), so
// a number added while a campaign runs is suppressed from the next
// dispatch on. Safe for concurrent use.
type DNCSet struct {
	mu       sync.RWMutex
	lists    map[int64]*dncMem
	defaults map[string][]int64 // tenant -> its default lists
	platform []int64
	// optOuts holds opt-outs of a tenant that has no default list in
	// memory yet (the store creates one when it records the opt-out).
	optOuts map[string]map[uint64]struct{}
}

type dncMem struct {
	list DNCList
	nums map[uint64]int64 // number -> expiry (Unix s; 0 never)
}

// NewDNCSet returns an empty set.
func NewDNCSet() *DNCSet {
	return &DNCSet{lists: map[int64]*dncMem{}, defaults: map[string][]int64{}, optOuts: map[string]map[uint64]struct{}{}}
}

// PutList adds or updates a list's attributes (not its numbers).
func (s *DNCSet) PutList(l DNCList) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.lists[l.ID]
	if !ok {
		m = &dncMem{nums: map[uint64]int64{}}
		s.lists[l.ID] = m
	}
	m.list = l
	s.reindex()
}

// DropList forgets a list and its numbers.
func (s *DNCSet) DropList(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.lists, id)
	s.reindex()
}

func (s *DNCSet) reindex() {
	clear(s.defaults)
	s.platform = s.platform[:0]
	for id, m := range s.lists {
		switch {
		case m.list.Platform:
			s.platform = append(s.platform, id)
		case m.list.Default:
			s.defaults[m.list.TenantID] = append(s.defaults[m.list.TenantID], id)
		}
	}
	// In id order: the first default list is the one the store records
	// opt-outs on.
	slices.Sort(s.platform)
	for _, ids := range s.defaults {
		slices.Sort(ids)
	}
}

// Add puts numbers on a list (a list not in the set is ignored).
func (s *DNCSet) Add(listID int64, nums []DNCNumber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.lists[listID]
	if !ok {
		return
	}
	for _, n := range nums {
		if k, ok := DNCKey(n.Number); ok {
			m.nums[k] = n.ExpiresAt
		}
	}
}

// Remove takes numbers off a list.
func (s *DNCSet) Remove(listID int64, numbers []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.lists[listID]
	if !ok {
		return
	}
	for _, n := range numbers {
		if k, ok := DNCKey(n); ok {
			delete(m.nums, k)
		}
	}
}

// Clear empties a list.
func (s *DNCSet) Clear(listID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.lists[listID]; ok {
		clear(m.nums)
	}
}

// OptOut suppresses number for the tenant at once: on its first default
// list, or until one exists, on a list of the tenant's opt-outs that
// applies as a default list does.
func (s *DNCSet) OptOut(tenantID, number string) {
	k, ok := DNCKey(number)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids := s.defaults[tenantID]; len(ids) > 0 {
		s.lists[ids[0]].nums[k] = 0
		return
	}
	o := s.optOuts[tenantID]
	if o == nil {
		o = map[uint64]struct{}{}
		s.optOuts[tenantID] = o
	}
	o[k] = struct{}{}
}

// Suppression is why a number may not be called: the list that holds it.
type Suppression struct {
	ListID int64
	Name   string
}

// Response is the transmission's response for a suppressed attempt.
func (s Suppression) Response() string {
	return "suppressed: do-not-call list " + strconv.FormatInt(s.ListID, 10) + " (" + s.Name + ")"
}

// Check says whether number may not be called for tenantID at now: the
// platform lists, the tenant's default lists and extra (lists the campaign
// or transmission names; another tenant's are ignored) are looked at.
func (s *DNCSet) Check(tenantID string, extra []int64, number string, now time.Time) (Suppression, bool) {
	k, ok := DNCKey(number)
	if !ok {
		return Suppression{}, false
	}
	at := now.Unix()
	s.mu.RLock()
	defer s.mu.RUnlock()
	hit := func(id int64) (Suppression, bool) {
		m, ok := s.lists[id]
		if !ok || (!m.list.Platform && m.list.TenantID != tenantID) {
			return Suppression{}, false
		}
		exp, ok := m.nums[k]
		if !ok || (exp != 0 && at >= exp) {
			return Suppression{}, false
		}
		return Suppression{ListID: id, Name: m.list.Name}, true
	}
	for _, id := range s.defaults[tenantID] {
		if sp, ok := hit(id); ok {
			return sp, true
		}
	}
	if _, ok := s.optOuts[tenantID][k]; ok {
		return Suppression{Name: "opt-out"}, true
	}
	for _, id := range s.platform {
		if sp, ok := hit(id); ok {
			return sp, true
		}
	}
	for _, id := range extra {
		if sp, ok := hit(id); ok {
			return sp, true
		}
	}
	return Suppression{}, false
}

// Len is how many numbers the set holds, over all lists.
func (s *DNCSet) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, m := range s.lists {
		n += len(m.nums)
	}
	return n
}
