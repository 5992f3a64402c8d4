package api

import (
	"context"
	"net/http"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// programStore is what the program handlers need of the store. Reads and
// writes take the caller's scope: the store answers not found for another
// tenant's program and forbidden for another user's.
type programStore interface {
	CreateProgram(ctx context.Context, scope dialer.Scope, p dialer.Program) (int64, error)
	Program(ctx context.Context, scope dialer.Scope, id int64) (dialer.Program, error)
	Programs(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Program, error)
	DeleteProgram(ctx context.Context, scope dialer.Scope, id int64) error
}

func (s *Server) programRoutes(r *gin.RouterGroup) {
	read, write := s.require(dialer.PermProgramRead), s.require(dialer.PermProgramWrite)
	r.GET("/programs", read, s.listPrograms)
	r.GET("/programs/:program_id", read, s.getProgram)
	r.DELETE("/programs/:program_id", write, s.deleteProgram)
	// One creator per type, as the document has them: each decodes its own
	// request type, which is also what /openapi.json describes.
	r.POST("/programs/sendsms", write, createProgram[programSendSMS](s, dialer.ProgramSendSMS))
	r.POST("/programs/sendemail", write, createProgram[programSendEmail](s, dialer.ProgramSendEmail))
	r.POST("/programs/sendfax", write, createProgram[programSendFax](s, dialer.ProgramSendFax))
	r.POST("/programs/voicemessage", write, createProgram[programVoiceMessage](s, dialer.ProgramVoiceMessage))
	r.POST("/programs/voicetts", write, createProgram[programVoiceTTS](s, dialer.ProgramVoiceTTS))
	r.POST("/programs/receivesms", write, createProgram[programForAccount](s, dialer.ProgramReceiveSMS))
	r.POST("/programs/receiveemail", write, createProgram[programForAccount](s, dialer.ProgramReceiveEmail))
	r.POST("/programs/receivefax", write, createProgram[programForAccount](s, dialer.ProgramReceiveFax))
	r.POST("/programs/emailtofax", write, createProgram[programForAccount](s, dialer.ProgramEmailToFax))
	r.POST("/programs/faxtoemail", write, createProgram[programForAccount](s, dialer.ProgramFaxToEmail))
}

// The creators' request types: the ICTCore Program object (name, type,
// parent_id) and the one reference of each type, named after the
// document's data structures. They are flat on purpose: a decoding error
// then names the JSON field alone. The type is the route's; a body may
// repeat it but not contradict it.
type (
	programSendSMS struct {
		Name     string `json:"name" required:"create" example:"reminder"`
		Type     string `json:"type,omitempty"`
		ParentID *int64 `json:"parent_id,omitempty"`
		TextID   *int64 `json:"text_id" required:"create" minimum:"1"`
	}
	programSendEmail struct {
		Name       string `json:"name" required:"create" example:"reminder"`
		Type       string `json:"type,omitempty"`
		ParentID   *int64 `json:"parent_id,omitempty"`
		TemplateID *int64 `json:"template_id" required:"create" minimum:"1"`
	}
	programSendFax struct {
		Name       string `json:"name" required:"create" example:"reminder"`
		Type       string `json:"type,omitempty"`
		ParentID   *int64 `json:"parent_id,omitempty"`
		DocumentID *int64 `json:"document_id" required:"create" minimum:"1"`
	}
	programVoiceMessage struct {
		Name        string `json:"name" required:"create" example:"reminder"`
		Type        string `json:"type,omitempty"`
		ParentID    *int64 `json:"parent_id,omitempty"`
		RecordingID *int64 `json:"recording_id" required:"create" minimum:"1"`
		callOptions
		OnMachine string `json:"on_machine,omitempty" enum:"play_after_beep,hang_up,play" doc:"what to do when an answering machine answers: play_after_beep (wait for the greeting's beep, then play), hang_up (end the call; not a delivery), play (play at once, record the verdict); omitted: no detection. The verdict (human, machine, unknown) is the spool's result amd/machine. A FreeSWITCH node without mod_avmd refuses it (412 on_machine)"`
	}
	// callOptions are the opt-out options of the programs that call.
	callOptions struct {
		OptOutDigit       string `json:"opt_out_digit,omitempty" doc:"the key (0-9, * or #) that puts the callee's number on the tenant's do-not-call list during the call; omitted: no opt-out"`
		OptOutRecordingID *int64 `json:"opt_out_recording_id,omitempty" doc:"a recording of yours played after an opt-out is recorded, before the call ends; needs opt_out_digit"`
	}
	// programVoiceTTS is dialerd's ProgramVoicetts, which the document uses
	// but never defines: the text to speak inline, or the text_id of a
	// stored text (exactly one of them), an optional voice and language.
	programVoiceTTS struct {
		Name     string `json:"name" required:"create" example:"reminder"`
		Type     string `json:"type,omitempty"`
		ParentID *int64 `json:"parent_id,omitempty"`
		Text     string `json:"text,omitempty" example:"Your appointment is tomorrow at nine." doc:"the text to speak, or text_id"`
		TextID   *int64 `json:"text_id,omitempty"`
		Voice    string `json:"voice,omitempty"`
		Language string `json:"language,omitempty"`
		callOptions
	}
	// programForAccount is the one shape of the five inbound types
	// (ProgramReceivesms, …Receiveemail, …Receivefax, …Emailtofax,
	// …Faxtoemail): the account the program receives for.
	programForAccount struct {
		Name      string `json:"name" required:"create" example:"reminder"`
		Type      string `json:"type,omitempty"`
		ParentID  *int64 `json:"parent_id,omitempty"`
		AccountID *int64 `json:"account_id" required:"create" minimum:"1"`
	}
)

// programBody is a creator's request: it gives the program it describes
// and the type its body declares ("" when none).
type programBody interface {
	program() (p dialer.Program, declared string)
}

func (b programSendSMS) program() (dialer.Program, string) {
	return dialer.Program{Name: b.Name, ParentID: b.ParentID, TextID: b.TextID}, b.Type
}

func (b programSendEmail) program() (dialer.Program, string) {
	return dialer.Program{Name: b.Name, ParentID: b.ParentID, TemplateID: b.TemplateID}, b.Type
}

func (b programSendFax) program() (dialer.Program, string) {
	return dialer.Program{Name: b.Name, ParentID: b.ParentID, DocumentID: b.DocumentID}, b.Type
}

func (b programVoiceMessage) program() (dialer.Program, string) {
	return dialer.Program{Name: b.Name, ParentID: b.ParentID, RecordingID: b.RecordingID, OptOutDigit: b.OptOutDigit,
		OptOutRecordingID: b.OptOutRecordingID, OnMachine: dialer.MachinePolicy(b.OnMachine)}, b.Type
}

func (b programVoiceTTS) program() (dialer.Program, string) {
	return dialer.Program{Name: b.Name, ParentID: b.ParentID, TextID: b.TextID, TTSText: b.Text, TTSVoice: b.Voice,
		TTSLanguage: b.Language, OptOutDigit: b.OptOutDigit, OptOutRecordingID: b.OptOutRecordingID}, b.Type
}

func (b programForAccount) program() (dialer.Program, string) {
	return dialer.Program{Name: b.Name, ParentID: b.ParentID, AccountID: b.AccountID}, b.Type
}

// programCreated is the answer of every creator.
type programCreated struct {
	ProgramID int64 `json:"program_id"`
}

// createProgram handles POST /programs/{type} for one type, decoding T.
func createProgram[T programBody](s *Server, typ dialer.ProgramType) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body T
		if !s.bindJSON(c, &body) {
			return
		}
		a := actor(c)
		var v dialer.Invalid
		p, declared := body.program()
		if declared != "" && declared != string(typ) {
			v.Add("type", "this route creates "+string(typ)+" programs; omit type or send "+string(typ))
		}
		p.Type, p.TenantID, p.CreatedBy, p.CreatedByCRN = typ, a.TenantID, a.UserID, a.CRN()
		dialer.ValidateProgram(&p, &v)
		if err := v.Err(); err != nil {
			s.fail(c, err)
			return
		}
		if err := s.checkProgram(c.Request.Context(), a.TenantID, p, nil); err != nil {
			s.fail(c, err)
			return
		}
		id, err := s.deps.Programs.CreateProgram(c.Request.Context(), a.Scope(), p)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.configChanged(a.TenantID)
		c.JSON(http.StatusOK, programCreated{ProgramID: id})
	}
}

func (s *Server) listPrograms(c *gin.Context) { listInScope(s, c, s.deps.Programs.Programs) }

func (s *Server) getProgram(c *gin.Context) {
	id, ok := s.pathID(c, "program_id")
	if !ok {
		return
	}
	p, err := s.deps.Programs.Program(c.Request.Context(), actor(c).Scope(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (s *Server) deleteProgram(c *gin.Context) {
	if deleteInScope(s, c, "program_id", s.deps.Programs.DeleteProgram) {
		s.configChanged(actor(c).TenantID)
	}
}
