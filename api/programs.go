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
	r.POST("/programs/receivesms", write, createProgram[programReceiveSMS](s, dialer.ProgramReceiveSMS))
	r.POST("/programs/receiveemail", write, createProgram[programReceiveEmail](s, dialer.ProgramReceiveEmail))
	r.POST("/programs/receivefax", write, createProgram[programReceiveFax](s, dialer.ProgramReceiveFax))
	r.POST("/programs/emailtofax", write, createProgram[programEmailToFax](s, dialer.ProgramEmailToFax))
	r.POST("/programs/faxtoemail", write, createProgram[programFaxToEmail](s, dialer.ProgramFaxToEmail))
}

// programFields is the ICTCore Program object every creator takes. The type
// is the route's; a body may repeat it but not contradict it.
type programFields struct {
	Name     string `json:"name"`
	Type     string `json:"type,omitempty"`
	ParentID *int64 `json:"parent_id,omitempty"`
}

func (f programFields) fields() programFields { return f }

func (f programFields) program() dialer.Program {
	return dialer.Program{Name: f.Name, ParentID: f.ParentID}
}

// programBody is a creator's request: the common fields and the one
// reference of its type.
type programBody interface {
	fields() programFields
	program() dialer.Program
}

// The request types, named after the document's data structures.
type (
	programSendSMS struct {
		programFields
		TextID *int64 `json:"text_id"`
	}
	programSendEmail struct {
		programFields
		TemplateID *int64 `json:"template_id"`
	}
	programSendFax struct {
		programFields
		DocumentID *int64 `json:"document_id"`
	}
	programVoiceMessage struct {
		programFields
		RecordingID *int64 `json:"recording_id"`
	}
	// programVoiceTTS is dialerd's ProgramVoicetts, which the document uses
	// but never defines: text to speak inline, or the text_id of a stored
	// text (one of them), an optional voice and language.
	programVoiceTTS struct {
		programFields
		Text     string `json:"text,omitempty"`
		TextID   *int64 `json:"text_id,omitempty"`
		Voice    string `json:"voice,omitempty"`
		Language string `json:"language,omitempty"`
	}
	programAccount struct {
		programFields
		AccountID *int64 `json:"account_id"`
	}
	programReceiveSMS   struct{ programAccount }
	programReceiveEmail struct{ programAccount }
	programReceiveFax   struct{ programAccount }
	programEmailToFax   struct{ programAccount }
	programFaxToEmail   struct{ programAccount }
)

func (b programSendSMS) program() dialer.Program {
	p := b.programFields.program()
	p.TextID = b.TextID
	return p
}

func (b programSendEmail) program() dialer.Program {
	p := b.programFields.program()
	p.TemplateID = b.TemplateID
	return p
}

func (b programSendFax) program() dialer.Program {
	p := b.programFields.program()
	p.DocumentID = b.DocumentID
	return p
}

func (b programVoiceMessage) program() dialer.Program {
	p := b.programFields.program()
	p.RecordingID = b.RecordingID
	return p
}

func (b programVoiceTTS) program() dialer.Program {
	p := b.programFields.program()
	p.TextID, p.TTSText, p.TTSVoice, p.TTSLanguage = b.TextID, b.Text, b.Voice, b.Language
	return p
}

func (b programAccount) program() dialer.Program {
	p := b.programFields.program()
	p.AccountID = b.AccountID
	return p
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
		if t := body.fields().Type; t != "" && t != string(typ) {
			v.Add("type", "this route creates "+string(typ)+" programs; omit type or send "+string(typ))
		}
		p := body.program()
		p.Type, p.TenantID, p.CreatedBy = typ, a.TenantID, a.UserID
		dialer.ValidateProgram(&p, &v)
		if err := v.Err(); err != nil {
			s.fail(c, err)
			return
		}
		id, err := s.deps.Programs.CreateProgram(c.Request.Context(), a.Scope(), p)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, programCreated{ProgramID: id})
	}
}

func (s *Server) listPrograms(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	programs, err := s.deps.Programs.Programs(c.Request.Context(), actor(c).Scope(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, programs)
}

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
	id, ok := s.pathID(c, "program_id")
	if !ok {
		return
	}
	if err := s.deps.Programs.DeleteProgram(c.Request.Context(), actor(c).Scope(), id); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}
