package api

import (
	"context"
	"net/http"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// contactStore is what the contact handlers need of the store.
type contactStore interface {
	CreateContact(ctx context.Context, c dialer.Contact) (int64, error)
	Contact(ctx context.Context, tenantID string, id int64) (dialer.Contact, error)
	EachContact(ctx context.Context, scope dialer.Scope, q dialer.ListQuery, fn func(dialer.Contact) error) error
	UpdateContact(ctx context.Context, c dialer.Contact) error
	DeleteContact(ctx context.Context, tenantID string, id int64) error
	LinkContact(ctx context.Context, tenantID string, contactID, groupID int64, linked bool) error
}

func (s *Server) contactRoutes(r *gin.RouterGroup) {
	read, write := s.require(dialer.PermContactRead), s.require(dialer.PermContactWrite)
	ownedRoutes(r, "/contacts", "/contacts/:contact_id", read, write, s.contacts)
	r.GET("/contacts", read, s.listContacts)
	r.PUT("/contacts/:contact_id/link/:group_id", write, s.linkContact(true))
	r.DELETE("/contacts/:contact_id/link/:group_id", write, s.linkContact(false))
}

// contactRequest is the Contact object as clients send it; nil fields are
// left as they are on update. The document types phone as a number.
type contactRequest struct {
	FirstName   *string     `json:"first_name" required:"create" example:"Ada"`
	LastName    *string     `json:"last_name"`
	Phone       *flexString `json:"phone" required:"create" example:"+14155552671" doc:"normalised to E.164; national numbers take phone.default_country_code"`
	Email       *string     `json:"email" format:"email"`
	Address     *string     `json:"address"`
	Custom1     *string     `json:"custom1"`
	Custom2     *string     `json:"custom2"`
	Custom3     *string     `json:"custom3"`
	Description *string     `json:"description"`
	Timezone    *string     `json:"timezone" example:"America/New_York"`
}

func (r *contactRequest) apply(c *dialer.Contact) {
	for _, f := range []struct {
		dst *string
		src *string
	}{
		{&c.FirstName, r.FirstName}, {&c.LastName, r.LastName}, {&c.Email, r.Email}, {&c.Address, r.Address},
		{&c.Custom1, r.Custom1}, {&c.Custom2, r.Custom2}, {&c.Custom3, r.Custom3},
		{&c.Description, r.Description}, {&c.Timezone, r.Timezone},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if r.Phone != nil {
		c.Phone = string(*r.Phone)
	}
}

// contactRules are the validation rules of this server's requests.
func (s *Server) contactRules() *dialer.ContactRules {
	return dialer.NewContactRules(s.cfg.DefaultCountryCode)
}

func (s *Server) contacts() ownedKind[dialer.Contact, contactRequest] {
	rules, st := s.contactRules(), s.deps.Contacts
	return ownedKind[dialer.Contact, contactRequest]{
		s: s, name: "contact", idParam: "contact_id",
		fresh: func(a dialer.Actor) dialer.Contact {
			return dialer.Contact{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN()}
		},
		owner: func(ct dialer.Contact) int64 { return ct.CreatedBy },
		apply: (*contactRequest).apply, validate: rules.Validate, validateNew: rules.ValidateNew,

		load: st.Contact, save: st.UpdateContact, remove: st.DeleteContact,
		insert: func(ctx context.Context, ct dialer.Contact) (int64, error) {
			if err := s.planRoom(ctx, ct.TenantID, "contacts"); err != nil {
				return 0, err
			}
			return st.CreateContact(ctx, ct)
		},
	}
}

// ownedContact loads the path's contact for an actor who may use it: its
// owner, or an admin. Another tenant's contact does not exist.
func (s *Server) ownedContact(c *gin.Context) (dialer.Contact, bool) {
	ct, _, ok := s.contacts().owned(c)
	return ct, ok
}

// phoneFilter lets a search by phone match however the number is written:
// a value that normalises is searched in E.164, as stored.
func (s *Server) phoneFilter(q *dialer.ListQuery) {
	if raw, ok := q.Filters["phone"]; ok {
		if e164, err := dialer.NormalizePhone(raw, s.cfg.DefaultCountryCode); err == nil {
			q.Filters["phone"] = e164
		}
	}
}

func (s *Server) listContacts(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	s.phoneFilter(&q)
	contacts := []dialer.Contact{}
	err := s.deps.Contacts.EachContact(c.Request.Context(), actor(c).Scope(), q, func(ct dialer.Contact) error {
		contacts = append(contacts, ct)
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, contacts)
}

// linkContact adds the contact to the group (PUT) or takes it out (DELETE);
// the actor must be able to change both. Either is idempotent. It answers
// the contact, as the document shows.
func (s *Server) linkContact(linked bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ct, ok := s.ownedContact(c)
		if !ok {
			return
		}
		g, ok := s.ownedGroup(c)
		if !ok {
			return
		}
		if err := s.deps.Contacts.LinkContact(c.Request.Context(), ct.TenantID, ct.ID, g.ID, linked); err != nil {
			s.fail(c, err)
			return
		}
		s.contacts().respondStored(c, ct.ID)
	}
}
