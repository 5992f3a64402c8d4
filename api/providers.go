package api

import (
	"context"
	"net/http"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// providerStore is what the provider handlers need of the store. Reads and
// writes take the caller's scope; no method here returns a password.
type providerStore interface {
	CreateProvider(ctx context.Context, p dialer.Provider, password string) (int64, error)
	Provider(ctx context.Context, scope dialer.Scope, id int64) (dialer.Provider, error)
	Providers(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Provider, error)
	UpdateProvider(ctx context.Context, scope dialer.Scope, p dialer.Provider, password *string) error
	DeleteProvider(ctx context.Context, scope dialer.Scope, id int64) error
}

func (s *Server) providerRoutes(r *gin.RouterGroup) {
	read, write := s.require(dialer.PermProviderRead), s.require(dialer.PermProviderWrite)
	r.POST("/providers", write, s.createProvider)
	r.GET("/providers", read, s.listProviders)
	r.GET("/providers/:provider_id", read, s.getProvider)
	r.PUT("/providers/:provider_id", write, s.updateProvider)
	r.DELETE("/providers/:provider_id", write, s.deleteProvider)
}

// providerRequest is the Provider object as clients send it; nil fields
// are left as they are on update. The password is write-only: it is sealed
// at rest and never answered. node_id 0 means none.
type providerRequest struct {
	Name        *string     `json:"name" required:"create" example:"trunk1"`
	GatewayFlag *int64      `json:"gateway_flag" doc:"1 FreeSWITCH (the default), 2 Kannel (smsbox sendsms; needs kannel.listen), 4 email (SMTP), 8 SIP trunk (needs sip.listen)" enum:"1,2,4,8"`
	ServiceFlag *int64      `json:"service_flag" doc:"the services carried, a bit set: 1 voice, 2 fax, 4 SMS, 8 email; must be within what gateway_flag carries (1: 3, 2: 4, 4: 8, 8: 5), which is its default on create; 0 (serves nothing) is refused" minimum:"1" maximum:"15"`
	NodeID      *int64      `json:"node_id"`
	Host        *string     `json:"host" required:"create" example:"sip.example.net"`
	Port        *int        `json:"port"`
	Username    *string     `json:"username"`
	Password    *string     `json:"password"`
	DialString  *string     `json:"dialstring"`
	Prefix      *flexString `json:"prefix"`
	Settings    *string     `json:"settings" doc:"free text; as a JSON object the engine reads cps, channels and transport, the email gateway (4) tls (none, starttls the default, implicit) and from (the sender address, required), the Kannel gateway (2) from (the SMS sender); the caller-id policy reads caller_ids (numbers the tenant may present through this provider, + and digits) and allow_anonymous (true: it carries calls that present no caller id; default false); a string that starts with { must be a JSON object"`
	Register    *int        `json:"register"`
	Weight      *int        `json:"weight"`
	Type        *string     `json:"type"`
	Active      *int        `json:"active"`
}

func (r *providerRequest) apply(p *dialer.Provider) {
	for dst, src := range map[*string]*string{
		&p.Name: r.Name, &p.Host: r.Host, &p.Username: r.Username, &p.DialString: r.DialString,
		&p.Settings: r.Settings, &p.Type: r.Type,
	} {
		if src != nil {
			*dst = *src
		}
	}
	for dst, src := range map[*int]*int{&p.Port: r.Port, &p.Register: r.Register, &p.Weight: r.Weight, &p.Active: r.Active} {
		if src != nil {
			*dst = *src
		}
	}
	for dst, src := range map[*int64]*int64{&p.GatewayFlag: r.GatewayFlag, &p.ServiceFlag: r.ServiceFlag} {
		if src != nil {
			*dst = *src
		}
	}
	if r.NodeID != nil {
		p.NodeID = r.NodeID
		if *r.NodeID == 0 {
			p.NodeID = nil
		}
	}
	if r.Prefix != nil {
		p.Prefix = string(*r.Prefix)
	}
}

// validate checks the provider r produced and the password r carries, and
// then asks its gateway whether it can dial with it.
func (s *Server) validateProvider(r *providerRequest, p *dialer.Provider) error {
	var v dialer.Invalid
	dialer.ValidateProvider(p, &v)
	validateServices(p, &v)
	var password string
	if r.Password != nil {
		password = *r.Password
		dialer.ValidateProviderPassword(password, &v)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.checkProvider(*p, password)
}

// providerCreated is the answer of POST /providers.
type providerCreated struct {
	ProviderID int64 `json:"provider_id"`
}

func (s *Server) createProvider(c *gin.Context) {
	var req providerRequest
	if !s.bindJSON(c, &req) {
		return
	}
	a := actor(c)
	// gateway_flag defaults to FreeSWITCH, dialerd's main road, and
	// service_flag to every service its gateway carries: a provider that
	// serves nothing would stall every campaign silently.
	p := dialer.Provider{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN(), Weight: dialer.DefaultProviderWeight, GatewayFlag: dialer.GatewayFreeSWITCH,
		Type: dialer.DefaultProviderType, Active: 1}
	req.apply(&p)
	if req.ServiceFlag == nil {
		p.ServiceFlag = gatewayServices(p.GatewayFlag)
	}
	if err := s.validateProvider(&req, &p); err != nil {
		s.fail(c, err)
		return
	}
	var password string
	if req.Password != nil {
		password = *req.Password
	}
	id, err := s.deps.Providers.CreateProvider(c.Request.Context(), p, password)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.configChanged(a.TenantID)
	c.JSON(http.StatusOK, providerCreated{ProviderID: id})
}

func (s *Server) listProviders(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	providers, err := s.deps.Providers.Providers(c.Request.Context(), actor(c).Scope(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	for i := range providers {
		s.withHealth(&providers[i])
	}
	c.JSON(http.StatusOK, providers)
}

func (s *Server) getProvider(c *gin.Context) {
	id, ok := s.pathID(c, "provider_id")
	if !ok {
		return
	}
	p, err := s.deps.Providers.Provider(c.Request.Context(), actor(c).Scope(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.withHealth(&p)
	c.JSON(http.StatusOK, p)
}

// withHealth fills a provider's read-only health from its gateway.
func (s *Server) withHealth(p *dialer.Provider) {
	if s.deps.TrunkHealth == nil {
		return
	}
	if up, known := s.deps.TrunkHealth(p.ID); known {
		p.Health = "down"
		if up {
			p.Health = "up"
		}
	}
}

func (s *Server) updateProvider(c *gin.Context) {
	id, ok := s.pathID(c, "provider_id")
	if !ok {
		return
	}
	scope := actor(c).Scope()
	p, err := s.deps.Providers.Provider(c.Request.Context(), scope, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req providerRequest
	if !s.bindJSON(c, &req) {
		return
	}
	req.apply(&p)
	if err := s.validateProvider(&req, &p); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Providers.UpdateProvider(c.Request.Context(), scope, p, req.Password); err != nil {
		s.fail(c, err)
		return
	}
	s.configChanged(scope.TenantID)
	if p, err = s.deps.Providers.Provider(c.Request.Context(), scope, id); err != nil {
		s.fail(c, err)
		return
	}
	s.withHealth(&p)
	c.JSON(http.StatusOK, p)
}

func (s *Server) deleteProvider(c *gin.Context) {
	if deleteInScope(s, c, "provider_id", s.deps.Providers.DeleteProvider) {
		s.configChanged(actor(c).TenantID)
	}
}
