package api

import (
	"context"
	"net/http"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// ownedKind describes a resource whose rows belong to a tenant and to the
// user who created them. Its create, get, update and delete handlers differ
// only in what is here. T is the domain value, R the request body whose
// non-nil fields apply onto it.
//
// A kind is built per request (see Server.documents and the like): taking
// the store's methods from s.deps only then lets a server whose Deps lack
// that store still start, as tests' servers do.
type ownedKind[T, R any] struct {
	s       *Server
	name    string // "document", in error messages
	idParam string // "document_id": the path parameter and the create answer's field

	fresh    func(dialer.Actor) T // a new value of the actor's tenant, created by the actor
	owner    func(T) int64
	apply    func(*R, *T)
	validate func(*T, *dialer.Invalid)
	// validateNew checks a value about to be created; nil is validate.
	validateNew func(*T, *dialer.Invalid)
	// view is the JSON answered for a value; nil answers it as it is.
	view func(T) any
	// vet checks a valid value against what uses it (the gateways' checks
	// of the programs that send it) before it is saved; nil checks nothing.
	vet func(ctx context.Context, tenantID string, v T) error
	// changed is told after every successful write, with the tenant; nil
	// is told nothing.
	changed func(tenantID string)

	load   func(ctx context.Context, tenantID string, id int64) (T, error)
	insert func(context.Context, T) (int64, error)
	save   func(context.Context, T) error
	remove func(ctx context.Context, tenantID string, id int64) error
}

// owned loads the value named by the path, of the actor's tenant (another
// tenant's is not found) and owned by the actor unless it is an admin
// (another user's is forbidden). It answers the failure itself.
func (k ownedKind[T, R]) owned(c *gin.Context) (v T, id int64, ok bool) {
	s := k.s
	if id, ok = s.pathID(c, k.idParam); !ok {
		return v, 0, false
	}
	a := actor(c)
	v, err := k.load(c.Request.Context(), a.TenantID, id)
	if err != nil {
		s.fail(c, err)
		return v, 0, false
	}
	if !a.Owns(k.owner(v)) {
		s.fail(c, dialer.Forbidden("this "+k.name+" belongs to someone else"))
		return v, 0, false
	}
	return v, id, true
}

// check validates v, answering 412 when it is not valid.
func (k ownedKind[T, R]) check(c *gin.Context, v *T, validate func(*T, *dialer.Invalid)) bool {
	var inv dialer.Invalid
	validate(v, &inv)
	if err := inv.Err(); err != nil {
		k.s.fail(c, err)
		return false
	}
	return true
}

// vetted runs vet, answering its refusal.
func (k ownedKind[T, R]) vetted(c *gin.Context, v T) bool {
	if k.vet == nil {
		return true
	}
	if err := k.vet(c.Request.Context(), actor(c).TenantID, v); err != nil {
		k.s.fail(c, err)
		return false
	}
	return true
}

// wrote tells changed of a successful write.
func (k ownedKind[T, R]) wrote(c *gin.Context) {
	if k.changed != nil {
		k.changed(actor(c).TenantID)
	}
}

func (k ownedKind[T, R]) respond(c *gin.Context, v T) {
	if k.view != nil {
		c.JSON(http.StatusOK, k.view(v))
		return
	}
	c.JSON(http.StatusOK, v)
}

// create binds the request, applies it onto a new value, validates and
// stores it, and answers {"<kind>_id": N} as the document shows.
func (k ownedKind[T, R]) create(c *gin.Context) {
	var req R
	if !k.s.bindJSON(c, &req) {
		return
	}
	v := k.fresh(actor(c))
	k.apply(&req, &v)
	validate := k.validateNew
	if validate == nil {
		validate = k.validate
	}
	if !k.check(c, &v, validate) || !k.vetted(c, v) {
		return
	}
	id, err := k.insert(c.Request.Context(), v)
	if err != nil {
		k.s.fail(c, err)
		return
	}
	k.wrote(c)
	c.JSON(http.StatusOK, gin.H{k.idParam: id})
}

func (k ownedKind[T, R]) get(c *gin.Context) {
	if v, _, ok := k.owned(c); ok {
		k.respond(c, v)
	}
}

// update applies the request onto the stored value and answers the value
// as stored after the change.
func (k ownedKind[T, R]) update(c *gin.Context) {
	v, id, ok := k.owned(c)
	if !ok {
		return
	}
	var req R
	if !k.s.bindJSON(c, &req) {
		return
	}
	k.apply(&req, &v)
	if !k.check(c, &v, k.validate) || !k.vetted(c, v) {
		return
	}
	if err := k.save(c.Request.Context(), v); err != nil {
		k.s.fail(c, err)
		return
	}
	k.wrote(c)
	k.respondStored(c, id)
}

// respondStored answers the value of the actor's tenant as it is now.
func (k ownedKind[T, R]) respondStored(c *gin.Context, id int64) {
	v, err := k.load(c.Request.Context(), actor(c).TenantID, id)
	if err != nil {
		k.s.fail(c, err)
		return
	}
	k.respond(c, v)
}

func (k ownedKind[T, R]) delete(c *gin.Context) {
	_, id, ok := k.owned(c)
	if !ok {
		return
	}
	if err := k.remove(c.Request.Context(), actor(c).TenantID, id); err != nil {
		k.s.fail(c, err)
		return
	}
	k.wrote(c)
	c.JSON(http.StatusOK, gin.H{})
}

// The helpers below serve both owned kinds and resources whose store
// checks the actor's scope itself (accounts, programs, providers).

// listInScope answers a list in the actor's scope.
func listInScope[T any](s *Server, c *gin.Context, list func(context.Context, dialer.Scope, dialer.ListQuery) ([]T, error)) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	items, err := list(c.Request.Context(), actor(c).Scope(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, items)
}

// deleteInScope deletes the resource named by the path parameter param
// in the actor's scope and answers {}.
// It reports whether it did.
func deleteInScope(s *Server, c *gin.Context, param string, remove func(context.Context, dialer.Scope, int64) error) bool {
	id, ok := s.pathID(c, param)
	if !ok {
		return false
	}
	if err := remove(c.Request.Context(), actor(c).Scope(), id); err != nil {
		s.fail(c, err)
		return false
	}
	c.JSON(http.StatusOK, gin.H{})
	return true
}

// setString sets *dst when the request carried the field.
func setString(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

// ownedRoutes serves create at base and get, update and delete at item.
func ownedRoutes[T, R any](r *gin.RouterGroup, base, item string, read, write gin.HandlerFunc, kind func() ownedKind[T, R]) {
	r.POST(base, write, func(c *gin.Context) { kind().create(c) })
	r.GET(item, read, func(c *gin.Context) { kind().get(c) })
	r.PUT(item, write, func(c *gin.Context) { kind().update(c) })
	r.DELETE(item, write, func(c *gin.Context) { kind().delete(c) })
}
