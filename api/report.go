package api

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// reportAnswer is the JSON report's shape (written by hand, streamed).
type reportAnswer struct {
	CampaignID int64                `json:"campaign_id"`
	Rows       []dialer.ReportRow   `json:"rows"`
	Summary    dialer.ReportSummary `json:"summary"`
}

// campaignReport is GET /campaigns/{id}/report: the campaign's record, one
// row per attempt, streamed from the store as it is read. JSON (the
// default) is {"rows": [...], "summary": {...}}; ?format=csv (or Accept:
// text/csv) is the columns of dialer.ReportColumns, every cell guarded,
// then the summary as "#summary,name,value" rows padded to the header's width. A failure once rows are
// on the wire cuts the connection, so a cut report never looks whole.
func (s *Server) campaignReport(c *gin.Context) {
	if s.deps.Campaigns == nil {
		s.fail(c, dialer.NotReady("the spool engine is not configured"))
		return
	}
	camp, ok := s.visibleCampaign(c)
	if !ok {
		return
	}
	format := c.Query("format")
	if format == "" && strings.Contains(c.GetHeader("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "csv" && format != "json" {
		s.fail(c, dialer.InvalidField("format", "csv or json"))
		return
	}
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(csvTransferTimeout))
	ctx := c.Request.Context()
	var err error
	if format == "csv" {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="campaign-`+strconv.FormatInt(camp.ID, 10)+`-report.csv"`)
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		w.UseCRLF = true
		err = w.Write(dialer.ReportColumns())
		var sum dialer.ReportSummary
		if err == nil {
			sum, err = s.deps.Compliance.CampaignReport(ctx, camp.TenantID, camp.ID, func(r dialer.ReportRow) error {
				return w.Write(reportRecord(r))
			})
		}
		if err == nil {
			for _, kv := range [][2]string{{"attempts", i64(sum.Attempts)}, {"answered", i64(sum.Answered)}, {"completed", i64(sum.Completed)}, {"abandoned", i64(sum.Abandoned)},
				{"suppressed", i64(sum.Suppressed)}, {"opted_out", i64(sum.OptedOut)}, {"outside_hours_deferrals", i64(sum.Deferrals)},
				{"deferred_transmissions", i64(sum.DeferredTransmissions)}} {
				// As wide as the header, so CSV readers that want every
				// record the same width read the summary too.
				rec := make([]string, len(dialer.ReportColumns()))
				rec[0], rec[1], rec[2] = "#summary", kv[0], kv[1]
				if err = w.Write(rec); err != nil {
					break
				}
			}
		}
		if err == nil {
			w.Flush()
			err = w.Error()
		}
	} else {
		c.Header("Content-Type", "application/json; charset=utf-8")
		c.Status(http.StatusOK)
		enc := json.NewEncoder(c.Writer)
		_, err = c.Writer.WriteString(`{"campaign_id":` + strconv.FormatInt(camp.ID, 10) + `,"rows":[`)
		first := true
		var sum dialer.ReportSummary
		if err == nil {
			sum, err = s.deps.Compliance.CampaignReport(ctx, camp.TenantID, camp.ID, func(r dialer.ReportRow) error {
				if !first {
					if _, err := c.Writer.WriteString(","); err != nil {
						return err
					}
				}
				first = false
				return enc.Encode(r)
			})
		}
		if err == nil {
			_, err = c.Writer.WriteString(`],"summary":`)
		}
		if err == nil {
			err = enc.Encode(sum)
		}
		if err == nil {
			_, err = c.Writer.WriteString("}")
		}
	}
	if err == nil {
		return
	}
	if !c.Writer.Written() {
		c.Writer.Header().Del("Content-Type")
		c.Writer.Header().Del("Content-Disposition")
		s.fail(c, err)
		return
	}
	s.log.WarnContext(ctx, "campaign report cut short", "request_id", requestID(c), "campaign_id", camp.ID, "err", err)
	panic(http.ErrAbortHandler)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// reportRecord is a row as guarded CSV cells, in ReportColumns order.
func reportRecord(r dialer.ReportRow) []string {
	rec := []string{i64(r.SpoolID), i64(r.TransmissionID), i64(r.ContactID), r.Number, r.TimeUTC, r.TimeLocal, r.TimeZone, r.CallerID,
		i64(r.ProviderID), r.Route, r.Outcome, r.Cause, r.SIPCode, strconv.FormatBool(r.Answered), i64(r.Billsec), r.DTMF,
		strconv.FormatBool(r.OptedOut), r.Machine, strconv.FormatBool(r.Suppressed), i64(r.SuppressedList)}
	for i := range rec {
		rec[i] = csvCell(rec[i])
	}
	return rec
}
