package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/spf13/cobra"
)

func (a *app) reportCommand() *cobra.Command {
	var asCSV bool
	var output string
	cmd := &cobra.Command{
		Use:   "report CAMPAIGN [--csv] [-o FILE]",
		Short: "Write a campaign's report: one row per attempt",
		Long: `report writes the campaign's record as the daemon serves it at
GET /campaigns/{id}/report: CSV with --csv, else JSON, streamed as it comes
to stdout or to -o FILE.

A daemon that does not serve /campaigns/{id}/report yet answers 404 for the
route; report then says so on stderr and writes the export that such a
daemon has instead: the campaign's transmissions (GET /transmissions?
campaign_id=N), one row per contact with its number, final status, the last
response and the tries made. Cells are guarded against spreadsheet formula
injection (a leading ' before = + - @, tab or CR).`,
		Args: args(1, "CAMPAIGN (an id)"),
		RunE: func(c *cobra.Command, argv []string) error {
			return a.report(c.Context(), argv[0], asCSV, output)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "CSV instead of JSON")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

func (a *app) report(ctx context.Context, arg string, asCSV bool, output string) (err error) {
	id, err := campaignID(arg)
	if err != nil {
		return err
	}
	c, err := a.client(true)
	if err != nil {
		return err
	}
	// The campaign first: a 404 for the report below then means the route,
	// not the campaign.
	k, _, err := a.getCampaign(ctx, c, id)
	if err != nil {
		return err
	}
	format, accept := "json", "application/json"
	if asCSV {
		format, accept = "csv", "text/csv"
	}
	res, err := c.send(ctx, request{method: http.MethodGet, path: fmt.Sprintf("/campaigns/%d/report?format=%s", id, format), accept: accept})
	var ae *apiError
	fallback := errors.As(err, &ae) && ae.Status == http.StatusNotFound
	if err != nil && !fallback {
		return err
	}
	out, closeOut, err := a.openOutput(output)
	if err != nil {
		if res != nil {
			res.Body.Close()
		}
		return err
	}
	defer func() { err = errors.Join(err, closeOut()) }()
	if fallback {
		fmt.Fprintf(a.stderr, "dialerctl: this daemon does not serve GET /campaigns/%d/report; writing the transmissions export instead\n", id)
		return a.transmissionsExport(ctx, c, k, asCSV, out)
	}
	defer res.Body.Close()
	if _, err := io.Copy(out, res.Body); err != nil {
		return &unreachableError{fmt.Errorf("GET /campaigns/%d/report: %w", id, err)}
	}
	return nil
}

// openOutput is stdout, or the file at path (created or truncated).
func (a *app) openOutput(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return a.stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// exportRow is one transmission of the fallback export.
type exportRow struct {
	TransmissionID int64  `json:"transmission_id"`
	ContactID      int64  `json:"contact_id"`
	Phone          string `json:"phone"`
	Status         string `json:"status"`
	Response       string `json:"response"`
	TryDone        int    `json:"try_done"`
	TryAllowed     int    `json:"try_allowed"`
	LastUpdated    int64  `json:"last_updated"`
}

// transmissionsExport writes the campaign's transmissions with each
// contact's number, from the routes every daemon serves.
func (a *app) transmissionsExport(ctx context.Context, c *client, k campaign, asCSV bool, out io.Writer) error {
	phones := map[int64]string{}
	err := pages(ctx, c, fmt.Sprintf("/groups/%d/contacts?", k.GroupID), func(batch []struct {
		ID    int64  `json:"contact_id"`
		Phone string `json:"phone"`
	}) {
		for _, ct := range batch {
			phones[ct.ID] = ct.Phone
		}
	})
	if err != nil {
		return err
	}
	var rows []exportRow
	err = pages(ctx, c, fmt.Sprintf("/transmissions?campaign_id=%d&", k.ID), func(batch []exportRow) {
		for _, r := range batch {
			r.Phone = phones[r.ContactID]
			rows = append(rows, r)
		}
	})
	if err != nil {
		return err
	}
	if !asCSV {
		if rows == nil {
			rows = []exportRow{}
		}
		return writeJSON(out, rows)
	}
	w := csv.NewWriter(out)
	_ = w.Write([]string{"transmission_id", "contact_id", "phone", "status", "response", "try_done", "try_allowed", "last_updated"})
	for _, r := range rows {
		_ = w.Write([]string{strconv.FormatInt(r.TransmissionID, 10), strconv.FormatInt(r.ContactID, 10), csvCell(r.Phone),
			csvCell(r.Status), csvCell(r.Response), strconv.Itoa(r.TryDone), strconv.Itoa(r.TryAllowed), unixTime(r.LastUpdated)})
	}
	w.Flush()
	return w.Error()
}

// pages reads a list route 1000 rows at a time; prefix ends in ? or &.
func pages[T any](ctx context.Context, c *client, prefix string, each func([]T)) error {
	const perPage = 1000
	for page := 1; ; page++ {
		var batch []T
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("%sper_page=%d&page=%d", prefix, perPage, page), nil, &batch); err != nil {
			return err
		}
		each(batch)
		if len(batch) < perPage {
			return nil
		}
	}
}

// csvCell guards a cell a spreadsheet would read as a formula with a
// leading apostrophe, as the daemon's own exports do (OWASP's advice).
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	case '\'':
		if len(s) > 1 {
			switch s[1] {
			case '=', '+', '-', '@', '\t', '\r', '\'':
				return "'" + s
			}
		}
	}
	return s
}
